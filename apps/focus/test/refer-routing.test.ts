/**
 * Where the focus routes a REFER (ConferenceFocus.handleRefer), for the branches the flow tests do not
 * cover: in a two-party call, a REFER to anyone but a conference is an ordinary transfer relayed to the
 * other party (its progress NOTIFYs relayed back, named after the referrer's REFER); outside any dialog,
 * a REFER to a live conference is a REFER to the focus (dial-out, in a dialog of its own).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { answerFor, webrtcLikeOffer, type SipTestUa } from '@conclave/sip-test-ua';
import type { SipRequest } from '@conclave/sip-message';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

let stack: TestStack;
before(async () => {
  stack = await startStack();
});
after(() => stack.close());

/** A registered UA that answers INVITEs like a browser and every other request 200 (REFER: 202). */
async function phone(user: string): Promise<SipTestUa> {
  const ua = await stack.ua(user);
  assert.equal((await ua.register()).final.status, 200);
  ua.on('request', (incoming) => {
    const req = incoming.request;
    if (req.method === 'INVITE' && !ua.dialogs.has(req.callId))
      return void ua.acceptInvite(incoming, answerFor(req.body.toString()));
    incoming.respond(req.method === 'REFER' ? 202 : 200, req.method === 'REFER' ? 'Accepted' : 'OK');
  });
  return ua;
}

test('a REFER in a call to a user (not a conference) is relayed to the other party, its NOTIFYs back', async () => {
  const alice = await phone('alice');
  const bob = await phone('bob');
  const call = await alice.invite('sip:bob@127.0.0.1', webrtcLikeOffer());
  assert.equal(call.final.status, 200);
  const refer = await call.dialog!.request('REFER', {
    headers: { 'Refer-To': '<sip:carol@127.0.0.1>', 'Referred-By': '<sip:alice@127.0.0.1>' },
  });
  assert.equal(refer.final.status, 202, "bob's answer reaches alice");
  const atBob = bob.received.find((m) => m.kind === 'request' && m.method === 'REFER');
  assert.ok(atBob && atBob.kind === 'request', 'bob got the REFER');
  assert.equal(atBob.get('Refer-To'), '<sip:carol@127.0.0.1>');
  assert.equal(atBob.get('Referred-By'), '<sip:alice@127.0.0.1>');
  const bobDialog = bob.dialogs.get(atBob.callId)!;
  const notify = await bobDialog.request('NOTIFY', {
    headers: { Event: 'refer', 'Subscription-State': 'terminated;reason=noresource' },
    body: 'SIP/2.0 200 OK\r\n',
    contentType: 'message/sipfrag;version=2.0',
  });
  assert.equal(notify.final.status, 200);
  await waitFor(() => alice.requestsFor(call.dialog!.callId, 'NOTIFY').length === 1, 'the relayed NOTIFY');
  const relayed = alice.requestsFor(call.dialog!.callId, 'NOTIFY')[0]!;
  assert.equal(relayed.get('Event'), `refer;id=${refer.request.cseq.seq}`);
  assert.equal(relayed.body.toString().trim(), 'SIP/2.0 200 OK');
  assert.equal(stack.focus.conferences.registry.size, 0, 'no conference involved');
  await call.dialog!.bye();
  await waitFor(() => stack.focus.calls.length === 0, 'call ended');
});

test('a REFER outside any dialog to a live conference makes the focus call the target', async () => {
  const alice = await phone('alice');
  const carol = await phone('carol');
  const conf = await alice.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
  assert.equal(conf.final.status, 200);
  const confUri = /<([^>]+)>;isfocus/.exec(conf.final.get('Contact')!)![1]!;
  const refer = await alice.send('REFER', confUri, {
    headers: { 'Refer-To': '<sip:carol@127.0.0.1>', 'Referred-By': '<sip:alice@127.0.0.1>' },
  });
  assert.equal(refer.final.status, 202);
  assert.match(refer.final.get('Contact') ?? '', /;isfocus/, "the REFER's dialog is the conference's");
  const conference = stack.focus.conferences.registry.findByUri(confUri)!;
  await waitFor(
    () => conference.participants.some((p) => p.entity === 'sip:carol@127.0.0.1' && p.status === 'connected'),
    'carol called by the focus and connected',
  );
  assert.equal(conference.participants.find((p) => p.entity === 'sip:carol@127.0.0.1')!.joiningMethod, 'dialed-out');
  // The 202 created a dialog (the implicit subscription, RFC 3515 §2.4.4): the progress NOTIFYs come in
  // it — same Call-ID, our From tag as their To tag, the 202's To tag as their From tag.
  const callId = refer.request.callId;
  const isFinal = (n: SipRequest) => /^terminated/.test(n.get('Subscription-State') ?? '');
  await waitFor(() => alice.requestsFor(callId, 'NOTIFY').some(isFinal), 'the final refer NOTIFY');
  const notifies = alice.requestsFor(callId, 'NOTIFY');
  assert.deepEqual(
    notifies.map((n) => n.body.toString().trim()),
    ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK'],
  );
  for (const n of notifies) {
    assert.equal(n.get('Event'), `refer;id=${refer.request.cseq.seq}`);
    assert.match(n.get('Content-Type') ?? '', /^message\/sipfrag/);
    assert.equal(n.toTag, refer.request.fromTag, "the NOTIFY's To tag is the REFER's From tag");
    assert.equal(n.fromTag, refer.final.toTag, "the NOTIFY's From tag is the 202's To tag");
  }
  assert.match(notifies[0]!.get('Subscription-State') ?? '', /^active/);
  assert.ok(isFinal(notifies[1]!), 'the last NOTIFY ends the implicit subscription');
  await conf.dialog!.bye();
  for (const d of carol.dialogs.values()) await d.bye();
  await waitFor(() => stack.focus.conferences.registry.size === 0, 'conference over');
});
