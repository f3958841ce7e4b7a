/**
 * The offer/answer rules of @conclave/media with a real mediasoup worker and hand-made SDP (no browser):
 * the SDP shape the bridge recipe requires, every rejection, state errors, rollback, renegotiation,
 * hold detection and video m-lines.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@conclave/log';
import { MediaService, NegotiationStateError, SdpNegotiationError, type Room } from '@conclave/media';
import { CHROMIUM_OFFER, bundleOf, edit, fakeAnswer, mlines, withDirection, withVideo } from './sdp-helpers.ts';

const log = createLogger('media-test', { level: 'warn' });

describe('SDP negotiation (real worker, hand-made SDP)', () => {
  let media: MediaService;
  let room: Room;

  before(async () => {
    media = await MediaService.create({
      workers: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 42000,
      rtcMaxPort: 42999,
      logger: log,
    });
  });
  after(() => media.close());

  const freshRoom = async (label: string) => {
    room?.close();
    room = await media.createRoom({ label });
    return room;
  };

  it('answers a Chromium offer the way the bridge recipe requires', async () => {
    const r = await freshRoom('shape');
    const leg = await r.createWebRtcLeg({ label: 'alice' });
    await leg.applyRemoteOffer(CHROMIUM_OFFER);
    const answer = await leg.createLocalAnswer();
    assert.match(answer, /^a=ice-lite\r$/m, 'ICE-lite at session level');
    const [m0, ...rest] = mlines(answer);
    assert.equal(rest.length, 0);
    assert.equal(m0!.setup, 'passive');
    assert.equal(m0!.direction, 'recvonly', 'alone in the room: nothing to send yet');
    assert.deepEqual(m0!.ext, [], 'no a=extmap on the first answer (fix B)');
    assert.equal(m0!.payloads, '111 110 126', "opus + both telephone-events, the browser's PTs");
    assert.match(answer, /a=fmtp:111 minptime=10;useinbandfec=1/);
    assert.match(answer, /a=rtcp-mux/);
    assert.match(answer, /a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);
    assert.match(answer, /a=end-of-candidates/);
    assert.deepEqual(bundleOf(answer), ['0']);

    const [producer] = leg.producers;
    assert.ok(producer);
    assert.equal(producer.rtpParameters.encodings?.[0]?.ssrc, 2873020227, 'SSRC from a=ssrc');
    const opus = producer.rtpParameters.codecs.find((c) => c.mimeType.toLowerCase() === 'audio/opus');
    assert.deepEqual(opus?.parameters, { minptime: 10, useinbandfec: 1 }, 'opus fmtp copied into the producer');
    assert.ok(
      producer.rtpParameters.codecs.some((c) => c.mimeType.toLowerCase() === 'audio/telephone-event'),
      'RFC 4733 kept',
    );
    assert.deepEqual(producer.rtpParameters.headerExtensions, []);
  });

  it("a second party gets a single-m-line sendrecv offer; the first party's re-offer then carries it on m-line 0", async () => {
    const r = await freshRoom('1to1');
    const needed: string[] = [];
    r.on('renegotiationneeded', (l) => needed.push(l.label));
    const alice = await r.createWebRtcLeg({ label: 'alice' });
    await alice.applyRemoteOffer(CHROMIUM_OFFER);
    await alice.createLocalAnswer();

    const bob = await r.createWebRtcLeg({ label: 'bob' });
    const offer = await bob.createLocalOffer();
    const lines = mlines(offer);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.mid, '0');
    assert.equal(lines[0]!.direction, 'sendrecv');
    assert.equal(lines[0]!.setup, 'actpass');
    assert.ok(lines[0]!.ssrc, 'consumer announced with a=ssrc');
    assert.match(offer, /a=msid:\S+ \S+/);
    assert.match(offer, /a=rtpmap:110 telephone-event\/48000/, 'telephone-event offered to the consumer side');
    assert.equal(bob.signalingState, 'have-local-offer');
    await bob.applyRemoteAnswer(fakeAnswer(offer));
    assert.equal(bob.signalingState, 'stable');
    assert.equal(bob.producers.length, 1, "bob's producer comes from his answer's a=ssrc");

    await new Promise((r) => setImmediate(r));
    assert.deepEqual(needed, ['alice'], 'alice must be re-offered to hear bob');
    assert.equal(alice.needsRenegotiation, true);
    const reoffer = await alice.createLocalOffer();
    const re = mlines(reoffer);
    assert.equal(re.length, 1, 'a 1:1 stays on one m-line');
    assert.equal(re[0]!.direction, 'sendrecv');
    assert.equal(re[0]!.setup, 'actpass');
    assert.deepEqual(re[0]!.ext, []);
    await alice.applyRemoteAnswer(fakeAnswer(reoffer));
    assert.equal(alice.needsRenegotiation, false);
    const stats = await alice.getStats();
    assert.equal(stats.sections[0]!.consumer?.sourceLabel, 'bob');
    assert.equal(stats.sections[0]!.consumer?.paused, false, 'resumed once the answer is applied');
  });

  it('rejects unusable offers with SdpNegotiationError and stays usable', async () => {
    const r = await freshRoom('reject');
    const leg = await r.createWebRtcLeg({ label: 'alice' });
    const cases: [string, string, RegExp][] = [
      ['not SDP', 'INVITE sip:bob@example.com SIP/2.0', /not an SDP/],
      ['no m-line', 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n', /no m= line/],
      [
        'no opus',
        edit(edit(CHROMIUM_OFFER, /^a=rtpmap:111 opus\/48000\/2\r\n/m, ''), /SAVPF 111 63/, 'SAVPF 63'),
        /no usable Opus.*PCMU\/8000/,
      ],
      ['no fingerprint', edit(CHROMIUM_OFFER, /^a=fingerprint:.*\r\n/m, ''), /no DTLS fingerprint/],
      ['no ICE', edit(CHROMIUM_OFFER, /^a=ice-ufrag:.*\r\n/m, ''), /no ICE credentials/],
      ['plain RTP', edit(CHROMIUM_OFFER, 'UDP/TLS/RTP/SAVPF', 'RTP/AVP'), /only DTLS-SRTP/],
      ['no rtcp-mux', edit(CHROMIUM_OFFER, /^a=rtcp-mux\r\n/m, ''), /rtcp-mux/],
      ['sender without a=ssrc', edit(CHROMIUM_OFFER, /^a=ssrc:.*\r\n/gm, ''), /without a=ssrc/],
    ];
    for (const [name, sdp, message] of cases) {
      await assert.rejects(leg.applyRemoteOffer(sdp), (err: unknown) => {
        assert.ok(err instanceof SdpNegotiationError, `${name}: ${String(err)}`);
        assert.match(err.message, message, name);
        return true;
      });
      assert.equal(leg.signalingState, 'stable', `${name}: state unchanged`);
    }
    await leg.applyRemoteOffer(CHROMIUM_OFFER);
    assert.equal(mlines(await leg.createLocalAnswer()).length, 1, 'a good offer still works afterwards');
  });

  it('enforces offer/answer states, m-line order and DTLS continuity', async () => {
    const r = await freshRoom('states');
    const alice = await r.createWebRtcLeg({ label: 'alice' });
    await assert.rejects(alice.createLocalAnswer(), NegotiationStateError);
    await assert.rejects(alice.applyRemoteAnswer(CHROMIUM_OFFER), NegotiationStateError);
    await alice.applyRemoteOffer(CHROMIUM_OFFER);
    await assert.rejects(alice.applyRemoteOffer(CHROMIUM_OFFER), NegotiationStateError);
    await assert.rejects(alice.createLocalOffer(), NegotiationStateError);
    await alice.createLocalAnswer();

    await assert.rejects(
      alice.applyRemoteOffer(edit(CHROMIUM_OFFER, /a=mid:0/, 'a=mid:x').replace('BUNDLE 0', 'BUNDLE x')),
      /changed its mid/,
    );
    await assert.rejects(
      alice.applyRemoteOffer(edit(CHROMIUM_OFFER, /sha-256 15:CA/, 'sha-256 16:CA')),
      /fingerprint changed/,
    );

    // Glare: a server offer is outstanding when the browser's re-INVITE arrives.
    await alice.createLocalOffer();
    await assert.rejects(alice.applyRemoteOffer(CHROMIUM_OFFER), /glare/);
    await alice.rollbackLocalOffer();
    assert.equal(alice.signalingState, 'stable');
    await alice.applyRemoteOffer(CHROMIUM_OFFER);
    await alice.createLocalAnswer();
  });

  it('rollback returns the consumer to pending; a bad answer rolls back by itself', async () => {
    const r = await freshRoom('rollback');
    const alice = await r.createWebRtcLeg({ label: 'alice' });
    await alice.applyRemoteOffer(CHROMIUM_OFFER);
    await alice.createLocalAnswer();
    const bob = await r.createWebRtcLeg({ label: 'bob' });
    const offer = await bob.createLocalOffer();
    await bob.rollbackLocalOffer();
    assert.equal(bob.needsRenegotiation, true, "alice's producer waits for the next offer");
    const again = await bob.createLocalOffer();
    assert.ok(mlines(again)[0]!.ssrc);
    assert.notEqual(mlines(again)[0]!.ssrc, mlines(offer)[0]!.ssrc, 'a new consumer');
    await assert.rejects(
      bob.applyRemoteAnswer(fakeAnswer(again) + 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:zz\r\n'),
      SdpNegotiationError,
    );
    assert.equal(bob.signalingState, 'stable');
    assert.equal(bob.needsRenegotiation, true);
  });

  it("detects JsSIP-style hold and resume from the party's offers", async () => {
    const r = await freshRoom('hold');
    const alice = await r.createWebRtcLeg({ label: 'alice' });
    const events: string[] = [];
    alice.on('held', () => events.push('held'));
    alice.on('resumed', () => events.push('resumed'));
    await alice.applyRemoteOffer(CHROMIUM_OFFER);
    await alice.createLocalAnswer();
    await alice.applyRemoteOffer(withDirection(CHROMIUM_OFFER, 'sendonly'));
    assert.equal(alice.held, true);
    assert.equal(mlines(await alice.createLocalAnswer())[0]!.direction, 'recvonly');
    assert.equal(alice.producers[0]!.paused, true, 'nobody hears a held party');
    await alice.applyRemoteOffer(withDirection(CHROMIUM_OFFER, 'inactive'));
    assert.equal(mlines(await alice.createLocalAnswer())[0]!.direction, 'inactive');
    await alice.applyRemoteOffer(CHROMIUM_OFFER);
    assert.equal(mlines(await alice.createLocalAnswer())[0]!.direction, 'recvonly');
    assert.deepEqual(events, ['held', 'resumed']);
    assert.equal(alice.producers[0]!.paused, false);
  });

  it("video: the party's VP8 line is answered with its PTs, no extmap; others get video too", async () => {
    const r = await freshRoom('video');
    const alice = await r.createWebRtcLeg({ label: 'alice' });
    await alice.applyRemoteOffer(withVideo(CHROMIUM_OFFER));
    const answer = await alice.createLocalAnswer();
    const [, v] = mlines(answer);
    assert.equal(v!.type, 'video');
    assert.equal(v!.payloads, '96 97', 'VP8 + its RTX, H264 dropped');
    assert.deepEqual(v!.ext, []);
    assert.match(answer, /a=rtcp-fb:96 nack pli/);
    assert.deepEqual(bundleOf(answer), ['0', '1']);
    assert.deepEqual(alice.producers.map((p) => p.kind).sort(), ['audio', 'video']);
    const video = alice.producers.find((p) => p.kind === 'video')!;
    assert.equal(video.rtpParameters.encodings?.[0]?.rtx?.ssrc, 4243, 'RTX SSRC from the FID group');

    const audioOnly = await r.createWebRtcLeg({ label: 'phone' });
    assert.equal(
      mlines(await audioOnly.createLocalOffer()).length,
      1,
      'no video towards a party that did not ask for it',
    );
    const bob = await r.createWebRtcLeg({ label: 'bob', video: true });
    const offer = await bob.createLocalOffer();
    const lines = mlines(offer);
    assert.deepEqual(
      lines.map((l) => [l.type, l.direction]),
      [
        ['audio', 'sendrecv'],
        ['video', 'sendrecv'],
      ],
    );
    assert.ok(lines[1]!.ssrc);
    assert.match(offer, /a=ssrc-group:FID \d+ \d+/, 'video consumer announces its RTX SSRC');
  });

  it('conference lines: third party gets a sendonly line with router extension ids; a rejected line is never re-offered', async () => {
    const r = await freshRoom('conf');
    const legs = await Promise.all(['a', 'b', 'c'].map((label) => r.createWebRtcLeg({ label })));
    const [a, b, c] = legs as [(typeof legs)[0], (typeof legs)[0], (typeof legs)[0]];
    await a.applyRemoteOffer(CHROMIUM_OFFER);
    await a.createLocalAnswer();
    await b.applyRemoteAnswer(fakeAnswer(await b.createLocalOffer()));
    const offer = await c.createLocalOffer();
    const lines = mlines(offer);
    assert.deepEqual(
      lines.map((l) => l.direction),
      ['sendrecv', 'sendonly'],
    );
    assert.deepEqual(lines[1]!.ext, [
      '1=urn:ietf:params:rtp-hdrext:sdes:mid',
      '4=http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
      '6=urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    ]);
    assert.match(lines[1]!.mid!, /^c\d+$/);
    // The party rejects the second line (port 0): it stays rejected, and the leg does not ask again.
    const answer = fakeAnswer(offer).replace(
      /m=audio 9 (UDP\/TLS\/RTP\/SAVPF [\d ]+)\r\n((?:(?!m=)[^\r\n]*\r\n)*?a=mid:c)/,
      'm=audio 0 $1\r\n$2',
    );
    await c.applyRemoteAnswer(answer);
    await new Promise((r) => setImmediate(r));
    assert.equal(c.needsRenegotiation, false);
    const re = mlines(await c.createLocalOffer());
    assert.equal(re[1]!.port, 0);
  });

  it("a party whose opus PT is not the router's (Firefox: 109) gets its consumer on a new sendonly line", async () => {
    const r = await freshRoom('pt109');
    const alice = await r.createWebRtcLeg({ label: 'alice' });
    const firefoxish = CHROMIUM_OFFER.replace(/\b111\b/g, '109');
    await alice.applyRemoteOffer(firefoxish);
    await alice.createLocalAnswer();
    const bob = await r.createWebRtcLeg({ label: 'bob' });
    await bob.applyRemoteAnswer(fakeAnswer(await bob.createLocalOffer()));
    await new Promise((r) => setImmediate(r));
    assert.equal(alice.needsRenegotiation, true);
    const offer = await alice.createLocalOffer();
    const lines = mlines(offer);
    assert.deepEqual(
      lines.map((l) => l.direction),
      ['recvonly', 'sendonly'],
    );
    assert.equal(lines[0]!.payloads.split(' ')[0], '109', "the party's line keeps its PT");
    assert.equal(lines[1]!.payloads.split(' ')[0], '111', "the consumer line uses the router's");
  });

  it('an ICE restart from the party gets fresh ICE credentials in the answer', async () => {
    const r = await freshRoom('ice');
    const alice = await r.createWebRtcLeg({ label: 'alice' });
    await alice.applyRemoteOffer(CHROMIUM_OFFER);
    const first = await alice.createLocalAnswer();
    await alice.applyRemoteOffer(CHROMIUM_OFFER);
    const same = await alice.createLocalAnswer();
    await alice.applyRemoteOffer(CHROMIUM_OFFER.replace('a=ice-ufrag:3Cz1', 'a=ice-ufrag:9Zz9'));
    const restarted = await alice.createLocalAnswer();
    const ufrag = (sdp: string) => /a=ice-ufrag:(\S+)/.exec(sdp)?.[1];
    assert.equal(ufrag(same), ufrag(first));
    assert.notEqual(ufrag(restarted), ufrag(first));
    assert.equal(
      /^o=\S+ \S+ (\d+)/m.exec(same)?.[1],
      /^o=\S+ \S+ (\d+)/m.exec(first)?.[1],
      'unchanged description keeps its version',
    );
    assert.match(restarted, /a=setup:passive/, 'DTLS role unchanged');
  });
});
