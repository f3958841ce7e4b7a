/** Whether this machine can run a peer; tests skip (with the reason) when it cannot. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function onPath(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `false` when every binary is there, else the reason to skip. */
export function missing(...bins: string[]): string | false {
  const absent = bins.filter((b) => (b.startsWith('/') ? !existsSync(b) : !onPath(b)));
  return absent.length ? `not installed: ${absent.join(', ')}` : false;
}
