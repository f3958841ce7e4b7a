/**
 * The m-line "sections" of a WebRtcLeg and the planning of their next state from a remote description:
 * pure with respect to mediasoup (validates the SDP, returns the next section list; the leg then creates
 * and closes mediasoup objects accordingly). See webrtc-leg.ts for the rules.
 */
import type * as ms from 'mediasoup/types';
import { SdpNegotiationError } from './errors.ts';
import { AUDIO_LEVEL_URI, isMediaCodecMime, type MediaKind } from './codecs.ts';
import { answerCodecs, primaryCodecs, sameCodec } from './codec-negotiation.ts';
import { fmtpParams, type Direction, type RemoteDescription, type RemoteSection } from './sdp/remote-description.ts';
import type { LocalCodec, LocalSection } from './sdp/local-description.ts';

export interface SourceInfo {
  legId: string;
  legLabel: string;
}

export interface Section {
  mid: string;
  midSignaled: boolean;
  mediaType: string;
  kind?: MediaKind;
  protocol: string;
  closedFormats: string;
  closed: boolean;
  /** Carries the party's producer (its own m-lines, or our m-line 0). */
  receiving: boolean;
  /** Payload types valid on this line in both directions. */
  codecs: LocalCodec[];
  headerExtensions: { id: number; uri: string }[];
  remoteDirection: Direction;
  localDirection: Direction;
  rtcpRsize: boolean;
  producer?: ms.Producer;
  consumer?: ms.Consumer;
  /** The consumer has been in a completed offer/answer exchange (may be resumed). */
  consumerLive: boolean;
  source?: SourceInfo;
  /** The line lost its consumer with a dead worker: it takes the new producer of that leg (same mid). */
  vacantFor?: string;
}

/** What planning needs to know of the leg. */
export interface PlanContext {
  routerCapabilities: ms.RtpCapabilities;
  /** Negotiate ssrc-audio-level on the party's audio lines (speaker detection). */
  audioLevels: boolean;
}

export const RECEIVES = (d: Direction): boolean => d === 'sendrecv' || d === 'recvonly';
export const SENDS = (d: Direction): boolean => d === 'sendrecv' || d === 'sendonly';

export function direction(send: boolean, recv: boolean): Direction {
  return send ? (recv ? 'sendrecv' : 'sendonly') : recv ? 'recvonly' : 'inactive';
}

/** The extensions of a line that the new description keeps with the same id. */
function keptExtensions(current: { id: number; uri: string }[], rs: RemoteSection): { id: number; uri: string }[] {
  return current.filter((h) => rs.headerExtensions.some((r) => r.id === h.id && r.uri === h.uri));
}

function describeCodecs(section: RemoteSection): string {
  return section.offeredCodecNames.length ? section.offeredCodecNames.join(', ') : 'none';
}

/** rtcp-mux on every open line, and the same DTLS fingerprint as before (no DTLS renegotiation). */
export function checkTransportContinuity(desc: RemoteDescription, remoteFingerprint: string | undefined): void {
  const open = desc.sections.filter((s) => s.port !== 0 && s.kind);
  for (const s of open) {
    if (!s.rtcpMux)
      throw new SdpNegotiationError(`m-line ${s.index} (${s.mediaType}) lacks a=rtcp-mux, which is required`);
  }
  if (remoteFingerprint && desc.fingerprint.value && desc.fingerprint.value !== remoteFingerprint) {
    throw new SdpNegotiationError('the DTLS fingerprint changed; DTLS renegotiation is not supported on a leg');
  }
}

/** The sections after the party's offer `desc` (`current`: the sections negotiated so far). */
export function planRemoteOffer(current: Section[], desc: RemoteDescription, ctx: PlanContext): Section[] {
  if (desc.sections.length < current.length) {
    throw new SdpNegotiationError(
      `the offer has ${desc.sections.length} m-lines but ${current.length} were negotiated; m-lines cannot be removed`,
    );
  }
  const openCount = desc.sections.filter((s) => s.port !== 0 && s.kind).length;
  const bundled = desc.bundleMids.length > 0;
  const next: Section[] = [];
  let firstOpenSeen = false;
  for (const rs of desc.sections) {
    const cur = current[rs.index];
    if (cur && cur.mediaType !== rs.mediaType) {
      throw new SdpNegotiationError(
        `m-line ${rs.index} changed from ${cur.mediaType} to ${rs.mediaType}; m-line order is fixed`,
      );
    }
    if (cur && !cur.closed && rs.port !== 0 && rs.mid !== cur.mid) {
      throw new SdpNegotiationError(`m-line ${rs.index} changed its mid from '${cur.mid}' to '${rs.mid}'`);
    }
    // Lines outside the bundle (or every line but the first, without BUNDLE) are rejected.
    const outsideBundle =
      rs.port !== 0 && rs.kind !== undefined && (bundled ? !rs.inBundle : openCount > 1 && firstOpenSeen);
    if (rs.port !== 0 && rs.kind) firstOpenSeen = true;

    if (!cur || cur.closed) {
      // A new line from the party (or a port-0 line it recycled): it carries the party's media.
      const section = newRemoteSection(rs, [...next, ...current.slice(rs.index + 1)], ctx);
      if (outsideBundle) section.closed = true;
      next.push(section);
      continue;
    }
    const updated: Section = { ...cur, remoteDirection: rs.direction, rtcpRsize: rs.rtcpRsize };
    if (rs.port === 0 || outsideBundle) {
      updated.closed = true;
      next.push(updated);
      continue;
    }
    if (cur.receiving) {
      updated.codecs = answerCodecs(rs, ctx.routerCapabilities);
      updated.headerExtensions = keptExtensions(cur.headerExtensions, rs);
      if (!updated.codecs.some((c) => isMediaCodecMime(c.mimeType))) {
        updated.closed = true;
      }
    } else {
      // Our consumer-only line: keep our payload types, as far as the party still lists them.
      updated.codecs = cur.codecs.filter((c) => rs.codecs.some((r) => sameCodec(r, c)));
      if (!updated.codecs.some((c) => isMediaCodecMime(c.mimeType))) updated.closed = true;
    }
    next.push(updated);
  }
  const audioLines = desc.sections.filter((s) => s.kind === 'audio' && s.port !== 0);
  if (!next.some((s) => !s.closed && s.kind === 'audio')) {
    if (audioLines.length === 0) throw new SdpNegotiationError('the offer has no active audio m-line');
    throw new SdpNegotiationError(
      `the offer has no usable Opus audio (offered: ${audioLines.map(describeCodecs).join('; ')}); Opus over DTLS-SRTP is required`,
    );
  }
  for (const [i, s] of next.entries()) {
    const rs = desc.sections[i]!;
    if (!s.closed && s.receiving && SENDS(rs.direction) && rs.ssrc === undefined) {
      throw new SdpNegotiationError(
        `m-line ${rs.index} sends ${rs.mediaType} without a=ssrc; SSRC-less senders are not supported`,
      );
    }
  }
  return next;
}

/** The sections after the party's answer `desc` to our offer of `current`. */
export function planRemoteAnswer(current: Section[], desc: RemoteDescription): Section[] {
  if (desc.sections.length !== current.length) {
    throw new SdpNegotiationError(`the answer has ${desc.sections.length} m-lines but the offer had ${current.length}`);
  }
  return current.map((cur, i) => {
    const rs = desc.sections[i]!;
    if (rs.mediaType !== cur.mediaType) {
      throw new SdpNegotiationError(`m-line ${i} of the answer is ${rs.mediaType}, the offer had ${cur.mediaType}`);
    }
    const updated: Section = { ...cur, remoteDirection: rs.direction, rtcpRsize: rs.rtcpRsize };
    if (cur.closed) return updated;
    if (rs.port === 0) {
      updated.closed = true;
      return updated;
    }
    if (rs.midSignaled && rs.mid !== cur.mid) {
      throw new SdpNegotiationError(`m-line ${i} of the answer has mid '${rs.mid}', the offer had '${cur.mid}'`);
    }
    if (cur.receiving) updated.headerExtensions = keptExtensions(cur.headerExtensions, rs);
    updated.codecs = cur.codecs.filter((c) => rs.codecs.some((r) => sameCodec(r, c)));
    if (!updated.codecs.some((c) => isMediaCodecMime(c.mimeType))) {
      throw new SdpNegotiationError(
        `m-line ${i} of the answer keeps none of the offered media codecs (answered: ${describeCodecs(rs)})`,
      );
    }
    if (cur.receiving && SENDS(rs.direction) && rs.ssrc === undefined) {
      throw new SdpNegotiationError(
        `m-line ${i} sends ${rs.mediaType} without a=ssrc; SSRC-less senders are not supported`,
      );
    }
    return updated;
  });
}

/** A line the party created. `others`: the lines it will share the BUNDLE with. */
function newRemoteSection(rs: RemoteSection, others: Section[], ctx: PlanContext): Section {
  const section: Section = {
    mid: rs.mid,
    midSignaled: rs.midSignaled,
    mediaType: rs.mediaType,
    protocol: rs.protocol,
    closedFormats: rs.formats,
    closed: rs.port === 0 || !rs.kind,
    receiving: true,
    codecs: rs.kind ? answerCodecs(rs, ctx.routerCapabilities) : [],
    headerExtensions: audioLevelExtension(rs, others, ctx),
    remoteDirection: rs.direction,
    localDirection: 'inactive',
    rtcpRsize: rs.rtcpRsize,
    consumerLive: false,
  };
  if (rs.kind) section.kind = rs.kind;
  if (!section.codecs.some((c) => isMediaCodecMime(c.mimeType))) section.closed = true;
  return section;
}

/**
 * ssrc-audio-level with the party's id, for a new audio line carrying its producer (speaker
 * detection), unless another open line of the BUNDLE already uses that id for something else.
 */
function audioLevelExtension(rs: RemoteSection, others: Section[], ctx: PlanContext): { id: number; uri: string }[] {
  if (!ctx.audioLevels || rs.kind !== 'audio') return [];
  const offered = rs.headerExtensions.find((h) => h.uri === AUDIO_LEVEL_URI);
  if (!offered || !Number.isInteger(offered.id) || offered.id < 1 || offered.id > 14) return [];
  const taken = others.some(
    (s) => !s.closed && s.headerExtensions.some((h) => h.id === offered.id && h.uri !== AUDIO_LEVEL_URI),
  );
  return taken ? [] : [{ id: offered.id, uri: AUDIO_LEVEL_URI }];
}

/** Extension ids the lines carrying the party's producers use (id → uri). */
export function reservedExtensionIds(sections: Section[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const s of sections) {
    if (s.closed || !s.receiving) continue;
    for (const h of s.headerExtensions) out.set(h.id, h.uri);
  }
  return out;
}

/** m-line 0 (and 1 for video) of a server-originated first offer: router payload types. */
export function primarySection(kind: MediaKind, mid: string, ctx: PlanContext): Section {
  const codecs = primaryCodecs(kind, ctx.routerCapabilities);
  // Offering, we choose the id: the router's own, which no consumer line can use for anything else.
  const audioLevel =
    ctx.audioLevels && kind === 'audio'
      ? (ctx.routerCapabilities.headerExtensions ?? []).find((h) => h.kind === 'audio' && h.uri === AUDIO_LEVEL_URI)
      : undefined;
  return {
    mid,
    midSignaled: true,
    mediaType: kind,
    kind,
    protocol: 'UDP/TLS/RTP/SAVPF',
    closedFormats: codecs.map((c) => c.payloadType).join(' '),
    closed: false,
    receiving: true,
    codecs,
    headerExtensions: audioLevel ? [{ id: audioLevel.preferredId, uri: AUDIO_LEVEL_URI }] : [],
    remoteDirection: 'sendrecv',
    localDirection: 'recvonly',
    rtcpRsize: true,
    consumerLive: false,
  };
}

/** A line we add to carry one more remote party (sendonly). */
export function consumerOnlySection(kind: MediaKind, mid: string): Section {
  return {
    mid,
    midSignaled: true,
    mediaType: kind,
    kind,
    protocol: 'UDP/TLS/RTP/SAVPF',
    closedFormats: '',
    closed: false,
    receiving: false,
    codecs: [],
    headerExtensions: [],
    remoteDirection: 'recvonly',
    localDirection: 'sendonly',
    rtcpRsize: true,
    consumerLive: false,
  };
}

/** A line no longer carries its consumer (the worker died, or the source left): it may take another. */
export function vacate(section: Section, keepFor: boolean): void {
  if (keepFor && !section.closed) section.vacantFor = section.source?.legId ?? '';
  delete section.consumer;
  delete section.source;
  section.consumerLive = false;
}

/** How a section appears in our description (with the source of its consumer, if any). */
export function toLocalSection(s: Section): LocalSection {
  const local: LocalSection = {
    mid: s.mid,
    midSignaled: s.midSignaled,
    mediaType: s.mediaType,
    protocol: s.protocol,
    closed: s.closed,
    closedFormats: s.closedFormats || s.codecs.map((c) => c.payloadType).join(' '),
    direction: s.localDirection,
    codecs: s.codecs,
    headerExtensions: s.headerExtensions,
    rtcpRsize: s.rtcpRsize,
  };
  const c = s.consumer;
  if (c && !c.closed) {
    const encoding = c.rtpParameters.encodings?.[0];
    if (encoding?.ssrc !== undefined) {
      local.source = {
        ssrc: encoding.ssrc,
        cname: c.rtpParameters.rtcp?.cname ?? 'conclave',
        streamId: s.source?.legId || 'conclave',
        trackId: c.id,
      };
      if (encoding.rtx?.ssrc !== undefined) local.source.rtxSsrc = encoding.rtx.ssrc;
    }
  }
  return local;
}

/** The RTP parameters of the party's producer on a receiving line, from its a=ssrc (`rs`). */
export function producerRtpParameters(s: Section, rs: RemoteSection, cname: string): ms.RtpParameters {
  const codecs: ms.RtpCodecParameters[] = s.codecs.map((c) => {
    const codec: ms.RtpCodecParameters = {
      mimeType: c.mimeType,
      payloadType: c.payloadType,
      clockRate: c.clockRate,
      parameters: fmtpParams(c.fmtp),
      rtcpFeedback: c.rtcpFeedback,
    };
    if (c.channels !== undefined) codec.channels = c.channels;
    return codec;
  });
  const encoding: ms.RtpEncodingParameters = { ssrc: rs.ssrc! };
  if (rs.rtxSsrc !== undefined && codecs.some((c) => c.mimeType.toLowerCase() === 'video/rtx')) {
    encoding.rtx = { ssrc: rs.rtxSsrc };
  }
  return {
    codecs,
    // Only what the line negotiated: nothing (fix B), or ssrc-audio-level for speaker detection.
    headerExtensions: s.headerExtensions.map((h) => ({ uri: h.uri as ms.RtpHeaderExtensionUri, id: h.id })),
    encodings: [encoding],
    rtcp: { cname: rs.cname ?? cname, reducedSize: s.rtcpRsize },
  };
}
