/**
 * Cluster mode of the conclave command against a real redis-server (unix socket in a fresh temp folder,
 * TCP off): the node announces itself, every conference the focus creates is claimed for it and released
 * when it ends, a lost claim ends the conference with BYE, and shutdown removes the node's record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@conclave/log';
import { RedisServerProcess, connectRedis, getNode, listClaimedConferences } from '@conclave/cluster';
import { SipTestUa, webrtcLikeOffer } from '@conclave/sip-test-ua';
import { claimIdOf } from '../src/cluster-mode.ts';
import { ConfigError, loadConfig } from '../src/config.ts';

const haveRedis = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skip = haveRedis ? false : 'redis-server is not installed (Debian package redis-server; scripts/setup.sh)';

function configFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-cluster-config-'));
  const file = join(dir, 'conclave.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

test('cluster config: off by default, defaults filled in, bad values refused with the key named', () => {
  assert.equal(loadConfig(undefined).cluster, null);
  assert.equal(loadConfig(configFile({ cluster: null })).cluster, null);
  assert.deepEqual(
    loadConfig(configFile({ cluster: { nodeId: 'node-1', redis: 'redis://198.18.0.1:6379' } })).cluster,
    {
      nodeId: 'node-1',
      redis: 'redis://198.18.0.1:6379',
      sipUri: null,
      httpUrl: null,
      wsUri: null,
      claimTtlMs: 6000,
      edgeSipPort: 5060,
      nonceSecret: null,
      edgeProxy: null,
    },
  );
  const refused = (cluster: unknown, message: RegExp) =>
    assert.throws(
      () => loadConfig(configFile({ cluster })),
      (err: Error) => err instanceof ConfigError && message.test(err.message),
    );
  refused({ redis: 'redis://127.0.0.1:6379' }, /"cluster\.nodeId" must be/);
  refused({ nodeId: 'bad id', redis: 'redis://127.0.0.1:6379' }, /"cluster\.nodeId" must be/);
  refused({ nodeId: 'n1' }, /"cluster\.redis" must be redis:\/\/host:port/);
  refused({ nodeId: 'n1', redis: 'unix:/tmp/r.sock', claimTtlMs: 10 }, /"cluster\.claimTtlMs" must be an integer/);
  refused({ nodeId: 'n1', redis: 'unix:/tmp/r.sock', sipUri: 'http://x' }, /"cluster\.sipUri" must be a SIP URI/);
  refused(
    { nodeId: 'n1', redis: 'unix:/tmp/r.sock', edgeProxy: '198.18.0.1' },
    /"cluster\.edgeProxy" must be a SIP URI/,
  );
  refused({ nodeId: 'n1', redis: 'unix:/tmp/r.sock', nodes: 3 }, /unknown option "cluster\.nodes"/);
  refused('yes', /"cluster" must be an object/);
  // One container per node: identity and Redis from the environment (deploy/docker-compose.yml).
  const fromEnv = loadConfig(configFile({ cluster: { claimTtlMs: 3000 } }), {
    CONCLAVE_NODE_ID: 'node-7',
    CONCLAVE_REDIS_URL: 'redis://172.28.0.2:6379/0',
  }).cluster;
  assert.deepEqual(
    [fromEnv?.nodeId, fromEnv?.redis, fromEnv?.claimTtlMs],
    ['node-7', 'redis://172.28.0.2:6379/0', 3000],
  );
  assert.throws(() => loadConfig(undefined, { CONCLAVE_NODE_ID: 'node-7' }), /"cluster\.redis" must be/);
});

test('default users: 198.18.0.0/15 (RFC 2544, the namespaces of npm run cluster) counts as local for cluster nodes only', () => {
  const onTestNet = {
    sip: { host: '198.18.0.11' },
    http: { host: '198.18.0.11' },
    media: { listenIp: '198.18.0.11' },
  };
  assert.throws(() => loadConfig(configFile(onTestNet)), /only accepted while every listener is on loopback, but/);
  const node = loadConfig(
    configFile({ ...onTestNet, cluster: { nodeId: 'node-1', redis: 'redis://198.18.0.1:6379' } }),
  );
  assert.equal(node.sip.host, '198.18.0.11');
  assert.throws(
    () => loadConfig(configFile({ sip: { host: '10.0.0.5' }, cluster: { nodeId: 'n1', redis: 'redis://10.0.0.1' } })),
    /loopback \(or 198\.18\.0\.0\/15 for a cluster node\), but sip\.host=10\.0\.0\.5 is not/,
  );
});

interface Ready {
  sip: { udp: { port: number }; tcp: { port: number } };
  http: { port: number };
}

test(
  'a cluster node claims the conferences it creates, releases them, and ends one whose claim is lost',
  { skip },
  async () => {
    const log = createLogger('test', { level: 'silent' });
    const redisServer = await RedisServerProcess.start({ log });
    const redis = await connectRedis({ path: redisServer.socketPath! }, log);
    const dir = mkdtempSync(join(tmpdir(), 'conclave-cluster-mode-'));
    const config = join(dir, 'conclave.json');
    const readyFile = join(dir, 'ready.json');
    writeFileSync(
      config,
      JSON.stringify({
        sip: { udpPort: 0, tcpPort: 0, wsPort: 0 },
        drachtio: { port: 0, secret: 'cluster-mode' },
        http: { port: 0 },
        media: { workers: 1, rtcMinPort: 46000, rtcMaxPort: 46999 },
        // a short claim TTL: renewed every 200 ms, so a lost claim is noticed quickly
        cluster: { nodeId: 'node-t', redis: `unix:${redisServer.socketPath!}`, claimTtlMs: 600 },
      }),
    );
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, '../src/main.ts'), '--config', config, '--ready-file', readyFile],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let alice: SipTestUa | undefined;
    try {
      await waitFor(
        () => existsSync(readyFile),
        30_000,
        () => `no ready file; stderr:\n${stderr}`,
      );
      const ready = JSON.parse(readFileSync(readyFile, 'utf8')) as Ready;
      assert.match(stdout, /Cluster node {9}node-t \(Redis unix:/);

      // Membership: the record the edge reads to reach this node.
      const node = await getNode(redis, 'node-t');
      assert.equal(node?.sip, `sip:127.0.0.1:${ready.sip.tcp.port};transport=tcp`);
      assert.equal(node?.http, `http://127.0.0.1:${ready.http.port}`);

      alice = await SipTestUa.create({
        user: 'alice',
        password: 'alice-secret',
        domain: '127.0.0.1',
        server: { host: '127.0.0.1', port: ready.sip.udp.port },
      });
      const factory = 'sip:conference@127.0.0.1';

      // 1. Created through the factory → claimed for this node; the last party leaving → released.
      const first = await alice.invite(factory, webrtcLikeOffer());
      assert.equal(first.final.status, 200);
      const firstId = claimIdOf(first.dialog!.remoteTarget);
      assert.match(firstId ?? '', /^conf-[a-z0-9]+$/, `conference URI in the Contact: ${first.dialog!.remoteTarget}`);
      // Claimed before the 200 left (the edge routes the party's next request by it): no waiting here.
      assert.equal(
        await redis.get(`conclave:conference:${firstId}`),
        'node-t',
        `claim of ${firstId}; stderr:\n${stderr}`,
      );
      assert.deepEqual(
        (await listClaimedConferences(redis)).map((c) => [c.conferenceId, c.nodeId]),
        [[firstId, 'node-t']],
      );
      assert.equal((await first.dialog!.bye()).final.status, 200);
      await waitFor(
        async () => (await redis.get(`conclave:conference:${firstId}`)) === null,
        5000,
        () => `release of ${firstId}; stderr:\n${stderr}`,
      );
      assert.deepEqual(await listClaimedConferences(redis), []);

      // 2. A claim taken by another node (as after a partition longer than the TTL): the conference ends, with BYE.
      const second = await alice.invite(factory, webrtcLikeOffer());
      assert.equal(second.final.status, 200);
      const secondId = claimIdOf(second.dialog!.remoteTarget)!;
      const key = `conclave:conference:${secondId}`;
      assert.equal(await redis.get(key), 'node-t', `claim of ${secondId}`);
      const bye = new Promise((ok) => second.dialog!.once('bye', ok));
      await redis.set(key, 'node-other', 'PX', 60_000);
      await Promise.race([bye, timeout(5000, () => `BYE after the claim was lost; stderr:\n${stderr}`)]);
      assert.match(stderr, /conference claim lost: ending the conference/);
      assert.equal(await redis.get(key), 'node-other', 'the other node’s claim is left alone');

      // 3. Shutdown: the node's record goes at once (not after its TTL).
      child.kill('SIGTERM');
      assert.equal(await Promise.race([exited, timeout(10_000, 'exit after SIGTERM')]), 0);
      assert.equal(await getNode(redis, 'node-t'), null);
      assert.match(stderr, /cluster node left/);
    } finally {
      alice?.close();
      if (child.exitCode === null) child.kill('SIGKILL');
      redis.disconnect();
      await redisServer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

async function waitFor(predicate: () => boolean | Promise<boolean>, ms: number, why: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

function timeout(ms: number, what: string | (() => string)): Promise<never> {
  return new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`timed out: ${typeof what === 'string' ? what : what()}`)), ms).unref(),
  );
}

test(
  'nodes sharing cluster.nonceSecret accept the digest nonces each other issued; another node does not',
  { skip },
  async () => {
    const log = createLogger('test', { level: 'silent' });
    const redisServer = await RedisServerProcess.start({ log });
    const dir = mkdtempSync(join(tmpdir(), 'conclave-cluster-nonce-'));
    const secret = 'shared-nonce-secret-of-this-test';
    const nodes = await Promise.all([
      startNode(dir, 'node-a', { redis: `unix:${redisServer.socketPath!}`, nonceSecret: secret }, 46000),
      startNode(dir, 'node-b', { redis: `unix:${redisServer.socketPath!}`, nonceSecret: secret }, 46100),
      startNode(dir, 'node-c', { redis: `unix:${redisServer.socketPath!}` }, 46200),
    ]);
    const uas: SipTestUa[] = [];
    try {
      const [a, b, c] = nodes;
      const ua = async (port: number, password?: string) => {
        const u = await SipTestUa.create({
          user: 'alice',
          ...(password ? { password } : {}),
          domain: '127.0.0.1',
          server: { host: '127.0.0.1', port },
        });
        uas.push(u);
        return u;
      };
      // alice answers node A's challenge; the same credentials (A's nonce) then go to B and to C.
      const atA = await (await ua(a.ready.sip.udp.port, 'alice-secret')).register();
      assert.equal(atA.final.status, 200);
      const authorization = atA.request.get('Authorization')!;
      assert.match(authorization, /nonce="/);
      const register = async (port: number) =>
        (await ua(port)).send('REGISTER', 'sip:127.0.0.1', {
          headers: { To: '<sip:alice@127.0.0.1>', Expires: '60', Authorization: authorization },
        });
      assert.equal((await register(b.ready.sip.udp.port)).final.status, 200, 'B verifies the nonce A issued');
      assert.equal((await register(c.ready.sip.udp.port)).final.status, 401, 'C (own nonce key) re-challenges');
    } finally {
      for (const u of uas) u.close();
      await Promise.all(nodes.map((n) => n.stop()));
      await redisServer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'admin across nodes: GET /api/conferences on node A lists the conference of node B, and A ends it on B',
  { skip },
  async () => {
    const log = createLogger('test', { level: 'silent' });
    const redisServer = await RedisServerProcess.start({ log });
    const dir = mkdtempSync(join(tmpdir(), 'conclave-cluster-admin-'));
    const shared = { redis: `unix:${redisServer.socketPath!}`, nonceSecret: 'shared-secret-of-the-admin-test' };
    const [a, b] = await Promise.all([
      startNode(dir, 'node-a', shared, 46300),
      startNode(dir, 'node-b', shared, 46400),
    ]);
    let alice: SipTestUa | undefined;
    try {
      alice = await SipTestUa.create({
        user: 'alice',
        password: 'alice-secret',
        domain: '127.0.0.1',
        server: { host: '127.0.0.1', port: b.ready.sip.udp.port },
      });
      const call = await alice.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
      assert.equal(call.final.status, 200);
      const uri = call.dialog!.remoteTarget;
      const api = (node: { ready: Ready }, path: string, init: RequestInit = {}) =>
        fetch(`http://127.0.0.1:${node.ready.http.port}/api${path}`, {
          ...init,
          headers: { Authorization: `Basic ${Buffer.from('admin:admin-secret').toString('base64')}` },
        });
      type Listed = { conferences: Array<{ id: string; uri: string; participantCount: number }> };

      // Listed on A (and on B itself), with B's id and roster count.
      const onB = ((await (await api(b, '/conferences')).json()) as Listed).conferences;
      assert.equal(onB.length, 1);
      const listed = await api(a, '/conferences');
      assert.equal(listed.status, 200);
      const onA = ((await listed.json()) as Listed).conferences;
      assert.deepEqual(onA, onB, 'node A lists node B’s conference as B does');
      const id = onB[0]!.id;

      // Its detail, by id and by URI, through A.
      const detail = await api(a, `/conferences/${id}`);
      assert.equal(detail.status, 200);
      assert.equal(((await detail.json()) as { uri: string }).uri, onB[0]!.uri);
      assert.equal((await api(a, `/conferences/${encodeURIComponent(uri.replace(/;.*$/, ''))}`)).status, 200);

      // Moderation through A reaches B: alice muted by the focus on B.
      const pid = ((await (await api(b, `/conferences/${id}`)).json()) as { participants: Array<{ id: string }> })
        .participants[0]!.id;
      assert.equal((await api(a, `/conferences/${id}/participants/${pid}/mute`, { method: 'POST' })).status, 204);
      const muted = (await (await api(b, `/conferences/${id}`)).json()) as {
        participants: Array<{ mutedByFocus: boolean }>;
      };
      assert.equal(muted.participants[0]!.mutedByFocus, true, 'muted on node B');
      assert.equal((await api(a, `/conferences/${id}/participants/p_nosuch/kick`, { method: 'POST' })).status, 404);

      // A wrong node key is refused; an unknown conference is still 404.
      const forged = await fetch(`http://127.0.0.1:${b.ready.http.port}/api/conferences`, {
        headers: { 'x-conclave-node-key': '0'.repeat(64), 'x-conclave-admin': 'admin' },
      });
      assert.equal(forged.status, 401);
      assert.equal((await api(a, '/conferences/cf_nosuchconference')).status, 404);

      // A's event stream (the console's feed) shows B's conference live, relayed from B's stream.
      const events = new AbortController();
      const stream = await fetch(`http://127.0.0.1:${a.ready.http.port}/api/events`, {
        headers: { Authorization: `Basic ${Buffer.from('admin:admin-secret').toString('base64')}` },
        signal: events.signal,
      });
      assert.equal(stream.status, 200);
      let received = '';
      const reading = (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of stream.body!) received += decoder.decode(chunk as Uint8Array, { stream: true });
      })().catch(() => {});
      await waitFor(
        () => received.includes(`"id":"${id}"`),
        10_000,
        () => `B's conference on A's event stream:\n${received}`,
      );

      // Ended from A: alice gets B's BYE, the conference leaves every list.
      const bye = new Promise((ok) => call.dialog!.once('bye', ok));
      const end = await api(a, `/conferences/${id}/end`, { method: 'POST' });
      assert.equal(end.status, 204, await end.text());
      await Promise.race([bye, timeout(5000, 'BYE after the end forwarded to node B')]);
      await waitFor(
        () => new RegExp(`event: conference-ended\ndata: \\{"id":"${id}"`).test(received),
        5000,
        () => `conference-ended of ${id} on A's stream:\n${received}`,
      );
      events.abort();
      await reading;
      assert.deepEqual(((await (await api(a, '/conferences')).json()) as Listed).conferences, []);
    } finally {
      alice?.close();
      await Promise.all([a.stop(), b.stop()]);
      await redisServer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/** The conclave command in cluster mode on ports from the OS; resolves once its ready file is there. */
async function startNode(
  dir: string,
  nodeId: string,
  cluster: Record<string, unknown>,
  rtcMinPort: number,
): Promise<{ ready: Ready; stop(): Promise<void> }> {
  const config = join(dir, `${nodeId}.json`);
  const readyFile = join(dir, `${nodeId}.ready.json`);
  writeFileSync(
    config,
    JSON.stringify({
      sip: { udpPort: 0, tcpPort: 0, wsPort: 0 },
      drachtio: { port: 0 },
      http: { port: 0 },
      media: { workers: 1, rtcMinPort, rtcMaxPort: rtcMinPort + 99 },
      cluster: { nodeId, ...cluster },
    }),
  );
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, '../src/main.ts'), '--config', config, '--ready-file', readyFile],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitFor(
      () => existsSync(readyFile),
      30_000,
      () => `${nodeId}: no ready file; stderr:\n${stderr}`,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { ready: JSON.parse(readFileSync(readyFile, 'utf8')) as Ready, stop };
}
