/**
 * G.711 µ-law and A-law decoding (ITU-T G.711), only to measure the level of a mixer's output: the
 * relay compares a starting mixer with the one in use before switching (see DownlinkMixer).
 */

function ulaw(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return u & 0x80 ? -magnitude : magnitude;
}

function alaw(byte: number): number {
  const a = byte ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

const ULAW = Int16Array.from({ length: 256 }, (_, i) => ulaw(i));
const ALAW = Int16Array.from({ length: 256 }, (_, i) => alaw(i));

/** Mean power of G.711 samples, relative to full scale (1 = a full-scale square wave). */
export function g711Power(payload: Uint8Array, law: 'PCMU' | 'PCMA'): number {
  if (payload.length === 0) return 0;
  const table = law === 'PCMU' ? ULAW : ALAW;
  let sum = 0;
  for (const b of payload) {
    const s = table[b]! / 32768;
    sum += s * s;
  }
  return sum / payload.length;
}
