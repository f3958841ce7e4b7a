/**
 * Plain RTP legs with real media: phones simulated in this process (G.711 µ-law over real UDP, see
 * fake-phone.ts), real mediasoup worker, real GStreamer pipelines. Each phone sends its own tone;
 * hearing is measured by Goertzel on what the phone decodes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@conclave/log';
import { MediaService, type PlainRtpLeg, type Room } from '@conclave/media';
import { liveGstPids } from '../src/gst-process.ts';
import { FakePhone, goertzelDb, waitForPhoneTones } from './fake-phone.ts';

const log = createLogger('media-test', { level: process.env['CONCLAVE_LOG_LEVEL'] === 'debug' ? 'debug' : 'error' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
  return Date.now() - started;
}

/**
 * Mouth-to-ear latency from `from` to `to` through the room: `from` goes silent, then starts its tone;
 * the delay is until `to` decodes the first 20 ms frame carrying it. Three runs.
 */
async function measureLatency(from: FakePhone, to: FakePhone): Promise<number[]> {
  const hz = from.toneHz;
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    from.toneHz = 0;
    // Silence must be heard on fresh audio (an empty window after a stalled event loop proves nothing).
    let quiet = 0;
    await until(`${to.name} hears silence from ${from.name}`, () => {
      quiet = to.recent(200).length >= 1200 && to.levels([hz], 200)[hz]! < -50 ? quiet + 1 : 0;
      return quiet >= 3;
    });
    const started = Date.now();
    from.toneHz = hz;
    await until(`${to.name} hears ${from.name}`, () => to.firstToneAt(hz, started) !== undefined);
    runs.push(to.firstToneAt(hz, started)! - started);
  }
  return runs;
}

describe('plain RTP legs: phones mixed through a room', { timeout: 120_000 }, () => {
  let media: MediaService;
  let room: Room;
  const phones: FakePhone[] = [];
  const legs: Record<string, PlainRtpLeg> = {};

  before(async () => {
    media = await MediaService.create({ workers: 1, listenIp: '127.0.0.1', rtcMinPort: 49000, rtcMaxPort: 49999, logger: log });
    room = await media.createRoom({ label: 'phones' });
  });

  after(async () => {
    for (const p of phones) p.close();
    media?.close();
  });

  it('a phone that calls in and a phone the focus dials hear each other; latency measured', async (t) => {
    const ann = await FakePhone.start('ann', 600);
    const bob = await FakePhone.start('bob', 1100);
    phones.push(ann, bob);
    ann.toneHz = 0;
    // ann calls in (her offer), the focus dials bob (our offer).
    legs.ann = await room.createPlainRtpLeg({ label: 'ann' });
    await legs.ann.applyRemoteOffer(ann.offer());
    const answer = await legs.ann.createLocalAnswer();
    ann.useRemote(answer);
    assert.match(answer, /^m=audio \d+ RTP\/AVP 0 101\r$/m, 'PCMU and telephone-event answered');
    legs.bob = await room.createPlainRtpLeg({ label: 'bob' });
    const offer = await legs.bob.createLocalOffer();
    assert.match(offer, /^m=audio \d+ RTP\/AVP 0 8 101\r$/m);
    await legs.bob.applyRemoteAnswer(bob.answer(offer));
    ann.startSending();
    bob.startSending();

    const heard = await waitForPhoneTones(ann, [1100]);
    t.diagnostic(`ann hears bob's 1100 Hz at ${heard.levels[1100]} dBFS after ${heard.ms} ms`);
    ann.toneHz = 600;
    await waitForPhoneTones(bob, [600]);
    const latency = await measureLatency(ann, bob);
    t.diagnostic(`mouth-to-ear ann → bob (G.711 → Opus → mediasoup → mix → G.711, incl. 20 ms packetisation): ${latency.join(', ')} ms`);
    assert.ok(Math.max(...latency) < 400, `latency ${latency.join(', ')} ms`);

    const stats = await legs.ann.getStats();
    assert.equal(stats.kind, 'plain');
    assert.equal(stats.codec, 'PCMU/8000');
    assert.ok(stats.producer && stats.producer.packets > 20, 'the producer receives the transcoded uplink');
    assert.equal(stats.consumers.length, 1);
    assert.equal(stats.consumers[0]!.sourceLabel, 'bob');
    assert.ok(stats.pipelines.uplink && stats.pipelines.mixer, 'two pipelines');
    assert.equal(ann.ssrcs.size, 1, 'one SSRC towards the phone');
  });

  it('a third phone joins: each phone hears the mix of the two others, with no SSRC change', async (t) => {
    const cid = await FakePhone.start('cid', 1700);
    phones.push(cid);
    const joinStarted = Date.now();
    legs.cid = await room.createPlainRtpLeg({ label: 'cid' });
    await legs.cid.applyRemoteOffer(cid.offer());
    cid.useRemote(await legs.cid.createLocalAnswer());
    cid.startSending();
    const [ann, bob] = phones as [FakePhone, FakePhone];
    const ssrcBefore = [...ann.ssrcs];
    const jumpsBefore = ann.seqJumps;
    for (const [phone, tones] of [[ann, [1100, 1700]], [bob, [600, 1700]], [cid, [600, 1100]]] as const) {
      const r = await waitForPhoneTones(phone, [...tones]);
      t.diagnostic(`${phone.name} hears ${tones.map((hz) => `${hz} Hz ${r.levels[hz]} dBFS`).join(', ')} after ${r.ms} ms`);
    }
    // Across the mixer switch, ann keeps hearing bob in every 20 ms frame (make before break).
    const frames = ann.frames.filter((f) => f.at >= joinStarted);
    const gaps = frames.filter((f) => goertzelDb(Float64Array.from(f.samples), 1100) < -30).length;
    t.diagnostic(`ann's frames since cid started joining: ${frames.length}, without bob's tone: ${gaps}`);
    assert.ok(gaps <= 2, `${gaps} frames without bob's tone across the mixer switch`);
    assert.deepEqual([...ann.ssrcs], ssrcBefore, 'the mixer restart is invisible: same SSRC');
    assert.ok(ann.seqJumps - jumpsBefore <= 1, `sequence continues (${ann.seqJumps - jumpsBefore} jumps)`);
    const s = await legs.ann!.getStats();
    assert.equal(s.pipelines.mixer?.inputs, 2);
    assert.ok((s.pipelines.mixer?.restarts ?? 0) >= 1);
  });

  it('hold: a sendonly re-offer holds the phone (nobody hears it, it gets nothing); resume undoes it', async () => {
    const [ann, bob, cid] = phones as [FakePhone, FakePhone, FakePhone];
    const events: string[] = [];
    legs.cid!.on('held', () => events.push('held'));
    legs.cid!.on('resumed', () => events.push('resumed'));
    await legs.cid!.applyRemoteOffer(cid.offer('sendonly'));
    const answer = await legs.cid!.createLocalAnswer();
    assert.match(answer, /^a=recvonly\r$/m);
    assert.deepEqual(events, ['held']);
    assert.equal(legs.cid!.held, true);
    await sleep(400);
    const received = cid.packetsReceived;
    await sleep(600);
    assert.equal(cid.packetsReceived, received, 'a held phone receives nothing');
    assert.ok(ann.levels([1700])[1700]! < -50, `ann no longer hears cid (${ann.levels([1700])[1700]} dBFS)`);
    await waitForPhoneTones(ann, [1100], { timeoutMs: 2000 });

    await legs.cid!.applyRemoteOffer(cid.offer('sendrecv'));
    assert.match(await legs.cid!.createLocalAnswer(), /^a=sendrecv\r$/m);
    assert.deepEqual(events, ['held', 'resumed']);
    await waitForPhoneTones(cid, [600, 1100]);
    await waitForPhoneTones(ann, [1100, 1700]);
    void bob;
  });

  it('mute by the focus: nobody hears the phone, no SDP change; unmute', async (t) => {
    const [ann, bob, cid] = phones as [FakePhone, FakePhone, FakePhone];
    await legs.bob!.setMutedByFocus(true);
    assert.equal(legs.bob!.needsRenegotiation, false);
    await sleep(600);
    assert.ok(ann.levels([1100])[1100]! < -50, 'ann no longer hears bob');
    // With bob's input silent (paused), the mixer waits for it up to its jitter-buffer latency: measure.
    const latency = await measureLatency(cid, ann);
    t.diagnostic(`mouth-to-ear cid → ann while bob's input is paused: ${latency.join(', ')} ms`);
    await legs.bob!.setMutedByFocus(false);
    await waitForPhoneTones(ann, [1100]);
    void bob;
  });

  it('a leaving phone drops out of the mix; closing kills every pipeline', async () => {
    const [ann, bob, cid] = phones as [FakePhone, FakePhone, FakePhone];
    const pids = Object.values(legs).flatMap((l) => l.pipelinePids);
    assert.ok(pids.length >= 6, `pipelines: ${pids.join(' ')}`);
    legs.cid!.close();
    cid.stopSending();
    await until('ann no longer hears cid', () => ann.levels([1700])[1700]! < -50);
    await waitForPhoneTones(ann, [1100]);
    void bob;
    room.close();
    await until('every pipeline is gone', () => pids.every((pid) => !alive(pid)));
    assert.deepEqual(liveGstPids(), []);
  });
});
