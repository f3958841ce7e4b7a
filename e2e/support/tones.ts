import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

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

/** Makes one tone file per user (sox), so every browser's fake microphone is recognisable by FFT. */
export function ensureToneFiles(): void {
  mkdirSync(TONE_DIR, { recursive: true });
  for (const [user, freq] of Object.entries(TONES)) {
    const file = join(TONE_DIR, `${user}-${freq}.wav`);
    if (!existsSync(file)) {
      execFileSync('sox', [
        '-n',
        '-r',
        '48000',
        '-c',
        '1',
        '-b',
        '16',
        file,
        'synth',
        '120',
        'sine',
        String(freq),
        'vol',
        '0.5',
      ]);
    }
  }
}
