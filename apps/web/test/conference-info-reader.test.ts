import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize, type ConferenceInfo } from '@conclave/conference-info';
import { createConferenceInfoReader } from '../src/phone/conference-info-reader.ts';

const conf = 'sip:conf-1@127.0.0.1';
const user = (name: string, status: 'connected' | 'on-hold' | 'alerting', speaking = false) => ({
  entity: `sip:${name}@127.0.0.1`,
  displayText: name[0]!.toUpperCase() + name.slice(1),
  endpoints: [
    {
      entity: `sip:${name}@x.invalid;transport=ws`,
      status,
      speaking,
      media: [{ id: '0', type: 'audio', status: 'sendrecv' as const }],
    },
  ],
});

test('full, partial, stale and version-gap notifications', () => {
  const reader = createConferenceInfoReader();
  const full: ConferenceInfo = {
    entity: conf,
    state: 'full',
    version: 1,
    conferenceState: { userCount: 2, active: true, locked: false },
    users: { entries: [user('alice', 'connected', true), user('bob', 'alerting')] },
  };
  let u = reader.apply(serialize(full));
  assert.equal(u.resubscribe, false);
  assert.deepEqual(
    u.roster?.entries.map((e) => [e.entity, e.status, e.speaking]),
    [
      ['sip:alice@127.0.0.1', 'connected', true],
      ['sip:bob@127.0.0.1', 'alerting', false],
    ],
  );
  assert.equal(u.roster?.locked, false);

  const partial: ConferenceInfo = {
    entity: conf,
    state: 'partial',
    version: 2,
    conferenceState: { locked: true },
    users: {
      state: 'partial',
      entries: [
        { ...user('bob', 'connected'), state: 'partial' },
        { entity: 'sip:alice@127.0.0.1', state: 'deleted', endpoints: [] },
      ],
    },
  };
  u = reader.apply(serialize(partial));
  assert.deepEqual(
    u.roster?.entries.map((e) => [e.entity, e.status]),
    [['sip:bob@127.0.0.1', 'connected']],
  );
  assert.equal(u.roster?.locked, true);

  u = reader.apply(serialize({ ...partial, version: 2 }));
  assert.equal(u.resubscribe, false, 'stale: ignored');
  u = reader.apply(serialize({ ...partial, version: 5 }));
  assert.equal(u.resubscribe, true, 'gap: re-SUBSCRIBE');
  assert.equal(u.roster?.entries.length, 1, 'roster kept on a gap');

  assert.throws(() => reader.apply('<not-xml'));
});
