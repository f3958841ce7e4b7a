import { createEncoder, FRAME_SAMPLES, MIX_RATE, type CodecName, type MixerInput } from '../src/index.ts';
import { createLogger } from '@conclave/log';

export const log = createLogger('mixer-test', { level: 'warn' });

/** 20 ms of a sine at 16 kHz, frame `k` of a continuous tone. */
export function sineFrame(freq: number, amplitude: number, k: number): Int16Array {
  return Int16Array.from({ length: FRAME_SAMPLES }, (_, i) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * freq * (k * FRAME_SAMPLES + i)) / MIX_RATE)),
  );
}

/** A synthetic phone: encodes a tone and pushes one packet per 20 ms frame with consecutive timestamps. */
export class TonePhone {
  readonly #enc;
  readonly #input: MixerInput;
  readonly freq: number;
  readonly amplitude: number;
  readonly #tsStep: number;
  #k = 0;
  ts = 1000;

  constructor(input: MixerInput, codec: CodecName, freq: number, amplitude: number) {
    this.#enc = createEncoder(codec);
    this.#input = input;
    this.freq = freq;
    this.amplitude = amplitude;
    this.#tsStep = codec === 'opus' ? 960 : 160;
  }

  /** Sends the next frame (or skips it when `lose`), arriving at `nowMs`. */
  send(nowMs: number, lose = false): void {
    const payload = this.#enc.encode(sineFrame(this.freq, this.amplitude, this.#k++));
    if (!lose) this.#input.push(this.ts, payload, nowMs);
    this.ts = (this.ts + this.#tsStep) >>> 0;
  }
}

/** Amplitude of `freq` in `pcm` (single-bin DFT), in sample units. */
export function toneAmplitude(pcm: Int16Array, freq: number, rate = MIX_RATE): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < pcm.length; i++) {
    const w = (2 * Math.PI * freq * i) / rate;
    re += pcm[i]! * Math.cos(w);
    im -= pcm[i]! * Math.sin(w);
  }
  return (2 * Math.sqrt(re * re + im * im)) / pcm.length;
}

export function rms(pcm: Int16Array): number {
  let s = 0;
  for (const v of pcm) s += v * v;
  return Math.sqrt(s / Math.max(1, pcm.length));
}
