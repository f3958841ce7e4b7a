export {
  MediaService,
  DEFAULT_MAX_TRANSPORTS_PER_WORKER,
  DEFAULT_ICE_CONSENT_TIMEOUT,
  DEFAULT_PLAIN_RTP_TIMEOUT,
  type MediaServiceOptions,
  type MediaServiceEvents,
  type MediaStats,
} from './media-service.ts';
export type { WorkerUsage } from './router-registry.ts';
export { Room, type RoomOptions, type RoomEvents, type RoomCloseReason } from './room.ts';
export { WebRtcLeg, type WebRtcLegOptions, type WebRtcLegEvents } from './webrtc-leg.ts';
export { SdpNegotiationError, NegotiationStateError, MediaClosedError } from './errors.ts';
export type { WorkerLogLevel } from './worker-pool.ts';
export type { Direction } from './sdp/remote-description.ts';
export { PlainRtpLeg, type PlainRtpLegOptions, type PlainRtpLegEvents } from './plain-rtp-leg.ts';
export type {
  MediaLeg,
  MediaLegEvents,
  MediaRoom,
  LegKind,
  LegCapabilities,
  SignalingState,
  LegCloseReason,
  LegStats,
  SectionStats,
  StreamCounters,
  PlainRtpLegStats,
} from './leg-types.ts';
export { legKindForOffer, isPlainRtpOffer, type PlainCodecName } from './sdp/plain-description.ts';
