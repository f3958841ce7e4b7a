/**
 * WAV files for phones' microphones and recordings: a mono 16-bit sine to play, and the samples of a
 * (possibly still growing) recording to measure.
 */
import { readFile } from 'node:fs/promises';

/** A mono 16-bit WAV holding a sine of `hz` at `amplitude` (0..1 of full scale). */
export function toneWav(hz: number, seconds: number, { rate = 8000, amplitude = 0.5 } = {}): Buffer {
  const n = Math.round(rate * seconds);
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(n * 2, 40);
  const peak = Math.round(32767 * amplitude);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(peak * Math.sin((2 * Math.PI * hz * i) / rate)), 44 + i * 2);
  return buf;
}

/** 16-bit PCM samples (first channel) of a WAV file that may still be being written. */
export async function readWav(file: string): Promise<{ rate: number; samples: Int16Array }> {
  const buf = await readFile(file);
  let offset = 12;
  let rate = 8000;
  let channels = 1;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(offset + 10);
      rate = buf.readUInt32LE(offset + 12);
    }
    if (id === 'data') {
      // The size is only final once the file is closed: read what is there.
      const data = buf.subarray(offset + 8, buf.length - ((buf.length - offset - 8) % (2 * channels)));
      const all = new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
      if (channels === 1) return { rate, samples: all };
      const mono = new Int16Array(all.length / channels);
      for (let i = 0; i < mono.length; i++) mono[i] = all[i * channels]!;
      return { rate, samples: mono };
    }
    offset += 8 + size + (size % 2);
  }
  return { rate, samples: new Int16Array(0) };
}
