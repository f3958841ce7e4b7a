export { RoomMixer, type RoomMixerEvents, type RoomMixerOptions, type RoomMixerStats } from './room-mixer.ts';
export { MixerInput, SILENCE_DBOV, type MixerInputOptions, type MixerInputStats } from './mixer-input.ts';
export { MixerOutput, type MixerOutputOptions, type PayloadSink, type OutputMode } from './mixer-output.ts';
export { MixerClock, type ClockStats, type ClockTimers } from './mixer-clock.ts';
export { SoftLimiter, LIMITER_THRESHOLD } from './limiter.ts';
export {
  FRAME_MS,
  FRAME_SAMPLES,
  MIX_RATE,
  createDecoder,
  createEncoder,
  isCodecName,
  rtpClockRate,
  type CodecName,
  type FrameDecoder,
  type FrameEncoder,
} from './codecs.ts';
export { g711Decode, g711Encode, type G711Law } from './g711.ts';
export { parseRtp, RtpPacketizer, type RtpPacket } from './rtp.ts';
export {
  DTMF_DIGITS,
  DtmfReceiver,
  beep,
  parseTelephoneEvent,
  telephoneEventPayload,
  telephoneEventPayloads,
  type TelephoneEvent,
} from './dtmf.ts';
export { nativeCodecs } from './native.ts';
