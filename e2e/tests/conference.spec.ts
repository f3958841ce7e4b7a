/**
 * The central scenario of Conclave, in both REFER modes of the focus: alice calls bob, holds him, calls
 * carol and clicks Conference. All three end up in one conference; every page's roster (fed only by
 * conference-event NOTIFYs) shows the same three connected entries; everyone hears both others' tones.
 */
import { test, expect } from '../support/fixtures.ts';
import {
  expectHears,
  expectRegistered,
  login,
  mergeIntoConference,
  openUserPage,
  settled,
  type UserPage,
} from '../support/phone.ts';
import { E2E_BASE_URL, E2E_PASSTHROUGH_URL } from '../support/env.ts';
import { TONES } from '../support/tones.ts';

const MODES = [
  { mode: 'intercept (focus moves the legs)', baseURL: E2E_BASE_URL },
  { mode: 'pass-through (parties dial in)', baseURL: E2E_PASSTHROUGH_URL },
];

function connectedEntries(p: UserPage) {
  return p.page.locator('[data-testid="roster-entry"][data-status="connected"]');
}

for (const { mode, baseURL } of MODES) {
  test.describe(`conference, ${mode}`, () => {
    let alice: UserPage;
    let bob: UserPage;
    let carol: UserPage;

    test.beforeEach(async () => {
      [alice, bob, carol] = await Promise.all([
        openUserPage('alice', '/', baseURL),
        openUserPage('bob', '/', baseURL),
        openUserPage('carol', '/', baseURL),
      ]);
      await Promise.all([login(alice), login(bob), login(carol)]);
      await Promise.all([expectRegistered(alice), expectRegistered(bob), expectRegistered(carol)]);
    });

    test.afterEach(async () => {
      await Promise.all([alice?.close(), bob?.close(), carol?.close()]);
    });

    test('hold one call, talk on another, click Conference: one conference, everyone hears everyone', async () => {
      const clicked = await mergeIntoConference(alice, bob, carol);
      await expect(connectedEntries(alice)).toHaveCount(3, { timeout: 3_000 });
      console.log(
        `[${mode}] alice's roster showed three connected participants ${Date.now() - clicked} ms after the click`,
      );
      for (const p of [bob, carol]) await expect(connectedEntries(p)).toHaveCount(3, { timeout: 5_000 });
      for (const p of [alice, bob, carol]) {
        const entities = await connectedEntries(p).evaluateAll((els) =>
          els.map((e) => e.getAttribute('data-entity')).sort(),
        );
        expect(entities).toEqual(['sip:alice@127.0.0.1', 'sip:bob@127.0.0.1', 'sip:carol@127.0.0.1']);
      }

      const heard: Record<string, number[]> = {};
      heard['alice'] = await expectHears(alice, TONES.bob);
      await expectHears(alice, TONES.carol);
      heard['bob'] = await expectHears(bob, TONES.alice);
      await expectHears(bob, TONES.carol);
      heard['carol'] = await expectHears(carol, TONES.alice);
      await expectHears(carol, TONES.bob);
      console.log(`[${mode}] tones heard: ${JSON.stringify(heard)}`);

      // bob leaves: the others' rosters drop him; alice and carol still hear each other.
      await settled(bob);
      const bobLines = bob.page.locator('[data-testid="line"]:not([data-state="ended"])');
      await bobLines.first().getByTestId('hangup-button').click();
      await expect(connectedEntries(alice)).toHaveCount(2, { timeout: 5_000 });
      await expect(connectedEntries(carol)).toHaveCount(2, { timeout: 5_000 });
      await expectHears(carol, TONES.alice);
      await expect(bob.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
    });
  });
}

test.describe('conference moderation by its creator', () => {
  let alice: UserPage;
  let bob: UserPage;
  let carol: UserPage;
  test.afterEach(async () => {
    await Promise.all([alice?.close(), bob?.close(), carol?.close()]);
  });

  test('the creator removes a participant from the roster; the others stay and keep hearing each other', async () => {
    [alice, bob, carol] = await Promise.all([openUserPage('alice'), openUserPage('bob'), openUserPage('carol')]);
    await Promise.all([login(alice), login(bob), login(carol)]);
    await Promise.all([expectRegistered(alice), expectRegistered(bob), expectRegistered(carol)]);
    await mergeIntoConference(alice, bob, carol);
    await expect(connectedEntries(alice)).toHaveCount(3, { timeout: 5_000 });
    // Only the creator sees Remove, and not on her own entry.
    await expect(
      alice.page.locator(
        '[data-testid="roster-entry"][data-entity="sip:alice@127.0.0.1"] [data-testid="remove-participant-button"]',
      ),
    ).toHaveCount(0);
    await expect(connectedEntries(bob)).toHaveCount(3, { timeout: 5_000 });
    await expect(bob.page.getByTestId('remove-participant-button')).toHaveCount(0);

    await alice.page
      .locator('[data-testid="roster-entry"][data-entity="sip:carol@127.0.0.1"]')
      .getByTestId('remove-participant-button')
      .click();
    await expect(carol.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true', { timeout: 5_000 });
    await expect(connectedEntries(alice)).toHaveCount(2, { timeout: 3_000 });
    await expect(connectedEntries(bob)).toHaveCount(2, { timeout: 3_000 });
    await expectHears(bob, TONES.alice);
  });
});
