/** A user logged in on two pages: both register; a call rings the newest login (see README). */
import { test, expect } from '../support/fixtures.ts';
import { dial, expectRegistered, line, login, openUserPage, type UserPage } from '../support/phone.ts';

let pages: UserPage[] = [];
test.afterEach(async () => {
  await Promise.all(pages.map((p) => p.close()));
  pages = [];
});

test('bob on two pages: both register, the newest login rings', async () => {
  const alice = await openUserPage('alice');
  const bobOld = await openUserPage('bob');
  pages.push(alice, bobOld);
  await login(bobOld);
  await expectRegistered(bobOld);
  const bobNew = await openUserPage('bob');
  pages.push(bobNew);
  await Promise.all([login(alice), login(bobNew)]);
  await Promise.all([expectRegistered(alice), expectRegistered(bobNew)]);
  await expect(bobOld.page.getByTestId('registration-status')).toContainText(/\bregistered\b/i);

  await dial(alice, 'bob');
  await expect(bobNew.page.getByTestId('incoming-call')).toBeVisible();
  await expect(bobOld.page.getByTestId('incoming-call')).toHaveCount(0);
  await bobNew.page.getByTestId('answer-button').click();
  await expect(line(alice, 'bob')).toHaveAttribute('data-state', 'active');
  await line(alice, 'bob').getByTestId('hangup-button').click();
  await expect(bobNew.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
});
