/**
 * Dependable conferences (issue 8), through the page's documented test ids only:
 * - growth by merges: a conference plus another call, Conference, again and again, to five parties,
 *   in both refer modes (eight parties: `pnpm stress conference -- --scenario growth --parties 8`,
 *   outside npm test: eight Chromiums on CI's two cores turn every timing into a coin toss);
 * - a browser that vanishes (its process killed, no BYE) leaves every roster within 30 s, and the
 *   others still hear each other;
 * - every mediasoup worker killed mid-conference: everyone hears everyone again.
 */
import { execFileSync } from 'node:child_process';
import { chromium } from '@playwright/test';
import { test, expect } from '../support/fixtures.ts';
import { connectedEntries, growBy, JOIN_WAIT_MS, openAll, type GrowthStep } from '../support/conference.ts';
import {
  expectAllHear,
  expectHears,
  expectRegistered,
  login,
  mergeIntoConference,
  type UserPage,
} from '../support/phone.ts';
import { CHROMIUM, chromiumArgs } from '@conclave/test-peers';
import { E2E_BASE_URL, E2E_PASSTHROUGH_URL, E2E_PID } from '../support/env.ts';
import { TONES, toneFile, type UserName } from '../support/tones.ts';

/** The growth test's parties, in the order they join (the proof: five parties, both modes). */
const GROWTH: UserName[] = ['alice', 'bob', 'carol', 'dave', 'erin'];

const MODES = [
  { mode: 'intercept', baseURL: E2E_BASE_URL },
  { mode: 'pass-through', baseURL: E2E_PASSTHROUGH_URL },
];

for (const { mode, baseURL } of MODES) {
  test.describe(`growth by merges (${mode})`, () => {
    let pages: UserPage[] = [];
    test.afterEach(async () => {
      await Promise.all(pages.map((p) => p.close()));
      pages = [];
    });

    test('a conference plus another call, Conference, again and again: five parties, every roster complete, newest and oldest hear each other', async () => {
      test.setTimeout(300_000);
      pages = await openAll(GROWTH, baseURL);
      const [alice, bob, carol] = pages as [UserPage, UserPage, UserPage];
      await mergeIntoConference(alice, bob, carol);
      await expect(connectedEntries(alice)).toHaveCount(3, { timeout: 10_000 });
      const steps: GrowthStep[] = [];
      for (let i = 3; i < pages.length; i++) steps.push(await growBy(alice, pages[i]!, i + 1));
      console.log(
        `[${mode}] growth: parties 4..${pages.length} answered after ${steps.map((s) => s.answeredMs).join('/')} ms, in alice's roster ${steps.map((s) => s.joinedMs).join('/')} ms after each Conference click`,
      );
      for (const p of pages) await expect(connectedEntries(p)).toHaveCount(pages.length, { timeout: JOIN_WAIT_MS });
      const newest = pages[pages.length - 1]!;
      await expectAllHear(
        [newest, bob, alice, carol],
        new Map([
          [newest, ['bob', 'alice']],
          [bob, [newest.user]],
          [alice, [newest.user, 'dave']],
          [carol, [newest.user]],
        ]),
      );
    });
  });
}

test.describe('faults', () => {
  let pages: UserPage[] = [];
  test.afterEach(async () => {
    await Promise.all(pages.map((p) => p.close()));
    pages = [];
  });

  test('a browser killed mid-conference leaves every roster within 30 s; the others still hear each other', async () => {
    test.setTimeout(120_000);
    pages = await openAll(['alice', 'bob'], E2E_BASE_URL);
    const [alice, bob] = pages as [UserPage, UserPage];
    // carol's browser runs as a separate server process so that the test can kill it outright.
    const server = await chromium.launchServer({
      executablePath: CHROMIUM,
      args: chromiumArgs({ audioFile: toneFile('carol') }),
    });
    const browser = await chromium.connect(server.wsEndpoint());
    const context = await browser.newContext({ baseURL: E2E_BASE_URL, permissions: ['microphone'] });
    const page = await context.newPage();
    await page.goto('/');
    const carol: UserPage = {
      user: 'carol',
      browser,
      page,
      close: async () => {
        await browser.close().catch(() => undefined);
        await server.close().catch(() => undefined);
      },
    };
    pages.push(carol);
    await login(carol);
    await expectRegistered(carol);

    await mergeIntoConference(alice, bob, carol);
    for (const p of [alice, bob, carol]) await expect(connectedEntries(p)).toHaveCount(3, { timeout: 10_000 });
    await expectHears(alice, TONES.carol);

    const killed = Date.now();
    server.process().kill('SIGKILL');
    await expect(connectedEntries(alice)).toHaveCount(2, { timeout: 30_000 });
    const goneMs = Date.now() - killed;
    await expect(connectedEntries(bob)).toHaveCount(2, { timeout: 5_000 });
    console.log(`vanished browser: gone from alice's roster ${goneMs} ms after its process was killed`);
    expect(goneMs).toBeLessThan(30_000);
    await expectHears(alice, TONES.bob);
    await expectHears(bob, TONES.alice);
  });

  test('every mediasoup worker killed mid-conference: new workers, everyone hears everyone again, rosters unchanged', async () => {
    test.setTimeout(120_000);
    pages = await openAll(['alice', 'bob', 'carol'], E2E_BASE_URL);
    const [alice, bob, carol] = pages as [UserPage, UserPage, UserPage];
    await mergeIntoConference(alice, bob, carol);
    for (const p of pages) await expect(connectedEntries(p)).toHaveCount(3, { timeout: 10_000 });
    await expectHears(alice, TONES.bob);

    const workers = execFileSync('pgrep', ['-P', String(E2E_PID), '-f', 'mediasoup-worker'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
    expect(workers.length).toBeGreaterThan(0);
    const killed = Date.now();
    for (const pid of workers) process.kill(pid, 'SIGKILL');

    // Every page hears both others again; the pages listen at the same time, 1 s windows (the bound is 10 s).
    const allMs = await expectAllHear(
      pages,
      new Map([
        [alice, ['bob', 'carol']],
        [bob, ['alice', 'carol']],
        [carol, ['alice', 'bob']],
      ]),
      15_000,
    );
    console.log(
      `worker crash: every page heard both others again ${Date.now() - killed} ms after ${workers.length} worker(s) were killed (listening took ${allMs} ms)`,
    );
    for (const p of pages) await expect(connectedEntries(p)).toHaveCount(3);
    const after = execFileSync('pgrep', ['-P', String(E2E_PID), '-f', 'mediasoup-worker'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
    expect(after.length).toBe(workers.length);
    expect(after.some((pid) => workers.includes(pid))).toBe(false);
  });
});
