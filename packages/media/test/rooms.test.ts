/**
 * Rooms beyond one router, with real workers and hand-made SDP (no browser): adoption of a leg by
 * another room (SDP, events, states), router lifetime, mute by the focus, the SDP of speaker
 * detection, and transport placement with maxTransportsPerWorker.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'sdp-transform';
import { createLogger } from '@conclave/log';
import { MediaClosedError, MediaService, type Room, type WebRtcLeg } from '@conclave/media';
import { CHROMIUM_OFFER, fakeAnswer, mlines, withDirection } from './sdp-helpers.ts';

const log = createLogger('media-test', { level: 'warn' });
const tick = () => new Promise((r) => setImmediate(r));
const AUDIO_LEVEL = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

function iceOf(sdp: string): string {
  const m = parse(sdp).media[0]!;
  return `${m.iceUfrag} ${m.fingerprint?.hash}`;
}

async function routerCount(media: MediaService): Promise<{ ours: number; worker: number; webRtc: number }> {
  const usage = await media.getWorkerUsage();
  return {
    ours: usage.reduce((n, w) => n + w.routers.length, 0),
    worker: usage.reduce((n, w) => n + w.routerIds.length, 0),
    webRtc: usage.reduce((n, w) => n + w.routers.reduce((m, r) => m + r.webRtcTransports, 0), 0),
  };
}

/** A browser-offer leg (CHROMIUM_OFFER) and a server-offer leg answered by fakeAnswer(): a 1:1 call. */
async function oneToOne(room: Room, a: string, b: string): Promise<[WebRtcLeg, WebRtcLeg]> {
  const legA = await room.createWebRtcLeg({ label: a });
  await legA.applyRemoteOffer(CHROMIUM_OFFER);
  const legB = await room.createWebRtcLeg({ label: b });
  await legB.applyRemoteAnswer(fakeAnswer(await legB.createLocalOffer()));
  await legA.createLocalAnswer();
  return [legA, legB];
}

describe('rooms: adoption, router lifetime, mute (real worker, hand-made SDP)', () => {
  let media: MediaService;

  before(async () => {
    media = await MediaService.create({
      workers: 2,
      listenIp: '127.0.0.1',
      rtcMinPort: 47000,
      rtcMaxPort: 47999,
      logger: log,
    });
  });
  after(() => media.close());

  it('adoptLeg moves a leg without touching its transport; both rooms re-offer the legs whose SDP changes', async () => {
    const r1 = await media.createRoom({ label: 'r1' });
    const r3 = await media.createRoom({ label: 'r3' });
    const needed: string[] = [];
    const movedEvents: string[] = [];
    for (const r of [r1, r3]) r.on('renegotiationneeded', (l) => needed.push(`${r.label}:${l.label}`));
    r1.on('legmoved', (l, to) => movedEvents.push(`${l.label}->${to.label}`));
    const [alice, bob] = await oneToOne(r1, 'alice', 'bob');
    const bobFirst = await bob.createLocalOffer();
    await bob.rollbackLocalOffer();
    const dave = await r3.createWebRtcLeg({ label: 'dave' });
    await dave.applyRemoteOffer(CHROMIUM_OFFER.replace(/2873020227/g, '1111'));
    await dave.createLocalAnswer();
    await tick();
    needed.length = 0;

    await r3.adoptLeg(bob);
    await tick();
    assert.equal(bob.room, r3);
    assert.deepEqual(
      r1.legs.map((l) => l.label),
      ['alice'],
    );
    assert.deepEqual(r3.legs.map((l) => l.label).sort(), ['bob', 'dave']);
    assert.deepEqual(movedEvents, ['bob->r3']);
    assert.deepEqual(needed.sort(), ['r1:alice', 'r3:bob', 'r3:dave']);

    const aliceOffer = mlines(await alice.createLocalOffer());
    assert.deepEqual(
      aliceOffer.map((l) => [l.mid, l.direction]),
      [['0', 'recvonly']],
      'alice no longer gets bob',
    );
    const bobOffer = await bob.createLocalOffer();
    assert.deepEqual(
      mlines(bobOffer).map((l) => [l.mid, l.direction]),
      [['0', 'sendrecv']],
      "bob's m-line 0 now carries dave",
    );
    assert.equal(iceOf(bobOffer), iceOf(bobFirst), 'same ICE credentials and fingerprint: same transport');
    await bob.applyRemoteAnswer(fakeAnswer(bobOffer));
    const bobStats = await bob.getStats();
    assert.equal(bobStats.sections[0]!.consumer?.sourceLabel, 'dave');
    assert.equal(bobStats.sections[0]!.consumer?.paused, false);
    const daveOffer = mlines(await dave.createLocalOffer());
    assert.deepEqual(
      daveOffer.map((l) => l.direction),
      ['sendrecv'],
      'dave gets bob on m-line 0',
    );

    // Adopting again is a no-op; closed rooms and legs are refused.
    await r3.adoptLeg(bob);
    assert.equal(bob.room, r3);
    const r4 = await media.createRoom({ label: 'r4' });
    r4.close();
    await assert.rejects(r4.adoptLeg(bob), MediaClosedError);
    const gone = await r1.createWebRtcLeg({ label: 'gone' });
    gone.close();
    await assert.rejects(r3.adoptLeg(gone), MediaClosedError);
    r1.close();
    r3.close();
  });

  it('a leg adopted with a local offer outstanding: the answer still applies, then a re-offer is requested', async () => {
    const r1 = await media.createRoom({ label: 'r1' });
    const r2 = await media.createRoom({ label: 'r2' });
    const [, bob] = await oneToOne(r1, 'alice', 'bob');
    const [carol] = await oneToOne(r2, 'carol', 'x');
    await tick();
    const needed: string[] = [];
    r2.on('renegotiationneeded', (l) => needed.push(l.label));
    const outstanding = await bob.createLocalOffer();
    await r2.adoptLeg(bob);
    assert.equal(bob.signalingState, 'have-local-offer');
    await bob.applyRemoteAnswer(fakeAnswer(outstanding));
    await tick();
    assert.ok(needed.includes('bob'), 'bob must be re-offered to get carol and x');
    assert.ok(needed.includes('carol'));
    const offer = mlines(await bob.createLocalOffer());
    assert.equal(offer.length, 2, 'm-line 0 (reused) + one line');
    await bob.rollbackLocalOffer();
    assert.equal(carol.room, r2);
    r1.close();
    r2.close();
  });

  it('a router lives while a transport of an adopted leg is on it; the adopting room closes it last', async () => {
    const base = await routerCount(media);
    const r1 = await media.createRoom({ label: 'r1' });
    const r3 = await media.createRoom({ label: 'r3' });
    const [alice, bob] = await oneToOne(r1, 'alice', 'bob');
    await oneToOne(r3, 'carol', 'dave');
    await r3.adoptLeg(bob);
    assert.deepEqual(await routerCount(media), {
      ours: base.ours + 2,
      worker: base.worker + 2,
      webRtc: base.webRtc + 4,
    });
    r1.close();
    assert.equal(alice.closed, true);
    assert.equal(bob.closed, false);
    assert.deepEqual(
      await routerCount(media),
      { ours: base.ours + 2, worker: base.worker + 2, webRtc: base.webRtc + 3 },
      "R1's router stays for bob",
    );
    bob.close();
    await tick();
    assert.deepEqual(
      await routerCount(media),
      { ours: base.ours + 1, worker: base.worker + 1, webRtc: base.webRtc + 2 },
      "the last transport closes R1's router",
    );
    r3.close();
    assert.deepEqual(await routerCount(media), base);
  });

  it('setMutedByFocus pauses the audio producer only, without SDP change; the state survives hold/resume and a new SSRC', async () => {
    const room = await media.createRoom({ label: 'mute' });
    const [alice, bob] = await oneToOne(room, 'alice', 'bob');
    await tick();
    const changes: boolean[] = [];
    alice.on('mutedbyfocuschange', (m) => changes.push(m));
    const needed: string[] = [];
    room.on('renegotiationneeded', (l) => needed.push(l.label));
    await alice.setMutedByFocus(true);
    await alice.setMutedByFocus(true);
    assert.deepEqual(changes, [true]);
    assert.equal(alice.producers[0]!.paused, true);
    assert.equal(bob.producers[0]!.paused, false, 'others are not affected');
    assert.equal(alice.needsRenegotiation, false);

    await alice.applyRemoteOffer(withDirection(CHROMIUM_OFFER, 'sendonly'));
    await alice.createLocalAnswer();
    await alice.applyRemoteOffer(CHROMIUM_OFFER);
    await alice.createLocalAnswer();
    assert.equal(alice.held, false);
    assert.equal(alice.producers[0]!.paused, true, 'resume does not unmute');

    await alice.applyRemoteOffer(CHROMIUM_OFFER.replace(/2873020227/g, '2222'));
    await alice.createLocalAnswer();
    assert.equal(alice.producers[0]!.rtpParameters.encodings?.[0]?.ssrc, 2222);
    assert.equal(alice.producers[0]!.paused, true, 'a replaced producer starts muted');

    await alice.setMutedByFocus(false);
    assert.equal(alice.producers[0]!.paused, false);
    assert.equal((await alice.getStats()).mutedByFocus, false);
    await tick();
    assert.ok(!needed.includes('alice'), 'mute never asks for a re-offer of the muted leg');
    room.close();
    await assert.rejects(alice.setMutedByFocus(true), MediaClosedError);
  });
});

describe('speaker detection SDP (hand-made SDP)', () => {
  let media: MediaService;

  before(async () => {
    media = await MediaService.create({
      workers: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 47000,
      rtcMaxPort: 47999,
      logger: log,
      speakerDetection: true,
    });
  });
  after(() => media.close());

  it("negotiates ssrc-audio-level on the party's line; consumer lines avoid its id", async () => {
    const room = await media.createRoom({ label: 'levels' });
    const alice = await room.createWebRtcLeg({ label: 'alice' });
    await alice.applyRemoteOffer(CHROMIUM_OFFER);
    const answer = mlines(await alice.createLocalAnswer());
    assert.deepEqual(answer[0]!.ext, [`1=${AUDIO_LEVEL}`], "the browser's id, and only this extension");
    assert.deepEqual(
      alice.producers[0]!.rtpParameters.headerExtensions?.map((h) => [h.id, h.uri]),
      [[1, AUDIO_LEVEL]],
    );

    const bob = await room.createWebRtcLeg({ label: 'bob' });
    const bobOffer = await bob.createLocalOffer();
    assert.deepEqual(mlines(bobOffer)[0]!.ext, [`6=${AUDIO_LEVEL}`], "offering, we use the router's id");
    await bob.applyRemoteAnswer(fakeAnswer(bobOffer));
    assert.deepEqual(
      bob.producers[0]!.rtpParameters.headerExtensions?.map((h) => [h.id, h.uri]),
      [[6, AUDIO_LEVEL]],
    );

    const carol = await room.createWebRtcLeg({ label: 'carol' });
    await carol.applyRemoteAnswer(fakeAnswer(await carol.createLocalOffer()));
    await tick();
    const aliceReSdp = await alice.createLocalOffer();
    const aliceRe = mlines(aliceReSdp);
    assert.deepEqual(aliceRe[0]!.ext, [`1=${AUDIO_LEVEL}`]);
    assert.deepEqual(
      aliceRe[1]!.ext,
      ['4=http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', `6=${AUDIO_LEVEL}`],
      "id 1 is the party's audio level: no mid extension on consumer lines",
    );
    const bobRe = mlines(await bob.createLocalOffer());
    assert.deepEqual(bobRe[1]!.ext, [
      '1=urn:ietf:params:rtp-hdrext:sdes:mid',
      '4=http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
      `6=${AUDIO_LEVEL}`,
    ]);
    // The answer drops the extension: the line keeps nothing.
    await alice.applyRemoteAnswer(fakeAnswer(aliceReSdp).replace(/a=extmap:1 [^\r\n]*\r\n/, ''));
    assert.deepEqual(mlines(await alice.createLocalOffer())[0]!.ext, []);
    room.close();
  });
});

describe('placement: maxTransportsPerWorker', () => {
  it('rejects a bad value', async () => {
    await assert.rejects(
      MediaService.create({
        workers: 1,
        listenIp: '127.0.0.1',
        rtcMinPort: 47000,
        rtcMaxPort: 47999,
        logger: log,
        maxTransportsPerWorker: 0,
      }),
      RangeError,
    );
  });

  it('spills legs onto a router of the room on another worker, and wires them through pipes', async () => {
    const media = await MediaService.create({
      workers: 2,
      maxTransportsPerWorker: 2,
      listenIp: '127.0.0.1',
      rtcMinPort: 47000,
      rtcMaxPort: 47999,
      logger: log,
    });
    try {
      const room = await media.createRoom({ label: 'big' });
      const legs: WebRtcLeg[] = [];
      for (const label of ['a', 'b', 'c', 'd', 'e']) {
        const leg = await room.createWebRtcLeg({ label });
        await leg.applyRemoteAnswer(fakeAnswer(await leg.createLocalOffer()));
        legs.push(leg);
      }
      const pids = legs.map((l) => l.workerPid);
      const home = room.workerPid;
      const other = media.workerPids.find((p) => p !== home)!;
      assert.deepEqual(
        pids,
        [home, home, other, other, home],
        "2 per worker, then the room's own worker takes the overload",
      );
      // Re-offer until nobody needs it (pipes arrive asynchronously).
      for (let round = 0; round < 20 && legs.some((l) => l.needsRenegotiation || round === 0); round++) {
        await new Promise((r) => setTimeout(r, 20));
        for (const leg of legs) {
          // sendOn: [] keeps the party's SSRC (a fresh fake SSRC would replace its producer).
          if (leg.needsRenegotiation)
            await leg.applyRemoteAnswer(fakeAnswer(await leg.createLocalOffer(), { sendOn: [] }));
        }
      }
      for (const leg of legs) {
        const stats = await leg.getStats();
        const heard = stats.sections.flatMap((s) => (s.consumer ? [s.consumer.sourceLabel] : [])).sort();
        assert.deepEqual(
          heard,
          ['a', 'b', 'c', 'd', 'e'].filter((l) => l !== leg.label),
          `${leg.label} consumes everyone else`,
        );
      }
      const usage = await media.getWorkerUsage();
      assert.deepEqual(
        usage.map((w) => w.routers.length),
        [1, 1],
        'one router of the room per worker',
      );
      room.close();
      assert.equal(
        (await media.getWorkerUsage()).reduce((n, w) => n + w.routerIds.length, 0),
        0,
      );
    } finally {
      media.close();
    }
  });
});
