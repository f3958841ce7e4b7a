/**
 * The admin HTTP API over a real http.Server and fetch: sessions (login, logout, bearer, Basic,
 * throttling), every endpoint with its errors, Server-Sent Events, garbage input, and the OpenAPI
 * document against the route table and the actual responses.
 *
 * The ConferenceControl here applies operations straight to a real ConferenceRegistry's
 * conferences; the focus's SIP and media effects are tested with the focus.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { type Conference, ConferenceError, ConferenceRegistry } from '@conclave/conference';
import { createLogger } from '@conclave/log';
import { AdminApi, type AdminApiOptions } from '../src/admin-api.ts';
import type { Actor, ConferenceControl } from '../src/control.ts';
import { directoryAuthenticator } from '../src/directory-authenticator.ts';
import { ADMIN_ROUTES } from '../src/routes.ts';

const DOMAIN = 'conclave.test';
const ADMIN = { user: 'admin', password: 'admin-secret' };
const OPENAPI_PATH = fileURLToPath(new URL('../../../docs/admin-api.openapi.yaml', import.meta.url));
const AUDIO = [{ id: '0', type: 'audio', status: 'sendrecv' as const }];

/** Applies the admin operations to the model, and can be told to fail. */
class ModelControl implements ConferenceControl {
  readonly registry: ConferenceRegistry;
  readonly calls: string[] = [];
  /** Thrown by the next operation instead of applying it. */
  failNext: Error | undefined;

  constructor(registry: ConferenceRegistry) {
    this.registry = registry;
  }

  #apply(name: string, actor: Actor, fn: () => void): Promise<void> {
    this.calls.push(`${name} by ${actor.uri}`);
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) return Promise.reject(failure);
    fn();
    return Promise.resolve();
  }

  mute(conference: Conference, participantId: string, actor: Actor): Promise<void> {
    return this.#apply('mute', actor, () => conference.mute(participantId, { by: actor.uri }));
  }
  unmute(conference: Conference, participantId: string, actor: Actor): Promise<void> {
    return this.#apply('unmute', actor, () => conference.unmute(participantId));
  }
  kick(conference: Conference, participantId: string, actor: Actor): Promise<void> {
    return this.#apply('kick', actor, () => conference.leave(participantId, 'booted', { by: actor.uri }));
  }
  lock(conference: Conference, actor: Actor): Promise<void> {
    return this.#apply('lock', actor, () => conference.lock());
  }
  unlock(conference: Conference, actor: Actor): Promise<void> {
    return this.#apply('unlock', actor, () => conference.unlock());
  }
  end(conference: Conference, actor: Actor): Promise<void> {
    return this.#apply('end', actor, () => conference.end(`ended by ${actor.user}`));
  }
}

interface Harness {
  url: (path: string) => string;
  api: AdminApi;
  registry: ConferenceRegistry;
  control: ModelControl;
  server: Server;
  port: number;
  logs: string[];
  close: () => Promise<void>;
}

const open: Harness[] = [];
after(async () => {
  for (const h of open) await h.close();
});

async function start(options: Partial<AdminApiOptions> = {}): Promise<Harness> {
  const logs: string[] = [];
  const logger = createLogger('test', { level: 'debug', sink: (line) => logs.push(line) });
  const registry = new ConferenceRegistry({ domain: DOMAIN, logger });
  const control = new ModelControl(registry);
  const directory = new Map([
    ['admin', { password: ADMIN.password, admin: true }],
    ['alice', { password: 'alice-secret', admin: false }],
  ]);
  const api = new AdminApi({ control, auth: directoryAuthenticator(directory), domain: DOMAIN, logger, ...options });
  const server = createServer((req, res) => {
    // As the launcher's web server does: the next handler gets what the API declines.
    api.handle(req, res).then(
      (mine) => {
        if (!mine) res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not the API');
      },
      (error: Error) => {
        logs.push(`UNEXPECTED REJECTION ${error.message}`);
        res.destroy();
      },
    );
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const h: Harness = {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    api,
    registry,
    control,
    server,
    port,
    logs,
    close: async () => {
      if (closed) return;
      closed = true;
      api.close();
      registry.close();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      assert.ok(!logs.some((l) => l.startsWith('UNEXPECTED')), 'handle() never rejects');
    },
  };
  open.push(h);
  return h;
}

async function login(h: Harness, user = ADMIN.user, password = ADMIN.password): Promise<Response> {
  return fetch(h.url('/api/session'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, password }),
  });
}

async function token(h: Harness): Promise<string> {
  const res = await login(h);
  assert.equal(res.status, 200);
  return ((await res.json()) as { token: string }).token;
}

function bearer(t: string): Record<string, string> {
  return { Authorization: `Bearer ${t}` };
}

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(typeof body.error.code, 'string');
  assert.equal(typeof body.error.message, 'string');
  return body.error;
}

function join(conference: Conference, name: string) {
  return conference.join({
    entity: `sip:${name}@${DOMAIN}`,
    displayName: name[0]!.toUpperCase() + name.slice(1),
    media: AUDIO,
  });
}

// --- sessions ----------------------------------------------------------------------------------

test('login returns a 256-bit token valid 12 h; bearer works; logout revokes it', async () => {
  const h = await start();
  const res = await login(h);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const session = (await res.json()) as { token: string; user: string; expiresAt: string };
  assert.equal(session.user, 'admin');
  assert.match(session.token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(session.token, 'base64url').length, 32);
  const ttl = Date.parse(session.expiresAt) - Date.now();
  assert.ok(ttl > 12 * 3600_000 - 60_000 && ttl <= 12 * 3600_000, `expires in ${ttl} ms`);
  assert.notEqual(await token(h), session.token, 'each login gets its own token');

  const me = await fetch(h.url('/api/session'), { headers: bearer(session.token) });
  assert.equal(me.status, 200);
  assert.deepEqual(await me.json(), { user: 'admin', method: 'bearer', expiresAt: session.expiresAt });
  assert.equal((await fetch(h.url('/api/conferences'), { headers: bearer(session.token) })).status, 200);

  const out = await fetch(h.url('/api/session'), { method: 'DELETE', headers: bearer(session.token) });
  assert.equal(out.status, 204);
  assert.equal(out.headers.get('cache-control'), 'no-store');
  const after = await fetch(h.url('/api/conferences'), { headers: bearer(session.token) });
  assert.equal(after.status, 401);
  assert.equal(after.headers.get('www-authenticate'), 'Bearer realm="Conclave admin"');
  assert.equal((await errorOf(after)).code, 'unauthorized');
  assert.ok(h.logs.some((l) => l.includes('admin logged in') && l.includes('user=admin')));
  assert.ok(h.logs.some((l) => l.includes('admin logged out')));
});

test('wrong password, unknown user and non-admin get the same 401, logged', async () => {
  const h = await start();
  const answers = [
    await login(h, 'admin', 'wrong'),
    await login(h, 'nobody', 'x'),
    await login(h, 'alice', 'alice-secret'),
  ];
  const messages = new Set<string>();
  for (const res of answers) {
    assert.equal(res.status, 401);
    const error = await errorOf(res);
    assert.equal(error.code, 'unauthorized');
    messages.add(error.message);
    assert.ok(
      !/basic/i.test(res.headers.get('www-authenticate') ?? ''),
      'no Basic challenge: browsers would pop up a dialog',
    );
  }
  assert.equal(messages.size, 1);
  const failures = h.logs.filter((l) => l.includes('admin login failed'));
  assert.equal(failures.length, 3);
  assert.ok(failures.some((l) => l.includes('user=alice') && l.includes('remote=127.0.0.1')));
  assert.ok(
    !h.logs.some((l) => l.includes('admin-secret') || l.includes('alice-secret')),
    'passwords are never logged',
  );
});

test('HTTP Basic with admin credentials works on every call; a non-admin or wrong password does not', async () => {
  const h = await start();
  const list = await fetch(h.url('/api/conferences'), { headers: basic('admin', 'admin-secret') });
  assert.equal(list.status, 200);
  assert.deepEqual(await list.json(), { conferences: [] });
  const me = await fetch(h.url('/api/session'), { headers: basic('admin', 'admin-secret') });
  assert.deepEqual(await me.json(), { user: 'admin', method: 'basic', expiresAt: null });
  assert.equal(
    (await fetch(h.url('/api/session'), { method: 'DELETE', headers: basic('admin', 'admin-secret') })).status,
    204,
  );
  assert.equal(
    (await fetch(h.url('/api/conferences'), { headers: basic('admin', 'admin-secret') })).status,
    200,
    'Basic has no session to revoke',
  );

  const conference = h.registry.create({ creator: `sip:alice@${DOMAIN}` });
  const lock = await fetch(h.url(`/api/conferences/${conference.id}/lock`), {
    method: 'POST',
    headers: basic('admin', 'admin-secret'),
  });
  assert.equal(lock.status, 204);
  assert.deepEqual(h.control.calls, [`lock by sip:admin@${DOMAIN}`]);

  for (const headers of [
    basic('alice', 'alice-secret'),
    basic('admin', 'nope'),
    { Authorization: 'Basic bm9jb2xvbg==' },
    { Authorization: 'Digest x=y' },
  ]) {
    const res = await fetch(h.url('/api/conferences'), { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
  }
  const missing = await fetch(h.url('/api/conferences'));
  assert.equal(missing.status, 401);
  assert.match((await errorOf(missing)).message, /log in first/);
});

test('failed logins are throttled per address: 429 with Retry-After, then allowed again', async () => {
  const h = await start({ loginThrottle: { maxFailures: 5, windowMs: 1500 } });
  const earlier = await token(h);
  for (let i = 0; i < 5; i++) assert.equal((await login(h, 'admin', `guess-${i}`)).status, 401);
  const blocked = await login(h);
  assert.equal(blocked.status, 429, 'even the right password, while blocked');
  assert.equal((await errorOf(blocked)).code, 'too-many-requests');
  const retryAfter = Number(blocked.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 2, `Retry-After ${retryAfter}`);
  // HTTP Basic is a login too.
  assert.equal((await fetch(h.url('/api/conferences'), { headers: basic('admin', 'admin-secret') })).status, 429);
  assert.equal(
    h.logs.filter((l) => l.includes('too many failures')).length,
    1,
    'one log line per block, not per attempt',
  );
  assert.equal(
    (await fetch(h.url('/api/conferences'), { headers: bearer(earlier) })).status,
    200,
    'existing sessions are not affected',
  );

  await new Promise((ok) => setTimeout(ok, 1600));
  const t = await token(h);
  assert.equal((await fetch(h.url('/api/conferences'), { headers: bearer(t) })).status, 200);
  // Success cleared the record: 4 more failures do not block.
  for (let i = 0; i < 4; i++)
    assert.equal((await fetch(h.url('/api/conferences'), { headers: basic('admin', `x${i}`) })).status, 401);
  assert.equal((await login(h)).status, 200);
});

test('an expired token is refused', async () => {
  const h = await start({ sessionTtlMs: 150 });
  const t = await token(h);
  assert.equal((await fetch(h.url('/api/conferences'), { headers: bearer(t) })).status, 200);
  await new Promise((ok) => setTimeout(ok, 200));
  const res = await fetch(h.url('/api/conferences'), { headers: bearer(t) });
  assert.equal(res.status, 401);
  assert.match((await errorOf(res)).message, /expired/);
});

// --- reading -----------------------------------------------------------------------------------

test('GET /conferences lists every conference with its summary', async () => {
  const h = await start();
  const t = await token(h);
  const a = h.registry.create({ creator: `sip:alice@${DOMAIN}`, subject: 'Standup' });
  const b = h.registry.create({ creator: `sip:bob@${DOMAIN}` });
  const alice = join(a, 'alice');
  join(a, 'bob');
  a.setSpeaker(alice.id);
  b.lock();
  const res = await fetch(h.url('/api/conferences'), { headers: bearer(t) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const { conferences } = (await res.json()) as { conferences: Record<string, unknown>[] };
  assert.deepEqual(conferences, [
    {
      id: a.id,
      uri: a.uri,
      creator: `sip:alice@${DOMAIN}`,
      createdAt: new Date(a.createdAt).toISOString(),
      subject: 'Standup',
      participantCount: 2,
      locked: false,
      activeSpeaker: alice.id,
    },
    {
      id: b.id,
      uri: b.uri,
      creator: `sip:bob@${DOMAIN}`,
      createdAt: new Date(b.createdAt).toISOString(),
      subject: null,
      participantCount: 0,
      locked: true,
      activeSpeaker: null,
    },
  ]);
});

test('GET /conferences/{id} by id or URL-encoded URI returns the roster; unknown is 404', async () => {
  const h = await start();
  const t = await token(h);
  const c = h.registry.create({ creator: `sip:alice@${DOMAIN}` });
  const alice = join(c, 'alice');
  const bob = c.join({
    entity: `sip:bob@${DOMAIN}`,
    status: 'dialing-in',
    media: [...AUDIO, { id: '1', type: 'video', status: 'sendonly', label: 'cam' }],
  });
  c.hold(alice.id);

  const byId = await fetch(h.url(`/api/conferences/${c.id}`), { headers: bearer(t) });
  assert.equal(byId.status, 200);
  const detail = (await byId.json()) as { participants: Record<string, unknown>[] } & Record<string, unknown>;
  assert.equal(detail['id'], c.id);
  assert.equal(detail['participantCount'], 2);
  assert.equal(detail['ended'], false);
  assert.equal(detail['maxParticipants'], 50);
  assert.deepEqual(detail.participants[0], {
    id: alice.id,
    entity: `sip:alice@${DOMAIN}`,
    displayName: 'Alice',
    status: 'connected',
    endpointStatus: 'on-hold',
    joiningMethod: 'dialed-in',
    joinedAt: new Date(alice.joinedAt).toISOString(),
    onHold: true,
    mutedByFocus: false,
    mutedBy: null,
    speaking: false,
    roles: ['creator', 'participant'],
    media: [{ id: '0', type: 'audio', status: 'sendrecv', label: null, displayText: null }],
  });
  assert.equal(detail.participants[1]!['id'], bob.id);
  assert.equal(detail.participants[1]!['displayName'], null);
  assert.equal(detail.participants[1]!['endpointStatus'], 'dialing-in');
  assert.equal((detail.participants[1]!['media'] as unknown[]).length, 2);
  assert.ok(!('callInfo' in detail.participants[0]), 'dialog identifiers stay inside');

  for (const uri of [
    c.uri,
    c.uri.replace(DOMAIN, DOMAIN.toUpperCase()),
    `${c.uri.replace(/^sip:/, 'sips:')};transport=ws`,
  ]) {
    const res = await fetch(h.url(`/api/conferences/${encodeURIComponent(uri)}`), { headers: bearer(t) });
    assert.equal(res.status, 200, uri);
    assert.equal(((await res.json()) as { id: string }).id, c.id);
  }
  for (const id of ['cf_nope', encodeURIComponent(`sip:conf-nope@${DOMAIN}`), 'sip%3A', '%00', 'a%2Fb']) {
    const res = await fetch(h.url(`/api/conferences/${id}`), { headers: bearer(t) });
    assert.equal(res.status, 404, id);
    assert.equal((await errorOf(res)).code, 'conference-not-found');
  }
});

// --- actions -----------------------------------------------------------------------------------

test('mute, unmute and kick a participant; unknown participant or conference is 404', async () => {
  const h = await start();
  const t = await token(h);
  const c = h.registry.create({ creator: `sip:alice@${DOMAIN}` });
  const alice = join(c, 'alice');
  const bob = join(c, 'bob');
  const post = (path: string, init: RequestInit = {}) =>
    fetch(h.url(`/api/conferences/${c.id}${path}`), {
      method: 'POST',
      ...init,
      headers: { ...bearer(t), ...(init.headers as Record<string, string>) },
    });

  const mute = await post(`/participants/${bob.id}/mute`);
  assert.equal(mute.status, 204);
  assert.equal(mute.headers.get('cache-control'), 'no-store');
  assert.equal(await mute.text(), '');
  assert.equal(c.participant(bob.id)!.mutedByFocus, true);
  assert.equal(c.participant(bob.id)!.mutedBy, `sip:admin@${DOMAIN}`);
  const roster = (await (await fetch(h.url(`/api/conferences/${c.id}`), { headers: bearer(t) })).json()) as {
    participants: { endpointStatus: string; mutedBy: string | null }[];
  };
  assert.equal(roster.participants[1]!.endpointStatus, 'muted-via-focus');
  assert.equal(roster.participants[1]!.mutedBy, `sip:admin@${DOMAIN}`);
  assert.equal((await post(`/participants/${bob.id}/mute`)).status, 204, 'muting a muted participant is fine');

  // An (ignored) JSON body is accepted; another type is not.
  assert.equal(
    (await post(`/participants/${bob.id}/unmute`, { headers: { 'Content-Type': 'application/json' }, body: '{}' }))
      .status,
    204,
  );
  assert.equal(c.participant(bob.id)!.mutedByFocus, false);
  const form = await post(`/participants/${bob.id}/mute`, {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'a=b',
  });
  assert.equal(form.status, 415);
  assert.equal((await errorOf(form)).code, 'unsupported-media-type');
  const badJson = await post(`/participants/${bob.id}/mute`, {
    headers: { 'Content-Type': 'application/json' },
    body: '{',
  });
  assert.equal(badJson.status, 400);
  assert.equal((await errorOf(badJson)).code, 'invalid-json');
  assert.equal(c.participant(bob.id)!.mutedByFocus, false, 'refused requests change nothing');

  const kick = await post(`/participants/${alice.id}/kick`);
  assert.equal(kick.status, 204);
  assert.equal(c.participant(alice.id), undefined);
  assert.equal(c.departed[0]!.disconnectionMethod, 'booted');
  assert.equal(c.departed[0]!.disconnectionInfo.by, `sip:admin@${DOMAIN}`);

  for (const action of ['mute', 'unmute', 'kick']) {
    const gone = await post(`/participants/${alice.id}/${action}`);
    assert.equal(gone.status, 404, action);
    assert.equal((await errorOf(gone)).code, 'participant-not-found');
  }
  const noConference = await fetch(h.url(`/api/conferences/cf_nope/participants/${bob.id}/mute`), {
    method: 'POST',
    headers: bearer(t),
  });
  assert.equal(noConference.status, 404);
  assert.equal((await errorOf(noConference)).code, 'conference-not-found');
  assert.deepEqual(
    h.control.calls,
    ['mute', 'mute', 'unmute', 'kick'].map((a) => `${a} by sip:admin@${DOMAIN}`),
  );
  assert.ok(h.logs.some((l) => l.includes('admin action') && l.includes('action=kick') && l.includes(alice.id)));
});

test('lock, unlock and end a conference; ending twice is 404; model errors map to 409/404, others to 500', async () => {
  const h = await start();
  const t = await token(h);
  const c = h.registry.create({ creator: `sip:alice@${DOMAIN}` });
  const bob = join(c, 'bob');
  const post = (path: string) =>
    fetch(h.url(`/api/conferences/${encodeURIComponent(c.uri)}${path}`), { method: 'POST', headers: bearer(t) });

  assert.equal((await post('/lock')).status, 204);
  assert.equal(c.locked, true);
  assert.throws(
    () => join(c, 'carol'),
    (e: unknown) => e instanceof ConferenceError && e.code === 'locked',
  );
  assert.equal((await post('/lock')).status, 204, 'idempotent');
  assert.equal((await post('/unlock')).status, 204);
  assert.equal(c.locked, false);

  h.control.failNext = new ConferenceError('ended', `conference ${c.uri} has ended`, { conference: c.id });
  const conflict = await post('/lock');
  assert.equal(conflict.status, 409);
  assert.deepEqual(await errorOf(conflict), { code: 'ended', message: `conference ${c.uri} has ended` });
  h.control.failNext = new ConferenceError('not-found', 'no participant', {});
  const raced = await post(`/participants/${bob.id}/kick`);
  assert.equal(raced.status, 404);
  assert.equal((await errorOf(raced)).code, 'participant-not-found');
  h.control.failNext = new Error('media worker died');
  const broken = await post(`/participants/${bob.id}/mute`);
  assert.equal(broken.status, 500);
  assert.equal((await errorOf(broken)).code, 'internal');
  assert.ok(h.logs.some((l) => l.includes('admin API request failed') && l.includes('media worker died')));

  const end = await post('/end');
  assert.equal(end.status, 204);
  assert.equal(c.ended, true);
  assert.equal(c.endReason, 'ended by admin');
  assert.equal(h.registry.size, 0);
  const again = await post('/end');
  assert.equal(again.status, 404);
  assert.equal((await errorOf(again)).code, 'conference-not-found');
  const list = (await (await fetch(h.url('/api/conferences'), { headers: bearer(t) })).json()) as {
    conferences: unknown[];
  };
  assert.deepEqual(list.conferences, []);
});

// --- request errors ----------------------------------------------------------------------------

test('wrong method is 405 with Allow; unknown paths 404; paths outside /api are left alone', async () => {
  const h = await start();
  const t = await token(h);
  const c = h.registry.create({ creator: `sip:alice@${DOMAIN}` });
  const cases: [string, string, number, string | null][] = [
    ['GET', `/api/conferences/${c.id}/lock`, 405, 'POST'],
    ['PUT', '/api/conferences', 405, 'GET'],
    ['PATCH', '/api/session', 405, 'POST, GET, DELETE'],
    ['POST', '/api/events', 405, 'GET'],
    ['DELETE', `/api/conferences/${c.id}`, 405, 'GET'],
    ['GET', '/api', 404, null],
    ['GET', '/api/', 404, null],
    ['GET', '/api/nope', 404, null],
    ['GET', '/api/conferences/', 404, null],
    ['POST', `/api/conferences/${c.id}/participants//mute`, 404, null],
    ['POST', `/api/conferences/${c.id}/explode`, 404, null],
  ];
  for (const [method, path, status, allow] of cases) {
    const res = await fetch(h.url(path), { method, headers: bearer(t) });
    assert.equal(res.status, status, `${method} ${path}`);
    assert.equal(res.headers.get('allow'), allow, `${method} ${path}`);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal((await errorOf(res)).code, status === 405 ? 'method-not-allowed' : 'not-found');
  }
  const badEscape = await fetch(h.url('/api/conferences/%E0%A4%A'), { headers: bearer(t) });
  assert.equal(badEscape.status, 400);
  assert.equal((await errorOf(badEscape)).code, 'invalid-request');
  for (const path of ['/', '/apix', '/index.html', '/api-docs', '/config.json']) {
    const res = await fetch(h.url(path));
    assert.equal(res.status, 404);
    assert.equal(await res.text(), 'not the API', path);
  }
  // Basic auth against a path outside the API is not the API's business either (no throttling).
  assert.equal(h.control.calls.length, 0);
});

test('login body: 400 for bad JSON or fields, 415 for non-JSON, 413 beyond 16 KiB (declared or chunked)', async () => {
  const h = await start({ loginThrottle: { maxFailures: 1000 } });
  const send = (body: string | undefined, type: string | null = 'application/json') =>
    fetch(h.url('/api/session'), {
      method: 'POST',
      headers: type ? { 'Content-Type': type } : {},
      body: body === undefined ? null : Buffer.from(body),
    });
  const expect = async (res: Response, status: number, code: string) => {
    assert.equal(res.status, status);
    assert.equal((await errorOf(res)).code, code);
  };
  await expect(await send('{"user":'), 400, 'invalid-json');
  await expect(await send('[]'), 400, 'invalid-request');
  await expect(await send('null'), 400, 'invalid-request');
  await expect(await send('"admin"'), 400, 'invalid-request');
  await expect(await send('{"user":"admin"}'), 400, 'invalid-request');
  await expect(await send('{"user":1,"password":2}'), 400, 'invalid-request');
  await expect(await send(undefined), 400, 'invalid-request');
  await expect(await send('   '), 400, 'invalid-request');
  await expect(await send(JSON.stringify(ADMIN), 'text/plain'), 415, 'unsupported-media-type');
  await expect(await send(JSON.stringify(ADMIN), null), 415, 'unsupported-media-type');
  await expect(await send(JSON.stringify({ user: '', password: 'x' })), 401, 'unauthorized');
  await expect(await send(JSON.stringify({ user: 'admin', password: 'x'.repeat(2000) })), 401, 'unauthorized');
  assert.equal((await send(JSON.stringify(ADMIN), 'application/json; charset=utf-8')).status, 200);
  assert.equal((await send(JSON.stringify({ ...ADMIN, extra: [1, 2, 3] }))).status, 200, 'unknown fields are ignored');

  const big = JSON.stringify({ ...ADMIN, pad: 'x'.repeat(17 * 1024) });
  const tooBig = await send(big);
  await expect(tooBig, 413, 'payload-too-large');
  // A chunked upload without Content-Length is cut off as it passes the limit.
  const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      h.url('/api/session'),
      { method: 'POST', headers: { 'Content-Type': 'application/json' } },
      (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => (body += d))
          .on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    for (let i = 0; i < 3; i++) req.write('x'.repeat(8 * 1024));
    req.end();
  });
  assert.equal(chunked.status, 413);
  assert.equal((JSON.parse(chunked.body) as { error: { code: string } }).error.code, 'payload-too-large');
  // The server still works.
  assert.equal((await login(h)).status, 200);
});

test('garbage never crashes the server: raw bytes, odd headers, random paths', async () => {
  const h = await start({ loginThrottle: { maxFailures: 10_000 } });
  const t = await token(h);
  const c = h.registry.create({ creator: `sip:alice@${DOMAIN}` });
  join(c, 'alice');
  const raw = (bytes: string | Buffer) =>
    new Promise<string>((resolve) => {
      const socket = connect(h.port, '127.0.0.1');
      let answer = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (answer += d));
      socket.on('error', () => resolve(answer));
      socket.on('close', () => resolve(answer));
      socket.setTimeout(1000, () => socket.destroy());
      socket.end(bytes);
    });
  const rawCases = [
    'GARBAGE\r\n\r\n',
    'GET /api/conferences HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %%%%\r\nConnection: close\r\n\r\n',
    'GET /api/conferences HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\nConnection: close\r\n\r\n',
    'GET /api/conferences HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a b c\r\nConnection: close\r\n\r\n',
    `GET /api/conferences HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'A'.repeat(8000)}\r\nConnection: close\r\n\r\n`,
    'GET //evil.example/api/conferences HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'GET /api/conferences/%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    `POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{"user":`,
    'POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n{}',
    'POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n',
    Buffer.concat([
      Buffer.from(
        'POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\nConnection: close\r\n\r\n',
      ),
      Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, ...Array<number>(34).fill(0x7b)]),
    ]),
    `GET /api/events?token=${'%'.repeat(50)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    `POST /api/conferences/${c.id}/participants/${'%F0%9F%92%A9'.repeat(50)}/kick HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nConnection: close\r\n\r\n`,
  ];
  for (const bytes of rawCases) {
    const answer = await raw(bytes);
    assert.match(
      answer,
      /^(HTTP\/1\.1 (400|401|404|413) |$)/,
      `answer to ${String(bytes).slice(0, 60)}: ${answer.slice(0, 40)}`,
    );
  }
  // Random paths and methods through fetch.
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
  const pieces = [
    'conferences',
    c.id,
    c.uri,
    'participants',
    'mute',
    'kick',
    'lock',
    'end',
    'events',
    'session',
    '..',
    '%2F',
    '%',
    '\u00e9',
    '?token=x',
    '',
  ];
  for (let i = 0; i < 150; i++) {
    const path = Array.from(
      { length: 1 + Math.floor(random() * 5) },
      () => pieces[Math.floor(random() * pieces.length)],
    ).join('/');
    const method = ['GET', 'POST', 'DELETE', 'PUT', 'OPTIONS'][Math.floor(random() * 5)]!;
    const res = await fetch(h.url(`/api/${encodeURI(path).replace(/%25/g, '%')}`), {
      method,
      headers: { ...bearer(t), 'Content-Type': 'application/json' },
      ...(method === 'POST' ? { body: random() < 0.5 ? '{}' : '\u0000{' } : {}),
    });
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
      await res.body?.cancel();
      continue;
    }
    assert.ok([200, 204, 400, 401, 404, 405, 409].includes(res.status), `${method} ${path}: ${res.status}`);
    if (res.status !== 204) await res.text();
  }
  // Still alive and consistent (the random requests may have logged the token out).
  assert.equal((await fetch(h.url('/api/conferences'), { headers: bearer(await token(h)) })).status, 200);
  assert.ok(!h.logs.some((l) => l.includes(' ERROR ')), h.logs.filter((l) => l.includes(' ERROR ')).join('\n'));
});

// --- events ------------------------------------------------------------------------------------

/** Reads Server-Sent Events from a fetch response. */
class EventReader {
  readonly events: { event: string; data: unknown; at: number }[] = [];
  readonly comments: string[] = [];
  ended = false;
  readonly #waiters = new Set<() => void>();
  readonly done: Promise<void>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(res: Response) {
    const reader: ReadableStreamDefaultReader<Uint8Array> = res.body!.getReader();
    this.#reader = reader;
    const decoder = new TextDecoder();
    let buffer = '';
    this.done = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let i: number;
          while ((i = buffer.indexOf('\n\n')) >= 0) {
            this.#frame(buffer.slice(0, i));
            buffer = buffer.slice(i + 2);
          }
        }
      } catch {
        // aborted
      }
      this.ended = true;
      this.#wake();
    })();
  }

  /** Disconnects (as a closing browser tab would). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
    await this.done;
  }

  #frame(text: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of text.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) this.events.push({ event, data: JSON.parse(data.join('\n')) as unknown, at: Date.now() });
    this.#wake();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Waits for an event (after index `from`) matching the predicate. */
  async next(
    event: string,
    from = 0,
    timeoutMs = 1000,
    predicate: (data: Record<string, unknown>) => boolean = () => true,
  ): Promise<{ data: Record<string, unknown>; index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.events.findIndex(
        (e, i) => i >= from && e.event === event && predicate(e.data as Record<string, unknown>),
      );
      if (index >= 0) return { data: this.events[index]!.data as Record<string, unknown>, index };
      if (this.ended) throw new Error(`stream ended without ${event}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no ${event} within ${timeoutMs} ms; got ${this.events.map((e) => e.event).join(', ')}`);
      await new Promise<void>((ok) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          ok();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  async waitEnded(timeoutMs = 1000): Promise<void> {
    await Promise.race([
      this.done,
      new Promise((_, fail) => setTimeout(() => fail(new Error('stream did not end')), timeoutMs).unref()),
    ]);
  }
}

async function openEvents(
  h: Harness,
  init: { path?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<{ res: Response; reader: EventReader }> {
  const res = await fetch(h.url(init.path ?? '/api/events'), {
    headers: init.headers ?? {},
    ...(init.signal ? { signal: init.signal } : {}),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  return { res, reader: new EventReader(res) };
}

test('events: snapshot, then created / updated / ended within a second', async () => {
  const h = await start();
  const t = await token(h);
  const existing = h.registry.create({ creator: `sip:alice@${DOMAIN}`, subject: 'Before' });
  join(existing, 'alice');
  const abort = new AbortController();
  const { reader } = await openEvents(h, { headers: bearer(t), signal: abort.signal });
  const snapshot = await reader.next('snapshot');
  assert.equal(snapshot.index, 0);
  const listed = snapshot.data['conferences'] as { id: string; participants: unknown[] }[];
  assert.deepEqual(
    listed.map((c) => c.id),
    [existing.id],
  );
  assert.equal(listed[0]!.participants.length, 1);
  assert.equal(h.api.eventStreamCount, 1);

  const started = Date.now();
  const c = h.registry.create({ creator: `sip:bob@${DOMAIN}` });
  const created = await reader.next('conference-created');
  assert.equal(created.data['id'], c.id);
  assert.equal(created.data['uri'], c.uri);
  assert.deepEqual(created.data['participants'], []);

  const bob = join(c, 'bob');
  const joined = await reader.next('conference-updated', created.index + 1, 1000, (d) => d['participantCount'] === 1);
  assert.equal((joined.data['participants'] as { id: string }[])[0]!.id, bob.id);
  c.lock();
  await reader.next('conference-updated', joined.index + 1, 1000, (d) => d['locked'] === true);
  c.setSpeaker(bob.id);
  await reader.next('conference-updated', joined.index + 1, 1000, (d) => d['activeSpeaker'] === bob.id);

  c.end('over');
  const ended = await reader.next('conference-ended');
  assert.deepEqual(ended.data, { id: c.id, uri: c.uri, reason: 'over' });
  assert.ok(Date.now() - started < 2000);
  // Nothing about the ended conference after its end (its last 'changed' is not forwarded).
  await new Promise((ok) => setTimeout(ok, 300));
  assert.ok(!reader.events.slice(ended.index + 1).some((e) => (e.data as { id?: string }).id === c.id));

  // The client goes away: its stream is cleaned up.
  abort.abort();
  await reader.done;
  for (let i = 0; i < 50 && h.api.eventStreamCount > 0; i++) await new Promise((ok) => setTimeout(ok, 10));
  assert.equal(h.api.eventStreamCount, 0);
  existing.setSubject('no listeners, no crash');
});

test('events: bursts of changes are coalesced to one update per conference per 200 ms, ending with the latest state', async () => {
  const h = await start();
  const t = await token(h);
  const a = h.registry.create({ creator: `sip:alice@${DOMAIN}` });
  const b = h.registry.create({ creator: `sip:bob@${DOMAIN}` });
  const alice = join(a, 'alice');
  const carol = join(a, 'carol');
  const bob = join(b, 'bob');
  const { reader } = await openEvents(h, { headers: bearer(t) });
  await reader.next('snapshot');
  for (let i = 0; i < 20; i++) {
    a.setSpeaker(i % 2 === 0 ? alice.id : carol.id);
    b.setSpeaker(i % 2 === 0 ? bob.id : undefined);
  }
  await new Promise((ok) => setTimeout(ok, 700));
  const updates = (id: string) =>
    reader.events.filter((e) => e.event === 'conference-updated' && (e.data as { id: string }).id === id);
  for (const [conference, last] of [
    [a, carol.id],
    [b, null],
  ] as const) {
    const list = updates(conference.id);
    assert.equal(list.length, 2, `${conference.id}: the first at once, one coalesced after 200 ms`);
    assert.ok(list[1]!.at - list[0]!.at >= 150, `${list[1]!.at - list[0]!.at} ms apart`);
    assert.equal((list[1]!.data as { activeSpeaker: string | null }).activeSpeaker, last);
  }
  await reader.cancel();
});

test('events: ?token= works (EventSource), wrong or missing credentials are 401, Basic works', async () => {
  const h = await start();
  const t = await token(h);
  const { reader } = await openEvents(h, { path: `/api/events?token=${encodeURIComponent(t)}` });
  await reader.next('snapshot');
  await reader.cancel();
  const basicStream = await openEvents(h, { headers: basic('admin', 'admin-secret') });
  await basicStream.reader.next('snapshot');
  await basicStream.reader.cancel();
  for (const path of ['/api/events', '/api/events?token=', '/api/events?token=nope', `/api/events?tok=${t}`]) {
    const bad = await fetch(h.url(path));
    assert.equal(bad.status, 401, path);
    assert.equal((await errorOf(bad)).code, 'unauthorized');
  }
  // Only the event stream takes the token from the query (tokens in URLs end up in logs).
  assert.equal((await fetch(h.url(`/api/conferences?token=${t}`))).status, 401);
  assert.ok(!h.logs.some((l) => l.includes(t)), 'tokens are never logged');
});

test('events: keep-alive comments; logout, expiry and close() end the streams', async () => {
  const h = await start({ events: { keepAliveMs: 100 }, sessionTtlMs: 60_000 });
  const t1 = await token(h);
  const t2 = await token(h);
  const s1 = await openEvents(h, { headers: bearer(t1) });
  const s2 = await openEvents(h, { headers: bearer(t2) });
  const s3 = await openEvents(h, { headers: basic('admin', 'admin-secret') });
  await new Promise((ok) => setTimeout(ok, 350));
  assert.ok(
    s1.reader.comments.filter((c) => c === ': keep-alive').length >= 2,
    `comments: ${s1.reader.comments.join('|')}`,
  );

  assert.equal((await fetch(h.url('/api/session'), { method: 'DELETE', headers: bearer(t1) })).status, 204);
  await s1.reader.waitEnded();
  assert.equal(s2.reader.ended, false, 'other sessions keep their streams');
  assert.equal(h.api.eventStreamCount, 2);

  h.api.close();
  await s2.reader.waitEnded();
  await s3.reader.waitEnded();
  assert.equal(h.api.eventStreamCount, 0);
  const after = await fetch(h.url('/api/conferences'), { headers: bearer(t2) });
  assert.equal(after.status, 503);
  assert.equal((await errorOf(after)).code, 'unavailable');
  // close() let go of the registry: no listeners of ours remain.
  assert.equal(h.registry.listenerCount('created'), 0);
  assert.equal(h.registry.listenerCount('ended'), 0);

  const expiring = await start({ events: { keepAliveMs: 50 }, sessionTtlMs: 200 });
  const t3 = await token(expiring);
  const s4 = await openEvents(expiring, { headers: bearer(t3) });
  await s4.reader.waitEnded(1000);
  assert.ok(expiring.logs.some((l) => l.includes('session expired')));
});

test('the event hub watches each live conference once and lets go when they end', async () => {
  const h = await start();
  const before = h.registry.create({ creator: `sip:alice@${DOMAIN}` });
  // The hub was created before this conference: it subscribed through the registry's 'created'.
  assert.equal(before.listenerCount('changed'), 1);
  before.end();
  assert.equal(before.listenerCount('changed'), 0);
  const c = h.registry.create({ creator: `sip:alice@${DOMAIN}` });
  h.api.close();
  assert.equal(c.listenerCount('changed'), 0);
});

// --- the OpenAPI document ----------------------------------------------------------------------

type Schema = Record<string, unknown>;

function loadOpenApi(): Record<string, unknown> & {
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: Record<string, Record<string, Schema>>;
} {
  return parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as never;
}

function resolveRef(doc: unknown, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `local refs only: ${ref}`);
  let node = doc;
  for (const part of ref.slice(2).split('/')) {
    assert.ok(node !== null && typeof node === 'object' && part in node, `unresolved $ref ${ref}`);
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Enough of JSON Schema for this document: $ref, type (with 'null'), properties, required, additionalProperties: false, items, enum, allOf. */
function validate(doc: unknown, schema: Schema, value: unknown, at = '$'): string[] {
  if (typeof schema['$ref'] === 'string') return validate(doc, resolveRef(doc, schema['$ref']) as Schema, value, at);
  const errors: string[] = [];
  for (const part of (schema['allOf'] as Schema[] | undefined) ?? []) errors.push(...validate(doc, part, value, at));
  if (schema['type'] !== undefined) {
    const types = ([] as string[]).concat(schema['type'] as string | string[]);
    const actual =
      value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number')))
      return [...errors, `${at}: ${actual} is not ${types.join('|')}`];
  }
  if (Array.isArray(schema['enum']) && !schema['enum'].includes(value))
    errors.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const properties = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
    for (const key of (schema['required'] as string[] | undefined) ?? [])
      if (!(key in value)) errors.push(`${at}: missing ${key}`);
    for (const [key, v] of Object.entries(value)) {
      if (properties[key]) errors.push(...validate(doc, properties[key], v, `${at}.${key}`));
      else if (schema['additionalProperties'] === false) errors.push(`${at}: unexpected ${key}`);
    }
  }
  if (Array.isArray(value) && schema['items'])
    value.forEach((v, i) => errors.push(...validate(doc, schema['items'] as Schema, v, `${at}[${i}]`)));
  return errors;
}

test('the OpenAPI document parses, is 3.1, and lists exactly the implemented routes', () => {
  const doc = loadOpenApi();
  assert.match(String(doc['openapi']), /^3\.1\.\d+$/);
  assert.deepEqual(doc['servers'], [{ url: '/api' }]);
  const schemes = doc.components['securitySchemes']!;
  assert.deepEqual(schemes['bearerAuth'], {
    type: 'http',
    scheme: 'bearer',
    description: schemes['bearerAuth']!['description'],
  });
  assert.equal(schemes['basicAuth']!['scheme'], 'basic');

  const methods = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];
  const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((k) => methods.includes(k))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
  const implemented = ADMIN_ROUTES.map((r) => `${r.method} ${r.path}`);
  assert.deepEqual([...documented].sort(), [...implemented].sort());

  for (const route of ADMIN_ROUTES) {
    const item = doc.paths[route.path]!;
    const operation = item[route.method.toLowerCase()]!;
    assert.equal(operation['operationId'], route.operation);
    // Every path template parameter is declared.
    const declared = [
      ...((item['parameters'] as unknown as Schema[] | undefined) ?? []),
      ...((operation['parameters'] as Schema[] | undefined) ?? []),
    ]
      .map((p) => (typeof p['$ref'] === 'string' ? (resolveRef(doc, p['$ref']) as Schema) : p))
      .filter((p) => p['in'] === 'path')
      .map((p) => p['name']);
    assert.deepEqual(declared.sort(), [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort(), route.path);
    // Public only where the server does not authenticate.
    assert.equal(
      Array.isArray(operation['security']) && (operation['security'] as unknown[]).length === 0,
      route.auth === 'none',
      route.path,
    );
  }
  // Every $ref anywhere resolves.
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref') resolveRef(doc, v as string);
        else walk(v);
      }
    }
  };
  walk(doc);
});

test('actual responses and events match the OpenAPI schemas', async () => {
  const doc = loadOpenApi();
  const schema = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
  const check = (name: string, value: unknown) =>
    assert.deepEqual(validate(doc, schema(name), value), [], `${name}: ${JSON.stringify(value)}`);
  // The validator does catch mistakes.
  assert.notDeepEqual(validate(doc, schema('Participant'), { id: 1 }), []);

  const h = await start();
  const loginRes = await login(h);
  const session = (await loginRes.json()) as { token: string };
  check('Session', session);
  const t = session.token;
  check('SessionInfo', await (await fetch(h.url('/api/session'), { headers: bearer(t) })).json());
  check('SessionInfo', await (await fetch(h.url('/api/session'), { headers: basic('admin', 'admin-secret') })).json());
  const { reader } = await openEvents(h, { headers: bearer(t) });
  const c = h.registry.create({ creator: `sip:alice@${DOMAIN}`, subject: 'S' });
  const alice = c.join({
    entity: `sip:alice@${DOMAIN}`,
    displayName: 'Alice',
    media: [...AUDIO, { id: '1', type: 'video', status: 'recvonly', label: 'main', displayText: 'Camera' }],
  });
  join(c, 'bob');
  c.mute(alice.id, { by: `sip:admin@${DOMAIN}` });
  c.setSpeaker(alice.id);
  check('ConferenceList', await (await fetch(h.url('/api/conferences'), { headers: bearer(t) })).json());
  check('ConferenceDetail', await (await fetch(h.url(`/api/conferences/${c.id}`), { headers: bearer(t) })).json());
  check('Error', await (await fetch(h.url('/api/conferences/nope'), { headers: bearer(t) })).json());
  check('Error', await (await login(h, 'admin', 'x')).json());
  c.end();
  await reader.next('conference-ended');
  for (const e of reader.events) {
    const name = {
      snapshot: 'EventSnapshot',
      'conference-created': 'ConferenceDetail',
      'conference-updated': 'ConferenceDetail',
      'conference-ended': 'ConferenceEnded',
    }[e.event];
    assert.ok(name, `documented event ${e.event}`);
    check(name, e.data);
  }
  await reader.cancel();
});
