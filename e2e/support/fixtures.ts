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

/** Counts that must drop to zero; registrations and SIP transactions (timers) legitimately linger. */
export const LEAK_CHECKED = [
  'conclave_calls',
  'conclave_conferences',
  'conclave_participants',
  'conclave_conference_members',
  'conclave_subscriptions',
  'conclave_sip_dialogs',
  'conclave_sip_pending_invites',
  'conclave_media_rooms',
  'conclave_media_legs',
  'conclave_media_routers',
  'conclave_media_transports',
  'conclave_media_producers',
  'conclave_media_consumers',
  'conclave_media_mixer_processes',
] as const;
const WORKERS = 'conclave_media_workers';

/** How long the focus may take to notice a vanished browser (ICE consent) and tear its call down. */
const SETTLE_MS = 45_000;

export type Counts = Record<string, number>;

/** The instance's /metrics (served to loopback), reduced to the leak-checked gauges. */
export async function readCounts(baseURL: string): Promise<Counts> {
  const res = await fetch(`${baseURL}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${baseURL}/metrics answered ${res.status}`);
  const counts: Counts = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z_]+) (\S+)$/.exec(line);
    if (m && (m[1] === WORKERS || (LEAK_CHECKED as readonly string[]).includes(m[1]!))) counts[m[1]!] = Number(m[2]);
  }
  return counts;
}

/** What is not idle: a live count above zero, or fewer/more workers than `workers`. */
export function notIdle(now: Counts, workers: number | undefined): string[] {
  const busy = LEAK_CHECKED.filter((k) => now[k] !== 0).map((k) => `${k} = ${now[k]}`);
  if (workers !== undefined && now[WORKERS] !== workers) busy.push(`${WORKERS} = ${now[WORKERS]} (was ${workers})`);
  return busy;
}

async function waitIdle(url: string, workers: number | undefined, message: string): Promise<void> {
  await expect
    .poll(async () => notIdle(await readCounts(url), workers), { timeout: SETTLE_MS, intervals: [250, 500, 1000], message })
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
