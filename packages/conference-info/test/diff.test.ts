import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyNotification,
  diffConferenceInfo,
  ENDPOINT_STATUSES,
  equivalent,
  MEDIA_STATUSES,
  parse,
  serialize,
  type ConferenceInfo,
  type Endpoint,
  type User,
} from '../src/index.ts';
import { SchemaValidator } from './support/xmllint.ts';
import { CONF, endpoint, richDocument, user } from './support/fixtures.ts';

const validator = new SchemaValidator();
const wire = (info: ConferenceInfo): ConferenceInfo => parse(validator.record(serialize(info)));

function clone<T>(v: T): T {
  return structuredClone(v);
}

function state(users: User[], version = 1): ConferenceInfo {
  return {
    entity: CONF,
    state: 'full',
    version,
    conferenceState: { userCount: users.length, active: true, locked: false },
    users: { entries: users },
  };
}

test('no change, no document', () => {
  const a = richDocument(1);
  assert.equal(diffConferenceInfo(a, { ...clone(a), version: 2 }), undefined);
});

test('only the changed endpoint and media are sent, as partial elements', () => {
  const prev = state([user('sip:alice@example.com'), user('sip:bob@example.com')]);
  const next = clone(prev);
  next.version = 2;
  const bobEp = next.users!.entries[1]!.endpoints[0]!;
  bobEp.status = 'on-hold';
  bobEp.media[0]!.status = 'inactive';
  const d = diffConferenceInfo(prev, next);
  assert.deepEqual(d, {
    entity: CONF,
    state: 'partial',
    version: 2,
    users: {
      state: 'partial',
      entries: [
        {
          entity: 'sip:bob@example.com',
          state: 'partial',
          endpoints: [
            {
              entity: 'sip:bob@example.com;ep=1',
              state: 'partial',
              status: 'on-hold',
              media: [{ ...bobEp.media[0]! }],
            },
          ],
        },
      ],
    },
  });
  const xml = validator.record(serialize(d));
  assert.ok(!xml.includes('alice'));
  assert.ok(!xml.includes('conference-state'), 'conference-state only when it changed');
});

test('joins are sent complete, departures as state="deleted", conference-state when it changed', () => {
  const prev = state([user('sip:alice@example.com'), user('sip:bob@example.com')]);
  const next = state([user('sip:alice@example.com'), user('sip:carol@example.com')], 2);
  const d = diffConferenceInfo(prev, next)!;
  assert.equal(d.conferenceState, undefined, 'user-count unchanged (2)');
  assert.deepEqual(d.users, {
    state: 'partial',
    entries: [
      { entity: 'sip:bob@example.com', state: 'deleted', endpoints: [] },
      { ...user('sip:carol@example.com'), state: 'full' },
    ],
  });
  const xml = validator.record(serialize(d));
  assert.match(xml, /<user entity="sip:bob@example.com" state="deleted"\/>/);

  const fewer = state([user('sip:alice@example.com')], 3);
  const d2 = diffConferenceInfo(next, fewer)!;
  assert.deepEqual(d2.conferenceState, { userCount: 1, active: true, locked: false }, 'sent complete');
  validator.record(serialize(d2));
});

test('a removed endpoint is deleted inside a partial user', () => {
  const prev = state([user('sip:alice@example.com', { endpoints: [endpoint('a1'), endpoint('a2')] })]);
  const next = state([user('sip:alice@example.com', { endpoints: [endpoint('a2')] })], 2);
  const d = diffConferenceInfo(prev, next)!;
  assert.deepEqual(d.users?.entries, [
    { entity: 'sip:alice@example.com', state: 'partial', endpoints: [{ entity: 'a1', state: 'deleted', media: [] }] },
  ]);
  validator.record(serialize(d));
});

test('what merging cannot express is sent complete one level up', () => {
  const prev = state([
    user('sip:alice@example.com', {
      endpoints: [
        endpoint('a1', {
          speaking: true,
          media: [
            { id: 'm1', type: 'audio' },
            { id: 'm2', type: 'video' },
          ],
        }),
      ],
    }),
  ]);

  const mediaRemoved = clone(prev);
  mediaRemoved.users!.entries[0]!.endpoints[0]!.media.pop();
  const d1 = diffConferenceInfo(prev, mediaRemoved)!;
  assert.equal(d1.users?.entries[0]?.endpoints[0]?.state, 'full');
  assert.equal(d1.users?.entries[0]?.endpoints[0]?.media.length, 1);

  const fieldRemoved = clone(prev);
  delete fieldRemoved.users!.entries[0]!.endpoints[0]!.speaking;
  assert.equal(diffConferenceInfo(prev, fieldRemoved)!.users?.entries[0]?.endpoints[0]?.state, 'full');

  const userFieldRemoved = clone(prev);
  userFieldRemoved.users!.entries[0]!.roles = [];
  const d3 = diffConferenceInfo(prev, userFieldRemoved)!;
  assert.equal(d3.users?.entries[0]?.state, 'full');

  const subjectRemoved = richDocument(1);
  const noSubject = clone(subjectRemoved);
  delete noSubject.description!.subject;
  const d4 = diffConferenceInfo(subjectRemoved, noSubject)!;
  assert.equal(d4.state, 'full', 'a removed top-level child needs a full document');

  const otherConference = { ...clone(prev), entity: 'sip:other@example.com' };
  assert.equal(diffConferenceInfo(prev, otherConference)!.state, 'full');
  for (const d of [d1, d3, d4]) validator.record(serialize(d));
});

test('the version option overrides next.version', () => {
  const prev = state([user('sip:a@x')]);
  const next = state([], 1);
  assert.equal(diffConferenceInfo(prev, next, { version: 77 })?.version, 77);
});

// --- property test: diff → XML → parse → apply always reproduces the new state ----------------

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(info: ConferenceInfo, rnd: () => number, serial: { n: number }): ConferenceInfo {
  const next = clone(info);
  const users = next.users!.entries;
  const pick = <T>(list: T[]): T | undefined => list[Math.floor(rnd() * list.length)];
  const anyEndpoint = (): Endpoint | undefined => pick(users.flatMap((u) => u.endpoints));
  const changes = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < changes; i++) {
    const r = rnd();
    if (r < 0.12 || users.length === 0) users.push(user(`sip:u${serial.n++}@example.com`));
    else if (r < 0.2) users.splice(Math.floor(rnd() * users.length), 1);
    else if (r < 0.28) pick(users)!.endpoints.push(endpoint(`ep-${serial.n++}`));
    else if (r < 0.34) {
      const u = pick(users)!;
      u.endpoints.splice(Math.floor(rnd() * u.endpoints.length), 1);
    } else if (r < 0.5) {
      const e = anyEndpoint();
      if (e) e.status = pick([...ENDPOINT_STATUSES])!;
    } else if (r < 0.58) {
      const e = anyEndpoint();
      if (e) e.speaking = !e.speaking;
    } else if (r < 0.63) {
      const e = anyEndpoint();
      if (e) delete e.speaking;
    } else if (r < 0.7) {
      const m = pick(anyEndpoint()?.media ?? []);
      if (m) m.status = pick([...MEDIA_STATUSES])!;
    } else if (r < 0.75) anyEndpoint()?.media.push({ id: `m${serial.n++}`, type: 'video', status: 'sendonly' });
    else if (r < 0.8) anyEndpoint()?.media.shift();
    else if (r < 0.86) {
      const u = pick(users)!;
      if (rnd() < 0.3) delete u.displayText;
      else u.displayText = `Name ${serial.n++} <&>`;
    } else if (r < 0.9) {
      const e = anyEndpoint();
      if (e) {
        e.disconnectionMethod = 'booted';
        e.disconnectionInfo = {
          when: new Date(1_700_000_000_000 + serial.n++ * 1000).toISOString(),
          reason: 'test',
          by: 'sip:admin@example.com',
        };
      }
    } else if (r < 0.95) next.conferenceState!.locked = !next.conferenceState!.locked;
    else {
      next.description = rnd() < 0.2 ? undefined : { subject: `Subject ${serial.n++}`, maximumUserCount: 10 };
    }
  }
  next.conferenceState!.userCount = users.length;
  next.version = info.version + 1;
  return next;
}

test('property: for random changes, applying the XML of the diff reproduces the new state', (t) => {
  let documents = 0;
  let partials = 0;
  for (const seed of [1, 2, 3, 4, 5]) {
    const rnd = prng(seed);
    const serial = { n: 0 };
    let focus = state([user('sip:alice@example.com'), user('sip:bob@example.com')], 0);
    let subscriber = applyNotification(undefined, wire(focus)).state;
    documents++;
    for (let step = 0; step < 60; step++) {
      const next = mutate(focus, rnd, serial);
      const d = diffConferenceInfo(focus, next);
      if (d === undefined) {
        assert.ok(equivalent(focus, next), `seed ${seed} step ${step}: no diff for a real change`);
        continue; // nothing sent: the subscriber's version stays, so the next diff must use its version
      }
      // Per-subscription versions: exactly +1 per document sent.
      d.version = subscriber!.version + 1;
      const outcome = applyNotification(subscriber, wire(d));
      documents++;
      if (d.state === 'partial') partials++;
      assert.equal(outcome.result, d.state === 'partial' ? 'applied' : 'full-replaced', `seed ${seed} step ${step}`);
      assert.ok(
        equivalent(outcome.state!, next),
        `seed ${seed} step ${step}: subscriber state diverged\n${JSON.stringify(d, null, 1)}`,
      );
      subscriber = outcome.state;
      focus = next;
    }
  }
  assert.ok(partials > documents / 2, `mostly partial documents expected (${partials}/${documents})`);
  t.diagnostic(`${documents} documents (${partials} partial) applied`);
});

test('every document serialised in this file is schema-valid', (t) => {
  const count = validator.pending;
  assert.ok(count > 200);
  assert.deepEqual(validator.validateRecorded(), []);
  t.diagnostic(`${count} documents validated with xmllint`);
});
