/**
 * Steps the page scripts (screenshots.ts, admin-console.ts) share: a headless Chromium whose fake
 * microphone plays a tone file, signing a page in, and the three-party merge into a conference.
 */
import { chromium, type Browser, type Locator, type Page } from '@playwright/test';
import { CHROMIUM, chromiumArgs } from '@conclave/test-peers';

export function launch(tone?: string): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: chromiumArgs({ audioFile: tone }) });
}

/** Signs `user` in (password `<user>-secret`) and waits for the registration. */
export async function signIn(page: Page, user: string): Promise<void> {
  await page.getByTestId('login-user').fill(user);
  await page.getByTestId('login-password').fill(`${user}-secret`);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('registration-status').filter({ hasText: 'registered' }).waitFor({ timeout: 15000 });
}

/** `page`'s line card with `user`, in `state` when given. */
export type LineOf = (page: Page, user: string, state?: string) => Locator;

/** alice calls bob, holds him, calls carol and clicks Conference (the RFC 4579 merge). */
export async function mergeThree(alice: Page, bob: Page, carol: Page, line: LineOf): Promise<void> {
  await alice.getByTestId('dial-input').fill('bob');
  await alice.getByTestId('dial-button').click();
  await bob.getByTestId('answer-button').click();
  await line(alice, 'bob', 'active').getByTestId('hold-button').click();
  await line(alice, 'bob', 'held').waitFor();
  await alice.getByTestId('dial-input').fill('carol');
  await alice.getByTestId('dial-button').click();
  await carol.getByTestId('answer-button').click();
  await line(alice, 'carol', 'active').waitFor();
  await alice.getByTestId('conference-button').click();
}
