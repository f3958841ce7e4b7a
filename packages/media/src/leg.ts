/**
 * What every leg of a room offers, whatever carries its media: a WebRtcLeg (browser, WebRtcTransport,
 * forwarded) or a PlainRtpLeg (SIP phone, plain RTP, transcoded and mixed). The focus treats both
 * alike: same offer/answer calls, same events, same mute; `legKindForOffer(sdp)` tells which to create.
 */
import type * as ms from 'mediasoup/types';
import type { EnhancedEventEmitter } from '@conclave/events';
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
  /**
   * The party is gone although nobody hung up: 'ice-consent-expired' (ICE disconnected: consent checks
   * stopped for MediaServiceOptions.iceConsentTimeout), 'ice-closed', 'dtls-failed', 'dtls-closed'
   * (browser legs), or 'no-media' (a phone sent no RTP for plainRtpTimeout while it should). At most once
   * per transport; the leg stays open (the focus ends the call and closes it).
   */
  vanished: [reason: string];
  closed: [LegCloseReason];
};

export interface MediaLeg extends EnhancedEventEmitter<MediaLegEvents> {
  readonly id: string;
  readonly label: string;
  readonly closed: boolean;
  readonly held: boolean;
  readonly mutedByFocus: boolean;
  /** The focus holds this party (setOnHoldByFocus): our SDP toward it is sendonly (inactive if it holds too). */
  readonly heldByFocus: boolean;
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
  /**
   * Holds the party from our side (RFC 3264 §8.4), e.g. to relay a 1:1 hold in a B2BUA: while set, our
   * offers and answers carry a=sendonly on its media lines (a=inactive when the party holds too) and
   * nobody hears it; clearing it restores sendrecv. A change asks for a re-offer ('renegotiationneeded').
   */
  setOnHoldByFocus(held: boolean): Promise<void>;
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
  /** Its worker died: carry on with a new transport (on `lease`), re-creating its producers. */
  rebuild(transport: ms.WebRtcTransport | ms.PlainTransport, lease: RouterLease): Promise<void>;
  /** Emits 'renegotiationneeded' if a re-offer would change something (held back while the room recovers). */
  renegotiateIfNeeded(): void;
  close(reason?: LegCloseReason): void;
}
