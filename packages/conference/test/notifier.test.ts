import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyNotification, equivalent, parse, type ConferenceInfo } from '@conclave/conference-info';
import { SchemaValidator } from '@conclave/conference-info/test-support';
import {
  ConferenceError,
  ConferenceNotifier,
  SubscriptionVersioning,
  type NotificationDocument,
  type NotifyEvent,
} from '../src/index.ts';
import { newConference } from './support.ts';

const validator = new SchemaValidator();

/** A subscriber as a phone would be: parses each body and applies it (RFC 4575 section 4.6). */
class Subscriber {
  state: ConferenceInfo | undefined;
  readonly results: string[] = [];
  receive(document: NotificationDocument): void {
    validator.record(document.body);
    assert.equal(document.contentType, 'application/conference-info+xml');
    const outcome = applyNotification(this.state, parse(document.body));
    this.results.push(outcome.result);
    this.state = outcome.state;
  }
}

test('SubscriptionVersioning: full first, then partial documents, version exactly +1 each', () => {
  const c = newConference();
  const versioning = new SubscriptionVersioning();
  const subscriber = new Subscriber();
  const first = versioning.next(c.toConferenceInfo())!;
  assert.equal(first.version, 0);
  assert.equal(first.state, 'full');
  subscriber.receive(first);

  const a = c.join({ entity: 'sip:a@x', media: [{ id: '0', type: 'audio', status: 'sendrecv' }] });
  const second = versioning.next(c.toConferenceInfo())!;
  assert.deepEqual([second.version, second.state], [1, 'partial']);
  subscriber.receive(second);

  assert.equal(versioning.next(c.toConferenceInfo()), undefined, 'nothing changed, nothing sent');
  assert.equal(versioning.version, 1, 'and the version did not move');

  c.mute(a.id);
  const third = versioning.next(c.toConferenceInfo())!;
  assert.deepEqual([third.version, third.state], [2, 'partial']);
  assert.match(third.body, /<status>muted-via-focus<\/status>/);
  assert.ok(!third.body.includes('<joining-method>'), 'only what changed');
  subscriber.receive(third);

  versioning.resync();
  const fourth = versioning.next(c.toConferenceInfo())!;
  assert.deepEqual([fourth.version, fourth.state], [3, 'full']);
  subscriber.receive(fourth);
  const fifth = versioning.full(c.toConferenceInfo());
  assert.deepEqual([fifth.version, fifth.state], [4, 'full']);
  subscriber.receive(fifth);

  assert.deepEqual(subscriber.results, ['full-replaced', 'applied', 'applied', 'full-replaced', 'full-replaced']);
  assert.ok(equivalent(subscriber.state!, c.toConferenceInfo()));
});

test('SubscriptionVersioning options: initial version, full-only, exhausted counter', () => {
  const c = newConference();
  const v = new SubscriptionVersioning({ initialVersion: 41, fullOnly: true, serialize: { pretty: false } });
  assert.equal(validator.record(v.next(c.toConferenceInfo())!.body) && v.version, 41);
  assert.equal(v.next(c.toConferenceInfo()), undefined);
  c.lock();
  const doc = v.next(c.toConferenceInfo())!;
  assert.deepEqual([doc.version, doc.state], [42, 'full']);
  assert.ok(!doc.body.includes('\n  <'));
  validator.record(doc.body);

  const last = new SubscriptionVersioning({ initialVersion: 4294967295 });
  const lastDoc = last.next(c.toConferenceInfo())!;
  assert.equal(lastDoc.version, 4294967295);
  validator.record(lastDoc.body);
  c.unlock();
  assert.throws(
    () => last.next(c.toConferenceInfo()),
    (e: unknown) => e instanceof ConferenceError && e.code === 'invalid-state',
  );
  assert.throws(() => new SubscriptionVersioning({ initialVersion: -1 }), ConferenceError);
});

test('property: a subscriber fed with every document always holds the conference state', (t) => {
  const c = newConference({ maxParticipants: 12 });
  const versioning = new SubscriptionVersioning();
  const subscriber = new Subscriber();
  subscriber.receive(versioning.next(c.toConferenceInfo())!);
  let seed = 7;
  const rnd = (): number => ((seed = (Math.imul(seed, 48271) + 11) % 2147483647) >>> 0) / 2147483647;
  const ids = (): string[] => c.participants.map((p) => p.id);
  const pick = (): string | undefined => ids()[Math.floor(rnd() * ids().length)];
  let sent = 0;
  for (let step = 0; step < 300; step++) {
    const r = rnd();
    const id = pick();
    try {
      if (r < 0.2 || id === undefined)
        c.join({
          entity: `sip:u${Math.floor(rnd() * 6)}@example.com`,
          displayName: rnd() < 0.5 ? `User ${step}` : undefined,
          media: [{ id: '0', type: 'audio', status: 'sendrecv' }],
        });
      else if (r < 0.3) c.leave(id, (['departed', 'booted', 'failed'] as const)[Math.floor(rnd() * 3)]);
      else if (r < 0.4) c.hold(id);
      else if (r < 0.5) c.resume(id);
      else if (r < 0.6) c.mute(id);
      else if (r < 0.65) c.unmute(id);
      else if (r < 0.8) c.setSpeaker(rnd() < 0.2 ? undefined : id);
      else if (r < 0.85)
        c.setMedia(id, [
          { id: '0', type: 'audio', status: rnd() < 0.5 ? 'sendonly' : 'sendrecv' },
          ...(rnd() < 0.5 ? [{ id: '1', type: 'video', status: 'sendrecv' as const }] : []),
        ]);
      else if (r < 0.9) {
        if (c.locked) c.unlock();
        else c.lock();
      } else if (r < 0.95) c.setSubject(rnd() < 0.3 ? undefined : `Subject ${step}`);
      else c.setDisplayName(id, rnd() < 0.3 ? undefined : `Name ${step}`);
    } catch (error) {
      assert.ok(error instanceof ConferenceError && (error.code === 'full' || error.code === 'locked'), String(error));
    }
    const doc = versioning.next(c.toConferenceInfo());
    if (!doc) continue;
    subscriber.receive(doc);
    sent++;
    assert.equal(subscriber.state?.version, doc.version);
    assert.ok(equivalent(subscriber.state, c.toConferenceInfo()), `diverged at step ${step}`);
  }
  t.diagnostic(`${sent} documents sent for 300 random operations`);
  assert.ok(sent > 120, `only ${sent} documents`);
  assert.ok(subscriber.results.slice(1).filter((r) => r === 'applied').length > sent * 0.7, 'mostly partial documents');
  assert.ok(subscriber.results.every((r) => r === 'applied' || r === 'full-replaced'));
});

test('ConferenceNotifier: per-subscriber sequences, one notify per change, refresh, unsubscribe', () => {
  const c = newConference();
  const notifier = new ConferenceNotifier(c);
  const subscribers = new Map<string, Subscriber>();
  const events: NotifyEvent[] = [];
  notifier.on('notify', (e) => {
    events.push(e);
    subscribers.get(e.subscriberId)!.receive(e.document);
  });
  const subscribe = (id: string): void => {
    subscribers.set(id, new Subscriber());
    subscribers.get(id)!.receive(notifier.subscribe(id));
  };
  subscribe('alice-dialog');
  const a = c.join({ entity: 'sip:a@x' });
  subscribe('bob-dialog');
  c.batch(() => {
    c.join({ entity: 'sip:b@x' });
    c.mute(a.id);
    c.lock();
  });
  assert.deepEqual(
    events.map((e) => [e.subscriberId, e.document.version, e.document.state]),
    [
      ['alice-dialog', 1, 'partial'],
      ['alice-dialog', 2, 'partial'],
      ['bob-dialog', 1, 'partial'],
    ],
  );
  assert.throws(
    () => notifier.subscribe('bob-dialog'),
    (e: unknown) => e instanceof ConferenceError && e.code === 'duplicate',
  );
  const refreshed = notifier.refresh('bob-dialog');
  assert.deepEqual([refreshed.version, refreshed.state], [2, 'full']);
  subscribers.get('bob-dialog')!.receive(refreshed);
  assert.throws(
    () => notifier.refresh('nobody'),
    (e: unknown) => e instanceof ConferenceError && e.code === 'not-found',
  );
  assert.equal(notifier.unsubscribe('alice-dialog'), true);
  assert.equal(notifier.unsubscribe('alice-dialog'), false);
  events.length = 0;
  c.unlock();
  assert.deepEqual(
    events.map((e) => [e.subscriberId, e.document.version]),
    [['bob-dialog', 3]],
  );
  for (const s of subscribers.values()) assert.ok(s.results.every((r) => r !== 'version-gap' && r !== 'stale'));
  assert.ok(equivalent(subscribers.get('bob-dialog')!.state!, c.toConferenceInfo()));
  notifier.close();
  assert.equal(notifier.closed, true);
  assert.equal(c.listenerCount('changed'), 0, 'detached from the conference');
});

test('ConferenceNotifier: when the conference ends every subscriber gets a final full document', () => {
  const c = newConference();
  const notifier = new ConferenceNotifier(c, { document: { includeDeparted: true } });
  const events: NotifyEvent[] = [];
  notifier.on('notify', (e) => events.push(e));
  notifier.subscribe('s1');
  const a = c.join({ entity: 'sip:a@x' });
  events.length = 0;
  c.end('done');
  assert.equal(events.length, 1);
  const final = events[0]!;
  assert.equal(final.final, true);
  assert.equal(final.document.state, 'full');
  assert.equal(final.document.version, 2);
  validator.record(final.document.body);
  const info = parse(final.document.body);
  assert.equal(info.conferenceState?.active, false);
  const endpoint = info.users?.entries[0]?.endpoints[0];
  assert.equal(endpoint?.entity, `sip:a@x;participant=${a.id}`);
  assert.equal(endpoint?.status, 'disconnected');
  assert.equal(endpoint?.disconnectionMethod, 'booted');
  assert.equal(notifier.closed, true);
  assert.throws(
    () => notifier.subscribe('late'),
    (e: unknown) => e instanceof ConferenceError && e.code === 'ended',
  );
});

test('ConferenceNotifier rate limit: changes inside the interval are coalesced into one partial document', () => {
  let now = 1_000_000;
  const pending: { at: number; callback: () => void; cancelled: boolean }[] = [];
  const timers = {
    setTimeout: (callback: () => void, ms: number) => {
      const timer = { at: now + ms, callback, cancelled: false };
      pending.push(timer);
      return timer;
    },
    clearTimeout: (handle: unknown) => void ((handle as { cancelled: boolean }).cancelled = true),
  };
  const advance = (ms: number): void => {
    now += ms;
    for (const timer of pending.splice(0)) {
      if (timer.cancelled) continue;
      if (timer.at <= now) timer.callback();
      else pending.push(timer);
    }
  };
  const c = newConference();
  const notifier = new ConferenceNotifier(c, { minIntervalMs: 1000, now: () => now, timers });
  const subscriber = new Subscriber();
  const sent: number[] = [];
  notifier.on('notify', (e) => {
    sent.push(now);
    subscriber.receive(e.document);
  });
  subscriber.receive(notifier.subscribe('s'));
  const a = c.join({ entity: 'sip:a@x' });
  const b = c.join({ entity: 'sip:b@x' });
  c.setSpeaker(a.id);
  c.setSpeaker(b.id);
  assert.deepEqual(sent, [], 'within 1 s of the initial NOTIFY: nothing yet');
  assert.equal(pending.filter((t) => !t.cancelled).length, 1, 'one timer per subscriber');
  advance(999);
  assert.deepEqual(sent, []);
  advance(1);
  assert.deepEqual(sent, [1_001_000], 'one coalesced document');
  assert.equal(subscriber.state?.version, 1);
  assert.ok(equivalent(subscriber.state, c.toConferenceInfo()));
  advance(5000);
  c.setSpeaker(a.id);
  assert.deepEqual(sent, [1_001_000, 1_006_000], 'after the interval a change goes at once');
  c.hold(b.id);
  c.resume(b.id);
  advance(1000);
  assert.equal(sent.length, 2, 'a change undone inside the interval sends nothing');
  c.lock();
  const refreshed = notifier.refresh('s');
  subscriber.receive(refreshed);
  assert.equal(pending.filter((t) => !t.cancelled).length, 0, 'a refresh cancels the pending partial');
  c.unlock();
  c.end();
  assert.equal(subscriber.results.at(-1), 'full-replaced', 'the final document is not delayed');
  assert.equal(subscriber.state?.conferenceState?.active, false);
  assert.ok(subscriber.results.every((r) => r === 'applied' || r === 'full-replaced'));
  assert.throws(() => new ConferenceNotifier(c, { minIntervalMs: -1 }), ConferenceError);
});

test('every notification body in this file is schema-valid', (t) => {
  const count = validator.pending;
  assert.ok(count > 100);
  assert.deepEqual(validator.validateRecorded(), []);
  t.diagnostic(`${count} documents validated with xmllint`);
});
