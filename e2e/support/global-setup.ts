import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { TONE_DIR, TONES } from './tones.ts';

/** Makes one tone file per user (sox), so every browser's fake microphone is recognisable by FFT. */
export default function globalSetup(): void {
  mkdirSync(TONE_DIR, { recursive: true });
  for (const [user, freq] of Object.entries(TONES)) {
    const file = `${TONE_DIR}/${user}-${freq}.wav`;
    if (!existsSync(file)) {
      execFileSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', file, 'synth', '120', 'sine', String(freq), 'vol', '0.5']);
    }
  }
}
