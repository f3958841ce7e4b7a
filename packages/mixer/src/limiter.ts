/**
 * Soft limiter from the 32-bit sum to 16-bit PCM: a gain envelope with instant attack (the gain drops
 * to what the frame's peak needs, ramped over 1 ms to avoid a click) and a ~150 ms release, so a
 * loud sum is turned down smoothly instead of clipped; a hard clip remains as a backstop for the ramp.
 */
import { FRAME_SAMPLES } from './codecs.ts';

/** Peak target: -1 dBFS. */
export const LIMITER_THRESHOLD = 29204;
const ATTACK_SAMPLES = 16;
const RELEASE_PER_FRAME = 0.12;

export class SoftLimiter {
  #gain = 1;

  /** Current gain (1 = not limiting). */
  get gain(): number {
    return this.#gain;
  }

  process(mix: Int32Array, out: Int16Array, length = FRAME_SAMPLES): void {
    let peak = 0;
    for (let i = 0; i < length; i++) {
      const v = mix[i]!;
      const a = v < 0 ? -v : v;
      if (a > peak) peak = a;
    }
    const start = this.#gain;
    const needed = peak > LIMITER_THRESHOLD ? LIMITER_THRESHOLD / peak : 1;
    let end: number;
    let ramp: number;
    if (needed < start) {
      end = needed;
      ramp = ATTACK_SAMPLES;
    } else {
      end = Math.min(needed, start + (1 - start) * RELEASE_PER_FRAME);
      ramp = length;
    }
    if (start === 1 && end === 1) {
      // Fast path: nothing to limit (the usual case).
      for (let i = 0; i < length; i++) {
        const v = mix[i]!;
        out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
    } else {
      const step = (end - start) / ramp;
      for (let i = 0; i < length; i++) {
        const g = i < ramp ? start + step * i : end;
        const v = Math.round(mix[i]! * g);
        out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
    }
    this.#gain = end > 0.999 ? 1 : end;
  }
}
