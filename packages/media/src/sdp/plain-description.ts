/**
 * SDP of plain SIP phones (baresip, linphone, desk phones): RTP/AVP, G.711 (or opus), no ICE, no DTLS,
 * no a=ssrc, rtcp-mux optional. Parses a remote description into the few facts a PlainRtpLeg needs
 * and writes ours. Pure: no sockets, no state.
 *
 * Every reason to refuse a description is an SdpNegotiationError whose message can go straight into a
 * SIP Warning header (the focus answers 488).
 */
import { parse } from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { SdpNegotiationError } from '../errors.ts';
import type { Direction } from './remote-description.ts';

/** Audio codecs a plain leg can carry. G.711 is transcoded to/from Opus; opus is relayed. */
export type PlainCodecName = 'PCMU' | 'PCMA' | 'opus';

export const PLAIN_CODEC_NAMES: readonly PlainCodecName[] = ['PCMU', 'PCMA', 'opus'];

export interface PlainCodec {
  name: PlainCodecName;
  payloadType: number;
  clockRate: number;
  channels: number;
  fmtp?: string;
}

/** RFC 4733 telephone-event (DTMF) at one clock rate. */
export interface DtmfCodec {
  payloadType: number;
  clockRate: number;
  fmtp?: string;
}

export interface PlainAudioSection {
  /** Index of the m-line carrying the call's audio. */
  index: number;
  /** Where to send RTP (c= of the line, else of the session). */
  address: string;
  port: number;
  /** Where the party expects RTCP: port + 1 unless a=rtcp says otherwise, or the RTP port with rtcp-mux. */
  rtcpPort: number;
  rtcpMux: boolean;
  /** The party's direction. An RFC 2543 hold (c=0.0.0.0) counts as "do not send to me". */
  direction: Direction;
  /** Usable codecs of the line in the party's order of preference. */
  codecs: PlainCodec[];
  telephoneEvents: DtmfCodec[];
  /** Every format of the line, for error messages ("PCMU/8000, G722/8000"). */
  offeredCodecNames: string[];
  ptime?: number;
}

export interface PlainSectionShape {
  mediaType: string;
  port: number;
  protocol: string;
  /** Raw format list of the m= line, echoed when the line is rejected (port 0). */
  formats: string;
}

export interface PlainRemoteDescription {
  /** Every m-line (an answer needs as many). */
  sections: PlainSectionShape[];
  audio: PlainAudioSection;
}

/** RFC 3551 static payload types (those a phone may use without a=rtpmap). */
const STATIC_PAYLOAD_TYPES: Record<number, { name: string; clockRate: number }> = {
  0: { name: 'PCMU', clockRate: 8000 },
  3: { name: 'GSM', clockRate: 8000 },
  4: { name: 'G723', clockRate: 8000 },
  8: { name: 'PCMA', clockRate: 8000 },
  9: { name: 'G722', clockRate: 8000 },
  13: { name: 'CN', clockRate: 8000 },
  18: { name: 'G729', clockRate: 8000 },
};

const DTLS_PROTOCOL = /^UDP\/TLS\/RTP\/SAVPF?$/i;
const PLAIN_PROTOCOL = /^RTP\/AVPF?$/i;

function asDirection(value: unknown): Direction | undefined {
  return value === 'sendrecv' || value === 'sendonly' || value === 'recvonly' || value === 'inactive'
    ? value
    : undefined;
}

/**
 * Which kind of leg can take this offer: 'webrtc' when an m-line uses DTLS-SRTP (UDP/TLS/RTP/SAVPF) or
 * the SDP carries a DTLS fingerprint, else 'plain'. Never throws; an unparseable body gives 'webrtc' so
 * that WebRtcLeg reports the parse error as it always did.
 */
export function legKindForOffer(sdp: string): 'webrtc' | 'plain' {
  let session: SessionDescription;
  try {
    if (typeof sdp !== 'string' || !/^v=0\r?$/m.test(sdp)) return 'webrtc';
    session = parse(sdp);
  } catch {
    return 'webrtc';
  }
  const media = session.media ?? [];
  if (media.length === 0) return 'webrtc';
  if (session.fingerprint || media.some((m) => m.fingerprint)) return 'webrtc';
  if (media.some((m) => DTLS_PROTOCOL.test(String(m.protocol)))) return 'webrtc';
  return 'plain';
}

/** True when the offer is for a PlainRtpLeg (RTP/AVP, no DTLS). */
export function isPlainRtpOffer(sdp: string): boolean {
  return legKindForOffer(sdp) === 'plain';
}

function codecsOf(
  m: MediaDescription,
  accepted: readonly PlainCodecName[],
): {
  codecs: PlainCodec[];
  telephoneEvents: DtmfCodec[];
  names: string[];
} {
  const rtpmaps = new Map((m.rtp ?? []).map((r) => [r.payload, r]));
  const payloads = String(m.payloads ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pt) => Number.isInteger(pt) && pt >= 0 && pt <= 127);
  const codecs: PlainCodec[] = [];
  const telephoneEvents: DtmfCodec[] = [];
  const names: string[] = [];
  for (const pt of payloads) {
    const rtpmap = rtpmaps.get(pt);
    const fallback = STATIC_PAYLOAD_TYPES[pt];
    const name = rtpmap ? String(rtpmap.codec) : fallback?.name;
    const clockRate = rtpmap ? Number(rtpmap.rate) : fallback?.clockRate;
    if (!name || !clockRate) {
      names.push(`PT ${pt}`);
      continue;
    }
    const channels = rtpmap?.encoding !== undefined ? Number(rtpmap.encoding) : 1;
    names.push(`${name}/${clockRate}${channels > 1 ? `/${channels}` : ''}`);
    const fmtp = (m.fmtp ?? []).find((f) => f.payload === pt)?.config;
    const lower = name.toLowerCase();
    if (lower === 'telephone-event') {
      telephoneEvents.push(fmtp !== undefined ? { payloadType: pt, clockRate, fmtp } : { payloadType: pt, clockRate });
      continue;
    }
    let codec: PlainCodec | undefined;
    if (lower === 'pcmu' && clockRate === 8000 && channels === 1)
      codec = { name: 'PCMU', payloadType: pt, clockRate, channels };
    else if (lower === 'pcma' && clockRate === 8000 && channels === 1)
      codec = { name: 'PCMA', payloadType: pt, clockRate, channels };
    else if (lower === 'opus' && clockRate === 48000 && channels === 2)
      codec = { name: 'opus', payloadType: pt, clockRate, channels };
    if (!codec || !accepted.includes(codec.name)) continue;
    if (fmtp !== undefined) codec.fmtp = fmtp;
    codecs.push(codec);
  }
  return { codecs, telephoneEvents, names };
}

function describeCodecs(names: string[]): string {
  return names.length ? names.join(', ') : 'none';
}

function describeAccepted(accepted: readonly PlainCodecName[]): string {
  const full = accepted.map((n) => (n === 'opus' ? 'opus/48000/2' : `${n}/8000`));
  return full.length > 1 ? `${full.slice(0, -1).join(', ')} or ${full[full.length - 1]}` : (full[0] ?? 'none');
}

/** Why an open audio m-line cannot carry the call, or undefined when it can. */
function problemWith(
  kind: 'offer' | 'answer',
  index: number,
  m: MediaDescription,
  session: SessionDescription,
  usable: { codecs: PlainCodec[]; names: string[] },
  accepted: readonly PlainCodecName[],
): string | undefined {
  const protocol = String(m.protocol);
  if (DTLS_PROTOCOL.test(protocol) || m.fingerprint || session.fingerprint) {
    return `m-line ${index} (audio) uses DTLS-SRTP (${protocol}): a WebRTC description, which needs a WebRtcLeg, not a plain RTP leg`;
  }
  if (/^RTP\/SAVPF?$/i.test(protocol)) {
    return `m-line ${index} (audio) uses ${protocol} (SDES-SRTP keys in a=crypto), which is not supported; plain phones must use RTP/AVP`;
  }
  if (!PLAIN_PROTOCOL.test(protocol)) {
    return `m-line ${index} (audio) uses ${protocol}; only RTP/AVP over UDP is supported for plain phones`;
  }
  const connection = m.connection ?? session.connection;
  if (!connection?.ip) return `m-line ${index} (audio) has no connection address (c=)`;
  if (Number(connection.version) !== 4) {
    return `m-line ${index} (audio) has an IPv6 media address (c=IN IP6 ${connection.ip}); only IPv4 is supported`;
  }
  if (usable.codecs.length === 0) {
    return `the ${kind} has no usable audio codec (offered: ${describeCodecs(usable.names)}); ${describeAccepted(accepted)} is required`;
  }
  return undefined;
}

/**
 * Parses a plain phone's offer or answer.
 * @param accepted codecs the leg may use (an offer's codecs outside this list are ignored)
 * @throws SdpNegotiationError
 */
export function parsePlainDescription(
  sdp: string,
  kind: 'offer' | 'answer',
  accepted: readonly PlainCodecName[] = PLAIN_CODEC_NAMES,
): PlainRemoteDescription {
  if (typeof sdp !== 'string' || !/^v=0\r?$/m.test(sdp)) {
    throw new SdpNegotiationError(`the ${kind} is not an SDP session description (no v=0 line)`);
  }
  let session: SessionDescription;
  try {
    session = parse(sdp);
  } catch (err) {
    throw new SdpNegotiationError(`the ${kind} cannot be parsed: ${(err as Error).message}`, { cause: err });
  }
  const media = session.media ?? [];
  if (media.length === 0) throw new SdpNegotiationError(`the ${kind} has no m= line`);

  const sections: PlainSectionShape[] = media.map((m) => ({
    mediaType: String(m.type),
    port: Number(m.port),
    protocol: String(m.protocol),
    formats: String(m.payloads ?? ''),
  }));
  for (const [index, s] of sections.entries()) {
    if (!Number.isInteger(s.port) || s.port < 0 || s.port > 65535) {
      throw new SdpNegotiationError(
        `m-line ${index} (${s.mediaType}) has an invalid port '${String(media[index]!.port)}'`,
      );
    }
  }

  // The first open audio line that works carries the call (a phone may offer SRTP and RTP/AVP lines side by side).
  let firstProblem: string | undefined;
  for (const [index, m] of media.entries()) {
    if (m.type !== 'audio' || Number(m.port) === 0) continue;
    const usable = codecsOf(m, accepted);
    const problem = problemWith(kind, index, m, session, usable, accepted);
    if (problem) {
      firstProblem ??= problem;
      continue;
    }
    const connection = (m.connection ?? session.connection)!;
    const port = Number(m.port);
    const rtcpMux = m.rtcpMux === 'rtcp-mux';
    const rtcpPort = rtcpMux ? port : m.rtcp?.port !== undefined ? Number(m.rtcp.port) : port + 1;
    let direction =
      asDirection(m.direction) ?? asDirection((session as { direction?: unknown }).direction) ?? 'sendrecv';
    // RFC 2543 hold: a null address means "do not send to me" (the party may still send, e.g. music on hold).
    if (connection.ip === '0.0.0.0')
      direction = direction === 'sendrecv' || direction === 'sendonly' ? 'sendonly' : 'inactive';
    const audio: PlainAudioSection = {
      index,
      address: connection.ip,
      port,
      rtcpPort,
      rtcpMux,
      direction,
      codecs: usable.codecs,
      telephoneEvents: usable.telephoneEvents,
      offeredCodecNames: usable.names,
    };
    const ptime = Number(m.ptime);
    if (Number.isFinite(ptime) && ptime > 0) audio.ptime = ptime;
    return { sections, audio };
  }
  if (firstProblem) throw new SdpNegotiationError(firstProblem);
  if (kind === 'answer' && media.some((m) => m.type === 'audio')) {
    throw new SdpNegotiationError('the answer rejected the audio m-line (port 0)');
  }
  throw new SdpNegotiationError(`the ${kind} has no active audio m-line`);
}

export interface PlainLocalAudio {
  closed: false;
  port: number;
  /** Media codecs in preference order, then telephone-events. */
  codecs: PlainCodec[];
  telephoneEvents: DtmfCodec[];
  direction: Direction;
  rtcpMux: boolean;
  ptime: number;
}

export interface PlainLocalRejected {
  closed: true;
  mediaType: string;
  protocol: string;
  formats: string;
}

export interface PlainLocalDescription {
  sessionId: string;
  sessionVersion: number;
  /** The address phones send to (announced address or listen IP). */
  address: string;
  sections: (PlainLocalAudio | PlainLocalRejected)[];
}

function rtpmap(c: { payloadType: number; clockRate: number }, name: string, channels = 1): string {
  return `a=rtpmap:${c.payloadType} ${name}/${c.clockRate}${channels > 1 ? `/${channels}` : ''}`;
}

/** Our offer or answer to a plain phone. */
export function writePlainDescription(d: PlainLocalDescription): string {
  const ipVer = d.address.includes(':') ? 6 : 4;
  const lines = [
    'v=0',
    `o=conclave ${d.sessionId} ${d.sessionVersion} IN IP${ipVer} ${d.address}`,
    's=conclave',
    `c=IN IP${ipVer} ${d.address}`,
    't=0 0',
  ];
  for (const s of d.sections) {
    if (s.closed) {
      lines.push(`m=${s.mediaType} 0 ${s.protocol} ${s.formats || '0'}`);
      continue;
    }
    const formats = [...s.codecs.map((c) => c.payloadType), ...s.telephoneEvents.map((t) => t.payloadType)];
    lines.push(`m=audio ${s.port} RTP/AVP ${formats.join(' ')}`);
    for (const c of s.codecs) {
      lines.push(rtpmap(c, c.name, c.channels));
      if (c.fmtp) lines.push(`a=fmtp:${c.payloadType} ${c.fmtp}`);
    }
    for (const t of s.telephoneEvents) {
      lines.push(rtpmap(t, 'telephone-event'));
      lines.push(`a=fmtp:${t.payloadType} ${t.fmtp ?? '0-16'}`);
    }
    lines.push(`a=ptime:${s.ptime}`);
    lines.push(`a=${s.direction}`);
    if (s.rtcpMux) lines.push('a=rtcp-mux');
  }
  return lines.join('\r\n') + '\r\n';
}
