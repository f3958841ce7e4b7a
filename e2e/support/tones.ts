import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { toneWav } from '@conclave/test-peers';

export const TONE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '.tones');

/** Each user's microphone tone in Hz: distinct, and none a harmonic of another. */
export const TONES = {
  alice: 660,
  bob: 1020,
  carol: 1380,
  dave: 1740,
  erin: 2110,
  frank: 2470,
  grace: 2900,
  heidi: 3230,
} as const;
export type UserName = keyof typeof TONES;

export function toneFile(user: UserName): string {
  return join(TONE_DIR, `${user}-${TONES[user]}.wav`);
}

/** Makes one tone file per user (48 kHz, 120 s), so every browser's fake microphone is recognisable by FFT. */
export function ensureToneFiles(): void {
  mkdirSync(TONE_DIR, { recursive: true });
  for (const [user, freq] of Object.entries(TONES)) {
    const file = join(TONE_DIR, `${user}-${freq}.wav`);
    if (!existsSync(file)) writeFileSync(file, toneWav(freq, 120, { rate: 48_000, amplitude: 0.5 }));
  }
}
