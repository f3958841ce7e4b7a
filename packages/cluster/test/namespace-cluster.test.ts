/**
 * The whole cluster as `npm run cluster` starts it — Kamailio edge, redis-server, Conclave nodes in
 * network namespaces — driven at the SIP level through the edge: a conference created at the factory
 * lands on a node and is claimed, a second request for its URI reaches the same node, and when that
 * node is killed its record and claim expire while new conferences keep working on the other node.
 *
 * Needs root (ip netns), kamailio and redis-server; skipped with the reason otherwise. It runs beside a
 * live `npm run cluster`: its own instance (namespaces cnclv<k>-*, subnet 198.18.<k>.0/24), an edge on a
 * random 127.0.0.0/8 address with ports from bind 0 on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLogger } from '@conclave/log';
import { SipTestUa, webrtcLikeOffer } from '@conclave/sip-test-ua';
import { connectRedis } from '../src/index.ts';
import type { ClusterReady } from '../../../scripts/cluster/cluster.ts';
import { sipCheck } from '../../../scripts/cluster/sip-check.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const installed = (cmd: string, arg: string) => {
  try {
    execFileSync(cmd, [arg], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
/** Root without CAP_SYS_ADMIN (an unprivileged container) cannot create namespaces. */
const canCreateNamespaces = () => {
  const probe = `cnclv-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const skip =
  process.getuid?.() !== 0
    ? 'needs root (it creates network namespaces, veth pairs and a bridge)'
    : !installed('ip', '-V')
      ? 'iproute2 (ip) is not installed'
      : !canCreateNamespaces()
        ? 'ip netns add is not permitted here (root without CAP_SYS_ADMIN?)'
        : !installed('kamailio', '-v')
          ? 'kamailio is not installed (scripts/setup.sh installs it with its redis and websocket modules)'
          : !installed('redis-server', '--version')
            ? 'redis-server is not installed (scripts/setup.sh installs it)'
            : false;

const CLAIM_TTL_MS = 2000;
/** The node record's TTL (NodeMembership's default). */
const NODE_TTL_MS = 3000;

test(
  'namespace cluster: conferences are claimed by the node they land on, reached there by URI, and survive a node loss',
  { skip, timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-ns-cluster-'));
    const edgeIp = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    const instance = randomInt(100, 250);
    const readyFile = join(dir, 'ready.json');
    const edgeLog = join(dir, 'edge.log');
    const config = join(dir, 'base.json');
    writeFileSync(config, JSON.stringify({ cluster: { claimTtlMs: CLAIM_TTL_MS } }));
    const args = [
      join(ROOT, 'scripts/cluster/cluster.ts'),
      '--nodes',
      '2',
      '--instance',
      String(instance),
      '--edge-ip',
      edgeIp,
      '--sip-port',
      String(await freePort(edgeIp)),
      '--ws-port',
      String(await freePort(edgeIp)),
      '--http-port',
      String(await freePort(edgeIp)),
      '--config',
      config,
      '--ready-file',
      readyFile,
      '--edge-log',
      edgeLog,
      '--edge-trace',
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = once(child, 'exit');
    const edgeTail = () =>
      existsSync(edgeLog) ? readFileSync(edgeLog, 'utf8').split('\n').slice(-40).join('\n') : '(no edge log)';
    const tail = () => `${output.split('\n').slice(-30).join('\n')}\n--- edge:\n${edgeTail()}`;
    const log = createLogger('test', { level: 'silent' });
    const closers: Array<() => void> = [];
    try {
      assert.ok(
        await until(() => existsSync(readyFile) || child.exitCode !== null, 90_000),
        `cluster not ready:\n${tail()}`,
      );
      assert.equal(child.exitCode, null, `cluster exited at start-up:\n${tail()}`);
      const ready = JSON.parse(readFileSync(readyFile, 'utf8')) as ClusterReady;
      assert.equal(ready.nodes.length, 2);
      assert.match(ready.nodes[0]!.ip, new RegExp(`^198\\.18\\.${instance}\\.11$`));
      const server = { host: ready.edge.ip, port: ready.edge.sipPort };
      const redis = await connectRedis({ url: ready.redis.url }, log);
      closers.push(() => redis.disconnect());
      const ua = async (user: string) => {
        const u = await SipTestUa.create({ user, password: `${user}-secret`, domain: ready.domain, server });
        closers.push(() => u.close());
        return u;
      };

      // 1. Through the edge: created at the factory → claimed by its node; joined by URI on that node;
      //    roster NOTIFY and in-dialog requests routed back; released when it ends.
      const report = await sipCheck({
        edge: server,
        redisUrl: ready.redis.url,
        domain: ready.domain,
        creator: { user: 'alice', password: 'alice-secret' },
        joiner: { user: 'bob', password: 'bob-secret' },
      });
      assert.ok(
        ready.nodes.some((n) => n.id === report.nodeId && n.sip === report.nodeSip),
        `claimed by one of the cluster's nodes: ${report.nodeId}`,
      );

      // 2. Node loss: the node hosting a live conference is killed.
      const carol = await ua('carol');
      const live = await carol.invite(`sip:conference@${ready.domain}`, webrtcLikeOffer());
      assert.equal(live.final.status, 200, `factory INVITE: ${live.final.status} ${live.final.reason}`);
      const conferenceId = /^sip:(conf-[a-z0-9]+)@/.exec(live.dialog!.remoteTarget)![1]!;
      const claimKey = `conclave:conference:${conferenceId}`;
      const ownerId = await redis.get(claimKey);
      const victim = ready.nodes.find((n) => n.id === ownerId);
      const survivor = ready.nodes.find((n) => n.id !== ownerId)!;
      assert.ok(victim, `the conference is claimed by a node of the cluster (${ownerId})`);
      const killedAt = Date.now();
      process.kill(victim.pid, 'SIGKILL');

      // New conferences keep working: every attempt from the kill on gets a 200 (the edge fails over
      // from the dead node), and they land on the survivor.
      const dave = await ua('dave');
      for (let attempt = 0; attempt < 3; attempt++) {
        const t0 = Date.now();
        const created = await dave.invite(`sip:conference@${ready.domain}`, webrtcLikeOffer());
        assert.equal(
          created.final.status,
          200,
          `new conference ${Date.now() - killedAt} ms after the kill\n--- edge:\n${edgeTail()}`,
        );
        assert.ok(Date.now() - t0 < 5000, `answered within 5 s (${Date.now() - t0} ms)`);
        const id = /^sip:(conf-[a-z0-9]+)@/.exec(created.dialog!.remoteTarget)![1]!;
        assert.equal(await redis.get(`conclave:conference:${id}`), survivor.id);
        await created.dialog!.bye();
      }

      // The dead node's record goes within its TTL, its claim within the claim TTL.
      assert.ok(
        await until(async () => (await redis.exists(`conclave:node:${victim.id}`)) === 0, NODE_TTL_MS + 2000),
        'node record expired',
      );
      assert.ok(
        await until(async () => (await redis.exists(claimKey)) === 0, CLAIM_TTL_MS + 2000),
        `claim of ${conferenceId} expired`,
      );
      const expiredAfter = Date.now() - killedAt;
      assert.ok(expiredAfter < Math.max(NODE_TTL_MS, CLAIM_TTL_MS) + 2000, `expired after ${expiredAfter} ms`);
      const erin = await ua('erin');
      const late = await erin.invite(`sip:${conferenceId}@${ready.domain}`, webrtcLikeOffer());
      assert.equal(late.final.status, 404, 'the dead node’s conference is gone (not routed to a dead node)');
      assert.match(output, new RegExp(`node \\d \\(${victim.ip.replace(/\./g, '\\.')}, pid ${victim.pid}\\) exited`));

      // 3. Ctrl-C: everything stops and the namespaces are removed.
      child.kill('SIGINT');
      const [code] = (await Promise.race([exited, timeoutAfter(20_000, () => `cluster stop:\n${tail()}`)])) as [
        number | null,
      ];
      assert.equal(code, 0, tail());
      const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.startsWith(`cnclv${instance}-`));
      assert.deepEqual(left, [], 'namespaces removed');
    } finally {
      for (const c of closers.reverse()) c();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await Promise.race([exited, timeoutAfter(20_000, 'cluster stop').catch(() => child.kill('SIGKILL'))]);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/** A port free for both UDP and TCP on the address (the edge binds both). */
async function freePort(host: string): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((ok) => server.listen(0, host, ok));
    const port = (server.address() as { port: number }).port;
    const udp = createSocket('udp4');
    const udpOk = await new Promise<boolean>((ok) => {
      udp.once('error', () => ok(false));
      udp.bind(port, host, () => ok(true));
    });
    udp.close();
    await new Promise((ok) => server.close(ok));
    if (udpOk) return port;
  }
}

/** Polls state held by other processes (Redis, files): there is nothing to subscribe to. */
async function until(predicate: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function timeoutAfter(ms: number, what: string | (() => string)): Promise<never> {
  return new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`timed out: ${typeof what === 'string' ? what : what()}`)), ms).unref(),
  );
}
