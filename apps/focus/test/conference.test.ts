/**
 * The conference focus at the SIP level, over real sockets with real mediasoup legs: factory,
 * dial-in, the conference event package (full then partial NOTIFYs, versions, refresh after a gap,
 * schema-valid documents), REFER to the focus (dial-out, removal), refusals, and a 10-party conference.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyNotification, parse, type ConferenceInfo } from '@conclave/conference-info';
import { validateDocuments } from '@conclave/conference-info/test-support';
import { webrtcLikeOffer, answerFor, type SipTestUa, type SipTestDialog } from '@conclave/sip-test-ua';
import type { SipRequest } from '@conclave/sip-message';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

let stack: TestStack;
const documents: string[] = [];

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
  // Every conference-info document the focus sent in these tests is valid against RFC 4575's schema.
  const results = validateDocuments(documents);
  const invalid = results.filter((r) => !r.valid);
  assert.equal(invalid.length, 0, `invalid documents: ${JSON.stringify(invalid.slice(0, 3))}`);
  console.log(`# ${documents.length} conference-info documents validated against the RFC 4575 schema`);
});

async function registered(user: string): Promise<SipTestUa> {
  const ua = await stack.ua(user);
  assert.equal((await ua.register()).final.status, 200);
  // Calls from the focus (dial-out) are answered like a browser would.
  ua.on('request', (incoming) => {
    if (incoming.request.method === 'INVITE' && !ua.dialogs.has(incoming.request.callId)) {
      ua.acceptInvite(incoming, answerFor(incoming.request.body.toString()));
    } else incoming.respond(200);
  });
  return ua;
}

/** A subscriber's view of the roster, built only from NOTIFYs (as the web page does). */
class RosterWatcher {
  state: ConferenceInfo | undefined;
  readonly outcomes: string[] = [];
  readonly ua: SipTestUa;
  readonly callId: string;
  #seen = 0;
  constructor(ua: SipTestUa, callId: string) {
    this.ua = ua;
    this.callId = callId;
  }
  notifies(): SipRequest[] {
    return this.ua.requestsFor(this.callId, 'NOTIFY');
  }
  /** Applies the NOTIFYs received since last time (optionally dropping some, to force a gap). */
  pump(drop: (n: number) => boolean = () => false): void {
    const all = this.notifies();
    for (; this.#seen < all.length; this.#seen++) {
      const body = all[this.#seen]!.body.toString();
      documents.push(body);
      if (drop(this.#seen)) continue;
      const outcome = applyNotification(this.state, parse(body));
      this.outcomes.push(outcome.result);
      if (outcome.result !== 'version-gap' && outcome.result !== 'stale') this.state = outcome.state;
    }
  }
  entities(): string[] {
    return (this.state?.users?.entries ?? [])
      .filter((u) => u.state !== 'deleted')
      .map((u) => u.entity)
      .sort();
  }
  statusOf(entity: string): string | undefined {
    return this.state?.users?.entries.find((u) => u.entity === entity)?.endpoints[0]?.status;
  }
  async until(predicate: (w: RosterWatcher) => boolean, what: string): Promise<void> {
    await waitFor(() => {
      this.pump();
      return predicate(this);
    }, what);
  }
}

async function createConference(creator: SipTestUa): Promise<{ uri: string; dialog: SipTestDialog }> {
  const r = await creator.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
  assert.equal(r.final.status, 200, `factory INVITE answered ${r.final.status} ${r.final.reason}`);
  const contact = r.final.get('Contact')!;
  const m = /^<(sip:conf-[a-z2-7]+@127\.0\.0\.1:\d+)>;isfocus$/.exec(contact);
  assert.ok(m, `Contact is the conference URI with ;isfocus: ${contact}`);
  return { uri: m[1]!, dialog: r.dialog! };
}

async function watch(ua: SipTestUa, uri: string): Promise<RosterWatcher> {
  const s = await ua.subscribe(uri, 'conference');
  assert.equal(s.final.status, 202, `SUBSCRIBE answered ${s.final.status} ${s.final.reason}`);
  assert.match(s.final.get('Contact') ?? '', /;isfocus/);
  return new RosterWatcher(ua, s.request.callId);
}

test('factory INVITE creates a conference with an unguessable URI; dial-ins and the roster follow', async () => {
  const alice = await registered('alice');
  const bob = await registered('bob');
  const { uri, dialog: aliceDialog } = await createConference(alice);
  const token = /conf-([a-z2-7]+)@/.exec(uri)![1]!;
  assert.ok(token.length * 5 >= 128, `token carries at least 128 bits (${token.length} base32 chars)`);

  const aliceRoster = await watch(alice, uri);
  await aliceRoster.until((w) => w.entities().includes('sip:alice@127.0.0.1'), 'alice in her roster');
  const first = parse(aliceRoster.notifies()[0]!.body.toString());
  assert.equal(first.state, 'full');
  assert.equal(aliceRoster.notifies()[0]!.get('Event'), 'conference');
  assert.match(aliceRoster.notifies()[0]!.get('Subscription-State')!, /^active;expires=\d+$/);
  assert.equal(aliceRoster.notifies()[0]!.get('Content-Type'), 'application/conference-info+xml');

  const bobJoin = await bob.invite(uri, webrtcLikeOffer());
  assert.equal(bobJoin.final.status, 200);
  assert.match(bobJoin.final.get('Contact')!, /;isfocus$/);
  await aliceRoster.until((w) => w.statusOf('sip:bob@127.0.0.1') === 'connected', 'bob connected in alice roster');
  // Partial documents after the first, each version exactly one more.
  const versions = aliceRoster.notifies().map((n) => parse(n.body.toString()).version);
  versions.forEach((v, i) => i > 0 && assert.equal(v, versions[i - 1]! + 1));
  assert.ok(
    aliceRoster
      .notifies()
      .slice(1)
      .some((n) => parse(n.body.toString()).state === 'partial'),
  );
  // alice's leg was re-offered to receive bob (and the re-INVITE kept the ;isfocus Contact).
  await waitFor(() => aliceDialog.reinvites.length > 0, 'a re-offer to alice');
  assert.match(aliceDialog.reinvites.at(-1)!.get('Contact')!, /;isfocus/);
  // Her own m-line 0 now also carries bob's audio (sendrecv), as in a two-party call.
  assert.match(aliceDialog.reinvites.at(-1)!.body.toString(), /^m=audio [1-9]\d* [\s\S]*a=sendrecv/m);

  // bob leaves; the roster says so; alice leaves last and the conference ends with a final NOTIFY.
  await bobJoin.dialog!.bye();
  await aliceRoster.until(
    (w) => !w.entities().includes('sip:bob@127.0.0.1') || w.statusOf('sip:bob@127.0.0.1') === 'disconnected',
    'bob gone',
  );
  await aliceDialog.bye();
  await waitFor(
    () => aliceRoster.notifies().some((n) => /^terminated/.test(n.get('Subscription-State') ?? '')),
    'final NOTIFY',
  );
  assert.equal(stack.focus.conferences.registry.size, 0);
});

test('subscriptions: wrong event 489, strangers 403, admins allowed, unknown conference 404', async () => {
  const alice = await registered('alice');
  const { uri, dialog } = await createConference(alice);
  const presence = await alice.subscribe(uri, 'presence');
  assert.equal(presence.final.status, 489);
  assert.match(presence.final.get('Allow-Events') ?? '', /conference/);
  const carol = await stack.ua('carol');
  assert.equal((await carol.subscribe(uri, 'conference')).final.status, 403);
  const admin = await stack.ua('admin');
  const adminWatch = await watch(admin, uri);
  await adminWatch.until((w) => w.entities().length === 1, 'admin sees alice');
  assert.equal(
    (await alice.subscribe('sip:conf-aaaaaaaaaaaaaaaaaaaaaaaaaa@127.0.0.1', 'conference')).final.status,
    404,
  );
  await dialog.bye();
});

test('a version gap is detected and a re-SUBSCRIBE brings the full state back', async () => {
  const alice = await registered('alice');
  const bob = await registered('bob');
  const carol = await registered('carol');
  const { uri, dialog } = await createConference(alice);
  const w = await watch(alice, uri);
  await w.until((x) => x.entities().length === 1, 'first state');
  const bobJoin = await bob.invite(uri, webrtcLikeOffer());
  await waitFor(() => w.notifies().length >= 2, 'a partial NOTIFY');
  // Lose that NOTIFY on purpose, then let another change arrive: the next one does not follow on.
  const lost = w.notifies().length - 1;
  const carolJoin = await carol.invite(uri, webrtcLikeOffer());
  await waitFor(() => w.notifies().length > lost + 1, 'the next NOTIFY');
  w.pump((n) => n === lost);
  assert.ok(w.outcomes.includes('version-gap'), `outcomes: ${w.outcomes.join(',')}`);
  // Re-SUBSCRIBE (refresh in the subscription dialog): the focus answers with the full state.
  const subDialog = alice.dialogs.get(w.callId)!;
  const refresh = await subDialog.request('SUBSCRIBE', { headers: { Event: 'conference', Expires: '600' } });
  assert.equal(refresh.final.status, 200);
  await w.until((x) => x.outcomes.at(-1) === 'full-replaced' && x.entities().length === 3, 'full state after refresh');
  await Promise.all([bobJoin.dialog!.bye(), carolJoin.dialog!.bye()]);
  await dialog.bye();
});

test('REFER to the focus: dial-out with sipfrag progress, removal by the creator only, bad REFERs refused', async () => {
  const alice = await registered('alice');
  const bob = await registered('bob');
  const carol = await registered('carol');
  const { uri, dialog } = await createConference(alice);
  const w = await watch(alice, uri);
  // No Refer-To: 400.
  assert.equal((await dialog.request('REFER')).final.status, 400);
  // Dial-out: the focus calls bob.
  const refer = await dialog.request('REFER', {
    headers: { 'Refer-To': '<sip:bob@127.0.0.1>', 'Referred-By': '<sip:alice@127.0.0.1>' },
  });
  assert.equal(refer.final.status, 202);
  await waitFor(
    () => alice.requestsFor(dialog.callId, 'NOTIFY').some((n) => /200 OK/.test(n.body.toString())),
    'sipfrag 200',
  );
  const sipfrags = alice
    .requestsFor(dialog.callId, 'NOTIFY')
    .map((n) => [n.body.toString().trim(), n.get('Subscription-State')]);
  assert.deepEqual(sipfrags[0], ['SIP/2.0 100 Trying', 'active;expires=60']);
  assert.deepEqual(sipfrags.at(-1), ['SIP/2.0 200 OK', 'terminated;reason=noresource']);
  assert.match(alice.requestsFor(dialog.callId, 'NOTIFY')[0]!.get('Content-Type')!, /^message\/sipfrag/);
  await w.until((x) => x.statusOf('sip:bob@127.0.0.1') === 'connected', 'bob dialed out and connected');
  const bobEndpoint = w.state!.users!.entries.find((u) => u.entity === 'sip:bob@127.0.0.1')!.endpoints[0]!;
  assert.equal(bobEndpoint.joiningMethod, 'dialed-out');
  // The focus's INVITE to bob carried ;isfocus.
  const bobInvite = bob.received.find((m) => m.kind === 'request' && m.method === 'INVITE');
  assert.match(bobInvite!.kind === 'request' ? bobInvite!.get('Contact')! : '', /;isfocus/);

  // carol dials in; bob (not the creator) may not remove her; alice may.
  const carolJoin = await carol.invite(uri, webrtcLikeOffer());
  assert.equal(carolJoin.final.status, 200);
  const bobDialog = [...bob.dialogs.values()].find((d) => d.remoteContactHeader?.includes('isfocus'))!;
  const denied = await bobDialog.request('REFER', { headers: { 'Refer-To': '<sip:carol@127.0.0.1;method=BYE>' } });
  assert.equal(denied.final.status, 403);
  const carolBye = new Promise((ok) => carolJoin.dialog!.once('bye', ok));
  const removal = await dialog.request('REFER', { headers: { 'Refer-To': '<sip:carol@127.0.0.1;method=BYE>' } });
  assert.equal(removal.final.status, 202);
  await carolBye;
  await w.until(
    (x) => x.entities().length === 2 || x.statusOf('sip:carol@127.0.0.1') === 'disconnected',
    'carol removed',
  );
  // REFER outside a dialog for a conference that does not exist.
  const ghost = await alice.send('REFER', 'sip:conf-zzzzzzzzzzzzzzzzzzzzzzzzzz@127.0.0.1', {
    headers: { 'Refer-To': '<sip:bob@127.0.0.1>' },
  });
  assert.equal(ghost.final.status, 404);
  await dialog.bye();
  await bobDialog.bye();
  await waitFor(() => stack.focus.conferences.registry.size === 0, 'conference ended');
});

test('a malformed conference-info NOTIFY from a participant is refused and reaches no subscriber', async () => {
  const alice = await registered('alice');
  const bob = await registered('bob');
  const { uri, dialog } = await createConference(alice);
  const w = await watch(alice, uri);
  const bobJoin = await bob.invite(uri, webrtcLikeOffer());
  await w.until((x) => x.entities().length === 2, 'two in the roster');
  await new Promise((r) => setTimeout(r, 300));
  const before = w.notifies().length;
  const bad = await bobJoin.dialog!.request('NOTIFY', {
    headers: { Event: 'conference', 'Subscription-State': 'active', 'Content-Type': 'application/conference-info+xml' },
    body: '<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x" version="999"><users><user entity="sip:mallory@evil">',
  });
  assert.equal(bad.final.status, 481);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(w.notifies().length, before, 'no NOTIFY reached the subscriber');
  assert.ok(!w.notifies().some((n) => n.body.toString().includes('mallory')));
  await bobJoin.dialog!.bye();
  await dialog.bye();
});

test('moderation: mute shows muted-via-focus and pauses the media, kick sends BYE, end closes everything', async () => {
  const alice = await registered('alice');
  const bob = await registered('bob');
  const carol = await registered('carol');
  const { uri, dialog } = await createConference(alice);
  const w = await watch(alice, uri);
  const bobJoin = await bob.invite(uri, webrtcLikeOffer());
  const carolJoin = await carol.invite(uri, webrtcLikeOffer());
  await w.until((x) => x.entities().length === 3, 'three in the roster');
  const focus = stack.focus.conferences;
  const conference = focus.registry.findByUri(uri)!;
  const actor = { user: 'admin', uri: 'sip:admin@127.0.0.1' };
  const pid = (entity: string) => conference.participants.find((p) => p.entity === entity)!.id;

  await focus.mute(conference, pid('sip:bob@127.0.0.1'), actor);
  await w.until((x) => x.statusOf('sip:bob@127.0.0.1') === 'muted-via-focus', 'bob muted in the roster');
  assert.equal(
    focus.sessionFor(uri)!.member(pid('sip:bob@127.0.0.1'))!.leg.mutedByFocus,
    true,
    'media paused at the router',
  );
  await focus.unmute(conference, pid('sip:bob@127.0.0.1'), actor);
  await w.until((x) => x.statusOf('sip:bob@127.0.0.1') === 'connected', 'bob unmuted');

  const carolBye = new Promise((ok) => carolJoin.dialog!.once('bye', ok));
  await focus.kick(conference, pid('sip:carol@127.0.0.1'), actor);
  await carolBye;
  await w.until((x) => x.entities().filter((e) => x.statusOf(e) === 'connected').length === 2, 'carol gone');
  const carolUser = w.state!.users!.entries.find((u) => u.entity === 'sip:carol@127.0.0.1');
  if (carolUser) assert.equal(carolUser.endpoints[0]!.disconnectionMethod, 'booted');

  const byes = [new Promise((ok) => dialog.once('bye', ok)), new Promise((ok) => bobJoin.dialog!.once('bye', ok))];
  await focus.end(conference, actor);
  await Promise.all(byes);
  await waitFor(() => w.notifies().some((n) => /^terminated/.test(n.get('Subscription-State') ?? '')), 'final NOTIFY');
  await waitFor(() => focus.registry.size === 0, 'conference removed');
});

test('locked conferences refuse dial-ins with 403; unknown conferences 404', async () => {
  const alice = await registered('alice');
  const dave = await registered('dave');
  const { uri, dialog } = await createConference(alice);
  const conference = stack.focus.conferences.registry.findByUri(uri)!;
  await stack.focus.conferences.lock(conference, { user: 'admin', uri: 'sip:admin@127.0.0.1' });
  const refused = await dave.invite(uri, webrtcLikeOffer());
  assert.equal(refused.final.status, 403);
  assert.match(refused.final.reason, /locked/);
  assert.equal(
    (await dave.invite('sip:conf-bbbbbbbbbbbbbbbbbbbbbbbbbb@127.0.0.1', webrtcLikeOffer())).final.status,
    404,
  );
  await dialog.bye();
});

test('ten participants: every member is re-offered everyone, the roster holds ten', async () => {
  const users = ['alice', 'bob', 'carol', 'dave', 'erin'];
  const creator = await registered('alice');
  const { uri, dialog } = await createConference(creator);
  const w = await watch(creator, uri);
  const joins: SipTestDialog[] = [dialog];
  // Nine more endpoints (users may join from several devices).
  for (let i = 1; i < 10; i++) {
    const ua = await stack.ua(users[i % users.length]!);
    const r = await ua.invite(uri, webrtcLikeOffer());
    assert.equal(r.final.status, 200, `participant ${i} joined`);
    joins.push(r.dialog!);
  }
  const conference = stack.focus.conferences.registry.findByUri(uri)!;
  assert.equal(conference.size, 10);
  await w.until(
    (x) =>
      (x.state?.users?.entries.flatMap((u) => u.endpoints).filter((e) => e.status === 'connected').length ?? 0) === 10,
    'ten connected endpoints',
  );
  // The creator's offers now carry all nine others: one on its own m-line 0, eight on added lines.
  await waitFor(
    () =>
      (
        dialog.reinvites
          .at(-1)
          ?.body.toString()
          .match(/^m=audio [1-9]/gm) ?? []
      ).length === 9,
    'creator offered all nine others',
  ).catch((e) => {
    console.log(
      'reinvites',
      dialog.reinvites.length,
      dialog.reinvites.map((r) => (r.body.toString().match(/^m=audio \d+/gm) ?? []).join('|')),
    );
    throw e;
  });
  for (const d of joins) await d.bye();
  await waitFor(() => stack.focus.conferences.registry.size === 0, 'conference ended');
});
