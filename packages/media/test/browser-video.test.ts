/**
 * Video end to end: two Chromium parties with fake cameras. The caller offers audio+video (m-lines
 * 0 and 1); the callee gets a server offer with both, created with { video: true }. Both must decode
 * the other's VP8 frames and hear the other's tone.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'sdp-transform';
import { createLogger } from '@conclave/log';
import { MediaService } from '@conclave/media';
import { BrowserPeer, PageServer, ToneDir, waitForTones } from './browser-harness.ts';

const log = createLogger('media-test', { level: 'warn' });

it('1:1 with video: VP8 frames decoded both ways on m-line 1', { timeout: 60_000 }, async (t) => {
  const tones = await ToneDir.create();
  const server = await PageServer.start();
  const media = await MediaService.create({
    workers: 1,
    listenIp: '127.0.0.1',
    rtcMinPort: 44000,
    rtcMaxPort: 44999,
    logger: log,
  });
  const peers: BrowserPeer[] = [];
  try {
    const [alice, bob] = await Promise.all([
      BrowserPeer.launch('alice', 700, await tones.tone(700), server.url, { video: true }),
      BrowserPeer.launch('bob', 1100, await tones.tone(1100), server.url, { video: true }),
    ]);
    peers.push(alice, bob);
    const room = await media.createRoom({ label: 'video' });
    const legA = await room.createWebRtcLeg({ label: 'alice' });
    const offerA = await alice.createOffer();
    await legA.applyRemoteOffer(offerA);
    const legB = await room.createWebRtcLeg({ label: 'bob', video: true });
    const offerB = await legB.createLocalOffer();
    assert.deepEqual(
      parse(offerB).media.map((m) => `${m.type}:${m.direction}`),
      ['audio:sendrecv', 'video:sendrecv'],
    );
    await legB.applyRemoteAnswer(await bob.answer(offerB));
    const answerA = await legA.createLocalAnswer();
    const video = parse(answerA).media[1]!;
    assert.equal(video.type, 'video');
    assert.equal(video.direction, 'sendrecv', "bob's camera rides on alice's own video m-line");
    assert.equal(video.rtp[0]!.codec, 'VP8');
    await alice.applyAnswer(answerA);

    const started = Date.now();
    let last: unknown;
    for (;;) {
      const [a, b] = await Promise.all([alice.call('videoStats'), bob.call('videoStats')]);
      last = { alice: a, bob: b };
      if ((a['1']?.framesDecoded ?? 0) > 10 && (b['1']?.framesDecoded ?? 0) > 10) break;
      if (Date.now() - started > 10_000) assert.fail(`no decoded video: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    t.diagnostic(`video decoded after ${Date.now() - started} ms: ${JSON.stringify(last)}`);
    const heardA = await waitForTones(alice, { '0': 1100 });
    const heardB = await waitForTones(bob, { '0': 700 });
    t.diagnostic(`alice hears ${heardA.peaks['0']!.hz} Hz, bob hears ${heardB.peaks['0']!.hz} Hz`);
  } finally {
    media.close();
    await Promise.allSettled(peers.map((p) => p.close()));
    await server.close();
    await tones.remove();
  }
});
