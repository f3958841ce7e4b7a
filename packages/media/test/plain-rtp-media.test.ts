/**
 * Plain RTP legs with real media: phones simulated in this process (G.711 µ-law over real UDP, see
 * fake-phone.ts), real mediasoup worker, real GStreamer pipelines. Each phone sends its own tone;
 * hearing is measured by Goertzel on what the phone decodes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@conclave/log';
import { MediaService, type PlainRtpLeg, type Room } from '@conclave/media';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GstProcess, liveGstPids } from '../src/gst-process.ts';
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
    media = await MediaService.create({
      workers: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 49000,
      rtcMaxPort: 49999,
      logger: log,
    });
    room = await media.createRoom({ label: 'phones' });
  });

  after(() => {
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
    t.diagnostic(
      `mouth-to-ear ann → bob (G.711 → Opus → mediasoup → mix → G.711, incl. 20 ms packetisation): ${latency.join(', ')} ms`,
    );
    assert.ok(Math.max(...latency) < 400, `latency ${latency.join(', ')} ms`);

    const stats = await legs.ann.getStats();
    assert.equal(stats.kind, 'plain');
    assert.equal(stats.codec, 'PCMU/8000');
    assert.ok(stats.producer && stats.producer.packets > 20, 'the producer receives the transcoded uplink');
    assert.equal(stats.consumers.length, 0, 'a phone consumes nothing: it hears the room mixer');
    assert.equal(stats.mix?.inputs, 2, 'the room mixer has both phones');
    assert.ok(stats.pipelines.uplink, 'the uplink pipeline (to browsers) runs');
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
    for (const [phone, tones] of [
      [ann, [1100, 1700]],
      [bob, [600, 1700]],
      [cid, [600, 1100]],
    ] as const) {
      const r = await waitForPhoneTones(phone, [...tones]);
      t.diagnostic(
        `${phone.name} hears ${tones.map((hz) => `${hz} Hz ${r.levels[hz]} dBFS`).join(', ')} after ${r.ms} ms`,
      );
    }
    // Across the mixer switch, ann keeps hearing bob in every 20 ms frame (make before break).
    const frames = ann.frames.filter((f) => f.at >= joinStarted);
    const gaps = frames.filter((f) => goertzelDb(Float64Array.from(f.samples), 1100) < -30).length;
    const starved = Math.max(bob.maxSendGap(joinStarted), ann.maxSendGap(joinStarted));
    t.diagnostic(
      `ann's frames since cid started joining: ${frames.length}, without bob's tone: ${gaps} (longest stall of this test process: ${starved} ms)`,
    );
    if (gaps > 0)
      t.diagnostic(
        `gaps at (ms after the join started): ${frames
          .filter((f) => goertzelDb(Float64Array.from(f.samples), 1100) < -30)
          .map((f) => f.at - joinStarted)
          .join(' ')}`,
      );
    // The fake phones live in this process: if it was starved, bob itself went quiet, which is not the mixer's doing.
    if (starved < 100) assert.ok(gaps <= 2, `${gaps} frames without bob's tone across the mixer switch`);
    assert.deepEqual([...ann.ssrcs], ssrcBefore, 'the mixer restart is invisible: same SSRC');
    assert.ok(ann.seqJumps - jumpsBefore <= 1, `sequence continues (${ann.seqJumps - jumpsBefore} jumps)`);
    const s = await legs.ann!.getStats();
    assert.equal(s.mix?.inputs, 3, 'one room mixer: three phones in, nothing restarted');
  });

  it('hold: a sendonly re-offer holds the phone (nobody hears it, it gets nothing); resume undoes it', async () => {
    const [ann, , cid] = phones as [FakePhone, FakePhone, FakePhone];
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
  });

  it('mute by the focus: nobody hears the phone, no SDP change; unmute', async (t) => {
    const [ann, , cid] = phones as [FakePhone, FakePhone, FakePhone];
    await legs.bob!.setMutedByFocus(true);
    assert.equal(legs.bob!.needsRenegotiation, false);
    await sleep(600);
    assert.ok(ann.levels([1100])[1100]! < -50, 'ann no longer hears bob');
    // A paused party leaves the mix (a silent input would make the mixer wait for it): latency stays low.
    const latency = await measureLatency(cid, ann);
    t.diagnostic(`mouth-to-ear cid → ann while bob's input is paused: ${latency.join(', ')} ms`);
    await legs.bob!.setMutedByFocus(false);
    await waitForPhoneTones(ann, [1100]);
  });

  it('a leaving phone drops out of the mix; closing kills every pipeline', async () => {
    const [ann, , cid] = phones as [FakePhone, FakePhone, FakePhone];
    const pids = Object.values(legs).flatMap((l) => l.pipelinePids);
    assert.ok(pids.length >= 3, `pipelines: ${pids.join(' ')}`);
    legs.cid!.close();
    cid.stopSending();
    await until('ann no longer hears cid', () => ann.levels([1700])[1700]! < -50);
    await waitForPhoneTones(ann, [1100]);
    room.close();
    await until('every pipeline is gone', () => pids.every((pid) => !alive(pid)));
    assert.deepEqual(liveGstPids(), []);
  });
});

describe('plain RTP legs: adoption into a conference, worker crash', { timeout: 60_000 }, () => {
  let media: MediaService;
  const phones: FakePhone[] = [];

  before(async () => {
    media = await MediaService.create({
      workers: 2,
      listenIp: '127.0.0.1',
      rtcMinPort: 49000,
      rtcMaxPort: 49999,
      logger: log,
    });
  });
  after(() => {
    for (const p of phones) p.close();
    media?.close();
  });

  async function join(room: Room, name: string, hz: number): Promise<{ phone: FakePhone; leg: PlainRtpLeg }> {
    const phone = await FakePhone.start(name, hz);
    phones.push(phone);
    const leg = await room.createPlainRtpLeg({ label: name });
    await leg.applyRemoteOffer(phone.offer());
    phone.useRemote(await leg.createLocalAnswer());
    phone.startSending();
    return { phone, leg };
  }

  it("a phone's call leg adopted by a conference hears the conference, not its old call; it survives a worker crash", async (t) => {
    const call = await media.createRoom({ label: 'call' });
    const conf = await media.createRoom({ label: 'conf' });
    assert.notEqual(call.workerPid, conf.workerPid, 'the two rooms are on different workers');
    const ann = await join(call, 'ann', 600);
    const bob = await join(call, 'bob', 1100);
    const cid = await join(conf, 'cid', 1700);
    await waitForPhoneTones(ann.phone, [1100]);
    let asked = 0;
    ann.leg.on('renegotiationneeded', () => asked++);

    await conf.adoptLeg(ann.leg);
    assert.equal(ann.leg.room, conf);
    const r = await waitForPhoneTones(ann.phone, [1700]);
    t.diagnostic(`ann hears the conference (cid ${r.levels[1700]} dBFS) ${r.ms} ms after the adoption; no SDP change`);
    await waitForPhoneTones(cid.phone, [600]);
    await until(
      'ann no longer hears bob, bob no longer hears ann',
      () => ann.phone.levels([1100])[1100]! < -50 && bob.phone.levels([600])[600]! < -50,
    );
    assert.equal(asked, 0, 'adoption does not renegotiate a phone');

    // ann's transport stays on the call's router. That worker dies: both rooms rebuild (ann and bob get new
    // PlainTransports, same phone ports), nobody closes, and ann hears the conference again.
    const portsBefore = [ann.leg.localPort, bob.leg.localPort];
    const closed: string[] = [];
    for (const p of [ann, bob, cid]) p.leg.once('closed', (reason) => closed.push(`${p.leg.label}:${reason}`));
    const reoffers: string[] = [];
    for (const p of [ann, bob, cid]) p.leg.on('renegotiationneeded', () => reoffers.push(p.leg.label));
    const recovered: string[] = [];
    call.on('recovered', ({ legs }) => recovered.push(`call:${legs}`));
    conf.on('recovered', ({ legs }) => recovered.push(`conf:${legs}`));
    const victim = call.workerPid;
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');
    await until('both rooms recovered', () => recovered.length === 2);
    assert.deepEqual(recovered.sort(), ['call:1', 'conf:1']);
    assert.deepEqual(closed, [], 'no leg closes');
    assert.notEqual(ann.leg.workerPid, victim);
    assert.notEqual(call.workerPid, victim);
    assert.deepEqual(
      [ann.leg.localPort, bob.leg.localPort],
      portsBefore,
      'the phones keep their ports (the relay owns them)',
    );
    await until('the rebuilt legs ask for a re-offer', () => reoffers.includes('ann') && reoffers.includes('bob'));
    assert.ok(!reoffers.includes('cid'), 'cid needs no re-offer');
    const heard = await waitForPhoneTones(ann.phone, [1700], { timeoutMs: 10_000 });
    await waitForPhoneTones(cid.phone, [600], { timeoutMs: 10_000 });
    t.diagnostic(
      `ann hears cid again ${Date.now() - killedAt} ms after the crash, before any re-offer (${heard.levels[1700]} dBFS)`,
    );
    for (const p of [ann, bob]) await p.leg.applyRemoteAnswer(p.phone.answer(await p.leg.createLocalOffer()));
    assert.equal(ann.leg.needsRenegotiation, false);
    await waitForPhoneTones(ann.phone, [1700]);
    const cidStats = await cid.leg.getStats();
    assert.ok(cidStats.pipelines.uplink && cidStats.mix, 'cid keeps its uplink and its place in the mixer');
    call.close();
    conf.close();
    await until('no pipeline left', () => liveGstPids().length === 0);
  });
});

/** A phone that speaks opus, made of two GStreamer processes: a receiver (decodes to a raw 8 kHz file) and a sender. */
class GstOpusPhone {
  readonly name: string;
  readonly port: number;
  readonly #receiver: GstProcess;
  #sender: GstProcess | undefined;
  readonly #file: string;

  private constructor(name: string, receiver: GstProcess, file: string) {
    this.name = name;
    this.#receiver = receiver;
    this.port = receiver.ports['in']!;
    this.#file = file;
  }

  static async start(name: string): Promise<GstOpusPhone> {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'conclave-opus-phone-')), 'rx.raw');
    const receiver = await GstProcess.start({
      role: `${name}-rx`,
      pipeline: [
        'udpsrc name=in address=127.0.0.1 port=0 caps=application/x-rtp,media=(string)audio,clock-rate=(int)48000,encoding-name=(string)OPUS,payload=(int)96',
        '! rtpjitterbuffer latency=40 ! rtpopusdepay ! opusdec ! audioconvert ! audioresample',
        `! audio/x-raw,format=S16LE,rate=8000,channels=1 ! filesink location=${file} buffer-mode=unbuffered`,
      ].join(' '),
      udpsrcNames: ['in'],
      log,
    });
    return new GstOpusPhone(name, receiver, file);
  }

  offer(): string {
    return [
      'v=0',
      `o=${this.name} 1 1 IN IP4 127.0.0.1`,
      's=call',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.port} RTP/AVP 96 0 101`,
      'a=rtpmap:96 opus/48000/2',
      'a=fmtp:96 useinbandfec=1',
      'a=rtpmap:101 telephone-event/8000',
      'a=sendrecv',
      '',
    ].join('\r\n');
  }

  async startSending(legPort: number, hz: number): Promise<void> {
    this.#sender = await GstProcess.start({
      role: `${this.name}-tx`,
      pipeline: `audiotestsrc is-live=true freq=${hz} volume=0.3 ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 ! opusenc ! rtpopuspay pt=96 ! udpsink host=127.0.0.1 port=${legPort}`,
      udpsrcNames: [],
      log,
    });
  }

  /** Levels (dBFS) over the last 400 ms of what it decoded, and how much it decoded. */
  async levels(hzs: number[]): Promise<{ levels: Record<number, number>; seconds: number }> {
    const buf = await readFile(this.#file);
    const all = new Int16Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 2));
    const tail = Float64Array.from(all.subarray(Math.max(0, all.length - 3200)));
    return {
      levels: Object.fromEntries(hzs.map((hz) => [hz, Math.round(goertzelDb(tail, hz))])),
      seconds: all.length / 8000,
    };
  }

  close(): void {
    this.#receiver.kill();
    this.#sender?.kill();
  }
}

describe('plain RTP legs: codecs (PCMA learnt from packets, an opus phone relayed)', { timeout: 60_000 }, () => {
  let media: MediaService;
  let room: Room;
  const closers: { close(): void }[] = [];

  before(async () => {
    media = await MediaService.create({
      workers: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 49000,
      rtcMaxPort: 49999,
      logger: log,
    });
    room = await media.createRoom({ label: 'codecs' });
  });
  after(() => {
    for (const c of closers) c.close();
    media?.close();
  });

  it('dial-out answered with PCMU and PCMA, the phone sends PCMA: the uplink follows, we keep sending PCMU', async (t) => {
    const ann = await FakePhone.start('ann', 600);
    const eve = await FakePhone.start('eve', 900);
    closers.push(ann, eve);
    const annLeg = await room.createPlainRtpLeg({ label: 'ann' });
    await annLeg.applyRemoteOffer(ann.offer());
    ann.useRemote(await annLeg.createLocalAnswer());
    const eveLeg = await room.createPlainRtpLeg({ label: 'eve' });
    eve.sendAlaw = true;
    await eveLeg.applyRemoteAnswer(eve.answer(await eveLeg.createLocalOffer(), '0 8'));
    ann.startSending();
    eve.startSending();
    const r = await waitForPhoneTones(ann, [900]);
    t.diagnostic(`ann hears eve's A-law 900 Hz at ${r.levels[900]} dBFS`);
    await waitForPhoneTones(eve, [600]);
    assert.deepEqual([...eve.payloadTypes], [0], 'eve gets PCMU, the first codec of its answer');
    assert.equal((await eveLeg.getStats()).codec, 'PCMU/8000');
  });

  it('an opus phone: its RTP is relayed without an uplink pipeline; it hears the mix in opus', async (t) => {
    const olga = await GstOpusPhone.start('olga');
    closers.push(olga);
    const leg = await room.createPlainRtpLeg({ label: 'olga' });
    await leg.applyRemoteOffer(olga.offer());
    const answer = await leg.createLocalAnswer();
    assert.match(answer, /^m=audio (\d+) RTP\/AVP 96\r$/m);
    await olga.startSending(leg.localPort, 1300);
    const ann = (closers as FakePhone[]).find((c) => c instanceof FakePhone && c.name === 'ann')!;
    const r = await waitForPhoneTones(ann, [1300, 900]);
    t.diagnostic(`ann hears olga's opus 1300 Hz at ${r.levels[1300]} dBFS (and eve's 900 Hz at ${r.levels[900]} dBFS)`);
    let heard: { levels: Record<number, number>; seconds: number } | undefined;
    let streak = 0;
    let seconds = -1;
    await until(
      'olga hears ann and eve',
      async () => {
        heard = await olga.levels([600, 900]);
        const fresh = heard.seconds > seconds;
        seconds = heard.seconds;
        streak = fresh && heard.levels[600]! > -40 && heard.levels[900]! > -40 ? streak + 1 : 0;
        return streak >= 3;
      },
      8000,
    );
    t.diagnostic(
      `olga decodes ann's 600 Hz at ${heard!.levels[600]} dBFS and eve's 900 Hz at ${heard!.levels[900]} dBFS (opus mix, ${heard!.seconds.toFixed(1)} s received)`,
    );
    const stats = await leg.getStats();
    assert.equal(stats.codec, 'opus/48000/2');
    assert.equal(stats.pipelines.uplink, undefined, 'no uplink pipeline for an opus phone');
    assert.ok(stats.producer && stats.producer.packets > 20, 'its own RTP feeds the producer');
  });
});
