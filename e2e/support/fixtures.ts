/**
 * The `test` every spec uses: Playwright's, plus an automatic check that nothing leaks. After each
 * test (and its afterEach hooks, which close the pages) it waits until both instances are idle again:
 * every live count — calls, conferences, participants, subscriptions, SIP dialogs and pending INVITEs,
 * mediasoup rooms/legs/routers/transports/producers/consumers, mixer processes — at zero, and as many
 * mediasoup workers as before the test (a test may kill workers; they must come back). A browser
 * closed without hanging up is found by the focus when its ICE consent expires, so the wait allows
 * for that. Before each test it waits for idle too, so one failed test does not fail the next.
 */
import { test as base, expect } from '@playwright/test';
import { E2E_BASE_URL, E2E_PASSTHROUGH_URL } from './env.ts';
import { WORKERS, notIdle, readCounts } from './live-counts.ts';

/** How long the focus may take to notice a vanished browser (ICE consent) and tear its call down. */
const SETTLE_MS = 45_000;

async function waitIdle(url: string, workers: number | undefined, message: string): Promise<void> {
  await expect
    .poll(async () => notIdle(await readCounts(url), workers), {
      timeout: SETTLE_MS,
      intervals: [250, 500, 1000],
      message,
    })
    .toEqual([]);
}

export const test = base.extend<{ leakCheck: void }>({
  leakCheck: [
    async ({}, use, testInfo) => {
      const urls = [E2E_BASE_URL, E2E_PASSTHROUGH_URL];
      const workers: number[] = [];
      for (const url of urls) {
        await waitIdle(url, undefined, `${url} idle before the test (an earlier test left something behind)`);
        workers.push((await readCounts(url))[WORKERS]!);
      }
      await use();
      if (testInfo.status !== testInfo.expectedStatus) return; // the failure itself is what matters
      for (const [i, url] of urls.entries()) {
        await waitIdle(url, workers[i], `${url} idle again after the test: nothing leaked`);
      }
    },
    { auto: true },
  ],
});

export { expect };
