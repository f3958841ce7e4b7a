import { test, expect } from '../support/fixtures.ts';
import { login, openUserPage } from '../support/phone.ts';

test('a wrong password is refused and the page says so', async () => {
  const carol = await openUserPage('carol');
  try {
    await login(carol, 'not-the-password');
    await expect(carol.page.getByTestId('registration-status')).toContainText(/wrong user name or password/i, {
      timeout: 15_000,
    });
    await expect(carol.page.getByTestId('registration-status')).not.toContainText(/^registered/i);
  } finally {
    await carol.close();
  }
});
