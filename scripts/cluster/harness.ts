/**
 * A namespace cluster for tests: `scripts/cluster/cluster.ts` as a child, on its own instance (namespaces
 * cnclv<k>-*, subnet 198.18.<k>.0/24) and an edge on a random 127.0.0.0/8 address with ports from bind 0
 * on it, so it runs beside a live `npm run cluster` or `npm start`. Used by
 * packages/cluster/test/namespace-cluster.test.ts and e2e/tests/cluster.spec.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterReady } from './cluster.ts';

export type { ClusterReady } from './cluster.ts';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

export interface TestCluster {
  ready: ClusterReady;
  /** 198.18.<instance>.0/24 */
  instance: number;
  /** What cluster.ts and the nodes printed so far. */
  output(): string;
  /** The edge's last log lines (every request and reply it routed). */
  edgeLog(lines?: number): string;
  /** Ctrl-C: stops everything, removes the namespaces; resolves with the exit code. */
  stop(): Promise<number | null>;
}

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

/** Why a namespace cluster cannot run here, or false when it can. */
export function clusterSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (it creates network namespaces, veth pairs and a bridge)';
  if (!installed('ip', '-V')) return 'iproute2 (ip) is not installed';
  if (!canCreateNamespaces()) return 'ip netns add is not permitted here (root without CAP_SYS_ADMIN?)';
  if (!installed('kamailio', '-v'))
    return 'kamailio is not installed (scripts/setup.sh installs it with its redis and websocket modules)';
  if (!installed('redis-server', '--version')) return 'redis-server is not installed (scripts/setup.sh installs it)';
  return false;
}

export async function startTestCluster(options: {
  nodes: number;
  /** Extra base config (e.g. { cluster: { claimTtlMs } }). */
  config?: Record<string, unknown>;
  startTimeoutMs?: number;
}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-test-cluster-'));
  const edgeIp = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
  const instance = randomInt(100, 250);
  const readyFile = join(dir, 'ready.json');
  const edgeLogFile = join(dir, 'edge.log');
  const configFile = join(dir, 'base.json');
  writeFileSync(configFile, JSON.stringify(options.config ?? {}));
  const args = [
    join(ROOT, 'scripts/cluster/cluster.ts'),
    ...['--nodes', String(options.nodes), '--instance', String(instance), '--edge-ip', edgeIp],
    ...['--sip-port', String(await freePort(edgeIp)), '--ws-port', String(await freePort(edgeIp))],
    ...['--http-port', String(await freePort(edgeIp)), '--config', configFile, '--ready-file', readyFile],
    ...['--edge-log', edgeLogFile, '--edge-trace'],
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const edgeLog = (lines = 40) =>
    existsSync(edgeLogFile) ? readFileSync(edgeLogFile, 'utf8').split('\n').slice(-lines).join('\n') : '(no edge log)';
  let stopped: Promise<number | null> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code] = await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return code;
    })());
  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
  while (!existsSync(readyFile)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const why = child.exitCode !== null ? `exited (${child.exitCode})` : 'not ready in time';
      const out = output;
      await stop();
      throw new Error(`test cluster ${why}:\n${out.split('\n').slice(-30).join('\n')}`);
    }
    // cluster.ts writes the file whole when every node is up: nothing to subscribe to across processes
    await new Promise((r) => setTimeout(r, 100));
  }
  const ready = JSON.parse(readFileSync(readyFile, 'utf8')) as ClusterReady;
  return { ready, instance, output: () => output, edgeLog, stop };
}

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
