/**
 * Parses and validates an SDP received from a remote endpoint (a browser or a WebRTC-capable SIP
 * phone) into the few facts the media layer needs. Pure: no mediasoup objects, no state.
 * Everything that makes the SDP unusable is an SdpNegotiationError whose message can go straight
 * into a SIP Warning header.
 */
import { parse, parseParams } from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { SdpNegotiationError } from '../errors.ts';
import { isSupportedMime, type MediaKind } from '../codecs.ts';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
export type DtlsSetup = 'actpass' | 'active' | 'passive' | 'holdconn';

export interface SdpCodec {
  payloadType: number;
  /** 'audio/opus', 'video/VP8', ... as written in a=rtpmap. */
  mimeType: string;
  clockRate: number;
  channels?: number;
  /** The a=fmtp value exactly as received (written back verbatim when echoing). */
  fmtp?: string;
  rtcpFeedback: { type: string; parameter?: string }[];
}

export interface RemoteSection {
  index: number;
  /** Raw m= media type ('audio', 'video', 'application', ...). */
  mediaType: string;
  /** Set when the media type is one we route. */
  kind?: MediaKind;
  protocol: string;
  /** Raw format list of the m= line, echoed in a rejected line. */
  formats: string;
  port: number;
  mid: string;
  /** Whether the SDP carried an a=mid for this line (plain endpoints may not). */
  midSignaled: boolean;
  direction: Direction;
  /** Codecs of this line that the router supports (others dropped), in the remote's order. */
  codecs: SdpCodec[];
  /** Every rtpmap of the line, for error messages. */
  offeredCodecNames: string[];
  ssrc?: number;
  rtxSsrc?: number;
  cname?: string;
  /** a=extmap of the line (id → uri). */
  headerExtensions: { id: number; uri: string }[];
  rtcpMux: boolean;
  rtcpRsize: boolean;
  inBundle: boolean;
}

export interface RemoteDescription {
  iceUfrag: string;
  icePwd: string;
  fingerprint: { algorithm: string; value: string };
  setup?: DtlsSetup;
  bundleMids: string[];
  sections: RemoteSection[];
}

const FINGERPRINT_ALGORITHMS = new Set(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']);

function asDirection(value: unknown): Direction | undefined {
  return value === 'sendrecv' || value === 'sendonly' || value === 'recvonly' || value === 'inactive'
    ? value
    : undefined;
}

function asSetup(value: unknown): DtlsSetup | undefined {
  return value === 'actpass' || value === 'active' || value === 'passive' || value === 'holdconn' ? value : undefined;
}

function kindOf(type: string): MediaKind | undefined {
  return type === 'audio' || type === 'video' ? type : undefined;
}

function parseCodecs(m: MediaDescription): { codecs: SdpCodec[]; names: string[] } {
  const names: string[] = [];
  const codecs: SdpCodec[] = [];
  for (const rtp of m.rtp ?? []) {
    const mimeType = `${m.type}/${rtp.codec}`;
    const channels = rtp.encoding !== undefined ? Number(rtp.encoding) : undefined;
    names.push(`${rtp.codec}/${rtp.rate ?? '?'}${channels ? `/${channels}` : ''}`);
    if (!isSupportedMime(mimeType) || rtp.rate === undefined) continue;
    const fmtp = (m.fmtp ?? []).find((f) => f.payload === rtp.payload)?.config;
    const rtcpFeedback = (m.rtcpFb ?? [])
      .filter((fb) => String(fb.payload) === String(rtp.payload) || String(fb.payload) === '*')
      .map((fb) => (fb.subtype ? { type: fb.type, parameter: fb.subtype } : { type: fb.type }));
    const codec: SdpCodec = { payloadType: rtp.payload, mimeType, clockRate: rtp.rate, rtcpFeedback };
    if (channels !== undefined) codec.channels = channels;
    if (fmtp !== undefined) codec.fmtp = fmtp;
    codecs.push(codec);
  }
  // Opus must be stereo-signalled (opus/48000/2, RFC 7587); anything else is not opus as we route it.
  const usable = codecs.filter((c) => {
    const mime = c.mimeType.toLowerCase();
    if (mime === 'audio/opus') return c.clockRate === 48000 && c.channels === 2;
    if (mime === 'video/rtx') {
      const apt = Number(fmtpParams(c.fmtp)['apt']);
      return codecs.some((v) => v.payloadType === apt && v.mimeType.toLowerCase() === 'video/vp8');
    }
    return true;
  });
  return { codecs: usable, names };
}

/** a=fmtp parameters as mediasoup wants them (numbers where numeric, valueless tokens dropped). */
export function fmtpParams(fmtp: string | undefined): Record<string, string | number> {
  if (!fmtp) return {};
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(parseParams(fmtp))) {
    if (typeof value === 'string' || typeof value === 'number') out[key] = value;
  }
  return out;
}

function parseSsrc(m: MediaDescription): { ssrc?: number; rtxSsrc?: number; cname?: string } {
  const ssrcs = m.ssrcs ?? [];
  if (ssrcs.length === 0) return {};
  const fid = (m.ssrcGroups ?? []).find((g) => g.semantics === 'FID');
  if (fid) {
    const [media, rtx] = fid.ssrcs.split(/\s+/).map(Number);
    if (media !== undefined && Number.isFinite(media)) {
      const cname = ssrcs.find((s) => Number(s.id) === media && s.attribute === 'cname')?.value;
      const out: { ssrc?: number; rtxSsrc?: number; cname?: string } = { ssrc: media };
      if (rtx !== undefined && Number.isFinite(rtx)) out.rtxSsrc = rtx;
      if (cname !== undefined) out.cname = cname;
      return out;
    }
  }
  const first = Number(ssrcs[0]!.id);
  const cname = ssrcs.find((s) => Number(s.id) === first && s.attribute === 'cname')?.value;
  return cname !== undefined ? { ssrc: first, cname } : { ssrc: first };
}

/**
 * @param kind 'offer' or 'answer', only for error messages.
 * @throws SdpNegotiationError
 */
export function parseRemoteDescription(sdp: string, kind: 'offer' | 'answer'): RemoteDescription {
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

  const bundle = (session.groups ?? []).find((g) => g.type === 'BUNDLE');
  const bundleMids = bundle ? String(bundle.mids).split(/\s+/).filter(Boolean) : [];

  const sections: RemoteSection[] = media.map((m, index) => {
    const { codecs, names } = parseCodecs(m);
    const midSignaled = m.mid !== undefined && String(m.mid) !== '';
    const mid = midSignaled ? String(m.mid) : String(index);
    const section: RemoteSection = {
      index,
      mediaType: String(m.type),
      protocol: String(m.protocol),
      formats: String(m.payloads ?? ''),
      port: Number(m.port),
      mid,
      midSignaled,
      direction: asDirection(m.direction) ?? asDirection((session as { direction?: unknown }).direction) ?? 'sendrecv',
      codecs,
      offeredCodecNames: names,
      headerExtensions: (m.ext ?? []).map((e) => ({ id: Number(e.value), uri: String(e.uri) })),
      rtcpMux: m.rtcpMux === 'rtcp-mux',
      rtcpRsize: m.rtcpRsize === 'rtcp-rsize',
      inBundle: bundleMids.includes(mid),
      ...parseSsrc(m),
    };
    const kindValue = kindOf(section.mediaType);
    if (kindValue) section.kind = kindValue;
    return section;
  });

  const mids = new Set<string>();
  for (const s of sections) {
    if (s.midSignaled && mids.has(s.mid)) throw new SdpNegotiationError(`the ${kind} repeats a=mid:${s.mid}`);
    mids.add(s.mid);
  }

  // Transport facts come from the first open m-line (BUNDLE tag) or the session level.
  const firstOpen = media.find((m) => Number(m.port) !== 0);
  const source = firstOpen ?? media[0]!;
  const iceUfrag = source.iceUfrag ?? session.iceUfrag;
  const icePwd = source.icePwd ?? session.icePwd;
  if (firstOpen && (!iceUfrag || !icePwd)) {
    throw new SdpNegotiationError(`the ${kind} has no ICE credentials (a=ice-ufrag/a=ice-pwd); ICE is required`);
  }
  const fp = source.fingerprint ?? session.fingerprint;
  if (firstOpen && !fp) {
    throw new SdpNegotiationError(`the ${kind} has no DTLS fingerprint (a=fingerprint); only DTLS-SRTP is supported`);
  }
  const algorithm = String(fp?.type ?? 'sha-256').toLowerCase();
  if (fp && !FINGERPRINT_ALGORITHMS.has(algorithm)) {
    throw new SdpNegotiationError(`the ${kind} uses an unsupported fingerprint hash '${fp.type}'`);
  }
  const setup = asSetup(source.setup ?? session.setup);
  if (setup === 'holdconn')
    throw new SdpNegotiationError(`the ${kind} says a=setup:holdconn; a DTLS connection is required`);

  for (const s of sections) {
    if (s.port === 0 || !s.kind) continue;
    if (!/^(UDP\/TLS\/RTP\/SAVPF|UDP\/TLS\/RTP\/SAVP)$/i.test(s.protocol)) {
      throw new SdpNegotiationError(
        `m-line ${s.index} (${s.mediaType}) uses ${s.protocol}; only DTLS-SRTP (UDP/TLS/RTP/SAVPF) is supported`,
      );
    }
  }

  const description: RemoteDescription = {
    iceUfrag: iceUfrag ?? '',
    icePwd: icePwd ?? '',
    fingerprint: { algorithm, value: String(fp?.hash ?? '').toUpperCase() },
    bundleMids,
    sections,
  };
  if (setup) description.setup = setup;
  return description;
}
