/**
 * Admins on the live roster: the admin console shows the conference the softphones made, the admin
 * kicks a participant, the others see it within a second and keep talking; when everyone has left the
 * conference disappears from the admin list.
 */
import { test, expect } from '../support/fixtures.ts';
import {
  expectHears,
  expectRegistered,
  line,
  login,
  mergeIntoConference,
  openAdminPage,
  openUserPage,
  settled,
  type UserPage,
} from '../support/phone.ts';
import { TONES } from '../support/tones.ts';

let alice: UserPage;
let bob: UserPage;
let carol: UserPage;
let admin: Awaited<ReturnType<typeof openAdminPage>>;

test.afterEach(async () => {
  await Promise.all([alice?.close(), bob?.close(), carol?.close(), admin?.close()]);
});

function connected(p: { page: UserPage['page'] }) {
  return p.page.locator('[data-testid="roster-entry"][data-status="connected"]');
}

test('admin sees the conference, kicks carol; bob leaves; alice hangs up and the conference is gone', async () => {
  [alice, bob, carol] = await Promise.all([openUserPage('alice'), openUserPage('bob'), openUserPage('carol')]);
  admin = await openAdminPage();
  await Promise.all([login(alice), login(bob), login(carol)]);
  await Promise.all([expectRegistered(alice), expectRegistered(bob), expectRegistered(carol)]);

  // The central scenario builds the conference.
  await mergeIntoConference(alice, bob, carol);
  await expect(connected(alice)).toHaveCount(3, { timeout: 5_000 });
  const uri = (await alice.page.getByTestId('conference').getAttribute('data-uri'))!;

  // The admin console lists it with three participants, its roster fed by the event package.
  const item = admin.page.locator(`[data-testid="conference-item"][data-conference-uri="${uri}"]`);
  await expect(item).toBeVisible({ timeout: 5_000 });
  await expect(item).toHaveAttribute('data-participant-count', '3');
  await expect(item.locator('[data-testid="roster-entry"][data-status="connected"]')).toHaveCount(3);

  // Kick carol: her page ends the conference for her; the others' rosters show two within a second.
  const kicked = Date.now();
  await item
    .locator('[data-testid="roster-entry"][data-entity="sip:carol@127.0.0.1"]')
    .getByTestId('kick-button')
    .click();
  await expect(connected(alice)).toHaveCount(2, { timeout: 2_000 });
  await expect(connected(bob)).toHaveCount(2, { timeout: 2_000 });
  console.log(`alice's and bob's rosters showed two participants ${Date.now() - kicked} ms after the kick`);
  await expect(carol.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true', { timeout: 5_000 });
  await expect(item).toHaveAttribute('data-participant-count', '2');
  // Audio between alice and bob continues.
  await expectHears(alice, TONES.bob);
  await expectHears(bob, TONES.alice);

  // bob leaves: alice's roster updates.
  await settled(bob);
  await bob.page.locator('[data-testid="line"]:not([data-state="ended"])').first().getByTestId('hangup-button').click();
  await expect(connected(alice)).toHaveCount(1, { timeout: 3_000 });
  // alice hangs up: the conference disappears from the admin list.
  await settled(alice);
  await line(alice, 'conference').getByTestId('hangup-button').click();
  await expect(item).toHaveCount(0, { timeout: 3_000 });
  await expect(alice.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
});
