/**
 * Softphone features on top of calls: the DTMF keypad (keys sent as SIP INFO, relayed by the focus,
 * played as tones by the receiving page) and blind transfer (REFER relayed by the focus to the other
 * party, whose page follows it).
 *
 * Why SIP INFO and not RFC 4733 telephone-events in the RTP: every leg's media goes through
 * mediasoup, whose consumers forward only media codecs (Consumer::supportedCodecPayloadTypes skips
 * telephone-event), so the packets of alice's RTCDTMFSender would never reach bob.
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
import { dtmfLevels } from '../support/page-tones.ts';
import { TONES } from '../support/tones.ts';

/** The page's debugging handle (apps/web README: window.conclave.phone), as far as these tests use it. */
interface DebugPhone {
  getSnapshot(): { lines: readonly { id: string }[] };
  /** What the page plays (every remote track and received keys' tones, after the volumes). */
  audioOutput(): MediaStream | null;
  debugLine(
    id: string,
  ): { session: { connection: RTCPeerConnection; sendDTMF(tones: string, options: object): void } } | undefined;
}
declare global {
  interface Window {
    conclave?: { phone: DebugPhone };
  }
}

async function answeredCall(from: UserPage, to: UserPage): Promise<void> {
  await dial(from, to.user);
  await expect(to.page.getByTestId('incoming-call')).toBeVisible();
  await to.page.getByTestId('answer-button').click();
  await expect(line(from, to.user)).toHaveAttribute('data-state', 'active');
  await expect(line(to, from.user)).toHaveAttribute('data-state', 'active');
}

test.describe('DTMF keypad', () => {
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

  test('keys clicked and typed go out as SIP INFO, in order, and show on the other side', async () => {
    await answeredCall(alice, bob);
    const l = line(alice, 'bob');
    await expect(l.getByTestId('dtmf-keypad')).toBeVisible();

    for (const key of ['1', '5', '#']) await l.locator(`[data-testid="dtmf-key"][data-key="${key}"]`).click();
    // Typing on the keyboard while the line has the focus sends too.
    await l.getByTestId('keypad-button').focus();
    await alice.page.keyboard.type('9*');
    // dtmf-sent shows the keys as their INFOs went out (one per key, spaced like tones).
    await expect(l.getByTestId('dtmf-sent')).toHaveAttribute('data-digits', '15#9*');
    await expect(l.getByTestId('dtmf-error')).toHaveCount(0);
    // The focus relays each INFO to bob in order; his line shows the keys.
    await expect(line(bob, 'alice').getByTestId('dtmf-received')).toHaveAttribute('data-digits', '15#9*');

    // Typing into a text field never sends tones.
    await alice.page.getByTestId('dial-input').fill('');
    await alice.page.getByTestId('dial-input').pressSequentially('42');
    await alice.page.waitForTimeout(500);
    await expect(l.getByTestId('dtmf-sent')).toHaveAttribute('data-digits', '15#9*');
    await expect(line(bob, 'alice').getByTestId('dtmf-received')).toHaveAttribute('data-digits', '15#9*');

    // A held call has no keypad.
    await l.getByTestId('hold-button').click();
    await expect(l).toHaveAttribute('data-state', 'held');
    await expect(l.getByTestId('dtmf-keypad')).toHaveCount(0);
    await l.getByTestId('resume-button').click();
    await expect(l).toHaveAttribute('data-state', 'active');
    await l.getByTestId('hangup-button').click();
    await expect(bob.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
  });

  test('bob hears the DTMF alice sends', async () => {
    await answeredCall(alice, bob);
    await expectHears(bob, TONES.alice);
    // Bob listens to what his page plays from just before alice presses "1" on her keypad: her page
    // sends it as SIP INFO, the focus relays it, bob's page plays the tone pair into its output.
    const listening = dtmfLevels(bob.page, 1500);
    await alice.page.waitForTimeout(200);
    await line(alice, 'bob').locator('[data-testid="dtmf-key"][data-key="1"]').click();
    const { low, high } = await listening;
    await expect(line(bob, 'alice').getByTestId('dtmf-received')).toHaveAttribute('data-digits', '1');
    // Both frequencies rise well above what was there before (alice's microphone tone only).
    expect(low.peak - low.before, `697 Hz: ${low.before.toFixed(0)} → ${low.peak.toFixed(0)} dB`).toBeGreaterThan(12);
    expect(high.peak - high.before, `1209 Hz: ${high.before.toFixed(0)} → ${high.peak.toFixed(0)} dB`).toBeGreaterThan(
      12,
    );
  });
});

test.describe('blind transfer', () => {
  let alice: UserPage;
  let bob: UserPage;
  let carol: UserPage;

  test.beforeEach(async () => {
    [alice, bob, carol] = await Promise.all([openUserPage('alice'), openUserPage('bob'), openUserPage('carol')]);
    await Promise.all([login(alice), login(bob), login(carol)]);
    await Promise.all([expectRegistered(alice), expectRegistered(bob), expectRegistered(carol)]);
  });

  test.afterEach(async () => {
    await Promise.all([alice?.close(), bob?.close(), carol?.close()]);
  });

  test('alice transfers bob to carol: bob calls carol, carol answers, alice is done', async () => {
    await answeredCall(alice, bob);
    const l = line(alice, 'bob');

    // A target that cannot be a SIP user is refused in words before anything is sent.
    await l.getByTestId('transfer-button').click();
    await l.getByTestId('transfer-input').fill('not a user!');
    await l.getByTestId('transfer-submit').click();
    await expect(l.getByTestId('transfer-error')).toContainText(/spaces/);

    await l.getByTestId('transfer-input').fill('carol');
    await l.getByTestId('transfer-submit').click();
    await expect(l.getByTestId('transfer-status')).toContainText(/carol/);

    // The focus relays the REFER; bob's page follows it and calls carol.
    const incoming = carol.page.getByTestId('incoming-call');
    await expect(incoming).toBeVisible({ timeout: 15_000 });
    await expect(incoming).toHaveAttribute('data-party', /sip:bob@/);
    await carol.page.getByTestId('answer-button').click();

    await expect(line(bob, 'carol')).toHaveAttribute('data-state', 'active');
    await expect(line(carol, 'bob')).toHaveAttribute('data-state', 'active');
    await expect(l).toHaveAttribute('data-state', 'ended');
    await expect(l.getByTestId('line-detail')).toContainText(/transfer/);
    await expect(alice.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
    // bob's old call with alice is over: only the call with carol is left.
    await expect(bob.page.locator('[data-testid="line"]:not([data-state="ended"])')).toHaveCount(1);

    await expectHears(carol, TONES.bob);
    await expectHears(bob, TONES.carol);
    const carolHears = await receivedTones(carol);
    expect(hasTone(carolHears, TONES.alice), `carol must not hear alice: ${carolHears.join(', ')}`).toBe(false);

    await line(carol, 'bob').getByTestId('hangup-button').click();
    await expect(bob.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
  });

  test('alice sees the transfer fail in words when carol is offline, and keeps bob', async () => {
    await carol.close();
    await answeredCall(alice, bob);
    const l = line(alice, 'bob');
    await l.getByTestId('transfer-button').click();
    await l.getByTestId('transfer-input').fill('carol');
    await l.getByTestId('transfer-submit').click();
    await expect(l.getByTestId('transfer-status')).toHaveAttribute('data-phase', 'failed', { timeout: 15_000 });
    await expect(l.getByTestId('transfer-status')).toContainText(/carol is offline/);
    await expect(l).toHaveAttribute('data-state', 'active');
    await expectHears(alice, TONES.bob);
  });
});
