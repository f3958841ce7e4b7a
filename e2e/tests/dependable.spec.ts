/**
 * Dependable conferences (issue 8), through the page's documented test ids only:
 * - growth by merges: a conference plus another call, Conference, again and again, to five parties,
 *   in both refer modes;
 * - a browser that vanishes (its process killed, no BYE) leaves every roster within 30 s, and the
 *   others still hear each other;
 * - every mediasoup worker killed mid-conference: everyone hears everyone again.
 */
import { execFileSync } from 'node:child_process';
import { chromium } from '@playwright/test';
import { test, expect } from '../support/fixtures.ts';
import { dial, expectHears, expectRegistered, line, login, mergeIntoConference, openUserPage, settled, type UserPage } from '../support/phone.ts';
import { CHROMIUM, E2E_BASE_URL, E2E_PASSTHROUGH_URL, E2E_PID } from '../support/env.ts';
import { TONES, toneFile, type UserName } from '../support/tones.ts';

const MODES = [
  { mode: 'intercept', baseURL: E2E_BASE_URL },
  { mode: 'pass-through', baseURL: E2E_PASSTHROUGH_URL },
];

function connectedEntries(p: UserPage) {
  return p.page.locator('[data-testid="roster-entry"][data-status="connected"]');
}

/** Present in the roster: connected, or on hold (alice's own entry while she holds the conference). */
function presentEntries(p: UserPage) {
  return p.page.locator('[data-testid="roster-entry"][data-status="connected"], [data-testid="roster-entry"][data-status="on-hold"]');
}

function conferenceLine(p: UserPage) {
  return p.page.locator('[data-testid="line"][data-role="conference"]:not([data-state="ended"])');
}

/** alice (in a conference) holds it, calls `who`, and merges that call in with the Conference button. */
async function growBy(alice: UserPage, who: UserPage, expectedSize: number): Promise<number> {
  await settled(alice);
  await conferenceLine(alice).getByTestId('hold-button').click();
  await expect(conferenceLine(alice)).toHaveAttribute('data-state', 'held');
  await dial(alice, who.user);
  await who.page.getByTestId('answer-button').click();
  await expect(line(alice, who.user)).toHaveAttribute('data-state', 'active');
  const clicked = Date.now();
  await alice.page.getByTestId('conference-button').click();
  await expect(presentEntries(alice)).toHaveCount(expectedSize, { timeout: 10_000 });
  const joinedMs = Date.now() - clicked;
  await expect(presentEntries(who)).toHaveCount(expectedSize, { timeout: 10_000 });
  // Back to the conference: alice talks in it again.
  await settled(alice);
  await conferenceLine(alice).getByTestId('resume-button').click();
  await expect(conferenceLine(alice)).toHaveAttribute('data-state', 'active');
  return joinedMs;
}

async function openAll(users: UserName[], baseURL: string): Promise<UserPage[]> {
  const pages = await Promise.all(users.map((u) => openUserPage(u, '/', baseURL)));
  await Promise.all(pages.map((p) => login(p)));
  await Promise.all(pages.map((p) => expectRegistered(p)));
  return pages;
}

for (const { mode, baseURL } of MODES) {
  test.describe(`growth by merges (${mode})`, () => {
    let pages: UserPage[] = [];
    test.afterEach(async () => {
      await Promise.all(pages.map((p) => p.close()));
      pages = [];
    });

    test('a conference plus another call, Conference, again and again: five parties, every roster complete, newest and oldest hear each other', async () => {
      test.setTimeout(180_000);
      pages = await openAll(['alice', 'bob', 'carol', 'dave', 'erin'], baseURL);
      const [alice, bob, carol, dave, erin] = pages as [UserPage, UserPage, UserPage, UserPage, UserPage];
      await mergeIntoConference(alice, bob, carol);
      await expect(connectedEntries(alice)).toHaveCount(3, { timeout: 10_000 });
      const times = [await growBy(alice, dave, 4), await growBy(alice, erin, 5)];
      console.log(`[${mode}] growth: 4th and 5th party in alice's roster ${times.join(' ms, ')} ms after the click`);
      for (const p of pages) await expect(connectedEntries(p)).toHaveCount(5, { timeout: 10_000 });
      await expectHears(erin, TONES.bob);
      await expectHears(bob, TONES.erin);
      await expectHears(dave, TONES.alice);
      await expectHears(alice, TONES.dave);
      await expectHears(carol, TONES.erin);
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
      args: [
        '--disable-gpu', '--no-first-run', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-audio-capture=${toneFile('carol')}`, '--autoplay-policy=no-user-gesture-required',
        '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
      ],
    });
    const browser = await chromium.connect(server.wsEndpoint());
    const context = await browser.newContext({ baseURL: E2E_BASE_URL, permissions: ['microphone'] });
    const page = await context.newPage();
    await page.goto('/');
    const carol: UserPage = { user: 'carol', browser, page, close: async () => { await browser.close().catch(() => undefined); await server.close().catch(() => undefined); } };
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

    const workers = execFileSync('pgrep', ['-P', String(E2E_PID), '-f', 'mediasoup-worker'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    expect(workers.length).toBeGreaterThan(0);
    const killed = Date.now();
    for (const pid of workers) process.kill(pid, 'SIGKILL');

    // Every page hears both others again (each check listens 1.5 s; the budget is the 10 s).
    await expectHears(alice, TONES.bob, 10_000);
    const firstMs = Date.now() - killed;
    await expectHears(alice, TONES.carol, 10_000);
    await expectHears(bob, TONES.alice, 10_000);
    await expectHears(bob, TONES.carol, 10_000);
    await expectHears(carol, TONES.alice, 10_000);
    await expectHears(carol, TONES.bob, 10_000);
    console.log(`worker crash: alice heard bob again ${firstMs} ms after ${workers.length} worker(s) were killed; all six directions by ${Date.now() - killed} ms`);
    for (const p of pages) await expect(connectedEntries(p)).toHaveCount(3);
    const after = execFileSync('pgrep', ['-P', String(E2E_PID), '-f', 'mediasoup-worker'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    expect(after.length).toBe(workers.length);
    expect(after.some((pid) => workers.includes(pid))).toBe(false);
  });
});
