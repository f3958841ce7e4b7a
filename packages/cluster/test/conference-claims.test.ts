/**
 * ConferenceClaims and the node registry against a real redis-server. The server listens on a unix
 * socket in a fresh temporary folder with TCP off (`--port 0`), so no port is chosen and none can
 * collide with another test or a running Conclave.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Redis } from 'ioredis';
import { createLogger } from '@conclave/log';
import {
  ConferenceClaims,
  NodeMembership,
  RedisServerProcess,
  connectRedis,
  getNode,
  listClaimedConferences,
  listNodes,
  writeEdgeTables,
  md5Ha1,
} from '../src/index.ts';

const log = createLogger('test', { level: 'silent' });
const haveRedis = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skip = haveRedis
  ? false
  : 'redis-server is not installed (Debian package redis-server; scripts/setup.sh installs it)';

let server: RedisServerProcess;
let redis: Redis;
const opened: Array<{ close(): Promise<void> | void }> = [];

before(async () => {
  if (!haveRedis) return;
  server = await RedisServerProcess.start({ log });
  redis = await connectRedis({ path: server.socketPath! }, log);
});
after(async () => {
  for (const o of opened.reverse()) await o.close();
  redis?.disconnect();
  await server?.close();
});

async function claimsFor(nodeId: string, ttlMs = 6000, heartbeatMs?: number): Promise<ConferenceClaims> {
  const conn = await connectRedis({ path: server.socketPath! }, log);
  opened.push({ close: () => void conn.disconnect() });
  const claims = new ConferenceClaims({ redis: conn, nodeId, log, ttlMs, ...(heartbeatMs ? { heartbeatMs } : {}) });
  opened.push(claims);
  return claims;
}

test('a conference is claimed by exactly one of many racing nodes', { skip }, async () => {
  const nodes = await Promise.all(['n1', 'n2', 'n3', 'n4'].map((id) => claimsFor(id)));
  const results = await Promise.all(nodes.map((n) => n.claim('conf-race')));
  assert.equal(results.filter(Boolean).length, 1);
  const winner = nodes[results.indexOf(true)]!;
  assert.equal(await nodes[0]!.owner('conf-race'), winner.nodeId);
  assert.equal(await redis.get('conclave:conference:conf-race'), winner.nodeId, 'the key the edge reads');
  const pttl = await redis.pttl('conclave:conference:conf-race');
  assert.ok(pttl > 0 && pttl <= 6000, `claim carries its TTL (pttl ${pttl})`);
});

test('release frees the conference, and only its owner can release it', { skip }, async () => {
  const a = await claimsFor('rel-a');
  const b = await claimsFor('rel-b');
  assert.equal(await a.claim('conf-rel'), true);
  assert.equal(await b.release('conf-rel'), false, 'not b’s claim');
  assert.equal(await a.owner('conf-rel'), 'rel-a');
  assert.equal(await a.release('conf-rel'), true);
  assert.equal(await a.owner('conf-rel'), null);
  assert.equal(await b.claim('conf-rel'), true, 'free again after release');
});

test('the heartbeat keeps a claim alive past its TTL; without it the claim expires', { skip }, async () => {
  const alive = await claimsFor('hb-alive', 300, 100);
  const dead = await claimsFor('hb-dead', 300, 100);
  assert.equal(await alive.claim('conf-hb-alive'), true);
  assert.equal(await dead.claim('conf-hb-dead'), true);
  await dead.close({ release: false }); // a node that stops beating without releasing: a crash
  // Wait for the dead claim to expire (Redis expiry is the event; poll its key, 50 ms apart).
  const t0 = Date.now();
  while ((await redis.exists('conclave:conference:conf-hb-dead')) === 1) await new Promise((r) => setTimeout(r, 50));
  const expiredAfter = Date.now() - t0;
  assert.ok(expiredAfter < 1000, `expired within its TTL (${expiredAfter} ms)`);
  assert.equal(await alive.owner('conf-hb-alive'), 'hb-alive', 'renewed claim still held after more than its TTL');
  assert.ok(alive.held.has('conf-hb-alive'));
});

test(
  'a node whose claim was taken over hears "lost" and cannot extend or delete the new owner’s claim',
  { skip },
  async () => {
    const a = await claimsFor('lost-a', 6000);
    const b = await claimsFor('lost-b', 6000);
    assert.equal(await a.claim('conf-lost'), true);
    // Simulate expiry while a was partitioned away, then b takes the conference.
    await redis.del('conclave:conference:conf-lost');
    assert.equal(await b.claim('conf-lost'), true);
    const lost = new Promise<unknown[]>((ok) => a.once('lost', (...args) => ok(args)));
    await a.heartbeat();
    assert.deepEqual(await lost, ['conf-lost', 'lost-b']);
    assert.equal(a.held.has('conf-lost'), false);
    assert.equal(await a.release('conf-lost'), false);
    assert.equal(await b.owner('conf-lost'), 'lost-b');
  },
);

test('the admin lists every claimed conference across nodes, and no released one', { skip }, async () => {
  await redis.flushdb();
  const x = await claimsFor('list-x');
  const y = await claimsFor('list-y');
  await x.claim('conf-l1');
  await x.claim('conf-l2');
  await y.claim('conf-l3');
  await y.claim('conf-l4');
  await y.release('conf-l4');
  const list = await listClaimedConferences(redis);
  assert.deepEqual(list.map((c) => `${c.conferenceId}@${c.nodeId}`).sort(), [
    'conf-l1@list-x',
    'conf-l2@list-x',
    'conf-l3@list-y',
  ]);
  for (const c of list) assert.ok(c.expiresAt > Date.now() - 1000);
  await x.close(); // a clean shutdown releases everything at once
  assert.deepEqual(
    (await listClaimedConferences(redis)).map((c) => c.conferenceId),
    ['conf-l3'],
  );
});

test('unsafe ids are refused before reaching Redis', { skip }, async () => {
  const c = await claimsFor('ids');
  await assert.rejects(c.claim('conf x'), /not a safe identifier/);
  await assert.rejects(c.claim('a:b*'), /not a safe identifier/);
  assert.throws(() => new ConferenceClaims({ redis, nodeId: 'bad id', log }), /not a safe identifier/);
  assert.throws(
    () => new ConferenceClaims({ redis, nodeId: 'ok', log, ttlMs: 1000, heartbeatMs: 900 }),
    /at most half/,
  );
});

test('a claim fails with context (not a hang) while Redis is down', { skip }, async () => {
  const own = await RedisServerProcess.start({ log });
  const conn = await connectRedis({ path: own.socketPath! }, log);
  try {
    const claims = new ConferenceClaims({ redis: conn, nodeId: 'down', log });
    assert.equal(await claims.claim('conf-down-1'), true);
    await own.kill();
    await assert.rejects(claims.claim('conf-down-2'), /claim of conference conf-down-2 by node down failed/);
    await claims.close({ release: false });
  } finally {
    conn.disconnect();
    await own.close();
  }
});

test(
  'node registry: a live node is listed with its SIP and HTTP addresses, a closed one disappears',
  { skip },
  async () => {
    const conn = await connectRedis({ path: server.socketPath! }, log);
    opened.push({ close: () => void conn.disconnect() });
    const m = new NodeMembership({
      redis: conn,
      node: { id: 'reg-1', sip: 'sip:198.18.0.11:5060;transport=tcp', http: 'http://198.18.0.11:8080' },
      log,
      ttlMs: 300,
      heartbeatMs: 100,
    });
    await m.start();
    assert.equal(
      await redis.hget('conclave:node:reg-1', 'sip'),
      'sip:198.18.0.11:5060;transport=tcp',
      'the field the edge reads',
    );
    assert.deepEqual(
      (await listNodes(redis)).map((n) => n.id),
      ['reg-1'],
    );
    // Beats past its TTL
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await getNode(redis, 'reg-1'))?.http, 'http://198.18.0.11:8080');
    await m.close();
    assert.equal(await getNode(redis, 'reg-1'), null);
    assert.deepEqual(await listNodes(redis), []);
  },
);

test(
  'edge tables: subscriber rows with MD5 HA1 and the versions Kamailio checks; stale users removed',
  { skip },
  async () => {
    await writeEdgeTables(
      redis,
      [
        { name: 'alice', password: 'a' },
        { name: 'bob', password: 'b' },
      ],
      'example.test',
    );
    await writeEdgeTables(redis, [{ name: 'alice', password: 'a2' }], 'example.test');
    assert.equal(
      await redis.hget('subscriber:entry::alice:example.test', 'ha1'),
      md5Ha1('alice', 'example.test', 'a2'),
    );
    assert.equal(md5Ha1('alice', 'example.test', 'a2').length, 32);
    assert.equal(await redis.exists('subscriber:entry::bob:example.test'), 0);
    assert.equal(await redis.hget('version:entry::location', 'table_version'), '9');
    assert.equal(await redis.hget('subscriber:entry::alice:example.test', 'password'), null, 'no clear password');
  },
);
