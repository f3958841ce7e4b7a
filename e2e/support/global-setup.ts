import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { ConclaveInstance } from './instances.ts';
import { TONE_DIR, TONES } from './tones.ts';

/** Makes one tone file per user (sox), so every browser's fake microphone is recognisable by FFT. */
function makeTones(): void {
  mkdirSync(TONE_DIR, { recursive: true });
  for (const [user, freq] of Object.entries(TONES)) {
    const file = `${TONE_DIR}/${user}-${freq}.wav`;
    if (!existsSync(file)) {
      execFileSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', file, 'synth', '120', 'sine', String(freq), 'vol', '0.5']);
    }
  }
}

/**
 * Starts the two Conclave instances on ports the system picks, and hands their addresses to the test
 * workers through the environment (support/env.ts). The returned function is Playwright's global
 * teardown: it stops both instances (SIGTERM) and waits until they have exited.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  makeTones();
  const started = await Promise.allSettled([
    ConclaveInstance.start('intercept', 'conclave.e2e.json'),
    ConclaveInstance.start('pass-through', 'conclave.e2e-passthrough.json'),
  ]);
  const instances = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(instances.map((i) => i.stop()));
    throw failed.reason;
  }
  const [main, passThrough] = instances as [ConclaveInstance, ConclaveInstance];
  process.env['E2E_BASE_URL'] = main.url;
  process.env['E2E_WS_URL'] = main.wsUrl;
  process.env['E2E_PASSTHROUGH_URL'] = passThrough.url;
  // Fault-injection tests (mediasoup workers killed) find the instances' worker processes by these.
  process.env['E2E_PID'] = String(main.ready.pid);
  process.env['E2E_PASSTHROUGH_PID'] = String(passThrough.ready.pid);
  return async () => {
    await Promise.all(instances.map((i) => i.stop()));
  };
}
