/**
 * The SDP side of a PlainRtpLeg, pure: which codec and telephone-event to answer a phone's offer with,
 * what our offers list, and whether a phone's answer fits our offer. The leg applies the result.
 */
import { SdpNegotiationError } from './errors.ts';
import { PTIME_MS } from './audio-pipelines.ts';
import type { Direction } from './sdp/remote-description.ts';
import {
  parsePlainDescription,
  type DtmfCodec,
  type PlainAudioSection,
  type PlainCodec,
  type PlainCodecName,
  type PlainLocalAudio,
  type PlainLocalRejected,
  type PlainRemoteDescription,
  type PlainSectionShape,
} from './sdp/plain-description.ts';

export type PlainLocalSection = PlainLocalAudio | PlainLocalRejected;

/** Our payload types when we offer (static ones are fixed by RFC 3551). */
const OFFER_CODECS: Record<PlainCodecName, PlainCodec> = {
  PCMU: { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 },
  PCMA: { name: 'PCMA', payloadType: 8, clockRate: 8000, channels: 1 },
  opus: { name: 'opus', payloadType: 111, clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' },
};
const OFFER_DTMF: Record<number, DtmfCodec> = {
  8000: { payloadType: 101, clockRate: 8000, fmtp: '0-16' },
  48000: { payloadType: 110, clockRate: 48000, fmtp: '0-16' },
};
export const DEFAULT_OFFER: PlainCodecName[] = ['PCMU', 'PCMA'];

export const RECEIVES = (d: Direction): boolean => d === 'sendrecv' || d === 'recvonly';
export const SENDS = (d: Direction): boolean => d === 'sendrecv' || d === 'sendonly';
const REVERSE: Record<Direction, Direction> = {
  sendrecv: 'sendrecv',
  sendonly: 'recvonly',
  recvonly: 'sendonly',
  inactive: 'inactive',
};

export function codecLabel(c: PlainCodec): string {
  return `${c.name}/${c.clockRate}${c.channels > 1 ? `/${c.channels}` : ''}`;
}

/** Our answer to the phone's offer, decided when the offer is applied and written by createLocalAnswer(). */
export interface AnswerPlan {
  sections: PlainSectionShape[];
  index: number;
  codec: PlainCodec;
  dtmf?: DtmfCodec;
  direction: Direction;
  rtcpMux: boolean;
}

/** The phone as negotiated: where we send, in which codec, and what it may send us. */
export interface PlainRemote {
  address: string;
  port: number;
  direction: Direction;
  /** What we send (the first codec of the answer, or the one we answered). */
  codec: PlainCodec;
  /** What the phone may send: every negotiated codec (an answer may keep several of our offer's). */
  receivable: PlainCodec[];
  /** What the phone sends now: learnt from its packets' payload type. */
  uplink: PlainCodec;
  dtmf?: DtmfCodec;
}

/** The phone after a completed description (`before`: as it was). */
export function negotiatedRemote(
  before: PlainRemote | undefined,
  audio: PlainAudioSection,
  codec: PlainCodec,
  receivable: PlainCodec[],
  dtmf: DtmfCodec | undefined,
): PlainRemote {
  // The phone keeps sending what it sent if that is still negotiated; else we expect our codec.
  const sending = before?.uplink;
  const uplink =
    (sending && receivable.find((c) => c.name === sending.name && c.payloadType === sending.payloadType)) ?? codec;
  return {
    address: audio.address,
    port: audio.port,
    direction: audio.direction,
    codec,
    receivable,
    uplink,
    ...(dtmf ? { dtmf } : {}),
  };
}

/** What our outstanding offer listed. */
export interface OfferedMedia {
  codecs: PlainCodec[];
  dtmf: DtmfCodec[];
  sections: PlainLocalSection[];
}

/** The current codec when the phone still offers it (no pipeline restart on a hold re-INVITE), else its first. */
export function planAnswer(desc: PlainRemoteDescription, current: PlainCodec | undefined): AnswerPlan {
  const audio = desc.audio;
  const codec =
    (current && audio.codecs.find((c) => c.name === current.name && c.payloadType === current.payloadType)) ??
    audio.codecs[0]!;
  const dtmf = audio.telephoneEvents.find((t) => t.clockRate === codec.clockRate);
  return {
    sections: desc.sections,
    index: audio.index,
    codec,
    ...(dtmf ? { dtmf } : {}),
    direction: REVERSE[audio.direction],
    rtcpMux: audio.rtcpMux,
  };
}

/** One codec (the phone's first that we accept), the phone's telephone-event; other m-lines rejected. */
export function answerSections(plan: AnswerPlan, port: number, heldByFocus: boolean): PlainLocalSection[] {
  return plan.sections.map((s, i): PlainLocalSection =>
    i === plan.index
      ? {
          closed: false,
          port,
          codecs: [plan.codec],
          telephoneEvents: plan.dtmf ? [plan.dtmf] : [],
          // Holding the phone: we no longer receive (sendrecv → sendonly, recvonly → inactive).
          direction: heldByFocus ? (SENDS(plan.direction) ? 'sendonly' : 'inactive') : plan.direction,
          rtcpMux: plan.rtcpMux,
          ptime: PTIME_MS,
        }
      : { closed: true, mediaType: s.mediaType, protocol: s.protocol, formats: s.formats },
  );
}

/**
 * Our offer to the phone: the leg's codecs (`names`) with telephone-event; a re-offer puts the
 * negotiated codec (`remote`) first and keeps every m-line of the session (`session`).
 */
export function offerMedia(params: {
  names: PlainCodecName[];
  remote: { codec: PlainCodec; dtmf?: DtmfCodec } | undefined;
  port: number;
  held: boolean;
  heldByFocus: boolean;
  session: { sections: PlainSectionShape[]; audioIndex: number; rtcpMux: boolean };
}): OfferedMedia {
  const { remote, session } = params;
  let codecs = params.names.map((n) => OFFER_CODECS[n]);
  const current = remote?.codec;
  if (current) codecs = [current, ...codecs.filter((c) => c.name !== current.name)];
  const rates = [...new Set(codecs.map((c) => c.clockRate))];
  const used = new Set(codecs.map((c) => c.payloadType));
  const dtmf = rates.map((r) => {
    const t = current?.clockRate === r && remote?.dtmf ? remote.dtmf : OFFER_DTMF[r]!;
    // A phone-chosen codec PT (a re-offer) may already use our usual telephone-event PT.
    let pt = t.payloadType;
    while (used.has(pt)) pt = pt >= 127 ? 96 : pt + 1;
    used.add(pt);
    return { ...t, payloadType: pt };
  });
  // Holding the phone (RFC 3264 §8.4): sendonly, or inactive when it holds us too.
  const dir: Direction = params.heldByFocus ? (params.held ? 'inactive' : 'sendonly') : 'sendrecv';
  const audio: PlainLocalAudio = {
    closed: false,
    port: params.port,
    codecs,
    telephoneEvents: dtmf,
    direction: dir,
    rtcpMux: false,
    ptime: PTIME_MS,
  };
  const sections =
    session.sections.length > 0
      ? session.sections.map((s, i): PlainLocalSection =>
          i === session.audioIndex
            ? { ...audio, rtcpMux: session.rtcpMux }
            : { closed: true, mediaType: s.mediaType, protocol: s.protocol, formats: s.formats },
        )
      : [audio];
  return { codecs, dtmf, sections };
}

/** The phone's answer to `offered`: its audio line, the codec we send, every codec it may send. */
export function readAnswer(
  sdp: string,
  offered: OfferedMedia,
): { audio: PlainAudioSection; codec: PlainCodec; receivable: PlainCodec[]; sections: PlainSectionShape[] } {
  const desc = parsePlainDescription(sdp, 'answer', [...new Set(offered.codecs.map((c) => c.name))]);
  if (desc.sections.length !== offered.sections.length) {
    throw new SdpNegotiationError(
      `the answer has ${desc.sections.length} m-lines but the offer had ${offered.sections.length}`,
    );
  }
  const audioIndex = offered.sections.findIndex((s) => !s.closed);
  if (desc.audio.index !== audioIndex) {
    throw new SdpNegotiationError(
      `the answer carries audio on m-line ${desc.audio.index}, the offer on m-line ${audioIndex}`,
    );
  }
  const audio = desc.audio;
  const receivable = audio.codecs.filter((c) => offered.codecs.some((o) => o.name === c.name));
  const codec = receivable[0];
  if (!codec) {
    throw new SdpNegotiationError(
      `the answer keeps none of the offered codecs (answered: ${audio.offeredCodecNames.join(', ') || 'none'})`,
    );
  }
  return { audio, codec, receivable, sections: desc.sections };
}
