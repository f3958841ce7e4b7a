/**
 * The `test` every spec uses: Playwright's, plus an automatic check that nothing leaks. Before each
 * test it reads both instances' /metrics; after the test (and its afterEach hooks, which close the
 * pages) it waits until every live count — calls, conferences, participants, subscriptions, SIP
 * dialogs, mediasoup rooms/legs/routers/transports/producers/consumers, workers and mixer processes —
 * is back at that baseline. A browser closed without hanging up is found by the focus when its ICE
 * consent expires, so the wait allows for that.
 */
import { test as base, expect } from '@playwright/test';
import { E2E_BASE_URL, E2E_PASSTHROUGH_URL } from './env.ts';

/** Counts that must come back; registrations and SIP transactions (timers) legitimately linger. */
export const LEAK_CHECKED = [
  'conclave_calls',
  'conclave_conferences',
  'conclave_participants',
  'conclave_conference_members',
  'conclave_subscriptions',
  'conclave_sip_dialogs',
  'conclave_sip_pending_invites',
  'conclave_media_workers',
  'conclave_media_rooms',
  'conclave_media_legs',
  'conclave_media_routers',
  'conclave_media_transports',
  'conclave_media_producers',
  'conclave_media_consumers',
  'conclave_media_mixer_processes',
] as const;

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
    if (m && (LEAK_CHECKED as readonly string[]).includes(m[1]!)) counts[m[1]!] = Number(m[2]);
  }
  return counts;
}

function differences(baseline: Counts, now: Counts): string[] {
  return LEAK_CHECKED.filter((k) => baseline[k] !== now[k]).map((k) => `${k}: ${baseline[k]} → ${now[k]}`);
}

export const test = base.extend<{ leakCheck: void }>({
  leakCheck: [
    async ({}, use, testInfo) => {
      const urls = [E2E_BASE_URL, E2E_PASSTHROUGH_URL];
      const baselines = await Promise.all(urls.map(readCounts));
      await use();
      if (testInfo.status !== testInfo.expectedStatus) return; // the failure itself is what matters
      for (const [i, url] of urls.entries()) {
        const baseline = baselines[i]!;
        let last = baseline;
        await expect
          .poll(async () => differences(baseline, (last = await readCounts(url))), {
            timeout: SETTLE_MS,
            intervals: [250, 500, 1000],
            message: `live counts of ${url} back at their baseline after the test`,
          })
          .toEqual([]);
        void last;
      }
    },
    { auto: true },
  ],
});

export { expect };
