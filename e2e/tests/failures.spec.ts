/**
 * Failure paths a user must understand: an offline user, a locked conference (locked by an admin
 * through the admin API), and an unknown conference.
 */
import { test, expect } from '../support/fixtures.ts';
import { dial, expectRegistered, login, openUserPage, type UserPage } from '../support/phone.ts';
import { E2E_BASE_URL } from '../support/env.ts';

let pages: UserPage[] = [];
test.afterEach(async () => {
  await Promise.all(pages.map((p) => p.close()));
  pages = [];
});

const adminAuth = { Authorization: `Basic ${Buffer.from('admin:admin-secret').toString('base64')}` };

test('calling a user who is not logged in says the user is offline', async () => {
  const alice = await openUserPage('alice');
  pages.push(alice);
  await login(alice);
  await expectRegistered(alice);
  await dial(alice, 'erin');
  await expect(alice.page.getByText(/offline|not available|unavailable/i).first()).toBeVisible();
  await expect(alice.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
});

test('a locked conference refuses a dial-in and the page says it is locked', async ({ request }) => {
  const [alice, dave] = await Promise.all([openUserPage('alice'), openUserPage('dave')]);
  pages.push(alice, dave);
  await Promise.all([login(alice), login(dave)]);
  await Promise.all([expectRegistered(alice), expectRegistered(dave)]);
  // alice starts a conference by dialling the factory URI.
  await dial(alice, 'sip:conference@127.0.0.1');
  const conferenceCard = alice.page.getByTestId('conference');
  await expect(conferenceCard).toHaveAttribute('data-uri', /^sip:conf-/);
  const uri = (await conferenceCard.getAttribute('data-uri'))!;

  // An admin locks it through the admin API.
  const list = await request.get(`${E2E_BASE_URL}/api/conferences`, { headers: adminAuth });
  expect(list.status()).toBe(200);
  const { conferences } = (await list.json()) as { conferences: { id: string; uri: string }[] };
  const conference = conferences.find((c) => c.uri === uri);
  expect(conference).toBeTruthy();
  const lock = await request.post(`${E2E_BASE_URL}/api/conferences/${conference!.id}/lock`, { headers: adminAuth });
  expect(lock.status()).toBe(204);

  await dial(dave, uri);
  await expect(dave.page.getByText(/locked/i).first()).toBeVisible();
  await expect(dave.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');

  // Unknown conference: a clear "not found".
  await dial(dave, 'sip:conf-aaaaaaaaaaaaaaaaaaaaaaaaaa@127.0.0.1');
  await expect(dave.page.getByText(/not found|no such|does not exist/i).first()).toBeVisible();
});
