/**
 * The leg contract, types only (like mediasoup's `*Types.ts`): what every leg of a room offers,
 * whatever carries its media, and what a room and its legs promise each other. A WebRtcLeg (browser,
 * WebRtcTransport, forwarded) and a PlainRtpLeg (SIP phone, plain RTP, transcoded and mixed) both
 * implement it; the focus treats both alike: same offer/answer calls, same events, same mute;
 * `legKindForOffer(sdp)` tells which to create.
 *
 * This file imports no implementation: the legs, the negotiation shell and the room all depend on it,
 * never on each other's modules the other way round (no import cycles).
 */
import type * as ms from 'mediasoup/types';
import type { EnhancedEventEmitter } from '@conclave/events';
import type { MixerInputStats, RoomMixer } from '@conclave/mixer';
import type { RouterLease } from './router-registry.ts';
import type { Direction } from './sdp/remote-description.ts';

export type SignalingState = 'stable' | 'have-local-offer' | 'have-remote-offer';
export type LegCloseReason = 'closed' | 'room-closed' | 'worker-died' | 'service-closed';
export type RoomCloseReason = 'closed' | 'worker-died' | 'service-closed';

/** What carries a leg's media in the router: a WebRtcTransport (browser) or a loopback PlainTransport (phone). */
export type LegKind = 'webrtc' | 'plain';

/** What a room may do with a leg, declared by the leg (the room never asks which class it is). */
export interface LegCapabilities {
  /**
   * Its audio producers carry RFC 6464 ssrc-audio-level (when the service detects speakers): the
   * room's speaker detector observes them. Plain RTP phones' audio carries no level: the room mixer
   * measures theirs instead.
   */
  readonly speakerDetection: boolean;
}

/** Events both leg kinds emit. */
export type MediaLegEvents = {
  held: [];
  resumed: [];
  renegotiationneeded: [];
  mutedbyfocuschange: [boolean];
  /**
   * The party is gone although nobody hung up: 'ice-consent-expired' (ICE disconnected: consent checks
   * stopped for MediaServiceOptions.iceConsentTimeout), 'ice-closed', 'dtls-failed', 'dtls-closed'
   * (browser legs), or 'no-media' (a phone sent no RTP for plainRtpTimeout while it should). At most once
   * per transport; the leg stays open (the focus ends the call and closes it).
   */
  vanished: [reason: string];
  /**
   * The party sent a DTMF digit in its media (RFC 4733 telephone-event), once per digit, in order.
   * Plain RTP legs (phones that negotiated telephone-event); browsers send theirs as SIP INFO.
   */
  dtmf: [digit: string];
  closed: [LegCloseReason];
};

export type RoomEvents = {
  /**
   * The leg must be re-offered: leg.createLocalOffer() + applyRemoteAnswer(). Any leg kind: a WebRtcLeg
   * when participants join or leave, either kind after a worker crash (new transport) or when
   * setOnHoldByFocus() changed. The leg emits its own 'renegotiationneeded' at the same moment.
   */
  renegotiationneeded: [MediaLeg];
  legclosed: [MediaLeg];
  /** Another room adopted the leg (room.adoptLeg); it is no longer in this room's `legs`. */
  legmoved: [MediaLeg, MediaRoom];
  /**
   * The dominant speaker changed (at most ~2 changes per second); undefined when nobody may speak.
   * Muted and held legs are never named. Needs the MediaService option `speakerDetection`.
   * Browsers are named from their RFC 6464 levels (legs with `capabilities.speakerDetection`), phones
   * (plain RTP legs) from the levels the room mixer measures on their audio.
   */
  activespeaker: [MediaLeg | undefined];
  /**
   * The room survived a mediasoup worker crash: it runs on a live worker again. `legs`: legs that got a
   * new transport; `ms`: time from the crash to the rebuilt room (before the re-offers). Every affected
   * leg emits 'renegotiationneeded' right after.
   */
  recovered: [info: { legs: number; ms: number }];
  closed: [RoomCloseReason];
};

/** A room as its legs (and their users) see it; the Room class implements it. */
export interface MediaRoom extends EnhancedEventEmitter<RoomEvents> {
  readonly id: string;
  readonly label: string;
  readonly closed: boolean;
  readonly legs: MediaLeg[];
  /** PID of the mediasoup worker hosting the room's home router. */
  readonly workerPid: number;
  readonly workerPids: number[];
  readonly activeSpeaker: MediaLeg | undefined;
  adoptLeg(leg: MediaLeg): Promise<void>;
  getStats(): Promise<(LegStats | PlainRtpLegStats)[]>;
  close(): void;
}

export interface MediaLeg extends EnhancedEventEmitter<MediaLegEvents> {
  readonly id: string;
  readonly label: string;
  readonly kind: LegKind;
  readonly capabilities: LegCapabilities;
  readonly closed: boolean;
  readonly held: boolean;
  readonly mutedByFocus: boolean;
  /** The focus holds this party (setOnHoldByFocus): our SDP toward it is sendonly (inactive if it holds too). */
  readonly heldByFocus: boolean;
  /** The room the leg belongs to now (it changes when another room adopts the leg). */
  readonly room: MediaRoom;
  readonly workerPid: number;
  readonly signalingState: SignalingState;
  readonly needsRenegotiation: boolean;
  /** What the party sends into the room now (its live producers), e.g. for the roster's <media>. */
  readonly producers: readonly ms.Producer[];
  applyRemoteOffer(sdp: string): Promise<void>;
  createLocalAnswer(): Promise<string>;
  createLocalOffer(): Promise<string>;
  applyRemoteAnswer(sdp: string): Promise<void>;
  rollbackLocalOffer(): Promise<void>;
  setMutedByFocus(muted: boolean): Promise<void>;
  /**
   * Holds the party from our side (RFC 3264 §8.4), e.g. to relay a 1:1 hold in a B2BUA: while set, our
   * offers and answers carry a=sendonly on its media lines (a=inactive when the party holds too) and
   * nobody hears it; clearing it restores sendrecv. A change asks for a re-offer ('renegotiationneeded').
   */
  setOnHoldByFocus(held: boolean): Promise<void>;
  /**
   * Sends DTMF digits (0-9, *, #, A-D) to the party in its media as RFC 4733 telephone-events. Resolves
   * true once all were sent; false when the party cannot take them in media (it negotiated no
   * telephone-event, it is held, a browser leg): then the focus sends SIP INFO. Rejects (RangeError) on
   * other characters.
   */
  sendDtmf(digits: string, options?: { durationMs?: number; gapMs?: number }): Promise<boolean>;
  getStats(): Promise<LegStats | PlainRtpLegStats>;
  close(): void;
}

/** @internal What a room needs from its legs to wire them all-to-all. */
export interface RoomLeg extends MediaLeg {
  readonly routerLease: RouterLease;
  readonly producers: ms.Producer[];
  /** @internal The link to the room the leg belongs to now. */
  readonly roomLink: LegRoomLink;
  wantProducer(producer: ms.Producer): void;
  forgetProducer(producerId: string): void;
  dropProducer(producerId: string): void;
  moveTo(link: LegRoomLink): void;
  /** Its worker died: carry on with a new transport (on `lease`), re-creating its producers. */
  rebuild(transport: ms.WebRtcTransport | ms.PlainTransport, lease: RouterLease): Promise<void>;
  /** The room's mixer came or went (`LegRoomLink.roomMixer`): a phone's leg joins or leaves it. */
  mixerChanged?(): void;
  /** Emits 'renegotiationneeded' if a re-offer would change something (held back while the room recovers). */
  renegotiateIfNeeded(): void;
  close(reason?: LegCloseReason): void;
}

/** What the room gives each leg; keeps the leg ignorant of the room's bookkeeping. */
export interface LegRoomLink {
  readonly room: MediaRoom;
  readonly routerCapabilities: ms.RtpCapabilities;
  /** The room is rebuilding after a worker crash: legs hold their re-offer requests until it asks (renegotiateIfNeeded). */
  readonly recovering: boolean;
  /** The room's audio mixer for its phones (one per room with a plain leg), if it has one now. */
  readonly roomMixer: RoomMixer | undefined;
  producerAdded(leg: RoomLeg, producer: ms.Producer): void;
  renegotiationNeeded(leg: RoomLeg): void;
  legClosed(leg: RoomLeg): void;
  /** Held/resumed, muted/unmuted by the focus: who may be the active speaker changed. */
  activityChanged(leg: RoomLeg): void;
  /** The leg's router closed under its transport (its worker died). */
  routerClosed(leg: RoomLeg): void;
  /** Another room (`to`) adopts the leg: this room lets it go (synchronously). */
  release(leg: RoomLeg, to: MediaRoom): void;
}

export interface StreamCounters {
  packets: number;
  bytes: number;
}

export interface SectionStats {
  mid: string;
  kind: string;
  closed: boolean;
  /** Direction in the last description we generated (our point of view). */
  localDirection: Direction;
  remoteDirection: Direction;
  producer?: StreamCounters & { id: string; ssrc: number; paused: boolean };
  consumer?: StreamCounters & { id: string; sourceLegId: string; sourceLabel: string; paused: boolean };
}

/** WebRtcLeg.getStats(). */
export interface LegStats {
  legId: string;
  label: string;
  held: boolean;
  mutedByFocus: boolean;
  heldByFocus: boolean;
  /** mediasoup worker hosting the leg's transport. */
  workerPid: number;
  signalingState: SignalingState;
  iceState: ms.IceState;
  dtlsState: ms.DtlsState;
  /** Transport totals (RTP, RTCP, STUN, DTLS). */
  bytesIn: number;
  bytesOut: number;
  /** RTP of the live producers / consumers. */
  packetsIn: number;
  packetsOut: number;
  rtpBytesIn: number;
  rtpBytesOut: number;
  sections: SectionStats[];
}

/** PlainRtpLeg.getStats(). */
export interface PlainRtpLegStats {
  kind: 'plain';
  legId: string;
  label: string;
  held: boolean;
  mutedByFocus: boolean;
  heldByFocus: boolean;
  workerPid: number;
  signalingState: SignalingState;
  /** Negotiated codec, e.g. 'PCMU/8000'. */
  codec?: string;
  /** Where the phone sends (our SDP's c=/m=). */
  local: { address: string; port: number };
  /** Where we send (the phone's SDP) and the phone's direction. */
  remote?: { address: string; port: number; direction: Direction };
  /** RTP from the phone. `dropped`: wrong source or payload type, DTMF, or received while held. */
  fromPhone: { packets: number; bytes: number; dropped: number; dtmf: number };
  toPhone: { packets: number; bytes: number };
  /** RTP of the producer (the phone as the room hears it) and sent to the phone (its mix). */
  packetsIn: number;
  packetsOut: number;
  producer?: { id: string; ssrc: number; paused: boolean; packets: number; bytes: number };
  consumers: {
    id: string;
    sourceLegId: string;
    sourceLabel: string;
    paused: boolean;
    packets: number;
    bytes: number;
  }[];
  /** GStreamer processes of this leg (the uplink to browsers; its pid now) and the CPU they used so far. */
  pipelines: {
    uplink?: { pid: number; restarts: number };
    cpuSeconds: number;
  };
  /**
   * The leg in its room's mixer: the mixer's input count (phones and browsers), the phone's input
   * (jitter buffer, concealment) and the packets made for the phone. Undefined outside a mixer.
   */
  mix?: { inputs: number; input?: MixerInputStats; outputPackets: number };
}
