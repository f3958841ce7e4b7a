/**
 * The first vertical slice: two browsers call each other through the focus, media anchored in
 * mediasoup, proven by measuring each side's received audio.
 */
import { test, expect } from '../support/fixtures.ts';
import {
  dial,
  expectHears,
  expectRegistered,
  hasTone,
  line,
  login,
  openUserPage,
  receivedTones,
  type UserPage,
} from '../support/phone.ts';
import { TONES } from '../support/tones.ts';

let alice: UserPage;
let bob: UserPage;

test.beforeEach(async () => {
  [alice, bob] = await Promise.all([openUserPage('alice'), openUserPage('bob')]);
  await Promise.all([login(alice), login(bob)]);
  await Promise.all([expectRegistered(alice), expectRegistered(bob)]);
});

test.afterEach(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
});

test('alice calls bob: each hears the other, hang-up returns both to idle', async () => {
  await dial(alice, 'bob');
  await expect(bob.page.getByTestId('incoming-call')).toBeVisible();
  await expect(bob.page.getByTestId('incoming-call')).toContainText(/alice/i);
  await expect(line(alice, 'bob')).toHaveAttribute('data-state', 'ringing');
  await bob.page.getByTestId('answer-button').click();

  await expect(line(alice, 'bob')).toHaveAttribute('data-state', 'active');
  await expect(line(bob, 'alice')).toHaveAttribute('data-state', 'active');

  const bobHears = await expectHears(bob, TONES.alice);
  const aliceHears = await expectHears(alice, TONES.bob);
  // Each side hears the other, not itself: no echo of one's own tone comes back through the focus.
  expect(hasTone(bobHears, TONES.bob), `bob hears his own tone: ${bobHears.join(', ')}`).toBe(false);
  expect(hasTone(aliceHears, TONES.alice), `alice hears her own tone: ${aliceHears.join(', ')}`).toBe(false);
  console.log(
    `bob hears [${bobHears.join(', ')}] Hz (alice's tone ${TONES.alice}); alice hears [${aliceHears.join(', ')}] Hz (bob's tone ${TONES.bob})`,
  );

  await line(bob, 'alice').getByTestId('hangup-button').click();
  await expect(alice.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
  await expect(bob.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
});

test('hold stops the audio both ways and resume brings it back', async () => {
  await dial(alice, 'bob');
  await bob.page.getByTestId('answer-button').click();
  await expectHears(bob, TONES.alice);

  await line(alice, 'bob').getByTestId('hold-button').click();
  await expect(line(alice, 'bob')).toHaveAttribute('data-state', 'held');
  await expect.poll(async () => hasTone(await receivedTones(bob), TONES.alice), { timeout: 10_000 }).toBe(false);

  await line(alice, 'bob').getByTestId('resume-button').click();
  await expect(line(alice, 'bob')).toHaveAttribute('data-state', 'active');
  await expectHears(bob, TONES.alice);
  await expectHears(alice, TONES.bob);

  await line(alice, 'bob').getByTestId('hangup-button').click();
  await expect(bob.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
});

test('calling an unknown user and declining are reported in words', async () => {
  await dial(alice, 'nobody-here');
  await expect(alice.page.getByText(/not found|no such user|unknown/i).first()).toBeVisible();

  await dial(alice, 'bob');
  await expect(bob.page.getByTestId('incoming-call')).toBeVisible();
  await bob.page.getByTestId('decline-button').click();
  await expect(alice.page.getByText(/declined|busy/i).first()).toBeVisible();
  await expect(alice.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
});
