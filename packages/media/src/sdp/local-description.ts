/**
 * Writes the SDP Conclave sends (offers and answers) from a plain description of its m-lines.
 * Pure and deterministic: the leg decides what each m-line carries, this module only formats it.
 *
 * Shape (what Chromium and JsSIP accept, see recipes/sdp-bridge.md): session-level a=ice-lite,
 * BUNDLE listing only open m-lines, ICE/DTLS attributes and host candidates on every open m-line,
 * rtcp-mux, and for every line carrying a consumer its a=ssrc (cname, msid) and a=msid.
 */
import type { Direction, DtlsSetup } from './remote-description.ts';

export interface LocalCodec {
  payloadType: number;
  mimeType: string;
  clockRate: number;
  channels?: number;
  fmtp?: string;
  rtcpFeedback: { type: string; parameter?: string }[];
}

export interface LocalSource {
  ssrc: number;
  rtxSsrc?: number;
  cname: string;
  streamId: string;
  trackId: string;
}

export interface LocalSection {
  mid: string;
  /** Plain single-m-line endpoints may not use a=mid; then we do not write one either. */
  midSignaled: boolean;
  mediaType: string;
  protocol: string;
  closed: boolean;
  /** Format list for a closed line (any valid list; echoing the remote's keeps peers happy). */
  closedFormats: string;
  direction: Direction;
  codecs: LocalCodec[];
  headerExtensions: { id: number; uri: string }[];
  source?: LocalSource;
  rtcpRsize: boolean;
}

export interface LocalCandidate {
  foundation: string;
  priority: number;
  address: string;
  port: number;
  protocol: 'udp' | 'tcp';
  tcpType?: string;
}

export interface LocalSession {
  sessionId: string;
  sessionVersion: number;
  iceUfrag: string;
  icePwd: string;
  candidates: LocalCandidate[];
  fingerprint: { algorithm: string; value: string };
  setup: Exclude<DtlsSetup, 'holdconn'>;
  bundle: boolean;
  sections: LocalSection[];
}

function ipVersion(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

function rtpmap(codec: LocalCodec): string {
  const name = codec.mimeType.split('/')[1] ?? codec.mimeType;
  const channels = codec.channels && codec.channels > 1 ? `/${codec.channels}` : '';
  return `a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${channels}`;
}

export function writeLocalDescription(session: LocalSession): string {
  const lines: string[] = [
    'v=0',
    `o=conclave ${session.sessionId} ${session.sessionVersion} IN IP4 0.0.0.0`,
    's=-',
    't=0 0',
    'a=ice-lite',
  ];
  const openMids = session.sections.filter((s) => !s.closed && s.midSignaled).map((s) => s.mid);
  if (session.bundle && openMids.length > 0) lines.push(`a=group:BUNDLE ${openMids.join(' ')}`);
  lines.push('a=msid-semantic: WMS *');

  // The default candidate goes in m=/c= (RFC 8839); prefer UDP.
  const defaultCandidate = session.candidates.find((c) => c.protocol === 'udp') ??
    session.candidates[0] ?? { address: '0.0.0.0', port: 9 };

  for (const section of session.sections) {
    if (section.closed) {
      lines.push(`m=${section.mediaType} 0 ${section.protocol} ${section.closedFormats || '0'}`);
      lines.push('c=IN IP4 0.0.0.0');
      if (section.midSignaled) lines.push(`a=mid:${section.mid}`);
      lines.push('a=inactive');
      continue;
    }
    const formats = section.codecs.map((c) => c.payloadType).join(' ');
    lines.push(`m=${section.mediaType} ${defaultCandidate.port} ${section.protocol} ${formats}`);
    lines.push(`c=IN IP${ipVersion(defaultCandidate.address)} ${defaultCandidate.address}`);
    if (section.midSignaled) lines.push(`a=mid:${section.mid}`);
    lines.push(`a=ice-ufrag:${session.iceUfrag}`);
    lines.push(`a=ice-pwd:${session.icePwd}`);
    lines.push(`a=fingerprint:${session.fingerprint.algorithm} ${session.fingerprint.value}`);
    lines.push(`a=setup:${session.setup}`);
    for (const c of session.candidates) {
      const tcp = c.protocol === 'tcp' ? ` tcptype ${c.tcpType ?? 'passive'}` : '';
      lines.push(`a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address} ${c.port} typ host${tcp}`);
    }
    lines.push('a=end-of-candidates');
    lines.push(`a=${section.direction}`);
    lines.push('a=rtcp-mux');
    if (section.rtcpRsize) lines.push('a=rtcp-rsize');
    for (const ext of section.headerExtensions) lines.push(`a=extmap:${ext.id} ${ext.uri}`);
    for (const codec of section.codecs) {
      lines.push(rtpmap(codec));
      for (const fb of codec.rtcpFeedback) {
        lines.push(`a=rtcp-fb:${codec.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
      }
      if (codec.fmtp) lines.push(`a=fmtp:${codec.payloadType} ${codec.fmtp}`);
    }
    const src = section.source;
    if (src) {
      lines.push(`a=msid:${src.streamId} ${src.trackId}`);
      if (src.rtxSsrc !== undefined) lines.push(`a=ssrc-group:FID ${src.ssrc} ${src.rtxSsrc}`);
      for (const ssrc of src.rtxSsrc !== undefined ? [src.ssrc, src.rtxSsrc] : [src.ssrc]) {
        lines.push(`a=ssrc:${ssrc} cname:${src.cname}`);
        lines.push(`a=ssrc:${ssrc} msid:${src.streamId} ${src.trackId}`);
      }
    }
  }
  return lines.join('\r\n') + '\r\n';
}

/** Serialises fmtp parameters (mediasoup codec parameters) back to an a=fmtp value. */
export function fmtpString(parameters: Record<string, unknown> | undefined): string | undefined {
  if (!parameters) return undefined;
  const parts = Object.entries(parameters)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number')
    .map(([k, v]) => `${k}=${String(v)}`);
  return parts.length ? parts.join(';') : undefined;
}
