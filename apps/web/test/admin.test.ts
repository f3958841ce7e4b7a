import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serialize, type ConferenceInfo } from '@conclave/conference-info';
import { AdminApiError, AdminClient } from '../src/admin/admin-client.ts';
import {
  conferenceActionFailureText,
  feedStatusText,
  joiningMethodText,
  loginFailureText,
  participantActionFailureText,
} from '../src/admin/admin-words.ts';
import { parseConference, parseSnapshot, sipKey, type ApiParticipant } from '../src/admin/api-types.ts';
import { mergeRoster } from '../src/admin/roster-merge.ts';
import { createConferenceInfoReader } from '../src/phone/conference-info-reader.ts';
import { RosterSubscription } from '../src/admin/roster-subscription.ts';
import { silentLogger } from '../src/phone/log.ts';
import { userPart } from '../src/phone/target.ts';
import { EventEmitter } from 'node:events';
import type { Subscriber } from 'jssip/lib/Subscriber';

test('sipKey ignores parameters, angle brackets and host case', () => {
  assert.equal(sipKey('sip:bob@Example.ORG;transport=ws'), 'sip:bob@example.org');
  assert.equal(sipKey('<SIP:bob@127.0.0.1>'), 'sip:bob@127.0.0.1');
  assert.notEqual(sipKey('sip:Bob@x'), sipKey('sip:bob@x'));
});

test('API payloads are parsed defensively', () => {
  assert.equal(parseConference({ uri: 'sip:c@x' }), null);
  const c = parseConference({
    id: 'cf_1',
    uri: 'sip:conf-a@x',
    creator: 'sip:alice@x',
    createdAt: '2026-01-01T00:00:00.000Z',
    subject: null,
    participantCount: 2,
    locked: true,
    activeSpeaker: null,
    maxParticipants: 16,
    participants: [{ id: 'p_1', entity: 'sip:alice@x', roles: ['creator', 7] }, { entity: 'no id' }],
  });
  assert.equal(c?.locked, true);
  assert.equal(c?.participants.length, 1);
  assert.deepEqual(c?.participants[0]?.roles, ['creator']);
  assert.deepEqual(
    parseSnapshot({ conferences: [{ id: 'cf_2', uri: 'sip:b@x' }, 3] })?.map((x) => x.id),
    ['cf_2'],
  );
  assert.equal(parseSnapshot({}), null);
});

test('words for login and action failures', () => {
  assert.equal(
    loginFailureText(new AdminApiError('unauthorized', 'x')),
    'wrong user name or password (or not an administrator)',
  );
  assert.equal(
    loginFailureText(new AdminApiError('throttled', 'x', { retryAfterSeconds: 42 })),
    'too many attempts, try again in 42 s',
  );
  assert.equal(
    loginFailureText(new AdminApiError('throttled', 'x', { retryAfterSeconds: 42 }), 7),
    'too many attempts, try again in 7 s',
  );
  assert.match(loginFailureText(new AdminApiError('unreachable', 'no connection')), /^server unreachable/);
  assert.equal(
    participantActionFailureText(
      'kick',
      'Bob',
      new AdminApiError('refused', 'no participant p_1', { status: 404, code: 'participant-not-found' }),
    ),
    'could not remove Bob: Bob is no longer in the conference',
  );
  assert.equal(
    conferenceActionFailureText('lock', new AdminApiError('refused', 'ended', { status: 409, code: 'ended' })),
    'could not lock the conference: the conference has already ended',
  );
  assert.equal(feedStatusText('reconnecting', 4, 3), 'connection lost, reconnecting in 4 s (attempt 3)');
  assert.equal(joiningMethodText('dialed-out'), 'called by the conference');
});

const participant = (name: string, over: Partial<ApiParticipant> = {}): ApiParticipant => ({
  id: `p_${name}`,
  entity: `sip:${name}@127.0.0.1`,
  displayName: null,
  status: 'connected',
  endpointStatus: 'connected',
  joiningMethod: 'dialed-in',
  joinedAt: '2026-01-01T00:00:10.000Z',
  onHold: false,
  mutedByFocus: false,
  speaking: false,
  roles: ['participant'],
  ...over,
});

test('roster entries come from conference-info, ids and joining from the API (matched by entity)', () => {
  const reader = createConferenceInfoReader();
  const info: ConferenceInfo = {
    entity: 'sip:conf-1@127.0.0.1',
    state: 'full',
    version: 1,
    users: {
      entries: [
        {
          entity: 'sip:alice@127.0.0.1',
          displayText: 'Alice',
          roles: ['creator'],
          endpoints: [{ entity: 'sip:alice@a.invalid', status: 'connected', speaking: true, media: [] }],
        },
        {
          entity: 'sip:bob@127.0.0.1',
          endpoints: [{ entity: 'sip:bob@b.invalid', status: 'muted-via-focus', mutedByFocus: true, media: [] }],
        },
        {
          entity: 'sip:carol@127.0.0.1',
          endpoints: [{ entity: 'sip:carol@c.invalid', status: 'disconnected', media: [] }],
        },
      ],
    },
  };
  const roster = reader.apply(serialize(info)).roster;
  const api = [
    participant('alice', { joiningMethod: 'focus-owner' }),
    participant('bob', { entity: 'sip:bob@127.0.0.1;transport=ws' }),
  ];
  const entries = mergeRoster(roster, api, false);
  assert.deepEqual(
    entries.map((e) => [e.entity, e.status, e.participantId, e.present, e.mutedByFocus, e.speaking]),
    [
      ['sip:alice@127.0.0.1', 'connected', 'p_alice', true, false, true],
      ['sip:bob@127.0.0.1', 'muted-via-focus', 'p_bob', true, true, false],
      ['sip:carol@127.0.0.1', 'disconnected', null, false, false, false],
    ],
  );
  assert.equal(entries[0]?.displayName, 'Alice');
  assert.equal(entries[1]?.displayName, 'bob');
  assert.equal(entries[0]?.joiningMethod, 'focus-owner');
  assert.equal(entries[0]?.joinedAt, Date.parse('2026-01-01T00:00:10.000Z'));
  assert.deepEqual(mergeRoster(null, api, false), []);
  assert.deepEqual(
    mergeRoster(null, api, true).map((e) => [e.entity, e.source]),
    [
      ['sip:alice@127.0.0.1', 'api'],
      ['sip:bob@127.0.0.1;transport=ws', 'api'],
    ],
  );
});

test('AdminClient: token, error kinds and Retry-After against a real HTTP server', async (t) => {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    };
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/api/session' && req.method === 'POST') {
        const { password } = JSON.parse(body) as { password: string };
        if (password === 'slow-down')
          return json(
            429,
            { error: { code: 'too-many-requests', message: 'too many failed logins; try again in 17 s' } },
            { 'retry-after': '17' },
          );
        if (password !== 'admin-secret')
          return json(401, {
            error: { code: 'unauthorized', message: 'wrong user name or password, or not an admin' },
          });
        return json(200, { token: 'tok', user: 'admin', expiresAt: '2026-01-01T12:00:00.000Z' });
      }
      if (req.url === '/api/conferences/cf_1/participants/p_9/kick')
        return json(404, { error: { code: 'participant-not-found', message: 'no participant p_9' } });
      if (req.url === '/api/conferences/cf_1/lock') return void res.writeHead(204).end();
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => new Promise<void>((ok) => server.close(() => ok())));
  const client = new AdminClient({ base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/` });

  await assert.rejects(
    client.login('admin', 'wrong'),
    (e: AdminApiError) => e.kind === 'unauthorized' && e.status === 401,
  );
  await assert.rejects(
    client.login('admin', 'slow-down'),
    (e: AdminApiError) => e.kind === 'throttled' && e.retryAfterSeconds === 17,
  );
  const grant = await client.login('admin', 'admin-secret');
  assert.equal(grant.token, 'tok');
  assert.match(client.eventsUrl(), /\/api\/events\?token=tok$/);
  await client.conferenceAction('cf_1', 'lock');
  await assert.rejects(
    client.participantAction('cf_1', 'p_9', 'kick'),
    (e: AdminApiError) => e.kind === 'refused' && e.code === 'participant-not-found',
  );
  await assert.rejects(client.conference('cf_1'), (e: AdminApiError) => e.kind === 'unreachable' && e.status === 502);
  assert.ok(seen.includes('POST /api/conferences/cf_1/lock Bearer tok'));

  const dead = new AdminClient({ base: 'http://127.0.0.1:1/api', timeoutMs: 2000 });
  await assert.rejects(dead.login('admin', 'x'), (e: AdminApiError) => e.kind === 'unreachable');
});

// ---- RosterSubscription against a stand-in for JsSIP's Subscriber (the SIP side is covered by
// scripts/admin-console.ts against the real focus) ----

class FakeSubscriber extends EventEmitter {
  state = 'init';
  subscribes = 0;
  terminated = 0;
  subscribe(): void {
    this.subscribes += 1;
    this.state = 'notify_wait';
  }
  terminate(): void {
    this.terminated += 1;
  }
}

function doc(
  version: number,
  state: 'full' | 'partial',
  users: Array<[string, 'connected' | 'on-hold' | 'muted-via-focus']>,
): string {
  const info: ConferenceInfo = {
    entity: 'sip:conf-1@127.0.0.1',
    state,
    version,
    users: {
      ...(state === 'partial' ? { state: 'partial' as const } : {}),
      entries: users.map(([name, status]) => ({
        entity: `sip:${name}@127.0.0.1`,
        ...(state === 'partial' ? { state: 'partial' as const } : {}),
        endpoints: [{ entity: `sip:${name}@x.invalid`, status, media: [] }],
      })),
    },
  };
  return serialize(info);
}

test('RosterSubscription: full then partial, version gap -> in-dialog refresh, termination -> retry, close -> unsubscribe', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const subscribers: FakeSubscriber[] = [];
  const agent = {
    subscribe: () => {
      const s = new FakeSubscriber();
      subscribers.push(s);
      return s as unknown as Subscriber;
    },
  };
  const sub = new RosterSubscription('sip:conf-1@127.0.0.1', agent, createConferenceInfoReader, silentLogger);
  const statuses = () => sub.snapshot.roster?.entries.map((e) => `${userPart(e.entity)}=${e.status}`).join(' ') ?? null;
  sub.start();
  const first = subscribers[0]!;
  assert.equal(first.subscribes, 1);
  assert.equal(sub.snapshot.state, 'pending');
  first.emit('active');
  first.emit(
    'notify',
    false,
    {},
    doc(1, 'full', [
      ['alice', 'connected'],
      ['bob', 'connected'],
    ]),
  );
  assert.equal(sub.snapshot.state, 'active');
  assert.equal(statuses(), 'alice=connected bob=connected');
  first.emit('notify', false, {}, doc(2, 'partial', [['bob', 'muted-via-focus']]));
  assert.equal(statuses(), 'alice=connected bob=muted-via-focus');

  // Version 3 was lost: refresh in the dialog, keep showing version 2 meanwhile.
  first.emit('notify', false, {}, doc(4, 'partial', [['alice', 'on-hold']]));
  assert.equal(first.subscribes, 2);
  assert.equal(statuses(), 'alice=connected bob=muted-via-focus');
  first.emit('notify', false, {}, doc(5, 'partial', [['alice', 'connected']]));
  assert.equal(first.subscribes, 2, 'one refresh per gap');
  first.emit(
    'notify',
    false,
    {},
    doc(6, 'full', [
      ['alice', 'on-hold'],
      ['bob', 'connected'],
    ]),
  );
  assert.equal(statuses(), 'alice=on-hold bob=connected');

  // The focus ends the subscription: retried after 2 s, roster kept meanwhile.
  first.emit('terminated', 6, 'timeout');
  assert.equal(sub.snapshot.state, 'retrying');
  assert.match(sub.snapshot.error ?? '', /ended the subscription \(timeout\)/);
  assert.equal(subscribers.length, 1);
  t.mock.timers.tick(2000);
  assert.equal(subscribers.length, 2);
  const second = subscribers[1]!;
  second.emit('notify', false, {}, doc(1, 'full', [['alice', 'connected']]));
  assert.equal(statuses(), 'alice=connected');
  assert.equal(sub.snapshot.error, null);

  sub.close();
  assert.equal(second.terminated, 1);
  assert.equal(sub.snapshot.state, 'closed');
  second.emit('notify', false, {}, doc(2, 'partial', [['alice', 'on-hold']]));
  assert.equal(statuses(), 'alice=connected', 'nothing after close');
});

test('RosterSubscription gives up after 4 failures without a NOTIFY', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const subscribers: FakeSubscriber[] = [];
  const agent = {
    subscribe: () => {
      const s = new FakeSubscriber();
      subscribers.push(s);
      return s as unknown as Subscriber;
    },
  };
  const sub = new RosterSubscription('sip:conf-1@127.0.0.1', agent, createConferenceInfoReader, silentLogger);
  sub.start();
  for (let i = 0; i < 4; i++) {
    subscribers[i]!.emit('terminated', 2, undefined);
    t.mock.timers.tick(20_000);
  }
  assert.equal(subscribers.length, 4);
  assert.equal(sub.snapshot.state, 'failed');
  assert.equal(sub.snapshot.error, 'the conference focus refused the subscription');
  sub.close();
});
