/**
 * Conference steps through the page's test ids, shared by the e2e specs and the stress command:
 * open and log in several users, grow a conference by merges, read the rosters, hang everything up.
 */
import { expect } from '@playwright/test';
import { dial, expectRegistered, line, login, openUserPage, settled, type UserPage } from './phone.ts';
import type { UserName } from './tones.ts';

export function connectedEntries(p: UserPage) {
  return p.page.locator('[data-testid="roster-entry"][data-status="connected"]');
}

/** Present in the roster: connected, or on hold (alice's own entry while she holds the conference). */
export function presentEntries(p: UserPage) {
  return p.page.locator(
    '[data-testid="roster-entry"][data-status="connected"], [data-testid="roster-entry"][data-status="on-hold"]',
  );
}

export function conferenceLine(p: UserPage) {
  return p.page.locator('[data-testid="line"][data-role="conference"]:not([data-state="ended"])');
}

/** How long a join may take to show in a roster: generous, as eight browsers share two cores in CI. */
export const JOIN_WAIT_MS = 30_000;

/** What growBy measured: ms from `who` clicking Answer to alice's call being active, and from alice's Conference click to `who` in her roster. */
export interface GrowthStep {
  answeredMs: number;
  joinedMs: number;
}

/** alice (in a conference) holds it, calls `who`, and merges that call in with the Conference button. */
export async function growBy(alice: UserPage, who: UserPage, expectedSize: number): Promise<GrowthStep> {
  await settled(alice);
  await conferenceLine(alice).getByTestId('hold-button').click();
  await expect(conferenceLine(alice)).toHaveAttribute('data-state', 'held');
  await dial(alice, who.user);
  const answering = Date.now();
  await who.page.getByTestId('answer-button').click();
  await expect(line(alice, who.user)).toHaveAttribute('data-state', 'active', { timeout: JOIN_WAIT_MS });
  const answeredMs = Date.now() - answering;
  const clicked = Date.now();
  await alice.page.getByTestId('conference-button').click();
  await expect(presentEntries(alice)).toHaveCount(expectedSize, { timeout: JOIN_WAIT_MS });
  const joinedMs = Date.now() - clicked;
  await expect(presentEntries(who)).toHaveCount(expectedSize, { timeout: JOIN_WAIT_MS });
  // Back to the conference: alice talks in it again.
  await settled(alice);
  await conferenceLine(alice).getByTestId('resume-button').click();
  await expect(conferenceLine(alice)).toHaveAttribute('data-state', 'active');
  return { answeredMs, joinedMs };
}

/** Opens one browser per user on `baseURL`, logs each in and waits until all are registered. */
export async function openAll(users: UserName[], baseURL: string): Promise<UserPage[]> {
  const pages = await Promise.all(users.map((u) => openUserPage(u, '/', baseURL)));
  await Promise.all(pages.map((p) => login(p)));
  await Promise.all(pages.map((p) => expectRegistered(p)));
  return pages;
}

/** Hangs up every line of the page and waits until it is idle and the ended lines have faded out. */
export async function hangUpAll(p: UserPage): Promise<void> {
  const hangups = p.page.locator('[data-testid="line"]:not([data-state="ended"]) [data-testid="hangup-button"]');
  for (let n = await hangups.count(); n > 0; n = await hangups.count()) {
    await hangups
      .first()
      .click()
      .catch(() => undefined); // the line may end by itself meanwhile
  }
  await expect(p.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true', { timeout: 10_000 });
  await settled(p);
}
