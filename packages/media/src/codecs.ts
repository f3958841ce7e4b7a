/**
 * The media Conclave's routers speak, and the RTP header extensions consumers may send.
 *
 * Payload types are pinned to Chromium's own numbers (opus 111, telephone-event 110/126, VP8 96) so a
 * consumer can share the browser's m-line (1:1 calls on m-line 0): a consumer always sends with the
 * router's payload types, and on a browser-created m-line those must be the browser's.
 */
import type * as ms from 'mediasoup/types';

export type MediaKind = 'audio' | 'video';

export const OPUS = 'audio/opus';
export const TELEPHONE_EVENT = 'audio/telephone-event';
export const VP8 = 'video/vp8';
export const RTX = 'video/rtx';

export const ROUTER_MEDIA_CODECS: ms.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 111 },
  // RFC 4733 DTMF, kept end to end so a later DTMF feature only has to read it.
  { kind: 'audio', mimeType: 'audio/telephone-event', clockRate: 48000, preferredPayloadType: 110 },
  { kind: 'audio', mimeType: 'audio/telephone-event', clockRate: 8000, preferredPayloadType: 126 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 96 },
];

/**
 * Header extensions consumers send on server-created (sendonly) m-lines, with the ROUTER's ids.
 * M-lines carrying a producer never negotiate any extension (recipe "fix B"), so these ids can
 * never collide with the ids a browser proposed in its first offer.
 */
export const CONSUMER_HEADER_EXTENSIONS: Record<MediaKind, string[]> = {
  audio: [
    'urn:ietf:params:rtp-hdrext:sdes:mid',
    'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  ],
  video: [
    'urn:ietf:params:rtp-hdrext:sdes:mid',
    'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'urn:3gpp:video-orientation',
    'urn:ietf:params:rtp-hdrext:toffset',
  ],
};

/**
 * RFC 6464 client-to-mixer audio level. The one extension a line carrying the party's producer may
 * negotiate (MediaService option `speakerDetection`): mediasoup's ActiveSpeakerObserver reads it.
 */
export const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/** RTCP feedback we accept from/offer to a remote on lines carrying its producer. */
export const PRODUCER_RTCP_FEEDBACK: Record<MediaKind, ms.RtcpFeedback[]> = {
  audio: [],
  video: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
};

export function isSupportedMime(mimeType: string): boolean {
  const m = mimeType.toLowerCase();
  return m === OPUS || m === TELEPHONE_EVENT || m === VP8 || m === RTX;
}

export function isMediaCodecMime(mimeType: string): boolean {
  const m = mimeType.toLowerCase();
  return m === OPUS || m === VP8;
}
