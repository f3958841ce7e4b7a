/**
 * Fixed SDP for the apps. Media is not the point of the suite: a plain RTP/AVP peer gets a plain
 * answer/offer, a WebRTC peer (Chromium) gets a WebRTC-shaped one it can apply.
 */
import { answerFor, webrtcLikeOffer } from '@conclave/sip-test-ua';

export function isWebrtc(sdp: string): boolean {
  return /UDP\/TLS\/RTP\/SAVPF|a=fingerprint:/.test(sdp);
}

export function plainSdp(
  version = 1,
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive' = 'sendrecv',
): string {
  return [
    'v=0',
    `o=drachtio-app 2002 ${2002 + version} IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=audio 42000 RTP/AVP 0 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    `a=${direction}`,
    '',
  ].join('\r\n');
}

/** An answer the offerer can apply. */
export function answerTo(offer: string, version = 1): string {
  if (isWebrtc(offer)) return answerFor(offer);
  return plainSdp(version);
}

/** An offer for a peer: WebRTC-shaped for browsers, plain otherwise. */
export function offerFor(webrtc: boolean, version = 1): string {
  return webrtc ? webrtcLikeOffer() : plainSdp(version);
}
