/**
 * What every leg of a room offers, whatever carries its media: a WebRtcLeg (browser, WebRtcTransport,
 * forwarded) or a PlainRtpLeg (SIP phone, plain RTP, transcoded and mixed). The focus treats both
 * alike: same offer/answer calls, same events, same mute; `legKindForOffer(sdp)` tells which to create.
 */
import type * as ms from 'mediasoup/types';
import type { TypedEmitter } from './typed-emitter.ts';
import type { Room } from './room.ts';
import type { RouterLease } from './router-registry.ts';
import type { LegCloseReason, LegRoomLink, LegStats, SignalingState } from './webrtc-leg.ts';
import type { PlainRtpLegStats } from './plain-rtp-leg.ts';

/** Events both leg kinds emit. */
export type MediaLegEvents = {
  held: [];
  resumed: [];
  renegotiationneeded: [];
  mutedbyfocuschange: [boolean];
  closed: [LegCloseReason];
};

export interface MediaLeg extends TypedEmitter<MediaLegEvents> {
  readonly id: string;
  readonly label: string;
  readonly closed: boolean;
  readonly held: boolean;
  readonly mutedByFocus: boolean;
  readonly room: Room;
  readonly workerPid: number;
  readonly signalingState: SignalingState;
  readonly needsRenegotiation: boolean;
  applyRemoteOffer(sdp: string): Promise<void>;
  createLocalAnswer(): Promise<string>;
  createLocalOffer(): Promise<string>;
  applyRemoteAnswer(sdp: string): Promise<void>;
  rollbackLocalOffer(): Promise<void>;
  setMutedByFocus(muted: boolean): Promise<void>;
  getStats(): Promise<LegStats | PlainRtpLegStats>;
  close(): void;
}

/** @internal What a room needs from its legs to wire them all-to-all. */
export interface RoomLeg extends MediaLeg {
  readonly routerLease: RouterLease;
  readonly producers: ms.Producer[];
  wantProducer(producer: ms.Producer): void;
  forgetProducer(producerId: string): void;
  dropProducer(producerId: string): void;
  moveTo(link: LegRoomLink): void;
  close(reason?: LegCloseReason): void;
}
