import { defineConfig } from '@playwright/test';
import { E2E_BASE_URL, E2E_PASSTHROUGH_URL } from './support/env.ts';

/**
 * End-to-end tests: the real product (embedded SIP server, focus, mediasoup, web page) started once on
 * test ports, driven by Debian's Chromium with one browser per user and a distinct tone each.
 */
export default defineConfig({
  testDir: './tests',
  timeout: 90_000,
  expect: { timeout: 10_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  globalSetup: './support/global-setup.ts',
  use: { baseURL: E2E_BASE_URL, trace: 'retain-on-failure', screenshot: 'only-on-failure' },
  webServer: [
    { file: 'conclave.e2e.json', url: E2E_BASE_URL },
    { file: 'conclave.e2e-passthrough.json', url: E2E_PASSTHROUGH_URL },
  ].map(({ file, url }) => ({
    command: `node ../apps/conclave/src/main.ts --config ${file}`,
    url: `${url}/config.json`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: process.env['E2E_SERVER_LOGS'] ? ('pipe' as const) : ('ignore' as const),
    stderr: 'pipe' as const,
    gracefulShutdown: { signal: 'SIGTERM' as const, timeout: 5_000 },
  })),
});
