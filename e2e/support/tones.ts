import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const TONE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '.tones');

/** Each user's microphone tone in Hz: distinct, and none a harmonic of another. */
export const TONES = { alice: 660, bob: 1020, carol: 1380, dave: 1740, erin: 2110 } as const;
export type UserName = keyof typeof TONES;

export function toneFile(user: UserName): string {
  return join(TONE_DIR, `${user}-${TONES[user]}.wav`);
}
