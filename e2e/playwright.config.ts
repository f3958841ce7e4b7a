import { defineConfig } from '@playwright/test';
import { E2E_BASE_URL } from './support/env.ts';

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
  webServer: {
    command: 'node ../apps/conclave/src/main.ts --config conclave.e2e.json',
    url: `${E2E_BASE_URL}/config.json`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
  },
});
