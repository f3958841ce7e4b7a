/**
 * The ad-hoc flow of RFC 4579 on a real two-party call through the B2BUA: alice talks to bob, creates
 * a conference at the factory, and REFERs bob to it over her call. Pass-through mode: bob gets the
 * REFER and dials in himself (his NOTIFYs reach alice). Intercept mode (the default): the focus moves
 * bob's existing leg into the conference and reports success as if bob had joined.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { answerFor, webrtcLikeOffer, type SipTestDialog, type SipTestUa } from '@conclave/sip-test-ua';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

/** bob: registered, answers calls like a browser; in pass-through mode follows REFERs like JsSIP does. */
async function bobPhone(stack: TestStack): Promise<SipTestUa> {
  const bob = await stack.ua('bob');
  assert.equal((await bob.register()).final.status, 200);
  bob.on('request', (incoming) => {
    const req = incoming.request;
    if (req.method === 'INVITE' && !bob.dialogs.has(req.callId))
      return void bob.acceptInvite(incoming, answerFor(req.body.toString()));
    if (req.method === 'REFER') {
      incoming.respond(202, 'Accepted');
      const dialog = bob.dialogs.get(req.callId)!;
      const target = /<([^>]+)>/.exec(req.get('Refer-To')!)![1]!;
      const notify = (frag: string, state: string) =>
        dialog.request('NOTIFY', {
          headers: { Event: 'refer', 'Subscription-State': state, 'Content-Type': 'message/sipfrag;version=2.0' },
          body: frag,
        });
      void (async () => {
        await notify('SIP/2.0 100 Trying\r\n', 'active;expires=60');
        const joined = await bob.invite(target, webrtcLikeOffer());
        await notify(`SIP/2.0 ${joined.final.status} ${joined.final.reason}\r\n`, 'terminated;reason=noresource');
      })();
      return;
    }
    incoming.respond(200);
  });
  return bob;
}

async function callAndConference(
  stack: TestStack,
  bob: SipTestUa,
): Promise<{ alice: SipTestUa; call: SipTestDialog; conf: SipTestDialog; confUri: string }> {
  const alice = await stack.ua('alice');
  assert.equal((await alice.register()).final.status, 200);
  const call = await alice.invite('sip:bob@127.0.0.1', webrtcLikeOffer());
  assert.equal(call.final.status, 200);
  assert.equal(stack.focus.calls.length, 1);
  const conf = await alice.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
  assert.equal(conf.final.status, 200);
  const confUri = /<([^>]+)>;isfocus/.exec(conf.final.get('Contact')!)![1]!;
  void bob;
  return { alice, call: call.dialog!, conf: conf.dialog!, confUri };
}

function sipfrags(alice: SipTestUa, callId: string): string[] {
  return alice.requestsFor(callId, 'NOTIFY').map((n) => n.body.toString().trim());
}

describe('pass-through: the party is referred and dials in', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ referMode: 'pass-through' });
  });
  after(() => stack.close());

  test('bob receives the REFER, joins the conference; his progress reaches alice; alice ends the old call', async () => {
    const bob = await bobPhone(stack);
    const { alice, call, conf, confUri } = await callAndConference(stack, bob);
    const refer = await call.request('REFER', {
      headers: { 'Refer-To': `<${confUri}>`, 'Referred-By': '<sip:alice@127.0.0.1>' },
    });
    assert.equal(refer.final.status, 202);
    await waitFor(() => sipfrags(alice, call.callId).includes('SIP/2.0 200 OK'), 'the relayed sipfrag 200');
    assert.equal(sipfrags(alice, call.callId)[0], 'SIP/2.0 100 Trying');
    const referAtBob = bob.received.find((m) => m.kind === 'request' && m.method === 'REFER');
    assert.ok(referAtBob && referAtBob.kind === 'request');
    assert.equal(referAtBob.get('Refer-To'), `<${confUri}>`);
    const conference = stack.focus.conferences.registry.findByUri(confUri)!;
    await waitFor(
      () => conference.participants.some((p) => p.entity === 'sip:bob@127.0.0.1' && p.status === 'connected'),
      'bob in the conference',
    );
    assert.equal(conference.participants.find((p) => p.entity === 'sip:bob@127.0.0.1')!.joiningMethod, 'dialed-in');
    await call.bye();
    await waitFor(() => stack.focus.calls.length === 0, 'old call ended');
    assert.equal(conference.size, 2, 'alice and bob remain in the conference');
    await conf.bye();
    for (const d of bob.dialogs.values()) await d.bye();
    await waitFor(() => stack.focus.conferences.registry.size === 0, 'conference over');
  });
});

describe("intercept: the focus moves the party's existing leg", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ referMode: 'intercept' });
  });
  after(() => stack.close());

  test('bob is re-INVITEd with ;isfocus and never sees the REFER; alice gets 100 then 200', async () => {
    const bob = await bobPhone(stack);
    const { alice, call, conf, confUri } = await callAndConference(stack, bob);
    const bobCall = [...bob.dialogs.values()][0]!;
    const refer = await call.request('REFER', {
      headers: { 'Refer-To': `<${confUri}>`, 'Referred-By': '<sip:alice@127.0.0.1>' },
    });
    assert.equal(refer.final.status, 202);
    await waitFor(() => sipfrags(alice, call.callId).includes('SIP/2.0 200 OK'), 'sipfrag 200 from the focus');
    assert.equal(sipfrags(alice, call.callId)[0], 'SIP/2.0 100 Trying');
    assert.equal(
      bob.received.some((m) => m.kind === 'request' && m.method === 'REFER'),
      false,
      'bob never saw a REFER',
    );
    await waitFor(
      () => bobCall.reinvites.some((r) => /;isfocus/.test(r.get('Contact') ?? '')),
      "bob's leg re-INVITEd by the focus",
    );
    const conference = stack.focus.conferences.registry.findByUri(confUri)!;
    await waitFor(
      () => conference.participants.some((p) => p.entity === 'sip:bob@127.0.0.1' && p.status === 'connected'),
      'bob connected',
    );
    // alice ends her old call; bob's moved leg stays up.
    await call.bye();
    await waitFor(() => stack.focus.calls.length === 0, 'old call gone');
    assert.equal(bob.dialogs.has(bobCall.callId), true, "bob's dialog survived");
    assert.equal(conference.size, 2);
    // REFER for an unknown conference on a call: 404.
    const alice2 = await stack.ua('alice');
    const c2 = await alice2.invite('sip:bob@127.0.0.1', webrtcLikeOffer());
    const ghost = await c2.dialog!.request('REFER', {
      headers: { 'Refer-To': '<sip:conf-cccccccccccccccccccccccccc@127.0.0.1>' },
    });
    assert.equal(ghost.final.status, 404);
    await c2.dialog!.bye();
    await conf.bye();
    await bobCall.bye();
    await waitFor(() => stack.focus.conferences.registry.size === 0, 'conference over');
  });
});

describe('REFER races (intercept)', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ referMode: 'intercept' });
  });
  after(() => stack.close());

  test('two REFERs for the same party at once: one moves it, the other is refused (481)', async () => {
    const bob = await bobPhone(stack);
    const { alice, call, conf, confUri } = await callAndConference(stack, bob);
    const headers = { 'Refer-To': `<${confUri}>`, 'Referred-By': '<sip:alice@127.0.0.1>' };
    const [r1, r2] = await Promise.all([call.request('REFER', { headers }), call.request('REFER', { headers })]);
    // The first REFER takes bob's side out of the call at once; the second finds nothing left to move.
    assert.deepEqual([r1.final.status, r2.final.status].sort(), [202, 481]);
    await waitFor(
      () => sipfrags(alice, call.callId).filter((f) => !f.startsWith('SIP/2.0 100')).length === 1,
      'one final sipfrag',
    );
    const finals = sipfrags(alice, call.callId)
      .filter((f) => !f.startsWith('SIP/2.0 100'))
      .sort();
    assert.deepEqual(finals, ['SIP/2.0 200 OK'], `finals: ${finals.join(',')}`);
    const conference = stack.focus.conferences.registry.findByUri(confUri)!;
    await waitFor(
      () => conference.participants.filter((p) => p.entity === 'sip:bob@127.0.0.1').length === 1,
      'bob exactly once',
    );
    await call.bye();
    await conf.bye();
    for (const d of bob.dialogs.values()) await d.bye();
    await waitFor(() => stack.focus.conferences.registry.size === 0, 'conference over');
  });

  test('the party hangs up while being referred: no ghost participant, the focus keeps working', async () => {
    const bob = await bobPhone(stack);
    const { call, conf, confUri } = await callAndConference(stack, bob);
    const bobCall = [...bob.dialogs.values()][0]!;
    const [refer] = await Promise.all([
      call.request('REFER', { headers: { 'Refer-To': `<${confUri}>` } }),
      bobCall.bye(),
    ]);
    assert.ok([202, 481].includes(refer.final.status), `REFER answered ${refer.final.status}`);
    const conference = stack.focus.conferences.registry.findByUri(confUri)!;
    await waitFor(
      () => !conference.participants.some((p) => p.entity === 'sip:bob@127.0.0.1'),
      'no bob in the conference',
    );
    await waitFor(() => stack.focus.calls.length === 0, 'the call is over');
    // The focus still serves new calls.
    const again = await callAndConference(stack, bob);
    assert.ok(again.confUri);
    await again.call.bye();
    await again.conf.bye();
    await conf.bye().catch(() => undefined);
    await waitFor(() => stack.focus.conferences.registry.size === 0, 'all conferences over');
  });
});
