import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Conference,
  ConferenceError,
  ConferenceRegistry,
  conferenceUriKey,
  generateConferenceUri,
  randomToken,
} from '../src/index.ts';
import { captureLogger, sequence } from './support.ts';

function registry(options: Partial<ConstructorParameters<typeof ConferenceRegistry>[0]> = {}): ConferenceRegistry {
  return new ConferenceRegistry({ domain: 'conclave.example.com', logger: captureLogger().logger, ...options });
}

test('random tokens: base32, 128 bits in 26 characters, never repeating', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const t = randomToken(16);
    assert.match(t, /^[a-z2-7]{26}$/);
    seen.add(t);
  }
  assert.equal(seen.size, 2000);
  assert.equal(randomToken(5).length, 8);
  assert.equal(randomToken(1).length, 2);
  // Every character position varies (no constant padding bits except the last one).
  const first = [...seen].map((t) => t[0]);
  assert.ok(new Set(first).size > 20);
  assert.throws(() => randomToken(0), ConferenceError);
});

test('conference URIs: sip:conf-<token>@domain with at least 128 random bits', () => {
  assert.match(generateConferenceUri('example.com'), /^sip:conf-[a-z2-7]{26}@example\.com$/);
  assert.match(
    generateConferenceUri('127.0.0.1:5080', { scheme: 'sips', prefix: 'room.', randomBytes: 20 }),
    /^sips:room\.[a-z2-7]{32}@127\.0\.0\.1:5080$/,
  );
  assert.match(generateConferenceUri('[2001:db8::1]:5060'), /^sip:conf-[a-z2-7]{26}@\[2001:db8::1\]:5060$/);
  for (const domain of ['', 'a b', 'x@y', 'example.com;transport=tcp', '-bad.example.com', 'example.com:port']) {
    assert.throws(
      () => generateConferenceUri(domain),
      (e: unknown) => e instanceof ConferenceError && e.code === 'invalid-argument',
      domain,
    );
  }
  assert.throws(() => generateConferenceUri('example.com', { randomBytes: 8 }), ConferenceError);
  assert.throws(() => generateConferenceUri('example.com', { prefix: 'a@b' }), ConferenceError);
});

test('conferenceUriKey ignores parameters, headers, sip/sips and host case; keeps user case', () => {
  assert.equal(conferenceUriKey('sip:conf-abc@Example.COM'), 'conf-abc@example.com');
  assert.equal(conferenceUriKey('SIPS:conf-abc@example.com:5061;transport=tls?subject=x'), 'conf-abc@example.com:5061');
  assert.equal(conferenceUriKey('"Room" <sip:conf-abc@example.com;transport=ws>;tag=1'), 'conf-abc@example.com');
  assert.equal(conferenceUriKey('sip:conf%2Dabc@example.com'), 'conf-abc@example.com');
  assert.equal(conferenceUriKey('sip:Conf-ABC@example.com'), 'Conf-ABC@example.com');
  assert.equal(conferenceUriKey('sip:example.com'), '@example.com');
  for (const bad of ['', 'tel:+123', 'https://example.com', 'sip:', 'sip:@x', '<sip:a@b', 'sip:a@'])
    assert.equal(conferenceUriKey(bad), undefined, bad);
});

test('create assigns fresh ids and URIs; find by id or URI; list in creation order', () => {
  const r = registry({ maxParticipants: 8 });
  const created: string[] = [];
  r.on('created', (c) => created.push(c.id));
  const a = r.create({ creator: 'sip:alice@example.com', subject: 'A', locked: true });
  const b = r.create({ creator: 'admin', maxParticipants: 3 });
  assert.ok(a instanceof Conference);
  assert.match(a.id, /^cf_[a-z2-7]{16}$/);
  assert.notEqual(a.id, b.id);
  assert.match(a.uri, /^sip:conf-[a-z2-7]{26}@conclave\.example\.com$/);
  assert.equal(a.subject, 'A');
  assert.equal(a.locked, true);
  assert.equal(a.maxParticipants, 8);
  assert.equal(b.maxParticipants, 3);
  assert.deepEqual(created, [a.id, b.id]);
  assert.equal(r.size, 2);
  assert.equal(r.get(a.id), a);
  assert.equal(r.findByUri(a.uri), a);
  assert.equal(
    r.findByUri(
      a.uri.replace('sip:', 'sips:').replace('conclave.example.com', 'CONCLAVE.example.com') + ';transport=ws',
    ),
    a,
  );
  assert.equal(r.findByUri(a.uri.toUpperCase()), undefined, 'user part is case-sensitive');
  assert.equal(r.find(b.uri), b);
  assert.equal(r.find(b.id), b);
  assert.equal(r.find('sip:nothing@conclave.example.com'), undefined);
  assert.deepEqual(
    r.list().map((c) => c.id),
    [a.id, b.id],
  );
  const many = new Set(Array.from({ length: 300 }, () => r.create({ creator: 'x' }).uri));
  assert.equal(many.size, 300);
});

test('named rooms: a given URI is used as is, duplicates and non-SIP URIs are refused', () => {
  const r = registry();
  const room = r.create({ creator: 'admin', uri: 'sip:standup@conclave.example.com' });
  assert.equal(room.uri, 'sip:standup@conclave.example.com');
  assert.equal(r.findByUri('sip:standup@conclave.example.com;transport=udp'), room);
  assert.throws(
    () => r.create({ creator: 'admin', uri: 'sips:standup@CONCLAVE.example.com' }),
    (e: unknown) => e instanceof ConferenceError && e.code === 'duplicate',
  );
  assert.throws(
    () => r.create({ creator: 'admin', uri: 'https://x' }),
    (e: unknown) => e instanceof ConferenceError && e.code === 'invalid-argument',
  );
});

test('ending removes a conference, through the registry or the conference itself', () => {
  const r = registry({ idGenerator: sequence('cf') });
  const ended: [string, string | undefined][] = [];
  r.on('ended', (c, reason) => ended.push([c.id, reason]));
  const a = r.create({ creator: 'x' });
  const b = r.create({ creator: 'x' });
  a.join({ entity: 'sip:p@x' });
  assert.equal(r.end(a.uri, 'admin ended it'), true);
  assert.equal(a.ended, true);
  assert.equal(a.size, 0);
  assert.equal(r.end(a.id), false, 'already gone');
  b.end();
  assert.deepEqual(ended, [
    ['cf1', 'admin ended it'],
    ['cf2', undefined],
  ]);
  assert.equal(r.size, 0);
  assert.equal(r.findByUri(a.uri), undefined);
  // Its URI can be reused by a new named room.
  assert.equal(r.create({ creator: 'x', uri: a.uri }).uri, a.uri);
});

test('maximum conferences, bad domain, close', () => {
  assert.throws(
    () => registry({ domain: 'not a domain' }),
    (e: unknown) => e instanceof ConferenceError && e.code === 'invalid-argument',
  );
  const r = registry({ maxConferences: 2 });
  const a = r.create({ creator: 'x' });
  r.create({ creator: 'x' });
  assert.throws(
    () => r.create({ creator: 'x' }),
    (e: unknown) => e instanceof ConferenceError && e.code === 'full',
  );
  a.end();
  const c = r.create({ creator: 'x' });
  const endedReasons: (string | undefined)[] = [];
  r.on('ended', (_conference, reason) => endedReasons.push(reason));
  r.close();
  assert.deepEqual(endedReasons, ['shutting down', 'shutting down']);
  assert.equal(c.ended, true);
  assert.equal(r.size, 0);
  assert.equal(r.closed, true);
  assert.throws(
    () => r.create({ creator: 'x' }),
    (e: unknown) => e instanceof ConferenceError && e.code === 'ended',
  );
});
