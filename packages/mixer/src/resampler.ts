/**
 * 2:1 sample-rate conversion between 8 kHz (G.711) and the mixer's 16 kHz, with a half-band
 * windowed-sinc low-pass (31 taps, Blackman window: > 70 dB stop band, flat to ~3.4 kHz, the
 * telephone band). Each instance keeps its filter history so that consecutive frames join seamlessly.
 */

const TAPS = 31;
const HALF = (TAPS - 1) / 2;
const MAX_INPUT = 4096;

/** Low-pass at a quarter of the high rate (4 kHz at 16 kHz), unity DC gain. */
const COEFFS: Float64Array = (() => {
  const h = new Float64Array(TAPS);
  let sum = 0;
  for (let i = 0; i < TAPS; i++) {
    const n = i - HALF;
    const sinc = n === 0 ? 0.5 : Math.sin(Math.PI * n * 0.5) / (Math.PI * n);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (TAPS - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (TAPS - 1));
    h[i] = sinc * w;
    sum += h[i]!;
  }
  for (let i = 0; i < TAPS; i++) h[i]! /= sum;
  return h;
})();
// Polyphase split of the up-sampling filter (zero-stuffed input): even taps for one output phase, odd
// taps for the other. Half-band: the odd phase is only the centre tap (0.5), i.e. a delayed copy.
const EVEN = Float64Array.from({ length: (TAPS + 1) / 2 }, (_, k) => COEFFS[2 * k]! * 2);
const CENTRE_DELAY = (HALF - 1) / 2;

function clamp16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
}

/** 8 kHz -> 16 kHz. */
export class Upsampler {
  // [history (EVEN.length - 1 samples) | this call's input], oldest first.
  readonly #buf = new Float64Array(EVEN.length - 1 + MAX_INPUT);

  /** Writes 2 * inputLength samples into `out` (from `offset`). */
  process(input: Int16Array, inputLength: number, out: Int16Array, offset = 0): void {
    const buf = this.#buf;
    const hist = EVEN.length - 1;
    const n = Math.min(inputLength, MAX_INPUT);
    for (let i = 0; i < n; i++) buf[hist + i] = input[i]!;
    const taps = EVEN.length;
    for (let i = 0; i < n; i++) {
      // Newest sample for output i is buf[hist + i]; tap k reaches back k samples.
      const newest = hist + i;
      let a = 0;
      for (let k = 0; k < taps; k++) a += EVEN[k]! * buf[newest - k]!;
      out[offset + 2 * i] = clamp16(a);
      out[offset + 2 * i + 1] = clamp16(buf[newest - CENTRE_DELAY]!);
    }
    buf.copyWithin(0, n, n + hist);
  }
}

/** 16 kHz -> 8 kHz. */
export class Downsampler {
  readonly #buf = new Float64Array(TAPS - 1 + MAX_INPUT);

  /** Writes input.length / 2 samples into `out`. */
  process(input: Int16Array, out: Int16Array): void {
    const buf = this.#buf;
    const hist = TAPS - 1;
    const n = Math.min(input.length, MAX_INPUT) & ~1;
    for (let i = 0; i < n; i++) buf[hist + i] = input[i]!;
    for (let i = 1; i < n; i += 2) {
      const newest = hist + i;
      // Half-band: odd-distance taps other than the centre are zero; skip them.
      let acc = COEFFS[HALF]! * buf[newest - HALF]!;
      for (let k = 0; k < TAPS; k += 2) acc += COEFFS[k]! * buf[newest - k]!;
      out[i >> 1] = clamp16(acc);
    }
    buf.copyWithin(0, n, n + hist);
  }
}
