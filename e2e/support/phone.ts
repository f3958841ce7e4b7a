/**
 * One user's browser and page, driven through the page's documented data-testid contract.
 */
import { chromium, expect, type Browser, type Page } from '@playwright/test';
import { CHROMIUM, chromiumArgs } from '@conclave/test-peers';
import { E2E_BASE_URL } from './env.ts';
import { hasTone, tonesIn } from './page-tones.ts';
import { TONES, toneFile, type UserName } from './tones.ts';

// The tone analysis lives in page-tones.ts (shared with apps/web/scripts); the specs import it from here.
export { hasTone, tonesIn, type ToneSource } from './page-tones.ts';

export interface UserPage {
  user: UserName;
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

export async function openUserPage(user: UserName, path = '/', baseURL = E2E_BASE_URL): Promise<UserPage> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: chromiumArgs({ audioFile: toneFile(user), fakeAudioOutput: true }),
  });
  const context = await browser.newContext({ baseURL, permissions: ['microphone', 'camera'] });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.log(`[${user} page] ${msg.text()}`);
  });
  await page.goto(path);
  return { user, browser, page, close: () => browser.close() };
}

/** The admin console in its own browser (no microphone needed). */
export async function openAdminPage(
  baseURL = E2E_BASE_URL,
): Promise<{ browser: Browser; page: Page; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: chromiumArgs({ media: false }),
  });
  const page = await (await browser.newContext({ baseURL })).newPage();
  await page.goto('/admin');
  await page.getByTestId('admin-login-user').fill('admin');
  await page.getByTestId('admin-login-password').fill('admin-secret');
  await page.getByTestId('admin-login-submit').click();
  return { browser, page, close: () => browser.close() };
}

export async function login(p: UserPage, password = `${p.user}-secret`): Promise<void> {
  await p.page.getByTestId('login-user').fill(p.user);
  await p.page.getByTestId('login-password').fill(password);
  await p.page.getByTestId('login-submit').click();
}

export async function expectRegistered(p: UserPage): Promise<void> {
  await expect(p.page.getByTestId('registration-status')).toContainText(/\bregistered\b/i, { timeout: 15_000 });
}

export async function dial(p: UserPage, target: string): Promise<void> {
  await p.page.getByTestId('dial-input').fill(target);
  await p.page.getByTestId('dial-button').click();
}

/** Waits until ended lines have faded out, so nothing shifts under the next click. */
export async function settled(p: UserPage): Promise<void> {
  await expect(p.page.locator('[data-testid="line"][data-state="ended"]')).toHaveCount(0, { timeout: 10_000 });
}

export function line(p: UserPage, party: string) {
  return p.page.locator(`[data-testid="line"][data-party*="${party}"]`);
}

/** The tones this page receives (every remote audio element). */
export function receivedTones(p: UserPage, ms = 1500): Promise<number[]> {
  return tonesIn(p.page, 'remote-elements', ms);
}

/** Waits until the page receives `freq` (media takes a moment to flow after the answer). */
export async function expectHears(p: UserPage, freq: number, timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let peaks: number[] = [];
  while (Date.now() < deadline) {
    peaks = await receivedTones(p);
    if (hasTone(peaks, freq)) return peaks;
  }
  throw new Error(`${p.user} does not hear ${freq} Hz; peaks heard: [${peaks.join(', ')}]`);
}

/**
 * Every page hears every user listed for it, the pages listening at the same time; resolves with the
 * ms it took, throws naming who does not hear whom after `timeoutMs`.
 */
export async function expectAllHear(
  pages: UserPage[],
  expected: Map<UserPage, UserName[]>,
  timeoutMs = 10_000,
): Promise<number> {
  const started = Date.now();
  let missing: string[] = [];
  while (Date.now() - started < timeoutMs) {
    const heard = await Promise.all(pages.map((p) => receivedTones(p, 1000)));
    missing = pages.flatMap((p, i) =>
      (expected.get(p) ?? [])
        .filter((u) => !hasTone(heard[i]!, TONES[u]))
        .map((u) => `${p.user} does not hear ${u} (heard ${heard[i]!.join(', ') || 'nothing'})`),
    );
    if (missing.length === 0) return Date.now() - started;
  }
  throw new Error(missing.join('; '));
}

/**
 * The central scenario up to the click: alice calls bob, holds him, calls carol, and clicks Conference.
 * Returns the time of the click.
 */
export async function mergeIntoConference(alice: UserPage, bob: UserPage, carol: UserPage): Promise<number> {
  await dial(alice, 'bob');
  await bob.page.getByTestId('answer-button').click();
  await expect(line(alice, 'bob')).toHaveAttribute('data-state', 'active');
  await line(alice, 'bob').getByTestId('hold-button').click();
  await expect(line(alice, 'bob')).toHaveAttribute('data-state', 'held');
  await dial(alice, 'carol');
  await carol.page.getByTestId('answer-button').click();
  await expect(line(alice, 'carol')).toHaveAttribute('data-state', 'active');
  const clicked = Date.now();
  await alice.page.getByTestId('conference-button').click();
  return clicked;
}
