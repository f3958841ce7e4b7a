import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createDecoder,
  FRAME_SAMPLES,
  RoomMixer,
  SoftLimiter,
  type CodecName,
  type MixerOutput,
} from '../src/index.ts';
import { log, rms, sineFrame, TonePhone, toneAmplitude } from './helpers.ts';

/** Collects what an output receives, decoded back to 16 kHz PCM, one entry per packet. */
class Ear {
  readonly packets: Buffer[] = [];
  readonly frames: Int16Array[] = [];
  readonly #dec;

  constructor(codec: CodecName) {
    this.#dec = createDecoder(codec);
  }

  readonly sink = (payload: Buffer): void => {
    this.packets.push(payload);
    this.frames.push(Int16Array.from(this.#dec.decode(payload) ?? new Int16Array(0)));
  };

  /** The last `n` frames joined. */
  tail(n: number): Int16Array {
    const list = this.frames.slice(-n);
    const out = new Int16Array(list.reduce((a, f) => a + f.length, 0));
    let o = 0;
    for (const f of list) {
      out.set(f, o);
      o += f.length;
    }
    return out;
  }
}

interface Party {
  phone: TonePhone;
  ear: Ear;
  output: MixerOutput;
}

function party(mixer: RoomMixer, id: string, codec: CodecName, freq: number, amplitude: number): Party {
  const input = mixer.addInput(id, codec);
  const ear = new Ear(codec);
  const output = mixer.addOutput(id, codec, { ownInput: input, onPayload: ear.sink });
  return { phone: new TonePhone(input, codec, freq, amplitude), ear, output };
}

/** Runs `ticks` ticks of synthetic time; every sender's packet arrives 5 ms before the tick. */
function run(
  mixer: RoomMixer,
  ticks: number,
  senders: Array<{ send(now: number, lose?: boolean): void }>,
  lose?: (tick: number) => boolean,
): void {
  const start = mixer.stats.ticks;
  for (let k = 0; k < ticks; k++) {
    const now = (start + k + 1) * 20;
    for (const s of senders) s.send(now - 5, lose?.(start + k) ?? false);
    mixer.tick(now);
  }
}

const FREQS = [400, 700, 1100];

test('a listener hears the sum of every talker', () => {
  const mixer = new RoomMixer({ log });
  try {
    const phones = FREQS.map((f, i) => new TonePhone(mixer.addInput(`p${i}`, 'PCMU'), 'PCMU', f, 6000));
    const ear = new Ear('PCMU');
    mixer.addOutput('listener', 'PCMU', { onPayload: ear.sink });
    run(mixer, 30, phones);
    const heard = ear.tail(10);
    for (const f of FREQS) {
      const a = toneAmplitude(heard, f);
      assert.ok(Math.abs(a - 6000) < 400, `${f} Hz at ${a.toFixed(0)}, expected ~6000`);
    }
    assert.ok(toneAmplitude(heard, 1700) < 200, 'no energy where nobody talks');
  } finally {
    mixer.close();
  }
});

for (const codec of ['PCMU', 'PCMA', 'G722', 'opus'] as const) {
  test(`each party hears the others and not itself (${codec})`, () => {
    const mixer = new RoomMixer({ log });
    try {
      const parties = FREQS.map((f, i) => party(mixer, `p${i}`, codec, f, 6000));
      run(
        mixer,
        40,
        parties.map((p) => p.phone),
      );
      for (const [i, p] of parties.entries()) {
        const heard = p.ear.tail(10);
        for (const [j, f] of FREQS.entries()) {
          const a = toneAmplitude(heard, f);
          if (i === j)
            assert.ok(
              a < (codec === 'opus' ? 300 : 120),
              `${codec} party ${i} hears its own ${f} Hz at ${a.toFixed(0)}`,
            );
          else assert.ok(a > 5000 && a < 7000, `${codec} party ${i} hears ${f} Hz at ${a.toFixed(0)}, expected ~6000`);
        }
      }
    } finally {
      mixer.close();
    }
  });
}

test('talkers get private encodes, everyone else shares one encode per (codec, ptime)', () => {
  const mixer = new RoomMixer({ log });
  try {
    const talkers = [party(mixer, 't0', 'PCMU', 400, 6000), party(mixer, 't1', 'PCMU', 700, 6000)];
    const silent = Array.from({ length: 10 }, (_, i) => party(mixer, `s${i}`, 'PCMU', 1000, 0));
    const opusEars = Array.from({ length: 3 }, (_, i) => party(mixer, `o${i}`, 'opus', 1000, 0));
    const g722 = party(mixer, 'w0', 'G722', 1000, 0);
    const all = [...talkers, ...silent, ...opusEars, g722];
    run(
      mixer,
      10,
      all.map((p) => p.phone),
    );
    const before = { ...mixer.stats };
    run(
      mixer,
      50,
      all.map((p) => p.phone),
    );
    const ticks = mixer.stats.ticks - before.ticks;
    // 3 groups (PCMU/20, opus/20, G722/20) + 2 talkers per tick, whatever the number of listeners.
    assert.equal(mixer.stats.sharedEncodes - before.sharedEncodes, 3 * ticks);
    assert.equal(mixer.stats.privateEncodes - before.privateEncodes, 2 * ticks);
    assert.equal(mixer.stats.sharedDeliveries - before.sharedDeliveries, 14 * ticks);
    // The very same payload object reaches every non-talker of a group.
    const last = silent.map((p) => p.ear.packets.at(-1));
    for (const b of last) assert.equal(b, last[0]);
    assert.notEqual(talkers[0]!.ear.packets.at(-1), last[0]);
    // And the shared payload carries both talkers.
    const heard = silent[3]!.ear.tail(10);
    assert.ok(toneAmplitude(heard, 400) > 5000 && toneAmplitude(heard, 700) > 5000);
    for (const p of opusEars) assert.ok(toneAmplitude(p.ear.tail(10), 700) > 5000);
  } finally {
    mixer.close();
  }
});

test('a gain per input, and a muted input is neither heard nor talking', () => {
  const mixer = new RoomMixer({ log });
  try {
    const a = mixer.addInput('a', 'PCMU', { gain: 0.5 });
    const b = mixer.addInput('b', 'PCMU', { gain: 2 });
    const c = mixer.addInput('c', 'PCMU');
    const ear = new Ear('PCMU');
    mixer.addOutput('l', 'PCMU', { onPayload: ear.sink });
    const phones = [
      new TonePhone(a, 'PCMU', 400, 8000),
      new TonePhone(b, 'PCMU', 700, 3000),
      new TonePhone(c, 'PCMU', 1100, 8000),
    ];
    c.muted = true;
    run(mixer, 30, phones);
    const heard = ear.tail(10);
    assert.ok(Math.abs(toneAmplitude(heard, 400) - 4000) < 300, `gain 0.5: ${toneAmplitude(heard, 400)}`);
    assert.ok(Math.abs(toneAmplitude(heard, 700) - 6000) < 400, `gain 2: ${toneAmplitude(heard, 700)}`);
    assert.ok(toneAmplitude(heard, 1100) < 100, 'muted input not heard');
    assert.equal(c.talking, false);
    assert.equal(a.talking, true);
  } finally {
    mixer.close();
  }
});

test('the soft limiter keeps a loud sum under full scale without wrapping, and releases after', () => {
  const mixer = new RoomMixer({ log });
  try {
    // Four talkers with the same tone in phase: the 32-bit sum peaks at 4 * 16000 = 64000.
    const phones = [0, 1, 2, 3].map((i) => new TonePhone(mixer.addInput(`p${i}`, 'G722'), 'G722', 500, 16000));
    const ear = new Ear('G722');
    mixer.addOutput('l', 'G722', { onPayload: ear.sink });
    run(mixer, 40, phones);
    const heard = ear.tail(10);
    const a = toneAmplitude(heard, 500);
    assert.ok(a > 25000 && a < 31000, `limited to about -1 dBFS, got ${a.toFixed(0)}`);
    // Without the limiter, int16 wrap-around or clipping would put energy at the harmonics.
    assert.ok(toneAmplitude(heard, 1500) < 0.02 * a, `3rd harmonic ${toneAmplitude(heard, 1500).toFixed(0)}`);
  } finally {
    mixer.close();
  }
  const lim = new SoftLimiter();
  const loud = Int32Array.from({ length: FRAME_SAMPLES }, (_, i) => (i % 2 ? 60000 : -60000));
  const out = new Int16Array(FRAME_SAMPLES);
  lim.process(loud, out);
  // Saturates (at most during the 1 ms attack ramp), never wraps around to the opposite sign.
  assert.ok(out.every((v, i) => (i % 2 ? v > 0 : v < 0)));
  assert.ok(Math.abs(out[FRAME_SAMPLES - 1]!) <= 29300, 'at the threshold after the attack ramp');
  const quiet = new Int32Array(FRAME_SAMPLES).fill(1000);
  for (let i = 0; i < 60; i++) lim.process(quiet, out);
  assert.equal(lim.gain, 1, 'released');
  assert.equal(out[0], 1000);
});

for (const codec of ['PCMU', 'G722', 'opus'] as const) {
  test(`lost packets are concealed, not heard as gaps (${codec})`, () => {
    const mixer = new RoomMixer({ log });
    try {
      const input = mixer.addInput('a', codec);
      const phone = new TonePhone(input, codec, 400, 8000);
      const ear = new Ear(codec);
      mixer.addOutput('l', codec, { onPayload: ear.sink });
      run(mixer, 10, [phone]);
      // One packet in five lost for 1 s.
      run(mixer, 50, [phone], (tick) => tick % 5 === 2);
      assert.ok(input.stats.concealedFrames >= 9, `concealed ${input.stats.concealedFrames}`);
      const frames = ear.frames.slice(-45);
      const levels = frames.map((f) => rms(f));
      const expected = 8000 / Math.SQRT2;
      const worst = Math.min(...levels);
      // libopus' PLC fades a concealed frame when the next packet carries no FEC data; a gap would be ~0.
      const floor = codec === 'opus' ? 0.25 : 0.5;
      assert.ok(worst > floor * expected, `quietest frame ${worst.toFixed(0)} of ${expected.toFixed(0)}: a gap`);
    } finally {
      mixer.close();
    }
  });
}

test('reordered packets are played in order without concealment', () => {
  const mixer = new RoomMixer({ log, inputDefaults: { minDelayMs: 40 } });
  try {
    const input = mixer.addInput('b', 'PCMU');
    const ear = new Ear('PCMU');
    mixer.addOutput('l', 'PCMU', { onPayload: ear.sink });
    // Frame j is a constant level j (in µ-law); packets arrive pairwise swapped: 1, 0, 3, 2, ...
    const payloads = Array.from({ length: 60 }, (_, j) => Buffer.alloc(160, 0xff - (j % 16)));
    for (let k = 0; k < 60; k++) {
      const now = (k + 1) * 20;
      const j = k % 2 === 0 ? k + 1 : k - 1;
      input.push(1000 + j * 160, payloads[j]!, now - 5);
      mixer.tick(now);
    }
    assert.equal(input.stats.late, 0);
    assert.equal(input.stats.concealedFrames, 0);
    // Played in timestamp order: the frames' levels rise 0, 1, 2, ... (mod 16).
    const levels = ear.frames.slice(-40, -1).map((f) => Math.abs(f[200]!));
    let rising = 0;
    for (let i = 1; i < levels.length; i++) if (levels[i]! > levels[i - 1]!) rising++;
    assert.ok(rising >= 33, `frames out of order: ${levels.join(',')}`);
  } finally {
    mixer.close();
  }
});

test("timestamps not spaced by the frame (GStreamer's first Opus packet) are followed, not called late", () => {
  for (const offset of [-312, 312]) {
    const mixer = new RoomMixer({ log });
    try {
      const input = mixer.addInput('o', 'opus', { payloadType: 96 });
      const ear = new Ear('PCMU');
      mixer.addOutput('l', 'PCMU', { onPayload: ear.sink });
      const phone = new TonePhone(input, 'opus', 700, 8000);
      for (let k = 0; k < 50; k++) {
        const now = (k + 1) * 20;
        phone.send(now - 5);
        // After the first packet every timestamp is off by `offset` (GStreamer: 960 - 312 look-ahead).
        if (k === 0) phone.ts = (phone.ts + offset) >>> 0;
        mixer.tick(now);
      }
      assert.equal(input.stats.late, 0, `offset ${offset}: late packets`);
      assert.ok(input.stats.concealedFrames <= 1, `offset ${offset}: ${input.stats.concealedFrames} frames concealed`);
      assert.ok(toneAmplitude(ear.tail(20), 700) > 3000, `offset ${offset}: the tone is heard`);
    } finally {
      mixer.close();
    }
  }
});

test('takeMeanLevel(): the mean level of the frames since the last call, for active-speaker windows', () => {
  const mixer = new RoomMixer({ log });
  try {
    const loud = mixer.addInput('loud', 'PCMU');
    const quiet = mixer.addInput('quiet', 'PCMU');
    const senders = [new TonePhone(loud, 'PCMU', 500, 16000), new TonePhone(quiet, 'PCMU', 900, 160)];
    run(mixer, 15, senders);
    loud.takeMeanLevel();
    quiet.takeMeanLevel();
    run(mixer, 15, senders);
    const l = loud.takeMeanLevel();
    const q = quiet.takeMeanLevel();
    // A sine of amplitude 16000 is -9.2 dBov; of 160, -49.2 dBov.
    assert.ok(Math.abs(l + 9.2) < 1, `loud ${l}`);
    assert.ok(Math.abs(q + 49.2) < 2, `quiet ${q}`);
    assert.equal(loud.takeMeanLevel(), -127, 'no frame since: silence');
    loud.muted = true;
    run(mixer, 5, senders);
    assert.equal(loud.takeMeanLevel(), -127, 'a muted input is silent');
  } finally {
    mixer.close();
  }
});

test('joins and leaves never disturb what the others hear', () => {
  const mixer = new RoomMixer({ log });
  try {
    const talker = party(mixer, 'talker', 'PCMU', 400, 8000);
    const listener = party(mixer, 'listener', 'PCMU', 0, 0);
    const senders = [talker.phone, listener.phone];
    run(mixer, 20, senders);
    const startFrame = listener.ear.frames.length;
    // Ten others join (half of them talking for a while), then leave, one per tick.
    const others: Party[] = [];
    for (let i = 0; i < 10; i++) {
      others.push(party(mixer, `o${i}`, i % 2 ? 'opus' : 'G722', 0, 0));
      run(mixer, 1, [...senders, ...others.map((o) => o.phone)]);
    }
    run(mixer, 20, [...senders, ...others.map((o) => o.phone)]);
    for (const o of others) {
      mixer.removeInput(o.output.id);
      mixer.removeOutput(o.output.id);
      run(mixer, 1, senders);
    }
    run(mixer, 10, senders);
    const frames = listener.ear.frames.slice(startFrame);
    assert.equal(frames.length, 50, 'one packet per tick, none missing');
    const pcm = new Int16Array(frames.length * FRAME_SAMPLES);
    frames.forEach((f, i) => pcm.set(f, i * FRAME_SAMPLES));
    // A continuous 400 Hz tone: the largest step between samples is bounded by its slope.
    const maxSlope = (8000 * 2 * Math.PI * 400) / 16000;
    let worst = 0;
    for (let i = 1; i < pcm.length; i++) worst = Math.max(worst, Math.abs(pcm[i]! - pcm[i - 1]!));
    assert.ok(worst < maxSlope * 1.25, `a click of ${worst} (tone slope ${maxSlope.toFixed(0)})`);
    for (const f of frames) assert.ok(Math.abs(toneAmplitude(f, 400) - 8000) < 600, 'level steady');
    assert.equal(mixer.inputs.size, 2);
    assert.equal(mixer.outputs.size, 2);
  } finally {
    mixer.close();
  }
});

test('levels in dBov and talking events for active-speaker detection', () => {
  const mixer = new RoomMixer({ log });
  try {
    const a = mixer.addInput('a', 'PCMU');
    const b = mixer.addInput('b', 'PCMU');
    const events: Array<[string, boolean]> = [];
    mixer.on('talking', (input, talking) => events.push([input.id, talking]));
    const pa = new TonePhone(a, 'PCMU', 400, 10000);
    const pb = new TonePhone(b, 'PCMU', 400, 0);
    run(mixer, 10, [pa, pb]);
    const levels = mixer.levels();
    // A sine of amplitude 10000: 20 log10(10000 / 32768) - 3 dB = -13.3 dBov.
    assert.ok(Math.abs(levels.get('a')! + 13.3) < 0.5, `level a ${levels.get('a')}`);
    assert.ok(levels.get('b')! < -90, `level b ${levels.get('b')}`);
    assert.deepEqual(events, [['a', true]]);
    // a stops sending: after the hangover (300 ms) and concealment it is no longer talking.
    run(mixer, 30, [pb]);
    assert.deepEqual(events, [
      ['a', true],
      ['a', false],
    ]);
  } finally {
    mixer.close();
  }
});

test('a 40 ms output gets one packet per two frames, and hears a talker that starts mid-packet without itself', () => {
  const mixer = new RoomMixer({ log });
  try {
    const other = party(mixer, 'other', 'PCMU', 700, 6000);
    const input = mixer.addInput('me', 'PCMU');
    const ear = new Ear('PCMU');
    const me = mixer.addOutput('me', 'PCMU', { ptimeMs: 40, ownInput: input, onPayload: ear.sink });
    const mine = new TonePhone(input, 'PCMU', 400, 6000);
    run(mixer, 21, [other.phone]);
    const packets = ear.packets.length;
    assert.ok(packets >= 9 && packets <= 11, `${packets} packets in 21 frames`);
    assert.ok(
      ear.packets.every((p) => p.length === 320),
      '40 ms of PCMU = 320 bytes',
    );
    // From an odd tick on, "me" talks too: every packet it gets still lacks its own tone.
    run(mixer, 30, [other.phone, mine]);
    assert.ok(me.privatePackets > 0);
    for (const f of ear.frames.slice(-12)) {
      assert.ok(toneAmplitude(f, 400) < 150, `own tone at ${toneAmplitude(f, 400).toFixed(0)}`);
      assert.ok(toneAmplitude(f, 700) > 5000);
    }
  } finally {
    mixer.close();
  }
});

test('bad input never throws: garbage datagrams, wrong payload types, corrupt Opus', () => {
  const mixer = new RoomMixer({ log });
  try {
    const a = mixer.addInput('a', 'opus', { payloadType: 111 });
    const ear = new Ear('opus');
    mixer.addOutput('l', 'opus', { onPayload: ear.sink });
    assert.equal(a.pushRtp(Buffer.from([1, 2, 3])), false);
    const rtp = Buffer.alloc(40, 0xff);
    rtp[0] = 0x80;
    rtp[1] = 101; // telephone-event: not audio for the mixer
    assert.equal(a.pushRtp(rtp), false);
    for (let k = 0; k < 20; k++) {
      rtp[1] = 111;
      rtp.writeUInt16BE(k, 2);
      rtp.writeUInt32BE(k * 960, 4);
      assert.equal(a.pushRtp(rtp, k * 20), true);
      mixer.tick(k * 20 + 10);
    }
    assert.ok(ear.packets.length > 0);
    assert.throws(() => mixer.addOutput('x', 'PCMU', { ptimeMs: 30, onPayload: () => {} }), /multiple of 20/);
  } finally {
    mixer.close();
  }
});

test('sine helper sanity (the tests measure what they claim)', () => {
  const f = sineFrame(400, 1000, 0);
  assert.ok(Math.abs(toneAmplitude(f, 400) - 1000) < 5);
  assert.ok(toneAmplitude(f, 700) < 5);
});

test('a late packet is waited for (the delay grows a frame), and the delay shrinks back once arrivals are steady', () => {
  const mixer = new RoomMixer({ log });
  try {
    const input = mixer.addInput('a', 'PCMU');
    const ear = new Ear('PCMU');
    mixer.addOutput('l', 'PCMU', { onPayload: ear.sink });
    const phone = new TonePhone(input, 'PCMU', 400, 8000);
    run(mixer, 20, [phone]);
    // A 40 ms network stall: two packets are held and arrive together with the next one, so one tick
    // finds nothing at all to play (late, not lost).
    const held: Array<() => void> = [];
    const stalled = {
      send: (now: number): void => {
        held.push(() => phone.send(now));
      },
    };
    run(mixer, 2, [stalled]);
    for (const release of held) release();
    run(mixer, 1, [phone]);
    assert.equal(input.stats.late, 0, 'the late packet was played, not dropped');
    assert.equal(input.stats.concealedFrames, 1);
    assert.equal(input.stats.droppedForDelay, 0);
    // Steady arrivals again: after one full half-second window of it, the extra frame is dropped.
    run(mixer, 55, [phone]);
    assert.equal(input.stats.droppedForDelay, 1);
    run(mixer, 100, [phone]);
    assert.equal(input.stats.droppedForDelay, 1, 'and only that one');
    assert.equal(input.stats.concealedFrames, 1);
  } finally {
    mixer.close();
  }
});

test('an output whose sink throws does not stop the others', () => {
  const mixer = new RoomMixer({ log });
  try {
    const talker = new TonePhone(mixer.addInput('t', 'PCMU'), 'PCMU', 400, 6000);
    mixer.addOutput('bad', 'PCMU', {
      onPayload: () => {
        throw new Error('socket gone');
      },
    });
    const ear = new Ear('PCMU');
    mixer.addOutput('good', 'PCMU', { onPayload: ear.sink });
    run(mixer, 10, [talker]);
    assert.equal(ear.packets.length, 10);
  } finally {
    mixer.close();
  }
});
