/**
 * The SIP WebSocket drops mid-call and comes back: the page says it is reconnecting, re-registers, the
 * call survives (its media never used the WebSocket) and the other side can still end it — which
 * proves the server maps the re-registered contact to the new connection.
 */
import type { WebSocketRoute } from '@playwright/test';
import { test, expect } from '../support/fixtures.ts';
import { dial, expectHears, expectRegistered, line, login, openUserPage, type UserPage } from '../support/phone.ts';
import { TONES } from '../support/tones.ts';
import { E2E_WS_URL } from '../support/env.ts';

let alice: UserPage;
let bob: UserPage;

test.afterEach(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
});

test('the WebSocket drops mid-call: the page reconnects, the call survives and still ends cleanly', async () => {
  [alice, bob] = await Promise.all([openUserPage('alice'), openUserPage('bob')]);
  // bob's SIP WebSocket goes through a proxy the test can cut.
  const pageSides: WebSocketRoute[] = [];
  let connections = 0;
  await bob.page.routeWebSocket(new RegExp(`:${new URL(E2E_WS_URL).port}(/|$)`), (ws) => {
    connections++;
    pageSides.push(ws);
    ws.connectToServer();
  });
  await bob.page.reload();
  await Promise.all([login(alice), login(bob)]);
  await Promise.all([expectRegistered(alice), expectRegistered(bob)]);
  expect(connections).toBe(1);

  await dial(alice, 'bob');
  await bob.page.getByTestId('answer-button').click();
  await expect(line(bob, 'alice')).toHaveAttribute('data-state', 'active');
  await expectHears(bob, TONES.alice);

  // Cut the connection (both directions, as a network failure would).
  await pageSides
    .at(-1)!
    .close({ code: 1006, reason: 'network lost' })
    .catch(() => undefined);
  await expect(bob.page.getByTestId('registration-status')).toContainText(/reconnect|connection lost/i, {
    timeout: 10_000,
  });
  // JsSIP reconnects by itself; the page re-registers on the new connection.
  await expect(bob.page.getByTestId('registration-status')).toContainText(/\bregistered\b/i, { timeout: 20_000 });
  expect(connections).toBeGreaterThanOrEqual(2);

  // The call is still up and its audio still flows both ways.
  await expect(line(bob, 'alice')).toHaveAttribute('data-state', 'active');
  await expectHears(bob, TONES.alice);
  await expectHears(alice, TONES.bob);

  // alice hangs up: the BYE reaches bob over his new connection.
  await line(alice, 'bob').getByTestId('hangup-button').click();
  await expect(bob.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true', { timeout: 10_000 });
});
