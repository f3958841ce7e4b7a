import { ConclaveInstance } from './instances.ts';
import { ensureToneFiles } from './tones.ts';

/**
 * Starts the two Conclave instances on ports the system picks, and hands their addresses to the test
 * workers through the environment (support/env.ts). The returned function is Playwright's global
 * teardown: it stops both instances (SIGTERM) and waits until they have exited.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  ensureToneFiles();
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
