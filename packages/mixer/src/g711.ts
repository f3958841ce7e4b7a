/**
 * G.711 µ-law and A-law (ITU-T G.711) by table: decoding is one lookup per byte, encoding one lookup
 * per sample in a 14-bit (µ-law) or 13-bit (A-law) table built once at load.
 */

function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return u & 0x80 ? -magnitude : magnitude;
}

function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  let s = sample;
  let sign = 0;
  if (s < 0) {
    s = -s;
    sign = 0x80;
  }
  if (s > 32635) s = 32635;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function linearToAlaw(sample: number): number {
  let s = sample;
  let sign = 0x80;
  if (s < 0) {
    s = -s - 1;
    sign = 0;
  }
  if (s > 32767) s = 32767;
  let out: number;
  if (s < 256) out = s >> 4;
  else {
    let exponent = 1;
    while (exponent < 7 && s >= 256 << exponent) exponent++;
    out = (exponent << 4) | ((s >> (exponent + 3)) & 0x0f);
  }
  return (out | sign) ^ 0x55;
}

export const ULAW_DECODE = Int16Array.from({ length: 256 }, (_, i) => ulawToLinear(i));
export const ALAW_DECODE = Int16Array.from({ length: 256 }, (_, i) => alawToLinear(i));
// Index: sample >> 2 (µ-law keeps 14 bits) or >> 3 (A-law keeps 13 bits), offset to be non-negative.
const ULAW_ENCODE = Uint8Array.from({ length: 16384 }, (_, i) => linearToUlaw((i - 8192) << 2));
const ALAW_ENCODE = Uint8Array.from({ length: 8192 }, (_, i) => linearToAlaw((i - 4096) << 3));

export type G711Law = 'PCMU' | 'PCMA';

/** Decodes `payload` into `out` (8 kHz samples); returns the number of samples. */
export function g711Decode(law: G711Law, payload: Uint8Array, out: Int16Array): number {
  const table = law === 'PCMU' ? ULAW_DECODE : ALAW_DECODE;
  const n = Math.min(payload.length, out.length);
  for (let i = 0; i < n; i++) out[i] = table[payload[i]!]!;
  return n;
}

/** Encodes 8 kHz samples into `out`; returns the number of bytes. */
export function g711Encode(law: G711Law, pcm: Int16Array, out: Uint8Array): number {
  const n = Math.min(pcm.length, out.length);
  if (law === 'PCMU') for (let i = 0; i < n; i++) out[i] = ULAW_ENCODE[(pcm[i]! >> 2) + 8192]!;
  else for (let i = 0; i < n; i++) out[i] = ALAW_ENCODE[(pcm[i]! >> 3) + 4096]!;
  return n;
}
