/**
 * DTMF as SIP INFO through the focus (issue 9 items 3-4), over real sockets: in a two-party call the
 * keys are answered 200 and relayed to the other party in order; in a conference `*6` toggles the
 * member's own mute in the roster and is relayed to nobody; bad INFOs are refused (400 / 415), never
 * crash anything.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { answerFor, webrtcLikeOffer, type SipTestDialog, type SipTestUa } from '@conclave/sip-test-ua';
import type { SipRequest } from '@conclave/sip-message';
import { parseDtmfInfo } from '../src/dtmf.ts';
import { MENU_TIMEOUT_MS, MenuKeys } from '../src/conference/dtmf-menu.ts';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

let stack: TestStack;
before(async () => {
  stack = await startStack();
});
after(() => stack.close());

/** A registered UA that answers the focus's INVITEs like a browser and keeps every INFO it gets. */
async function registered(user: string): Promise<{ ua: SipTestUa; infos: SipRequest[] }> {
  const ua = await stack.ua(user);
  assert.equal((await ua.register()).final.status, 200);
  const infos: SipRequest[] = [];
  ua.on('request', (incoming) => {
    const { request } = incoming;
    if (request.method === 'INVITE' && !ua.dialogs.has(request.callId)) {
      ua.acceptInvite(incoming, answerFor(request.body.toString()));
      return;
    }
    if (request.method === 'INFO') infos.push(request);
    incoming.respond(200);
  });
  return { ua, infos };
}

function key(dialog: SipTestDialog, digit: string, contentType = 'application/dtmf-relay') {
  const body = contentType === 'application/dtmf' ? digit : `Signal=${digit}\r\nDuration=160\r\n`;
  return dialog.request('INFO', { body, contentType });
}

function signals(infos: SipRequest[]): string {
  return infos.map((r) => /Signal=(\S)/.exec(r.body.toString())?.[1] ?? '?').join('');
}

test('INFO bodies: dtmf-relay and application/dtmf read; anything else refused with a reason', () => {
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160'), {
    kind: 'digit',
    digit: { digit: '5', durationMs: 160 },
  });
  assert.deepEqual(parseDtmfInfo('Application/DTMF-Relay; charset=x', 'duration = 250\nsignal = 10\n'), {
    kind: 'digit',
    digit: { digit: '*', durationMs: 250 },
  });
  assert.deepEqual(parseDtmfInfo('application/dtmf', '#\r\n'), {
    kind: 'digit',
    digit: { digit: '#', durationMs: 160 },
  });
  assert.deepEqual(parseDtmfInfo(undefined, ''), { kind: 'empty' });
  const refusal = (ct: string | undefined, body: string) => {
    const r = parseDtmfInfo(ct, body);
    return r.kind === 'refused' ? r.status : r.kind;
  };
  assert.equal(refusal('application/dtmf-relay', 'Signal=X'), 400);
  assert.equal(refusal('application/dtmf-relay', 'Duration=100'), 400);
  assert.equal(refusal('application/dtmf-relay', 'Signal=1\nDuration=-5'), 400);
  assert.equal(refusal('application/dtmf-relay', 'garbage'), 400);
  assert.equal(refusal('application/dtmf-relay', ''), 400);
  assert.equal(refusal('application/dtmf', '12'), 400);
  assert.equal(refusal('application/media_control+xml', '<x/>'), 415);
  assert.equal(refusal(undefined, 'Signal=1'), 415);
  const r = parseDtmfInfo('text/plain', 'hi');
  assert.ok(r.kind === 'refused' && r.headers['Accept'] === 'application/dtmf-relay, application/dtmf');
});

test('conference menu keys: * then one key within the timeout; anything else is no command', () => {
  const keys = new MenuKeys();
  assert.equal(keys.press('6', 0).command, undefined);
  assert.equal(keys.press('*', 0).command, undefined);
  assert.equal(keys.press('6', 100).command, 'toggle-mute');
  assert.equal(keys.press('6', 200).command, undefined, 'the star was used up');
  keys.press('*', 1000);
  assert.equal(keys.press('6', 1000 + MENU_TIMEOUT_MS + 1).command, undefined, 'too late');
  keys.press('*', 0);
  assert.deepEqual(keys.press('9', 1), { command: undefined, sequence: '*9' });
  keys.press('*', 0);
  keys.press('*', 10);
  assert.equal(keys.press('6', 20).command, 'toggle-mute', 'a second star restarts the command');
});

test('two-party call: INFO keys are answered 200 and relayed to the other party in order, both ways', async () => {
  const alice = await registered('alice');
  const bob = await registered('bob');
  const call = await alice.ua.invite('sip:bob@127.0.0.1', webrtcLikeOffer());
  assert.equal(call.final.status, 200);
  const aliceDialog = call.dialog!;
  const bobDialog = [...bob.ua.dialogs.values()][0]!;

  // Sent back to back, without waiting for the answers: they arrive in the order typed.
  const typed = '159*#0';
  const answers = await Promise.all([...typed].map((d) => key(aliceDialog, d)));
  assert.deepEqual(
    answers.map((a) => a.final.status),
    [...typed].map(() => 200),
  );
  await waitFor(
    () => bob.infos.length === typed.length,
    "bob's INFOs",
    8000,
    () => signals(bob.infos),
  );
  assert.equal(signals(bob.infos), typed);
  assert.equal(bob.infos[0]!.get('Content-Type'), 'application/dtmf-relay');
  assert.match(bob.infos[0]!.body.toString(), /^Signal=1\r\nDuration=160\r\n$/);

  // application/dtmf from bob reaches alice as dtmf-relay.
  assert.equal((await key(bobDialog, '7', 'application/dtmf')).final.status, 200);
  await waitFor(() => alice.infos.length === 1, "alice's INFO");
  assert.equal(signals(alice.infos), '7');

  // A keep-alive INFO is 200 and relays nothing; broken bodies are refused with a reason, the call stays.
  assert.equal((await aliceDialog.request('INFO')).final.status, 200);
  const bad = await aliceDialog.request('INFO', { body: 'Signal=Z\r\n', contentType: 'application/dtmf-relay' });
  assert.equal(bad.final.status, 400);
  assert.match(bad.final.reason, /Signal/);
  const noSignal = await aliceDialog.request('INFO', { body: 'Duration=10', contentType: 'application/dtmf-relay' });
  assert.equal(noSignal.final.status, 400);
  const other = await aliceDialog.request('INFO', { body: '<x/>', contentType: 'application/media_control+xml' });
  assert.equal(other.final.status, 415);
  assert.equal(other.final.get('Accept'), 'application/dtmf-relay, application/dtmf');
  assert.equal((await key(aliceDialog, '2')).final.status, 200, 'the call still relays keys');
  await waitFor(() => bob.infos.length === typed.length + 1, "bob's last INFO");
  assert.equal(signals(bob.infos), `${typed}2`);
  assert.equal(stack.focus.calls.length, 1);

  await aliceDialog.bye();
  await waitFor(() => stack.focus.calls.length === 0, 'call over');
});

test('conference: *6 toggles the member’s own mute in the roster; keys are relayed to nobody', async () => {
  const alice = await registered('alice');
  const bob = await registered('bob');
  const created = await alice.ua.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
  assert.equal(created.final.status, 200);
  const uri = /^<([^>]+)>;isfocus$/.exec(created.final.get('Contact')!)![1]!;
  const aliceDialog = created.dialog!;
  const bobJoin = await bob.ua.invite(uri, webrtcLikeOffer());
  assert.equal(bobJoin.final.status, 200);
  const session = stack.focus.conferences.sessions.find((s) => s.conference.uri === uri)!;
  const aliceInRoster = () => session.conference.participants.find((p) => p.entity === 'sip:alice@127.0.0.1');
  await waitFor(() => session.conference.participants.filter((p) => p.status === 'connected').length === 2, 'both in');

  for (const d of '*6') assert.equal((await key(aliceDialog, d)).final.status, 200);
  await waitFor(() => aliceInRoster()?.mutedByFocus === true, 'alice muted');
  assert.equal(aliceInRoster()!.mutedBy, 'sip:alice@127.0.0.1');
  assert.equal(aliceInRoster()!.endpointStatus, 'muted-via-focus');
  assert.equal(session.member(aliceInRoster()!.id)!.leg.mutedByFocus, true, 'her leg is no longer forwarded');

  for (const d of '*6') assert.equal((await key(aliceDialog, d, 'application/dtmf')).final.status, 200);
  await waitFor(() => aliceInRoster()?.mutedByFocus === false, 'alice unmuted');
  assert.equal(session.member(aliceInRoster()!.id)!.leg.mutedByFocus, false);

  // A moderator's mute is not undone by *6.
  const aliceId = aliceInRoster()!.id;
  await stack.focus.conferences.mute(session.conference, aliceId, { user: 'admin', uri: 'sip:admin@127.0.0.1' });
  for (const d of '*6') await key(aliceDialog, d);
  // The next key after the command has been handled (commands of a member run in order).
  await key(aliceDialog, '1');
  assert.equal(aliceInRoster()!.mutedByFocus, true);
  assert.equal(aliceInRoster()!.mutedBy, 'sip:admin@127.0.0.1');

  // Malformed INFO in a conference dialog: 400, the member stays.
  const bad = await aliceDialog.request('INFO', { body: 'Signal=\r\n', contentType: 'application/dtmf-relay' });
  assert.equal(bad.final.status, 400);
  assert.equal(aliceInRoster()?.status, 'connected');
  assert.equal(bob.infos.length, 0, 'no key reached bob');
  assert.equal(alice.infos.length, 0);

  await bobJoin.dialog!.bye();
  await aliceDialog.bye();
  await waitFor(() => stack.focus.conferences.registry.size === 0, 'conference over');
});

test("a call's party moved into a conference: its keys become menu commands, no longer relayed", async () => {
  const alice = await registered('alice');
  const bob = await registered('bob');
  const call = await alice.ua.invite('sip:bob@127.0.0.1', webrtcLikeOffer());
  assert.equal(call.final.status, 200);
  const bobCall = [...bob.ua.dialogs.values()][0]!;
  assert.equal((await key(bobCall, '4')).final.status, 200);
  await waitFor(() => alice.infos.length === 1, 'relayed while in the call');

  const conf = await alice.ua.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
  assert.equal(conf.final.status, 200);
  const confUri = /<([^>]+)>;isfocus/.exec(conf.final.get('Contact')!)![1]!;
  const refer = await call.dialog!.request('REFER', {
    headers: { 'Refer-To': `<${confUri}>`, 'Referred-By': '<sip:alice@127.0.0.1>' },
  });
  assert.equal(refer.final.status, 202);
  const conference = stack.focus.conferences.registry.findByUri(confUri)!;
  const bobInRoster = () => conference.participants.find((p) => p.entity === 'sip:bob@127.0.0.1');
  await waitFor(() => bobInRoster()?.status === 'connected', 'bob moved into the conference');

  // The same dialog now belongs to the conference: *6 mutes bob there; alice's old call gets nothing.
  for (const d of '*6') assert.equal((await key(bobCall, d)).final.status, 200);
  await waitFor(() => bobInRoster()?.mutedByFocus === true, 'bob muted by his own *6');
  assert.equal(bobInRoster()!.mutedBy, 'sip:bob@127.0.0.1');
  assert.equal(alice.infos.length, 1, 'nothing relayed after the hand-over');

  await call.dialog!.bye();
  await bobCall.bye();
  await conf.dialog!.bye();
  await waitFor(() => stack.focus.conferences.registry.size === 0 && stack.focus.calls.length === 0, 'all over');
});
