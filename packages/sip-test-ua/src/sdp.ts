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

/**
 * An answer to any offer the focus sends (first offers and re-offers alike): one m-line per offered
 * m-line, same mid, rejected lines stay rejected, directions complemented, first codec accepted.
 * Keeps one transport identity per dialog when `identity` is reused, as a browser would.
 */
export interface AnswerIdentity {
  ufrag: string;
  pwd: string;
  fingerprint: string;
  ssrc: number;
}

export function newAnswerIdentity(): AnswerIdentity {
  return {
    ufrag: randomBytes(3).toString('hex'),
    pwd: randomBytes(12).toString('hex'),
    fingerprint: [...randomBytes(32)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':'),
    ssrc: randomBytes(4).readUInt32BE(0),
  };
}

const COMPLEMENT: Record<string, string> = {
  sendrecv: 'sendrecv',
  sendonly: 'recvonly',
  recvonly: 'sendonly',
  inactive: 'inactive',
};

export function answerFor(offer: string, identity: AnswerIdentity = newAnswerIdentity()): string {
  const sections = offer.split(/\r?\n(?=m=)/);
  const mids: string[] = [];
  const media: string[] = [];
  sections.slice(1).forEach((section, index) => {
    const lines = section.split(/\r?\n/).filter(Boolean);
    const m = /^m=(\w+) (\d+) (\S+) (.*)$/.exec(lines[0]!)!;
    const [, kind, port, proto, fmts] = m;
    const mid = /^a=mid:(\S+)/m.exec(section)?.[1] ?? String(index);
    const pt = fmts!.split(' ')[0]!;
    const rtpmap = new RegExp(`^a=rtpmap:${pt} .*$`, 'm').exec(section)?.[0];
    if (port === '0') {
      media.push(
        `m=${kind} 0 ${proto} ${pt}`,
        'c=IN IP4 0.0.0.0',
        `a=mid:${mid}`,
        'a=inactive',
        ...(rtpmap ? [rtpmap] : []),
      );
      return;
    }
    mids.push(mid);
    const direction = /^a=(sendrecv|sendonly|recvonly|inactive)$/m.exec(section)?.[1] ?? 'sendrecv';
    const answerDirection = COMPLEMENT[direction]!;
    media.push(
      `m=${kind} 9 ${proto} ${pt}`,
      'c=IN IP4 127.0.0.1',
      `a=mid:${mid}`,
      `a=ice-ufrag:${identity.ufrag}`,
      `a=ice-pwd:${identity.pwd}`,
      `a=fingerprint:sha-256 ${identity.fingerprint}`,
      'a=setup:active',
      `a=${answerDirection}`,
      'a=rtcp-mux',
      ...(rtpmap ? [rtpmap] : []),
      ...(index === 0 && answerDirection.startsWith('send')
        ? [`a=ssrc:${identity.ssrc} cname:testua`, `a=ssrc:${identity.ssrc} msid:stream track`]
        : []),
    );
  });
  return [
    'v=0',
    `o=- ${identity.ssrc} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    `a=group:BUNDLE ${mids.join(' ')}`,
    'a=msid-semantic: WMS stream',
    ...media,
    '',
  ].join('\r\n');
}

/** The transport identity (ICE credentials, fingerprint, SSRC) an SDP of ours carries, to keep it in answers. */
export function identityOf(sdp: string): AnswerIdentity | undefined {
  const ufrag = /a=ice-ufrag:(\S+)/.exec(sdp)?.[1];
  const pwd = /a=ice-pwd:(\S+)/.exec(sdp)?.[1];
  const fingerprint = /a=fingerprint:sha-256 (\S+)/.exec(sdp)?.[1];
  const ssrc = Number(/a=ssrc:(\d+)/.exec(sdp)?.[1] ?? NaN);
  if (!ufrag || !pwd || !fingerprint || !Number.isFinite(ssrc)) return undefined;
  return { ufrag, pwd, fingerprint, ssrc };
}
