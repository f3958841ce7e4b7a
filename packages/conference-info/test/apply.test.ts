import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyNotification, canonicalize, parse, serialize, type ConferenceInfo } from '../src/index.ts';
import { SchemaValidator } from './support/xmllint.ts';
import { CONF, endpoint, richDocument, user } from './support/fixtures.ts';

const validator = new SchemaValidator();
/** Sends a document over the "wire": serialise (recorded for schema validation) and parse back. */
const wire = (info: ConferenceInfo): ConferenceInfo => parse(validator.record(serialize(info)));

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function base(version = 3): ConferenceInfo {
  return {
    entity: CONF,
    state: 'full',
    version,
    conferenceState: { userCount: 2, active: true, locked: false },
    users: { entries: [user('sip:alice@example.com'), user('sip:bob@example.com')] },
  };
}

function partial(version: number, rest: Partial<ConferenceInfo> = {}): ConferenceInfo {
  return { entity: CONF, state: 'partial', version, ...rest };
}

const usersOf = (info: ConferenceInfo | undefined): string[] => info?.users?.entries.map((u) => u.entity) ?? [];

test('version rules: first full replaces, partial needs exactly local+1, older is stale, a jump is a gap', () => {
  const full = wire(base(3));
  const first = applyNotification(undefined, full);
  assert.equal(first.result, 'full-replaced');
  assert.deepEqual(first.state, canonicalize(full));

  assert.deepEqual(applyNotification(undefined, wire(partial(4))), { state: undefined, result: 'version-gap' });
  assert.equal(applyNotification(first.state, wire(partial(3))).result, 'stale');
  assert.equal(applyNotification(first.state, wire(partial(1))).result, 'stale');
  const gap = applyNotification(first.state, wire(partial(5)));
  assert.equal(gap.result, 'version-gap');
  assert.equal(gap.state, first.state);
  const ok = applyNotification(first.state, wire(partial(4)));
  assert.equal(ok.result, 'applied');
  assert.equal(ok.state?.version, 4);

  // A full document must also be newer; a newer one replaces even after a gap.
  assert.equal(applyNotification(first.state, wire(base(3))).result, 'stale');
  assert.equal(applyNotification(first.state, wire(base(2))).result, 'stale');
  const later = applyNotification(first.state, wire({ ...base(9), users: { entries: [] } }));
  assert.equal(later.result, 'full-replaced');
  assert.deepEqual(usersOf(later.state), []);
});

test('documents about another conference: a partial one is a gap, a full one replaces whatever its version', () => {
  const local = applyNotification(undefined, base(10)).state;
  assert.equal(applyNotification(local, { ...partial(11), entity: 'sip:other@example.com' }).result, 'version-gap');
  const other = applyNotification(local, { ...base(0), entity: 'sip:other@example.com' });
  assert.equal(other.result, 'full-replaced');
  assert.equal(other.state?.entity, 'sip:other@example.com');
});

test('deleted users and endpoints are removed; a deleted users element empties the list', () => {
  const local = applyNotification(undefined, base(1)).state;
  const doc = wire(
    partial(2, {
      users: { state: 'partial', entries: [{ entity: 'sip:bob@example.com', state: 'deleted', endpoints: [] }] },
    }),
  );
  const afterUserDelete = applyNotification(local, doc).state;
  assert.deepEqual(usersOf(afterUserDelete), ['sip:alice@example.com']);

  const twoEndpoints = applyNotification(undefined, {
    ...base(1),
    users: { entries: [user('sip:alice@example.com', { endpoints: [endpoint('a1'), endpoint('a2')] })] },
  }).state;
  const epDelete = wire(
    partial(2, {
      users: {
        state: 'partial',
        entries: [
          {
            entity: 'sip:alice@example.com',
            state: 'partial',
            endpoints: [{ entity: 'a1', state: 'deleted', media: [] }],
          },
        ],
      },
    }),
  );
  const afterEpDelete = applyNotification(twoEndpoints, epDelete).state;
  assert.deepEqual(
    afterEpDelete?.users?.entries[0]?.endpoints.map((e) => e.entity),
    ['a2'],
  );
  assert.equal(afterEpDelete?.users?.entries[0]?.displayText, 'alice', 'a partial user keeps what it does not mention');

  const allGone = applyNotification(local, wire(partial(2, { users: { state: 'deleted', entries: [] } }))).state;
  assert.deepEqual(allGone?.users, { entries: [] });
});

test('partial user and endpoint merge what is present; media are replaced by id or added', () => {
  const local = applyNotification(undefined, base(1)).state;
  const doc = wire(
    partial(2, {
      users: {
        state: 'partial',
        entries: [
          {
            entity: 'sip:alice@example.com',
            state: 'partial',
            displayText: 'Alice Liddell',
            endpoints: [
              {
                entity: 'sip:alice@example.com;ep=1',
                state: 'partial',
                status: 'on-hold',
                speaking: true,
                media: [
                  { id: 'sip:alice@example.com;ep=1-a', type: 'audio', status: 'inactive' },
                  { id: 'v1', type: 'video', status: 'sendrecv' },
                ],
              },
            ],
          },
        ],
      },
    }),
  );
  const r = applyNotification(local, doc);
  assert.equal(r.result, 'applied');
  const alice = r.state?.users?.entries[0];
  assert.equal(alice?.displayText, 'Alice Liddell');
  assert.deepEqual(alice?.roles, ['participant']);
  const ep = alice?.endpoints[0];
  assert.equal(ep?.status, 'on-hold');
  assert.equal(ep?.joiningMethod, 'dialed-in', 'unmentioned endpoint children stay');
  assert.equal(ep?.speaking, true);
  // The audio media was replaced as a whole (label and src-id gone), video was added.
  assert.deepEqual(ep?.media, [
    { id: 'sip:alice@example.com;ep=1-a', type: 'audio', status: 'inactive' },
    { id: 'v1', type: 'video', status: 'sendrecv' },
  ]);
  assert.deepEqual(r.state?.users?.entries[1], local?.users?.entries[1], 'bob untouched');
});

test('a user or endpoint without state (default full) replaces the local one; unknown partial users are added', () => {
  const local = applyNotification(undefined, {
    ...base(1),
    users: { entries: [user('sip:alice@example.com', { endpoints: [endpoint('a1'), endpoint('a2')] })] },
  }).state;
  const doc = wire(
    partial(2, {
      users: {
        state: 'partial',
        entries: [
          { entity: 'sip:alice@example.com', endpoints: [endpoint('a3')] },
          { entity: 'sip:dave@example.com', state: 'partial', displayText: 'Dave', endpoints: [] },
        ],
      },
    }),
  );
  const r = applyNotification(local, doc).state;
  const alice = r?.users?.entries[0];
  assert.equal(alice?.displayText, undefined, 'replaced: display-text gone');
  assert.deepEqual(
    alice?.endpoints.map((e) => e.entity),
    ['a3'],
  );
  assert.equal(r?.users?.entries[1]?.displayText, 'Dave');
});

test('a users element without state in a partial document replaces the whole list', () => {
  const local = applyNotification(undefined, base(1)).state;
  const r = applyNotification(local, wire(partial(2, { users: { entries: [user('sip:carol@example.com')] } }))).state;
  assert.deepEqual(usersOf(r), ['sip:carol@example.com']);
});

test('conference-state and conference-description merge their present children; uri lists follow their state', () => {
  const local = applyNotification(undefined, richDocument(1)).state;
  const doc = wire(
    partial(2, {
      conferenceState: { locked: true },
      description: {
        subject: 'New subject',
        confUris: { state: 'partial', entries: [{ uri: 'sips:conf-abc@example.com', purpose: 'participation' }] },
        serviceUris: { state: 'deleted', entries: [{ uri: 'https://conclave.example.com/c/abc' }] },
        availableMedia: [{ label: 'main-audio', type: 'audio', status: 'inactive' }],
      },
    }),
  );
  const r = applyNotification(local, doc).state;
  assert.deepEqual(r?.conferenceState, { userCount: 2, active: true, locked: true });
  assert.equal(r?.description?.subject, 'New subject');
  assert.equal(r?.description?.displayText, 'Weekly sync');
  assert.deepEqual(
    r?.description?.confUris?.entries.map((e) => e.uri),
    [CONF, 'sips:conf-abc@example.com'],
  );
  assert.equal(r?.description?.serviceUris, undefined);
  assert.deepEqual(
    r?.description?.availableMedia,
    [{ label: 'main-audio', type: 'audio', status: 'inactive' }],
    'available-media is replaced whole',
  );
  assert.equal(r?.description?.maximumUserCount, 25);
});

test('a deleted conference document replaces the state', () => {
  const local = applyNotification(undefined, base(1)).state;
  const r = applyNotification(local, wire({ entity: CONF, state: 'deleted', version: 2 }));
  assert.equal(r.result, 'full-replaced');
  assert.equal(r.state?.state, 'deleted');
});

test('a full document carrying nested deleted/partial states is normalised', () => {
  const r = applyNotification(
    undefined,
    wire({
      entity: CONF,
      state: 'full',
      version: 1,
      users: {
        entries: [
          { ...user('sip:a@x'), state: 'partial' },
          { ...user('sip:b@x'), state: 'deleted' },
        ],
      },
    }),
  ).state;
  assert.deepEqual(usersOf(r), ['sip:a@x']);
  assert.equal(r?.users?.entries[0]?.state, undefined);
});

test('inputs are never mutated', () => {
  const local = deepFreeze(applyNotification(undefined, richDocument(1)).state);
  const doc = deepFreeze(
    partial(2, {
      conferenceState: { locked: true },
      users: {
        state: 'partial',
        entries: [{ entity: 'sip:alice@example.com', state: 'partial', endpoints: [{ entity: 'x', media: [] }] }],
      },
    }),
  );
  assert.equal(applyNotification(local, doc).result, 'applied');
});

test('every document serialised in this file is schema-valid', (t) => {
  const count = validator.pending;
  assert.deepEqual(validator.validateRecorded(), []);
  t.diagnostic(`${count} documents validated with xmllint`);
});
