/**
 * Which kind of media leg a party gets: browsers (ICE, DTLS-SRTP) get a WebRTC leg forwarded by the
 * SFU; plain-RTP SIP phones get a leg that hears a mix of everyone else.
 */
import { legKindForOffer, type MediaLeg, type Room } from '@conclave/media';

/** For a party that sent us an offer: its SDP says which kind it is. */
export function createLegForOffer(room: Room, offer: string, label: string): Promise<MediaLeg> {
  return legKindForOffer(offer) === 'plain' ? room.createPlainRtpLeg({ label }) : room.createWebRtcLeg({ label });
}

/** For a party the focus calls (it offers first): what its registration said it is (Binding.media). */
export function createLegForTarget(
  room: Room,
  media: 'webrtc' | 'plain',
  label: string,
  video = false,
): Promise<MediaLeg> {
  return media === 'webrtc' ? room.createWebRtcLeg({ label, video }) : room.createPlainRtpLeg({ label });
}
