import { defineConfig } from '@playwright/test';
import { E2E_BASE_URL } from './support/env.ts';

/**
 * End-to-end tests: the real product (embedded SIP server, focus, mediasoup, web page) started twice
 * by the global set-up on ports the system picks (support/global-setup.ts), driven by Debian's
 * Chromium with one browser per user and a distinct tone each.
 */
export default defineConfig({
  testDir: './tests',
  timeout: 90_000,
  expect: { timeout: 10_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  globalSetup: './support/global-setup.ts',
  // Read in each worker, after the global set-up has published the instances' addresses.
  // Traces without the screencast: eight browsers streaming frames to the runner starve two cores.
  use: {
    baseURL: E2E_BASE_URL,
    trace: { mode: 'retain-on-failure', screenshots: false, snapshots: true, sources: true },
    screenshot: 'only-on-failure',
  },
});
