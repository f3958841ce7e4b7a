/**
 * SDP of plain SIP phones: which leg an offer needs, what a PlainRtpLeg accepts, refuses (with which
 * SdpNegotiationError message) and answers, hold, dial-out offers and answers, and offer/answer states.
 * Offers are hand-made from what baresip 1.0 and linphone 5.1 send. The leg tests use a real worker
 * (and start real GStreamer pipelines, killed on close) but no media flows.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'sdp-transform';
import { createLogger } from '@conclave/log';
import {
  MediaService,
  NegotiationStateError,
  SdpNegotiationError,
  isPlainRtpOffer,
  legKindForOffer,
  PlainRtpLeg,
  type Room,
} from '@conclave/media';
import { parsePlainDescription } from '../src/sdp/plain-description.ts';
import { liveGstPids } from '../src/gst-process.ts';
import { CHROMIUM_OFFER } from './sdp-helpers.ts';

const log = createLogger('media-test', { level: process.env['CONCLAVE_LOG_LEVEL'] === 'debug' ? 'debug' : 'error' });

/** What baresip 1.0 offers (captured). */
const BARESIP_OFFER = [
  'v=0',
  'o=- 1358803535 1988091045 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'a=tool:baresip 1.0.0',
  'm=audio 47136 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=sendrecv',
  'a=label:1',
  'a=rtcp-rsize',
  'a=ssrc:1847082075 cname:sip:phone@127.0.0.1:47062',
  'a=minptime:20',
  'a=ptime:20',
  '',
].join('\r\n');

/** Shaped like linphone 5.1's offer: opus first, static PTs, ICE attributes on RTP/AVP, a video line. */
const LINPHONE_OFFER = [
  'v=0',
  'o=lina 3312 1280 IN IP4 127.0.0.1',
  's=Talk',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'a=ice-pwd:31ec21eb38b2ec6d36e8dc7b',
  'a=ice-ufrag:71e7b4e5',
  'm=audio 17000 RTP/AVP 96 0 8 101',
  'a=rtpmap:96 opus/48000/2',
  'a=fmtp:96 useinbandfec=1',
  'a=rtpmap:101 telephone-event/8000',
  'a=rtcp:17001',
  'a=candidate:1 1 UDP 2130706431 127.0.0.1 17000 typ host',
  'm=video 0 RTP/AVP 96',
  '',
].join('\r\n');

const withLines = (sdp: string, from: string | RegExp, to: string): string => sdp.replace(from, to);

describe('plain SDP: parsing and leg kind (pure)', () => {
  it('legKindForOffer: DTLS-SRTP is webrtc, RTP/AVP is plain, garbage goes to WebRtcLeg', () => {
    assert.equal(legKindForOffer(CHROMIUM_OFFER), 'webrtc');
    assert.equal(legKindForOffer(BARESIP_OFFER), 'plain');
    assert.equal(legKindForOffer(LINPHONE_OFFER), 'plain', 'ICE attributes alone do not make a WebRTC offer');
    assert.equal(legKindForOffer('not sdp'), 'webrtc');
    assert.equal(
      legKindForOffer(withLines(BARESIP_OFFER, 'RTP/AVP', 'RTP/SAVP')),
      'plain',
      'SDES-SRTP: a plain leg refuses it with a clear reason',
    );
    assert.equal(isPlainRtpOffer(BARESIP_OFFER), true);
    assert.equal(PlainRtpLeg.isPlainRtpOffer(CHROMIUM_OFFER), false);
  });

  it('baresip: PCMU first, telephone-event, RTCP on port + 1, direction', () => {
    const d = parsePlainDescription(BARESIP_OFFER, 'offer');
    assert.deepEqual(
      {
        address: d.audio.address,
        port: d.audio.port,
        rtcpPort: d.audio.rtcpPort,
        rtcpMux: d.audio.rtcpMux,
        direction: d.audio.direction,
        ptime: d.audio.ptime,
      },
      { address: '127.0.0.1', port: 47136, rtcpPort: 47137, rtcpMux: false, direction: 'sendrecv', ptime: 20 },
    );
    assert.deepEqual(
      d.audio.codecs.map((c) => `${c.name}:${c.payloadType}`),
      ['PCMU:0', 'PCMA:8'],
    );
    assert.deepEqual(d.audio.telephoneEvents, [{ payloadType: 101, clockRate: 8000, fmtp: '0-15' }]);
  });

  it('linphone: opus with its dynamic PT, static PTs without rtpmap, a=rtcp, ignored ICE, closed video', () => {
    const d = parsePlainDescription(LINPHONE_OFFER, 'offer');
    assert.deepEqual(
      d.audio.codecs.map((c) => `${c.name}:${c.payloadType}`),
      ['opus:96', 'PCMU:0', 'PCMA:8'],
    );
    assert.equal(d.audio.rtcpPort, 17001);
    assert.equal(d.sections.length, 2);
    assert.deepEqual(
      parsePlainDescription(LINPHONE_OFFER, 'offer', ['PCMA']).audio.codecs.map((c) => c.name),
      ['PCMA'],
    );
  });

  it('RFC 2543 hold (c=0.0.0.0) means "do not send to me"', () => {
    const held = withLines(BARESIP_OFFER, 'c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0');
    assert.equal(parsePlainDescription(held, 'offer').audio.direction, 'sendonly');
    assert.equal(
      parsePlainDescription(withLines(held, 'a=sendrecv', 'a=recvonly'), 'offer').audio.direction,
      'inactive',
    );
  });

  it('two audio lines (SRTP best effort): the RTP/AVP one carries the call', () => {
    const savp = [
      'm=audio 40000 RTP/SAVP 0',
      'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz',
      'a=sendrecv',
      '',
    ].join('\r\n');
    const sdp = withLines(BARESIP_OFFER, 'm=audio 47136', `${savp}m=audio 47136`);
    const d = parsePlainDescription(sdp, 'offer');
    assert.equal(d.audio.index, 1);
    assert.equal(d.audio.port, 47136);
  });

  const refusals: [string, string, RegExp][] = [
    ['not SDP', 'hello', /^the offer is not an SDP session description \(no v=0 line\)$/],
    [
      'no m= line',
      'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n',
      /^the offer has no m= line$/,
    ],
    [
      'no active audio',
      withLines(BARESIP_OFFER, 'm=audio 47136', 'm=audio 0'),
      /^the offer has no active audio m-line$/,
    ],
    [
      'no usable codec',
      withLines(withLines(BARESIP_OFFER, 'RTP/AVP 0 8 101', 'RTP/AVP 9 3 101'), /a=rtpmap:[08] .*\r\n/g, ''),
      /^the offer has no usable audio codec \(offered: G722\/8000, GSM\/8000, telephone-event\/8000\); PCMU\/8000, PCMA\/8000 or opus\/48000\/2 is required$/,
    ],
    [
      'SDES-SRTP',
      withLines(BARESIP_OFFER, 'RTP/AVP', 'RTP/SAVP'),
      /^m-line 0 \(audio\) uses RTP\/SAVP \(SDES-SRTP keys in a=crypto\), which is not supported; plain phones must use RTP\/AVP$/,
    ],
    [
      'DTLS',
      withLines(BARESIP_OFFER, 'RTP/AVP', 'UDP/TLS/RTP/SAVPF'),
      /^m-line 0 \(audio\) uses DTLS-SRTP \(UDP\/TLS\/RTP\/SAVPF\): a WebRTC description, which needs a WebRtcLeg/,
    ],
    [
      'TCP',
      withLines(BARESIP_OFFER, 'RTP/AVP', 'TCP/RTP/AVP'),
      /^m-line 0 \(audio\) uses TCP\/RTP\/AVP; only RTP\/AVP over UDP is supported for plain phones$/,
    ],
    [
      'IPv6',
      withLines(BARESIP_OFFER, 'c=IN IP4 127.0.0.1', 'c=IN IP6 ::1'),
      /^m-line 0 \(audio\) has an IPv6 media address \(c=IN IP6 ::1\); only IPv4 is supported$/,
    ],
    [
      'no c=',
      withLines(BARESIP_OFFER, 'c=IN IP4 127.0.0.1\r\n', ''),
      /^m-line 0 \(audio\) has no connection address \(c=\)$/,
    ],
  ];
  for (const [what, sdp, message] of refusals) {
    it(`refuses: ${what}`, () => {
      assert.throws(
        () => parsePlainDescription(sdp, 'offer'),
        (err: unknown) => err instanceof SdpNegotiationError && message.test(err.message),
      );
    });
  }
});

describe('PlainRtpLeg negotiation (real worker, no media)', { timeout: 60_000 }, () => {
  let media: MediaService;
  let room: Room;

  before(async () => {
    media = await MediaService.create({
      workers: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 48000,
      rtcMaxPort: 48999,
      logger: log,
    });
    room = await media.createRoom({ label: 'plain-sdp' });
  });
  after(() => media?.close());

  it('answers baresip: one codec, its telephone-event, our port from the RTC range, no ICE/DTLS/ssrc', async () => {
    const leg = await room.createPlainRtpLeg({ label: 'phone' });
    await leg.applyRemoteOffer(BARESIP_OFFER);
    assert.equal(leg.signalingState, 'have-remote-offer');
    const answer = await leg.createLocalAnswer();
    assert.equal(leg.signalingState, 'stable');
    const d = parse(answer);
    assert.equal(d.connection?.ip, '127.0.0.1');
    assert.equal(d.media.length, 1);
    const m = d.media[0]!;
    assert.equal(m.protocol, 'RTP/AVP');
    assert.ok(m.port >= 48000 && m.port <= 48999 && m.port % 2 === 0, `port ${m.port}`);
    assert.equal(m.port, leg.localPort);
    assert.equal(String(m.payloads), '0 101');
    assert.deepEqual(
      m.rtp.map((r) => `${r.payload} ${r.codec}/${r.rate}`),
      ['0 PCMU/8000', '101 telephone-event/8000'],
    );
    assert.equal(m.direction, 'sendrecv');
    assert.equal(m.ptime, 20);
    assert.ok(!/ice-|fingerprint|a=ssrc|setup|candidate|rtcp-mux/.test(answer), answer);
    const stats = await leg.getStats();
    assert.equal(stats.codec, 'PCMU/8000');
    assert.deepEqual(stats.remote, { address: '127.0.0.1', port: 47136, direction: 'sendrecv' });
    assert.equal(leg.producers.length, 1, 'the phone has a producer once negotiated');
    leg.close();
  });

  it("follows the phone's codec preference (PCMA first; opus first keeps the phone's PT) and the leg's codec list", async () => {
    const a = await room.createPlainRtpLeg({ label: 'pcma' });
    await a.applyRemoteOffer(withLines(BARESIP_OFFER, 'RTP/AVP 0 8 101', 'RTP/AVP 8 0 101'));
    assert.match(await a.createLocalAnswer(), /^m=audio \d+ RTP\/AVP 8 101\r\na=rtpmap:8 PCMA\/8000\r$/m);
    a.close();
    const b = await room.createPlainRtpLeg({ label: 'linphone' });
    await b.applyRemoteOffer(LINPHONE_OFFER);
    const answer = await b.createLocalAnswer();
    assert.match(answer, /^m=audio \d+ RTP\/AVP 96\r\na=rtpmap:96 opus\/48000\/2\r$/m);
    assert.match(answer, /^m=video 0 RTP\/AVP 96\r$/m, 'the video line is rejected');
    assert.ok(!/telephone-event/.test(answer), 'telephone-event/8000 does not go with opus/48000');
    b.close();
    const c = await room.createPlainRtpLeg({ label: 'g711-only', codecs: ['PCMU', 'PCMA'] });
    await c.applyRemoteOffer(LINPHONE_OFFER);
    assert.match(await c.createLocalAnswer(), /^m=audio \d+ RTP\/AVP 0 101\r$/m);
    c.close();
  });

  it('a refused offer leaves the leg as it was; a later good offer works', async () => {
    const leg = await room.createPlainRtpLeg({ label: 'refused' });
    await assert.rejects(leg.applyRemoteOffer(withLines(BARESIP_OFFER, 'RTP/AVP', 'RTP/SAVP')), SdpNegotiationError);
    assert.equal(leg.signalingState, 'stable');
    await assert.rejects(leg.createLocalAnswer(), NegotiationStateError);
    await leg.applyRemoteOffer(BARESIP_OFFER);
    await leg.createLocalAnswer();
    leg.close();
    // A re-offer may not drop m-lines.
    const two = await room.createPlainRtpLeg({ label: 'two-lines' });
    await two.applyRemoteOffer(LINPHONE_OFFER);
    await two.createLocalAnswer();
    await assert.rejects(
      two.applyRemoteOffer(withLines(LINPHONE_OFFER, /m=video.*\r\n/, '')),
      (e: unknown) =>
        e instanceof SdpNegotiationError &&
        e.message === 'the offer has 1 m-lines but 2 were negotiated; m-lines cannot be removed',
    );
    assert.equal(two.signalingState, 'stable');
    two.close();
  });

  it('hold and resume: sendonly, inactive and c=0.0.0.0 hold; the answer mirrors; the version moves only on change', async () => {
    const leg = await room.createPlainRtpLeg({ label: 'hold' });
    const events: string[] = [];
    leg.on('held', () => events.push('held'));
    leg.on('resumed', () => events.push('resumed'));
    const version = (sdp: string) => Number(parse(sdp).origin?.sessionVersion);
    await leg.applyRemoteOffer(BARESIP_OFFER);
    const first = await leg.createLocalAnswer();
    await leg.applyRemoteOffer(BARESIP_OFFER);
    assert.equal(version(await leg.createLocalAnswer()), version(first), 'same description, same version');

    await leg.applyRemoteOffer(withLines(BARESIP_OFFER, 'a=sendrecv', 'a=sendonly'));
    const held = await leg.createLocalAnswer();
    assert.match(held, /^a=recvonly\r$/m);
    assert.ok(version(held) > version(first));
    assert.equal(leg.held, true);
    assert.equal((await leg.getStats()).producer?.paused, true, 'nobody hears a held phone');
    await leg.applyRemoteOffer(withLines(BARESIP_OFFER, 'a=sendrecv', 'a=inactive'));
    assert.match(await leg.createLocalAnswer(), /^a=inactive\r$/m);
    await leg.applyRemoteOffer(BARESIP_OFFER);
    assert.match(await leg.createLocalAnswer(), /^a=sendrecv\r$/m);
    assert.equal(leg.held, false);
    await leg.applyRemoteOffer(withLines(BARESIP_OFFER, 'c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0'));
    assert.match(await leg.createLocalAnswer(), /^a=recvonly\r$/m);
    assert.equal(leg.held, true);
    await leg.applyRemoteOffer(BARESIP_OFFER);
    await leg.createLocalAnswer();
    assert.deepEqual(events, ['held', 'resumed', 'held', 'resumed']);
    leg.close();
  });

  it("dial-out: our offer (PCMU, PCMA, telephone-event; opus optional), the phone's answer, a bad answer rolls back", async () => {
    const leg = await room.createPlainRtpLeg({ label: 'callee' });
    const offer = await leg.createLocalOffer();
    assert.equal(leg.signalingState, 'have-local-offer');
    const m = parse(offer).media[0]!;
    assert.equal(m.protocol, 'RTP/AVP');
    assert.equal(String(m.payloads), '0 8 101');
    assert.deepEqual(
      m.rtp.map((r) => `${r.payload} ${r.codec}/${r.rate}`),
      ['0 PCMU/8000', '8 PCMA/8000', '101 telephone-event/8000'],
    );
    assert.equal(m.direction, 'sendrecv');
    // Glare: the phone's own offer while ours is outstanding.
    await assert.rejects(
      leg.applyRemoteOffer(BARESIP_OFFER),
      (e: unknown) => e instanceof NegotiationStateError && /glare/.test(e.message),
    );
    // An answer with a codec we did not offer: refused, offer rolled back.
    const g722 = withLines(withLines(BARESIP_OFFER, 'RTP/AVP 0 8 101', 'RTP/AVP 9'), /a=rtpmap:.*\r\n/g, '');
    await assert.rejects(
      leg.applyRemoteAnswer(g722),
      (e: unknown) =>
        e instanceof SdpNegotiationError && /no usable audio codec \(offered: G722\/8000\)/.test(e.message),
    );
    assert.equal(leg.signalingState, 'stable');
    await assert.rejects(leg.applyRemoteAnswer(BARESIP_OFFER), NegotiationStateError);
    // Again, answered with PCMA.
    await leg.createLocalOffer();
    await leg.applyRemoteAnswer(withLines(BARESIP_OFFER, 'RTP/AVP 0 8 101', 'RTP/AVP 8 101'));
    assert.equal((await leg.getStats()).codec, 'PCMA/8000');
    // A re-offer puts the negotiated codec first; the phone may reject it (rollback).
    const reoffer = await leg.createLocalOffer();
    assert.equal(String(parse(reoffer).media[0]!.payloads), '8 0 101');
    await leg.rollbackLocalOffer();
    assert.equal(leg.signalingState, 'stable');
    leg.close();

    const opus = await room.createPlainRtpLeg({ label: 'opus-callee', codecs: ['opus', 'PCMU'] });
    const opusOffer = parse(await opus.createLocalOffer()).media[0]!;
    assert.equal(String(opusOffer.payloads), '111 0 110 101');
    assert.deepEqual(
      opusOffer.rtp.map((r) => `${r.codec}/${r.rate}`),
      ['opus/48000', 'PCMU/8000', 'telephone-event/48000', 'telephone-event/8000'],
    );
    const twoLines = withLines(BARESIP_OFFER, 'a=ptime:20\r\n', 'a=ptime:20\r\nm=video 0 RTP/AVP 96\r\n');
    await assert.rejects(opus.applyRemoteAnswer(twoLines), /the answer has 2 m-lines but the offer had 1/);
    opus.close();
  });

  it('never asks for renegotiation: a joining party changes the mix, not the SDP; mute pauses the producer', async () => {
    const phone = await room.createPlainRtpLeg({ label: 'steady' });
    let asked = 0;
    phone.on('renegotiationneeded', () => asked++);
    await phone.applyRemoteOffer(BARESIP_OFFER);
    await phone.createLocalAnswer();
    const browser = await room.createWebRtcLeg({ label: 'browser' });
    await browser.applyRemoteOffer(CHROMIUM_OFFER);
    const toBrowser = await browser.createLocalAnswer();
    assert.match(toBrowser, /a=ssrc:\d+ cname:/, 'the browser consumes the phone (its Opus producer) on m-line 0');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(asked, 0);
    assert.equal(phone.needsRenegotiation, false);
    let stats = await phone.getStats();
    for (let i = 0; i < 100 && stats.mix?.inputs !== 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      stats = await phone.getStats();
    }
    assert.deepEqual(stats.consumers, [], 'the phone consumes nothing');
    assert.equal(stats.mix?.inputs, 2, 'the room mixer takes the browser and the phone');
    await phone.setMutedByFocus(true);
    assert.equal((await phone.getStats()).producer?.paused, true);
    await phone.setMutedByFocus(false);
    assert.equal((await phone.getStats()).producer?.paused, false);
    assert.equal((await room.getStats()).length, 2, 'room stats cover both kinds of legs');
    room.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(liveGstPids(), [], 'no pipeline left');
  });
});
