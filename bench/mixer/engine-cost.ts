/**
 * `pnpm bench mixer`, first part: the mixing engine's own CPU cost per tick, in this process, without
 * sockets or timers (synthetic time, packets pushed straight into the inputs): what the mixer costs apart
 * from the kernel's UDP work. Same rooms and signals as the UDP runs.
 */
import { createLogger } from '../../packages/log/src/index.ts';
import { FRAME_SAMPLES, MIX_RATE, RoomMixer, createEncoder, type CodecName } from '../../packages/mixer/src/index.ts';
import type { PhoneSpec } from './protocol.ts';

export interface EngineCost {
  /** CPU per 20 ms tick for the whole conference set, µs. */
  usPerTick: number;
  /** Share of a core per phone leg, %. */
  pctPerLeg: number;
  legsPerCore: number;
}

function tone(k: number, freq: number, amp: number): Int16Array {
  return Int16Array.from({ length: FRAME_SAMPLES }, (_, i) =>
    Math.round(amp * Math.sin((2 * Math.PI * freq * (k * FRAME_SAMPLES + i)) / MIX_RATE)),
  );
}

export function engineCost(phones: PhoneSpec[], ticks = 1000): EngineCost {
  const log = createLogger('bench-mixer-engine', { level: 'warn' });
  const mixers = new Map<number, RoomMixer>();
  const payloads = new Map<string, Buffer[]>();
  const encoded = (codec: CodecName, talker: 0 | 1 | undefined): Buffer[] => {
    const key = `${codec}/${talker}`;
    let list = payloads.get(key);
    if (!list) {
      const enc = createEncoder(codec);
      list = Array.from({ length: 50 }, (_, k) =>
        enc.encode(tone(k, talker === 1 ? 650 : 500, talker === undefined ? 0 : 8000)),
      );
      enc.close();
      payloads.set(key, list);
    }
    return list;
  };
  let delivered = 0;
  const feeds = phones.map((spec) => {
    let mixer = mixers.get(spec.room);
    if (!mixer) {
      mixer = new RoomMixer({ log });
      mixers.set(spec.room, mixer);
    }
    const input = mixer.addInput(spec.id, spec.codec);
    mixer.addOutput(spec.id, spec.codec, { ownInput: input, onPayload: () => void delivered++ });
    return { input, list: encoded(spec.codec, spec.talker), step: spec.codec === 'opus' ? 960 : 160 };
  });
  const runTicks = (from: number, count: number): void => {
    for (let k = from; k < from + count; k++) {
      const now = (k + 1) * 20;
      for (const f of feeds) f.input.push((k * f.step) >>> 0, f.list[k % 50]!, now - 5);
      for (const m of mixers.values()) m.tick(now);
    }
  };
  runTicks(0, 100); // warm-up: JIT, jitter buffers primed
  const u0 = process.cpuUsage();
  runTicks(100, ticks);
  const u = process.cpuUsage(u0);
  for (const m of mixers.values()) m.close();
  const usPerTick = (u.user + u.system) / ticks;
  const coresUsed = usPerTick / 20000;
  return { usPerTick, pctPerLeg: (100 * coresUsed) / phones.length, legsPerCore: phones.length / coresUsed };
}
