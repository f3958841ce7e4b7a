/**
 * RFC 4028 session timers on the dialogs the focus holds: negotiation as UAS (422, refresher choice,
 * Require) and as UAC (Supported/Session-Expires, retry after 422), refreshes answered; and the timer
 * itself (refresh at half the interval, expiry without refresh) on a mocked clock.
 */
import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@conclave/log';
import { answerFor, webrtcLikeOffer } from '@conclave/sip-test-ua';
import { SessionTimer, negotiateAsUas, parseSessionExpires } from '../src/session-timer.ts';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

const log = createLogger('test', { level: 'error' });
const SETTINGS = { expires: 600, minSE: 90 };

describe('negotiation (pure)', () => {
  const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name] });
  test('too small an interval is refused with 422 and our Min-SE', () => {
    const n = negotiateAsUas(headers({ 'Session-Expires': '30' }), SETTINGS);
    assert.deepEqual(n, { ok: false, status: 422, headers: { 'Min-SE': '90' } });
  });
  test('a UAC that supports timers refreshes; the answer requires timer', () => {
    const n = negotiateAsUas(headers({ 'Session-Expires': '120', Supported: 'replaces, timer' }), SETTINGS);
    assert.ok(n.ok);
    assert.deepEqual(n.headers, { 'Session-Expires': '120;refresher=uac', Require: 'timer' });
    assert.deepEqual(n.agreement, { interval: 120, refresher: 'remote', peerSupports: true });
  });
  test('a UAC without timer support: the focus refreshes, at most at its own interval', () => {
    const n = negotiateAsUas(headers({ 'Session-Expires': '7200' }), SETTINGS);
    assert.ok(n.ok);
    assert.deepEqual(n.headers, { 'Session-Expires': '600;refresher=uas' });
    assert.equal(n.agreement.refresher, 'local');
  });
  test("the peer's Min-SE is honoured and refresher=uas is kept", () => {
    const n = negotiateAsUas(
      headers({ 'Session-Expires': '100;refresher=uas', 'Min-SE': '300', Supported: 'timer' }),
      SETTINGS,
    );
    assert.ok(n.ok);
    assert.equal(n.agreement.interval, 300);
    assert.equal(n.agreement.refresher, 'local');
  });
  test('Session-Expires parsing', () => {
    assert.deepEqual(parseSessionExpires('1800;refresher=uac'), { delta: 1800, refresher: 'uac' });
    assert.deepEqual(parseSessionExpires(' 90 ; refresher=UAS'), { delta: 90, refresher: 'uas' });
    assert.equal(parseSessionExpires('soon'), undefined);
  });
});

describe('the timer (mocked clock)', () => {
  test('as refresher it refreshes at half the interval, again after each success, and expires when a refresh fails', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let refreshes = 0;
      let fail = false;
      const expired: string[] = [];
      const timer = new SessionTimer(
        { interval: 120, refresher: 'local', peerSupports: true },
        {
          refresh: () => {
            refreshes++;
            return fail ? Promise.reject(new Error('481 Call/Transaction Does Not Exist')) : Promise.resolve();
          },
          expired: (why) => expired.push(why),
        },
        log,
      );
      mock.timers.tick(59_999);
      assert.equal(refreshes, 0);
      mock.timers.tick(1);
      await Promise.resolve();
      await Promise.resolve();
      assert.equal(refreshes, 1);
      fail = true;
      mock.timers.tick(60_000);
      for (let i = 0; i < 5; i++) await Promise.resolve();
      assert.equal(refreshes, 2);
      assert.equal(expired.length, 1);
      assert.match(expired[0]!, /refresh failed/);
      assert.equal(timer.closed, true);
    } finally {
      mock.timers.reset();
    }
  });

  test('when the peer refreshes, no refresh within interval − min(32, interval/3) ends the session', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const expired: string[] = [];
      const timer = new SessionTimer(
        { interval: 90, refresher: 'remote', peerSupports: true },
        { refresh: () => Promise.resolve(), expired: (why) => expired.push(why) },
        log,
      );
      mock.timers.tick(50_000);
      timer.refreshed(); // the peer's re-INVITE or UPDATE arrived
      mock.timers.tick(59_999);
      assert.equal(expired.length, 0);
      mock.timers.tick(1);
      assert.deepEqual(expired, ['no session refresh from the peer']);
    } finally {
      mock.timers.reset();
    }
  });
});

describe('on the wire', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  test('UAS: 422 below Min-SE; agreement in the 200; the callee leg asks for timers and retries after its 422; UPDATE refreshes are answered', async () => {
    const bob = await stack.ua('bob');
    assert.equal((await bob.register()).final.status, 200);
    const invitesToBob: Array<{ se: string | undefined; supported: string | undefined; minSE: string | undefined }> =
      [];
    bob.on('request', (incoming) => {
      const req = incoming.request;
      if (req.method === 'INVITE' && !bob.dialogs.has(req.callId)) {
        invitesToBob.push({
          se: req.get('Session-Expires'),
          supported: req.get('Supported'),
          minSE: req.get('Min-SE'),
        });
        if (invitesToBob.length === 1)
          return void incoming.respond(422, 'Session Interval Too Small', { headers: { 'Min-SE': '1200' } });
        return void bob.acceptInvite(incoming, answerFor(req.body.toString()));
      }
      incoming.respond(200);
    });
    const alice = await stack.ua('alice');
    const tooShort = await alice.invite('sip:bob@127.0.0.1', webrtcLikeOffer(), {
      headers: { 'Session-Expires': '30', Supported: 'timer' },
    });
    assert.equal(tooShort.final.status, 422);
    assert.equal(tooShort.final.get('Min-SE'), '90');

    const call = await alice.invite('sip:bob@127.0.0.1', webrtcLikeOffer(), {
      headers: {
        'Session-Expires': '120;refresher=uac',
        Supported: 'timer',
        Allow: 'INVITE, ACK, BYE, CANCEL, UPDATE',
      },
    });
    assert.equal(call.final.status, 200);
    assert.equal(call.final.get('Session-Expires'), '120;refresher=uac');
    assert.equal(call.final.get('Require'), 'timer');
    assert.equal(invitesToBob.length, 2, 'one 422, one retry');
    assert.match(invitesToBob[0]!.supported ?? '', /timer/);
    assert.equal(invitesToBob[0]!.se, '600');
    assert.equal(invitesToBob[0]!.minSE, '90');
    assert.equal(invitesToBob[1]!.se, '1200', 'retried with the callee Min-SE');

    const refresh = await call.dialog!.request('UPDATE', {
      headers: { 'Session-Expires': '120;refresher=uac', Supported: 'timer' },
    });
    assert.equal(refresh.final.status, 200);
    assert.equal(refresh.final.get('Session-Expires'), '120;refresher=uac');
    await call.dialog!.bye();
    await waitFor(() => stack.focus.calls.length === 0, 'call over');
  });
});
