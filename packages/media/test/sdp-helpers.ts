/** Test helpers: hand-made SDP derived from a real Chromium offer (fixtures/chromium-offer.sdp). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, write } from 'sdp-transform';

export const CHROMIUM_OFFER = readFileSync(path.join(import.meta.dirname, 'fixtures', 'chromium-offer.sdp'), 'utf8');

export function mlines(sdp: string) {
  return parse(sdp).media.map((m) => ({
    type: m.type,
    port: m.port,
    mid: m.mid === undefined ? undefined : String(m.mid),
    direction: m.direction,
    payloads: String(m.payloads),
    ext: (m.ext ?? []).map((e) => `${e.value}=${e.uri}`),
    ssrc: m.ssrcs?.[0]?.id,
    setup: m.setup,
  }));
}

export function bundleOf(sdp: string): string[] {
  return String(parse(sdp).groups?.find((g) => g.type === 'BUNDLE')?.mids ?? '')
    .split(' ')
    .filter(Boolean);
}

/** Replaces every `from` line (regex, multiline) in an SDP. */
export function edit(sdp: string, from: RegExp | string, to: string): string {
  return sdp.replace(from, to);
}

/** The Chromium offer with every a=sendrecv rewritten (JsSIP hold mangling). */
export function withDirection(sdp: string, direction: string): string {
  return sdp.replace(/a=sendrecv\r\n/g, `a=${direction}\r\n`);
}

/** Adds a Chromium-like VP8 video m-line (mid 1, ssrc 4242 + rtx 4243) to the offer's BUNDLE. */
export function withVideo(sdp: string): string {
  const video = [
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:3Cz1',
    'a=ice-pwd:ISA6DHAPlqN5xlTkhfIYqSYe',
    'a=fingerprint:sha-256 15:CA:46:E9:4E:B5:A2:2A:10:F7:59:C3:6C:1D:F0:66:2D:EC:5A:EB:AA:AD:47:7D:B7:04:D1:41:F3:AE:B7:47',
    'a=setup:actpass',
    'a=mid:1',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=sendrecv',
    'a=msid:s v',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtpmap:96 VP8/90000',
    'a=rtcp-fb:96 goog-remb',
    'a=rtcp-fb:96 transport-cc',
    'a=rtcp-fb:96 ccm fir',
    'a=rtcp-fb:96 nack',
    'a=rtcp-fb:96 nack pli',
    'a=rtpmap:97 rtx/90000',
    'a=fmtp:97 apt=96',
    'a=rtpmap:102 H264/90000',
    'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
    'a=ssrc-group:FID 4242 4243',
    'a=ssrc:4242 cname:m9N7R1d846Kud00L',
    'a=ssrc:4243 cname:m9N7R1d846Kud00L',
    '',
  ].join('\r\n');
  return sdp.replace('a=group:BUNDLE 0', 'a=group:BUNDLE 0 1') + video;
}

let fakeSsrc = 5000;

/**
 * What a browser would answer to a server offer (enough for the media layer: mids, directions,
 * codecs, DTLS/ICE attributes and an a=ssrc on lines it sends on). No real media flows.
 */
export function fakeAnswer(offer: string, options: { sendOn?: string[]; setup?: string } = {}): string {
  const desc = parse(offer);
  const firstMid = desc.media[0]?.mid === undefined ? undefined : String(desc.media[0].mid);
  const sendOn = new Set(options.sendOn ?? (firstMid !== undefined ? [firstMid] : []));
  delete desc.icelite;
  desc.origin = { username: '-', sessionId: 1, sessionVersion: 1, netType: 'IN', ipVer: 4, address: '127.0.0.1' };
  for (const m of desc.media) {
    m.iceUfrag = 'ansU';
    m.icePwd = 'answerpasswordanswerpass';
    m.fingerprint = {
      type: 'sha-256',
      hash: '15:CA:46:E9:4E:B5:A2:2A:10:F7:59:C3:6C:1D:F0:66:2D:EC:5A:EB:AA:AD:47:7D:B7:04:D1:41:F3:AE:B7:47',
    };
    m.setup = options.setup ?? 'active';
    delete m.candidates;
    delete m.endOfCandidates;
    delete m.msid;
    delete m.ssrcGroups;
    if (m.port === 0) {
      delete m.ssrcs;
      continue;
    }
    m.port = 9;
    const mid = String(m.mid);
    const theySend = m.direction === 'sendrecv' || m.direction === 'sendonly';
    const weSend = sendOn.has(mid);
    m.direction = theySend ? (weSend ? 'sendrecv' : 'recvonly') : weSend ? 'sendonly' : 'inactive';
    m.ssrcs = weSend ? [{ id: ++fakeSsrc, attribute: 'cname', value: 'fakecname' }] : [];
  }
  return write(desc);
}
