import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from '@conclave/conference-info';
import { SchemaValidator } from '@conclave/conference-info/test-support';
import { Conference, ConferenceError, type ParticipantMedia } from '../src/index.ts';
import { captureLogger, manualClock, newConference, recordEvents, sequence } from './support.ts';

const validator = new SchemaValidator();
const audio = (status: ParticipantMedia['status'] = 'sendrecv'): ParticipantMedia => ({
  id: '0',
  type: 'audio',
  label: 'main-audio',
  status,
});

function refusedWith(code: ConferenceError['code'], fn: () => unknown): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof ConferenceError && e.code === code,
    `expected ConferenceError ${code}`,
  );
}

test('a conference holds its identity and validates its options', () => {
  const clock = manualClock();
  const c = newConference({ now: clock.now, maxParticipants: 3, subject: 'Standup' });
  assert.equal(c.id, 'cf_test');
  assert.equal(c.uri, 'sip:conf-test@example.com');
  assert.equal(c.creator, 'sip:alice@example.com');
  assert.equal(c.createdAt, clock.now());
  assert.equal(c.maxParticipants, 3);
  assert.equal(c.locked, false);
  assert.equal(c.ended, false);
  assert.equal(c.subject, 'Standup');
  assert.equal(c.size, 0);
  refusedWith('invalid-argument', () => newConference({ id: '' }));
  refusedWith('invalid-argument', () => newConference({ uri: '' }));
  refusedWith('invalid-argument', () => newConference({ creator: '' }));
  refusedWith('invalid-argument', () => newConference({ maxParticipants: 0 }));
  refusedWith('invalid-argument', () => newConference({ maxParticipants: 2.5 }));
});

test('join admits participants with their identity, joining info and roles', () => {
  const c = newConference();
  const events = recordEvents(c);
  const alice = c.join({
    entity: 'sip:alice@example.com',
    displayName: 'Alice',
    media: [audio()],
    callInfo: { callId: 'c1', fromTag: 'f', toTag: 't' },
  });
  assert.equal(alice.id, 'p1');
  assert.equal(alice.endpointEntity, 'sip:alice@example.com;participant=p1');
  assert.equal(alice.status, 'connected');
  assert.equal(alice.endpointStatus, 'connected');
  assert.equal(alice.joiningMethod, 'dialed-in');
  assert.deepEqual(alice.joiningInfo, { when: '2026-01-15T10:00:00.000Z' });
  assert.deepEqual(alice.roles, ['creator', 'participant']);
  const bob = c.join({
    entity: 'sip:bob@example.com',
    endpointEntity: 'sip:bob@192.0.2.7:5062',
    joiningMethod: 'dialed-out',
    by: 'sip:alice@example.com',
    reason: 'invited',
    status: 'dialing-out',
  });
  assert.deepEqual(bob.roles, ['participant']);
  assert.deepEqual(bob.joiningInfo, {
    when: '2026-01-15T10:00:00.000Z',
    reason: 'invited',
    by: 'sip:alice@example.com',
  });
  assert.equal(bob.endpointStatus, 'dialing-out');
  // A second endpoint of the same user: two participants, one RFC 4575 user.
  c.join({ entity: 'sip:alice@example.com', endpointEntity: 'sip:alice@phone.example.com' });
  assert.equal(c.size, 3);
  assert.equal(c.userCount, 2);
  assert.deepEqual(events, ['joined p1', 'changed', 'joined p2', 'changed', 'joined p3', 'changed']);
  assert.deepEqual(
    c.participants.map((p) => p.id),
    ['p1', 'p2', 'p3'],
  );
  assert.deepEqual(
    c.findByEntity('sip:ALICE@EXAMPLE.COM;transport=ws').map((p) => p.id),
    [],
    'user part is case-sensitive',
  );
  assert.deepEqual(
    c.findByEntity('sips:alice@EXAMPLE.com').map((p) => p.id),
    ['p1', 'p3'],
  );
  assert.deepEqual(
    c.findByEntity('sip:bob@192.0.2.7:5062').map((p) => p.id),
    ['p2'],
  );
});

test('join refuses: locked, full, duplicate endpoint, bad arguments, ended', () => {
  const c = newConference({ maxParticipants: 2 });
  c.join({ entity: 'sip:a@x', endpointEntity: 'ep-a' });
  refusedWith('duplicate', () => c.join({ entity: 'sip:a@x', endpointEntity: 'ep-a' }));
  c.lock();
  refusedWith('locked', () => c.join({ entity: 'sip:b@x' }));
  const admin = c.join({ entity: 'sip:b@x', ignoreLock: true, joiningMethod: 'focus-owner' });
  assert.equal(admin.joiningMethod, 'focus-owner');
  c.unlock();
  refusedWith('full', () => c.join({ entity: 'sip:c@x' }));
  refusedWith('full', () => c.join({ entity: 'sip:c@x', ignoreLock: true }));
  c.leave(admin.id);
  refusedWith('invalid-argument', () => c.join({ entity: '  ' }));
  refusedWith('invalid-argument', () => c.join({ entity: 'sip:c@x', joiningMethod: 'teleported' as 'dialed-in' }));
  refusedWith('invalid-argument', () =>
    c.join({ entity: 'sip:c@x', media: [{ id: '', type: 'audio', status: 'sendrecv' }] }),
  );
  refusedWith('invalid-argument', () => c.join({ entity: 'sip:c@x', media: [audio(), audio()] }));
  refusedWith('invalid-argument', () =>
    c.join({ entity: 'sip:c@x', media: [{ id: '1', type: 'audio', status: 'loud' as 'sendrecv' }] }),
  );
  const err = (() => {
    c.lock();
    try {
      c.join({ entity: 'sip:d@x' });
    } catch (e) {
      return e as ConferenceError;
    }
  })();
  assert.equal(err?.context['conference'], 'cf_test');
  assert.match(err?.message ?? '', /locked/);
  c.end();
  refusedWith('ended', () => c.join({ entity: 'sip:e@x', ignoreLock: true }));
});

test('leave records how the participant left; departed ones are remembered, newest first, up to the retention', () => {
  const clock = manualClock();
  const c = newConference({ now: clock.now, departedRetention: 2 });
  const events = recordEvents(c);
  const [a, b, d] = ['a', 'b', 'd'].map((n) => c.join({ entity: `sip:${n}@x`, endpointEntity: `ep-${n}` }));
  clock.advance(60_000);
  const left = c.leave(a!.id);
  assert.equal(left.disconnectionMethod, 'departed');
  assert.equal(left.endpointStatus, 'disconnected');
  assert.deepEqual(left.disconnectionInfo, { when: '2026-01-15T10:01:00.000Z' });
  c.leave(b!.id, 'booted', { by: 'sip:admin@x', reason: 'spam' });
  c.leave(d!.id, 'failed', { reason: 'ICE failed' });
  assert.deepEqual(
    c.departed.map((p) => [p.id, p.disconnectionMethod]),
    [
      ['p3', 'failed'],
      ['p2', 'booted'],
    ],
  );
  assert.deepEqual(c.departed[1]?.disconnectionInfo, {
    when: '2026-01-15T10:01:00.000Z',
    reason: 'spam',
    by: 'sip:admin@x',
  });
  assert.equal(c.size, 0);
  refusedWith('not-found', () => c.leave(a!.id));
  refusedWith('invalid-argument', () => c.leave(c.join({ entity: 'sip:z@x' }).id, 'exploded' as 'failed'));
  assert.deepEqual(events.slice(0, 8), [
    'joined p1',
    'changed',
    'joined p2',
    'changed',
    'joined p3',
    'changed',
    'left p1 departed',
    'changed',
  ]);
  // Rejoining with the same endpoint replaces its departed record.
  c.join({ entity: 'sip:d@x', endpointEntity: 'ep-d' });
  assert.deepEqual(
    c.departed.map((p) => p.id),
    ['p2'],
  );
  c.forgetDeparted();
  assert.deepEqual(c.departed, []);
});

test('status, hold and mute give the RFC 4575 endpoint status; no-ops emit nothing', () => {
  const c = newConference();
  const p = c.join({
    entity: 'sip:a@x',
    status: 'dialing-in',
    media: [audio(), { id: '1', type: 'video', status: 'sendrecv' }],
  });
  const events = recordEvents(c);
  assert.equal(c.connect(p.id).endpointStatus, 'connected');
  assert.equal(c.mute(p.id, { by: 'sip:admin@x' }).endpointStatus, 'muted-via-focus');
  assert.equal(c.participant(p.id)?.mutedBy, 'sip:admin@x');
  assert.equal(c.hold(p.id).endpointStatus, 'on-hold', 'on-hold wins over muted');
  assert.equal(c.hold(p.id).onHold, true);
  assert.equal(c.resume(p.id).endpointStatus, 'muted-via-focus');
  assert.equal(c.unmute(p.id).endpointStatus, 'connected');
  c.unmute(p.id);
  c.resume(p.id);
  c.connect(p.id);
  assert.equal(c.setStatus(p.id, 'disconnecting').endpointStatus, 'disconnecting');
  assert.deepEqual(events, [
    `updated ${p.id} status`,
    'changed',
    `updated ${p.id} mute`,
    'changed',
    `updated ${p.id} hold`,
    'changed',
    `updated ${p.id} resume`,
    'changed',
    `updated ${p.id} unmute`,
    'changed',
    `updated ${p.id} status`,
    'changed',
  ]);
  refusedWith('not-found', () => c.hold('nobody'));
  refusedWith('invalid-argument', () => c.setStatus(p.id, 'asleep' as 'connected'));
});

test('muting by the focus removes the send direction of audio in documents, not of video', () => {
  const c = newConference();
  const p = c.join({
    entity: 'sip:a@x',
    media: [
      audio('sendrecv'),
      { id: '1', type: 'video', status: 'sendrecv' },
      { id: '2', type: 'audio', status: 'sendonly' },
    ],
  });
  c.mute(p.id);
  const endpoint = c.toConferenceInfo().users?.entries[0]?.endpoints[0];
  assert.deepEqual(
    endpoint?.media.map((m) => m.status),
    ['recvonly', 'sendrecv', 'inactive'],
  );
  assert.equal(endpoint?.mutedByFocus, true);
  assert.deepEqual(
    c.participant(p.id)?.media.map((m) => m.status),
    ['sendrecv', 'sendrecv', 'sendonly'],
    'the negotiated media are unchanged',
  );
  validator.record(serialize(c.toConferenceInfo()));
});

test('setMedia and setDisplayName update the participant', () => {
  const c = newConference();
  const p = c.join({ entity: 'sip:a@x', media: [audio()] });
  const events = recordEvents(c);
  c.setMedia(p.id, [audio('sendonly')]);
  c.setMedia(p.id, [audio('sendonly')]);
  c.setDisplayName(p.id, 'Ann');
  assert.equal(c.participant(p.id)?.media[0]?.status, 'sendonly');
  assert.equal(c.participant(p.id)?.displayName, 'Ann');
  assert.deepEqual(events, [`updated ${p.id} media`, 'changed', `updated ${p.id} display-name`, 'changed']);
  refusedWith('invalid-argument', () => c.setMedia(p.id, [audio(), audio()]));
});

test('one active speaker at a time; muting or leaving clears it', () => {
  const c = newConference();
  const a = c.join({ entity: 'sip:a@x' });
  const b = c.join({ entity: 'sip:b@x' });
  const events = recordEvents(c);
  assert.equal(c.setSpeaker(a.id), true);
  assert.equal(c.setSpeaker(a.id), false);
  c.setSpeaker(b.id);
  assert.equal(c.activeSpeaker?.id, b.id);
  assert.deepEqual(
    c.participants.map((p) => p.speaking),
    [false, true],
  );
  assert.deepEqual(events, [
    `updated ${a.id} speaking`,
    `speaker ${a.id}`,
    'changed',
    `updated ${a.id} speaking`,
    `updated ${b.id} speaking`,
    `speaker ${b.id}`,
    'changed',
  ]);
  c.mute(b.id);
  assert.equal(c.activeSpeaker, undefined);
  c.setSpeaker(a.id);
  c.leave(a.id);
  assert.equal(c.activeSpeaker, undefined);
  assert.deepEqual(events.slice(-3), [`left ${a.id} departed`, 'speaker none', 'changed']);
  c.setSpeaker(undefined);
  refusedWith('not-found', () => c.setSpeaker('ghost'));
});

test('lock, unlock, subject and display text emit their events once', () => {
  const c = newConference();
  const events = recordEvents(c);
  assert.equal(c.lock(), true);
  assert.equal(c.lock(), false);
  assert.equal(c.unlock(), true);
  assert.equal(c.unlock(), false);
  assert.equal(c.setSubject('Budget'), true);
  assert.equal(c.setSubject('Budget'), false);
  c.setDisplayText('Finance room');
  assert.deepEqual(events, [
    'lock true',
    'changed',
    'lock false',
    'changed',
    'description',
    'changed',
    'description',
    'changed',
  ]);
});

test('end boots everyone, emits ended once, then refuses changes', () => {
  const c = newConference();
  const a = c.join({ entity: 'sip:a@x' });
  c.join({ entity: 'sip:b@x' });
  c.setSpeaker(a.id);
  const events = recordEvents(c);
  c.end('meeting over');
  c.end('again');
  assert.equal(c.ended, true);
  assert.equal(c.endReason, 'meeting over');
  assert.deepEqual(events, ['left p1 booted', 'speaker none', 'left p2 booted', 'ended meeting over', 'changed']);
  assert.deepEqual(
    c.departed.map((d) => d.disconnectionInfo.reason),
    ['meeting over', 'meeting over'],
  );
  const info = c.toConferenceInfo();
  assert.deepEqual(info.conferenceState, { userCount: 0, active: false, locked: false });
  for (const op of [
    () => c.lock(),
    () => c.unlock(),
    () => c.setSubject('x'),
    () => c.setSpeaker(undefined),
    () => c.join({ entity: 'sip:c@x' }),
  ])
    refusedWith('ended', op);
  validator.record(serialize(info));
});

test('batch emits a single changed event', () => {
  const c = newConference();
  const events = recordEvents(c);
  const result = c.batch(() => {
    const a = c.join({ entity: 'sip:a@x' });
    c.mute(a.id);
    c.lock();
    return a.id;
  });
  assert.equal(result, 'p1');
  assert.deepEqual(events, ['joined p1', 'updated p1 mute', 'lock true', 'changed']);
  // An exception inside a batch still flushes what happened.
  events.length = 0;
  assert.throws(
    () =>
      c.batch(() => {
        c.unlock();
        c.hold('nobody');
      }),
    ConferenceError,
  );
  assert.deepEqual(events, ['lock false', 'changed']);
});

test('a throwing listener is logged and does not break the operation or other listeners', () => {
  const { logger, lines } = captureLogger();
  const c = newConference({ logger });
  let second = 0;
  c.on('participantJoined', () => {
    throw new Error('listener bug');
  });
  c.on('participantJoined', () => void second++);
  const p = c.join({ entity: 'sip:a@x' });
  assert.equal(c.participant(p.id)?.id, p.id);
  assert.equal(second, 1);
  assert.ok(lines.some((l) => l.includes('ERROR') && l.includes('listener bug') && l.includes('participantJoined')));
});

test('once and off', () => {
  const c = newConference();
  let n = 0;
  const listener = (): void => void n++;
  c.once('changed', listener);
  c.lock();
  c.unlock();
  assert.equal(n, 1);
  c.on('changed', listener);
  c.off('changed', listener);
  c.lock();
  assert.equal(n, 1);
  assert.equal(c.listenerCount('changed'), 0);
});

test('snapshots are frozen copies', () => {
  const c = newConference();
  const p = c.join({ entity: 'sip:a@x', media: [audio()] });
  assert.ok(Object.isFrozen(p) && Object.isFrozen(p.media) && Object.isFrozen(p.media[0]) && Object.isFrozen(p.roles));
  c.hold(p.id);
  assert.equal(p.onHold, false, 'an old snapshot does not change');
  assert.throws(() => {
    (p as { onHold: boolean }).onHold = true;
  }, TypeError);
});

test('toConferenceInfo: users group endpoints by entity, conference-state, description, departed endpoints on request', () => {
  const clock = manualClock();
  const c = new Conference({
    id: 'cf_1',
    uri: 'sip:conf-1@example.com',
    creator: 'sip:alice@example.com',
    subject: 'Planning',
    displayText: 'Planning room',
    maxParticipants: 10,
    availableMedia: [{ label: 'main-audio', type: 'audio', status: 'sendrecv' }],
    hostInfo: { displayText: 'Conclave', webPage: 'https://conclave.example.com/' },
    logger: captureLogger().logger,
    now: clock.now,
    participantIdGenerator: sequence('p'),
  });
  const a1 = c.join({
    entity: 'sip:alice@example.com',
    displayName: 'Alice',
    endpointEntity: 'sip:alice@pc',
    media: [audio()],
  });
  c.join({ entity: 'sip:bob@example.com', endpointEntity: 'sip:bob@pc', displayName: 'Bob <b>' });
  c.join({ entity: 'sip:alice@example.com', endpointEntity: 'sip:alice@phone' });
  c.setSpeaker(a1.id);
  clock.advance(1000);
  const carol = c.join({ entity: 'sip:carol@example.com', endpointEntity: 'sip:carol@pc' });
  c.leave(carol.id, 'booted', { by: 'sip:alice@example.com' });
  const info = c.toConferenceInfo({ version: 5 });
  assert.equal(info.version, 5);
  assert.deepEqual(info.description, {
    confUris: { entries: [{ uri: 'sip:conf-1@example.com', purpose: 'participation' }] },
    maximumUserCount: 10,
    displayText: 'Planning room',
    subject: 'Planning',
    availableMedia: [{ label: 'main-audio', type: 'audio', status: 'sendrecv' }],
  });
  assert.deepEqual(info.hostInfo, { displayText: 'Conclave', webPage: 'https://conclave.example.com/' });
  assert.deepEqual(info.conferenceState, { userCount: 2, active: true, locked: false });
  assert.deepEqual(
    info.users?.entries.map((u) => [u.entity, u.displayText, u.roles, u.endpoints.map((e) => e.entity)]),
    [
      ['sip:alice@example.com', 'Alice', ['creator', 'participant'], ['sip:alice@pc', 'sip:alice@phone']],
      ['sip:bob@example.com', 'Bob <b>', ['participant'], ['sip:bob@pc']],
    ],
  );
  assert.deepEqual(info.users?.entries[0]?.endpoints[0], {
    entity: 'sip:alice@pc',
    displayText: 'Alice',
    status: 'connected',
    joiningMethod: 'dialed-in',
    joiningInfo: { when: '2026-01-15T10:00:00.000Z' },
    media: [{ id: '0', type: 'audio', label: 'main-audio', status: 'sendrecv' }],
    speaking: true,
    mutedByFocus: false,
  });
  const withDeparted = c.toConferenceInfo({ includeDeparted: true });
  const carolUser = withDeparted.users?.entries[2];
  assert.equal(carolUser?.entity, 'sip:carol@example.com');
  assert.deepEqual(carolUser?.endpoints[0], {
    entity: 'sip:carol@pc',
    status: 'disconnected',
    joiningMethod: 'dialed-in',
    joiningInfo: { when: '2026-01-15T10:00:01.000Z' },
    disconnectionMethod: 'booted',
    disconnectionInfo: { when: '2026-01-15T10:00:01.000Z', by: 'sip:alice@example.com' },
    media: [],
    mutedByFocus: false,
  });
  assert.equal(withDeparted.conferenceState?.userCount, 2, 'departed users are not counted');
  validator.record(serialize(info));
  validator.record(serialize(withDeparted));
  const json = JSON.parse(JSON.stringify(c)) as { id: string; participants: unknown[]; activeSpeaker?: string };
  assert.equal(json.id, 'cf_1');
  assert.equal(json.participants.length, 3);
  assert.equal(json.activeSpeaker, a1.id);
});

test('every conference-info document produced in this file is schema-valid', (t) => {
  const count = validator.pending;
  assert.ok(count >= 4);
  assert.deepEqual(validator.validateRecorded(), []);
  t.diagnostic(`${count} documents validated with xmllint`);
});
