/**
 * An SDP offer shaped like Chromium's (JsSIP-style: one audio m-line, ICE, DTLS fingerprint, BUNDLE),
 * for signalling tests that need the focus to accept the media description without a browser.
 */
import { randomBytes } from 'node:crypto';

export interface WebrtcLikeSdpOptions {
  direction?: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  ssrc?: number;
  /** actpass for an offer (default); active for an answer to an offer that said passive/actpass. */
  setup?: 'actpass' | 'active' | 'passive';
}

export function webrtcLikeOffer(options: WebrtcLikeSdpOptions = {}): string {
  const ssrc = options.ssrc ?? randomBytes(4).readUInt32BE(0);
  const fingerprint = [...randomBytes(32)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  const session = randomBytes(8).readBigUInt64BE(0) >> 2n;
  return [
    'v=0',
    `o=- ${session} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS stream',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126',
    'c=IN IP4 127.0.0.1',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0',
    `a=ice-ufrag:${randomBytes(3).toString('hex')}`,
    `a=ice-pwd:${randomBytes(12).toString('hex')}`,
    `a=fingerprint:sha-256 ${fingerprint}`,
    `a=setup:${options.setup ?? 'actpass'}`,
    'a=mid:0',
    `a=${options.direction ?? 'sendrecv'}`,
    'a=msid:stream track',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:126 telephone-event/8000',
    `a=ssrc:${ssrc} cname:testua`,
    `a=ssrc:${ssrc} msid:stream track`,
    '',
  ].join('\r\n');
}

/** An answer of the same shape (DTLS client, as Chromium answers an ICE-lite passive offer). */
export function webrtcLikeAnswer(options: WebrtcLikeSdpOptions = {}): string {
  return webrtcLikeOffer({ setup: 'active', ...options });
}
