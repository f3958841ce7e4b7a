/**
 * Pure codec decisions for one m-line, given the router's RTP capabilities: which of a party's codecs
 * we accept, whether a consumer may share the party's own line, and the RTP capabilities to pass to
 * transport.consume() for a line. No state, no mediasoup calls.
 */
import type * as ms from 'mediasoup/types';
import { CONSUMER_HEADER_EXTENSIONS, PRODUCER_RTCP_FEEDBACK, isMediaCodecMime, type MediaKind } from './codecs.ts';
import type { RemoteSection, SdpCodec } from './sdp/remote-description.ts';
import { fmtpString, type LocalCodec } from './sdp/local-description.ts';

export function codecKey(c: { mimeType: string; clockRate: number; channels?: number | undefined }): string {
  return `${c.mimeType.toLowerCase()}/${c.clockRate}/${c.channels && c.channels > 1 ? c.channels : 1}`;
}

export function sameCodec(a: { payloadType: number; mimeType: string; clockRate: number }, b: typeof a): boolean {
  return (
    a.payloadType === b.payloadType &&
    a.mimeType.toLowerCase() === b.mimeType.toLowerCase() &&
    a.clockRate === b.clockRate
  );
}

const isRtx = (mimeType: string): boolean => mimeType.toLowerCase() === 'video/rtx';

/** The party's codecs we accept on a line it created, with its payload types and fmtp (media codecs first). */
export function answerCodecs(rs: RemoteSection, router: ms.RtpCapabilities): LocalCodec[] {
  const kind = rs.kind;
  if (!kind) return [];
  const routerKeys = new Set((router.codecs ?? []).map((c) => codecKey(c)));
  const feedback = PRODUCER_RTCP_FEEDBACK[kind];
  const accepted = rs.codecs.filter((c) => isRtx(c.mimeType) || routerKeys.has(codecKey(c)));
  // mediasoup takes the first codec of a producer as its media codec.
  accepted.sort((a, b) => Number(isMediaCodecMime(b.mimeType)) - Number(isMediaCodecMime(a.mimeType)));
  return accepted.map((c) => {
    const codec: LocalCodec = {
      payloadType: c.payloadType,
      mimeType: c.mimeType,
      clockRate: c.clockRate,
      rtcpFeedback: c.rtcpFeedback.filter((fb) =>
        feedback.some((f) => f.type === fb.type && (f.parameter ?? '') === (fb.parameter ?? '')),
      ),
    };
    if (c.channels !== undefined) codec.channels = c.channels;
    if (c.fmtp !== undefined) codec.fmtp = c.fmtp;
    return codec;
  });
}

/** Codecs of a server-created receiving line (m-line 0/1 of a first server offer): the router's own. */
export function primaryCodecs(kind: MediaKind, router: ms.RtpCapabilities): LocalCodec[] {
  return (router.codecs ?? [])
    .filter((c) => c.kind === kind)
    .map((c) => {
      const codec: LocalCodec = {
        payloadType: c.preferredPayloadType,
        mimeType: c.mimeType,
        clockRate: c.clockRate,
        rtcpFeedback: isRtx(c.mimeType) ? [] : [...PRODUCER_RTCP_FEEDBACK[kind]],
      };
      if (c.channels !== undefined) codec.channels = c.channels;
      if (c.mimeType.toLowerCase() === 'audio/opus') codec.fmtp = 'minptime=10;useinbandfec=1';
      else if (isRtx(c.mimeType)) codec.fmtp = `apt=${String(c.parameters?.['apt'])}`;
      return codec;
    });
}

/**
 * A consumer always sends with the router's payload types, so it may share a party's line only if
 * that line negotiated the router's PT for the producer's media codec (Chromium: opus 111, VP8 96).
 */
export function canCarry(lineCodecs: LocalCodec[], producer: ms.Producer, router: ms.RtpCapabilities): boolean {
  const media = producer.rtpParameters.codecs.find((c) => isMediaCodecMime(c.mimeType));
  if (!media) return false;
  const routerCodec = (router.codecs ?? []).find((c) => codecKey(c) === codecKey(media));
  return Boolean(routerCodec && lineCodecs.some((c) => c.payloadType === routerCodec.preferredPayloadType));
}

/** consume() capabilities for a receiving line: only codecs whose PT equals the router's, no extensions (fix B). */
export function lineCapabilities(lineCodecs: LocalCodec[], router: ms.RtpCapabilities): ms.RtpCapabilities {
  const codecs: ms.RtpCodecCapability[] = [];
  for (const c of lineCodecs) {
    const match = (router.codecs ?? []).find(
      (r) => r.preferredPayloadType === c.payloadType && codecKey(r) === codecKey(c),
    );
    if (!match) continue;
    codecs.push({
      kind: match.kind,
      mimeType: match.mimeType,
      preferredPayloadType: match.preferredPayloadType,
      clockRate: match.clockRate,
      ...(match.channels !== undefined ? { channels: match.channels } : {}),
      parameters: match.parameters ?? {},
      rtcpFeedback: c.rtcpFeedback,
    });
  }
  return { codecs, headerExtensions: [] };
}

/**
 * consume() capabilities for a consumer-only line: the codecs the party has shown (router defaults if it
 * has shown none of this kind yet), and the router's header extensions with the ROUTER's ids, except
 * those whose id the party's own lines already use for another extension (`reservedIds`, id → uri):
 * one BUNDLE cannot map an id to two extensions.
 */
export function consumerCapabilities(
  kind: MediaKind,
  remoteCodecs: Iterable<SdpCodec>,
  router: ms.RtpCapabilities,
  reservedIds: ReadonlyMap<number, string> = new Map(),
): ms.RtpCapabilities {
  const remote = [...remoteCodecs];
  const known = remote.some((c) => c.mimeType.toLowerCase().startsWith(`${kind}/`));
  const codecs: ms.RtpCodecCapability[] = [];
  for (const r of router.codecs ?? []) {
    if (r.kind !== kind) continue;
    const match = isRtx(r.mimeType)
      ? remote.find((c) => isRtx(c.mimeType))
      : remote.find((c) => codecKey(c) === codecKey(r));
    if (known && !match) continue;
    codecs.push({ ...r, rtcpFeedback: match ? match.rtcpFeedback : (r.rtcpFeedback ?? []) });
  }
  const headerExtensions = (router.headerExtensions ?? []).filter(
    (h) =>
      h.kind === kind &&
      CONSUMER_HEADER_EXTENSIONS[kind].includes(h.uri) &&
      (reservedIds.get(h.preferredId) ?? h.uri) === h.uri,
  );
  return { codecs, headerExtensions };
}

/** What a consumer-only line announces: exactly the consumer's codecs (router PTs, its fmtp and feedback). */
export function localCodecsOf(codecs: ms.RtpCodecParameters[]): LocalCodec[] {
  return codecs.map((c) => {
    const codec: LocalCodec = {
      payloadType: c.payloadType,
      mimeType: c.mimeType,
      clockRate: c.clockRate,
      rtcpFeedback: (c.rtcpFeedback ?? []).map((fb) =>
        fb.parameter ? { type: fb.type, parameter: fb.parameter } : { type: fb.type },
      ),
    };
    if (c.channels !== undefined) codec.channels = c.channels;
    const fmtp = fmtpString(c.parameters);
    if (fmtp) codec.fmtp = fmtp;
    return codec;
  });
}
