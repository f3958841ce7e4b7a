/**
 * Interop with SIP phones nobody here wrote: baresip (Debian) registers through the embedded server with
 * digest authentication, dials into a conference, and a second baresip on a call through the focus is
 * referred into it (the focus moves its plain-RTP leg; baresip just sees a re-INVITE). Their media is
 * bridged by the plain-RTP legs and mixer (proven by ear in @conclave/media's tests).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BaresipPeer, webrtcLikeOffer, type SipTestDialog, type SipTestUa } from '@conclave/test-peers';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor as waitUntil } from './support/wait.ts';

let stack: TestStack;
let dave: BaresipPeer;
let erin: BaresipPeer;

before(async () => {
  stack = await startStack();
  const registrar = (password: string) => ({ host: '127.0.0.1', port: stack.sipPort, password });
  [dave, erin] = await Promise.all([
    BaresipPeer.start({ user: 'dave', registrar: registrar('dave-secret'), autoAnswer: false, toneHz: 500 }),
    BaresipPeer.start({ user: 'erin', registrar: registrar('erin-secret'), toneHz: 500 }),
  ]);
});
after(async () => {
  await Promise.all([dave?.close(), erin?.close()]);
  await stack?.close();
});

function waitFor(predicate: () => boolean, what: string): Promise<void> {
  return waitUntil(
    predicate,
    what,
    10_000,
    () => `dave said:\n${dave.output.slice(-1500)}\nerin said:\n${erin.output.slice(-1500)}`,
  );
}

let alice: SipTestUa;
let conf: { uri: string; dialog: SipTestDialog };

test('baresip registers with digest authentication (MD5 challenge for baresip)', async () => {
  await waitFor(
    () => stack.focus.registrar.isRegistered('dave') && stack.focus.registrar.isRegistered('erin'),
    'both registrations',
  );
  const binding = stack.focus.registrar.lookup('dave')!;
  assert.match(
    binding.contact,
    new RegExp(`^sip:dave(-[^@]+)?@127\\.0\\.0\\.1:${dave.sipPort}[;>]?`),
    `contact ${binding.contact}`,
  );
  assert.match(binding.userAgent ?? '', /baresip/i);
  assert.equal(binding.media, 'plain', 'a phone without +sip.ice gets plain RTP');
  await waitFor(() => /200 OK/.test(dave.output), 'baresip to report 200 OK for its REGISTER');
});

test('baresip dials into a conference and shows up connected in the roster', async () => {
  alice = await stack.ua('alice');
  assert.equal((await alice.register()).final.status, 200);
  const created = await alice.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
  assert.equal(created.final.status, 200);
  conf = { uri: /<([^>]+)>;isfocus/.exec(created.final.get('Contact')!)![1]!, dialog: created.dialog! };
  const mark = dave.mark();
  await dave.call(conf.uri);
  await dave.waitForEvent('CALL_ESTABLISHED', { since: mark, timeoutMs: 10_000 });
  const conference = stack.focus.conferences.registry.findByUri(conf.uri)!;
  await waitFor(
    () => conference.participants.some((p) => p.entity === 'sip:dave@127.0.0.1' && p.status === 'connected'),
    'dave connected',
  );
});

test('a baresip on a call through the focus is referred into the conference (intercept)', async () => {
  const call = await alice.invite('sip:erin@127.0.0.1', webrtcLikeOffer());
  assert.equal(call.final.status, 200, `erin (baresip, auto-answer) answered ${call.final.status}`);
  const refer = await call.dialog!.request('REFER', {
    headers: { 'Refer-To': `<${conf.uri}>`, 'Referred-By': '<sip:alice@127.0.0.1>' },
  });
  assert.equal(refer.final.status, 202);
  await waitFor(
    () => alice.requestsFor(call.dialog!.callId, 'NOTIFY').some((n) => /200 OK/.test(n.body.toString())),
    'sipfrag 200',
  );
  const conference = stack.focus.conferences.registry.findByUri(conf.uri)!;
  await waitFor(
    () => conference.participants.some((p) => p.entity === 'sip:erin@127.0.0.1' && p.status === 'connected'),
    'erin connected',
  );
  await call.dialog!.bye();
  await waitFor(() => stack.focus.calls.length === 0, "alice's old call gone");
  // erin's call (now the conference's) is still up: baresip never saw a BYE.
  assert.equal(
    erin.raw.some((e) => e.type === 'CALL_CLOSED'),
    false,
    'erin stays in the conference',
  );
  assert.equal(conference.participants.filter((p) => p.status === 'connected').length, 3);
  await conf.dialog.bye();
  await Promise.all([dave.hangup(), erin.hangup()]);
  await waitFor(() => stack.focus.conferences.registry.size === 0, 'conference over');
});
