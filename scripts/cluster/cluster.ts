/**
 * `npm run cluster`: a Conclave cluster on one machine — Kamailio edge + Redis on the host, N Conclave
 * nodes each in its own network namespace (bridge + veth pairs, addresses from 198.18.0.0/15, RFC 2544),
 * exposing the same host addresses as `npm start`. Needs root (ip netns). See deploy/README.md.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../packages/log/src/index.ts';
import { KamailioEdge, RedisServerProcess, connectRedis, writeEdgeTables } from '../../packages/cluster/src/index.ts';

const HELP = `npm run cluster -- [options]

Starts a Conclave cluster on this machine: a Kamailio edge and a Redis server on the host, and N
Conclave nodes, each in its own network namespace (bridge ${'cnclv-br0'}, veth pairs, 198.18.0.0/24).
Host addresses are those of \`npm start\`: web page http://127.0.0.1:8080/ (proxied to node 1),
SIP over WebSocket ws://127.0.0.1:8088, SIP over UDP/TCP 127.0.0.1:5060. Needs root (ip netns).
Ctrl-C (SIGINT/SIGTERM) stops everything and removes the namespaces.

Options:
  --nodes <n>       number of nodes (default 3, at most 50)
  --config <file>   base Conclave config (users, admins, conference...); listen addresses are set per node
  --edge-log <file> append Kamailio's output to <file>
  --edge-trace      Kamailio logs a line per request and reply it routes (with --edge-log)
  --cleanup         remove leftovers of a previous run (namespaces, veths, bridge) and exit
  -h, --help        this help

Addresses: bridge/edge 198.18.0.1, node i 198.18.0.(10+i); Redis 198.18.0.1:6379.
`;

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const BRIDGE = 'cnclv-br0';
const EDGE_NET_IP = '198.18.0.1';
const nsName = (i: number) => `cnclv-n${i}`;
const nodeIp = (i: number) => `198.18.0.${10 + i}`;
const log = createLogger('cluster');

interface Args {
  nodes: number;
  config?: string;
  edgeLog?: string;
  edgeTrace: boolean;
  cleanup: boolean;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { nodes: 3, cleanup: false, edgeTrace: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      process.stdout.write(HELP);
      process.exit(0);
    } else if (a === '--cleanup') out.cleanup = true;
    else if (a === '--nodes') {
      out.nodes = Number(argv[++i]);
      if (!Number.isInteger(out.nodes) || out.nodes < 1 || out.nodes > 50)
        fail(`--nodes must be an integer from 1 to 50, got ${argv[i]}`);
    } else if (a === '--config') out.config = argv[++i] ?? fail('--config needs a file');
    else if (a === '--edge-log') out.edgeLog = resolve(argv[++i] ?? fail('--edge-log needs a file'));
    else if (a === '--edge-trace') out.edgeTrace = true;
    else fail(`unknown option ${a} (see --help)`);
  }
  return out;
}

function fail(message: string): never {
  process.stderr.write(`cluster: ${message}\n`);
  process.exit(1);
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // already gone
  }
}

/** Removes every namespace, veth and the bridge this script creates (by their fixed names). */
function cleanup(): void {
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => /^cnclv-n\d+$/.test(n));
  for (const ns of namespaces) quietly(() => ip('netns', 'del', ns));
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n && /^cnclv-/.test(n));
  for (const l of links) quietly(() => ip('link', 'del', l));
}

function createNetwork(n: number): void {
  ip('link', 'add', BRIDGE, 'type', 'bridge');
  ip('addr', 'add', `${EDGE_NET_IP}/24`, 'dev', BRIDGE);
  ip('link', 'set', BRIDGE, 'up');
  for (let i = 1; i <= n; i++) {
    const ns = nsName(i);
    ip('netns', 'add', ns);
    ip('link', 'add', `cnclv-h${i}`, 'type', 'veth', 'peer', 'name', `cnclv-p${i}`);
    ip('link', 'set', `cnclv-h${i}`, 'master', BRIDGE);
    ip('link', 'set', `cnclv-h${i}`, 'up');
    ip('link', 'set', `cnclv-p${i}`, 'netns', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', `${nodeIp(i)}/24`, 'dev', `cnclv-p${i}`);
    ip('-n', ns, 'link', 'set', `cnclv-p${i}`, 'up');
    // no default route: a node can reach only its own loopback and 198.18.0.0/24
  }
}

/** The web page and admin API on 127.0.0.1:8080, proxied to one node's HTTP server (SSE included). */
function startWebProxy(target: { host: string; port: number }): Promise<ReturnType<typeof createServer>> {
  const server = createServer((req, res) => {
    const upstream = httpRequest(
      { host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`node ${target.host} unreachable: ${err.message}\n`);
    });
    req.pipe(upstream);
  });
  return new Promise((ok, no) => {
    server.once('error', no);
    server.listen(8080, '127.0.0.1', () => ok(server));
  });
}

/** Resolves once a node wrote its --ready-file (every listener up, announced in Redis); rejects if it exits first. */
function nodeReady(child: ChildProcess, readyFile: string, i: number): Promise<void> {
  return new Promise((ok, no) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      clearInterval(timer);
      no(new Error(`node ${i} exited (${code ?? signal}) before it was ready`));
    };
    const timer = setInterval(() => {
      if (!existsSync(readyFile)) return;
      clearInterval(timer);
      child.off('exit', onExit);
      ok();
    }, 100);
    child.once('exit', onExit);
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0)
    fail(
      'needs root: it creates network namespaces, veth pairs and a bridge (run it as root, e.g. sudo npm run cluster)',
    );
  for (const [cmd, arg] of [
    ['ip', '-V'],
    ['kamailio', '-v'],
    ['redis-server', '--version'],
  ] as const) {
    try {
      execFileSync(cmd, [arg], { stdio: 'ignore' });
    } catch {
      fail(`${cmd} is missing (bash scripts/setup.sh installs kamailio, its redis/websocket modules and redis-server)`);
    }
  }
  cleanup();
  if (args.cleanup) {
    process.stdout.write('cluster: leftovers removed\n');
    return;
  }
  const base = args.config ? (JSON.parse(readFileSync(args.config, 'utf8')) as Record<string, unknown>) : {};
  const users =
    (base['users'] as Array<{ name: string; password: string }> | undefined) ??
    ['alice', 'bob', 'carol', 'dave', 'erin'].map((name) => ({ name, password: `${name}-secret` }));
  const domain = (base['domain'] as string | undefined) ?? '127.0.0.1';

  const dir = mkdtempSync(join(tmpdir(), 'conclave-cluster-'));
  const children: ChildProcess[] = [];
  let stopping = false;
  let edge: KamailioEdge | undefined;
  let redisServer: RedisServerProcess | undefined;
  let web: ReturnType<typeof createServer> | undefined;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\ncluster: stopping\n');
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((ok) => {
            if (c.exitCode !== null || c.signalCode !== null) return ok();
            c.once('exit', () => ok());
            c.kill('SIGTERM');
          }),
      ),
    );
    web?.close();
    await edge?.close();
    await redisServer?.close();
    cleanup();
    rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    createNetwork(args.nodes);
    redisServer = await RedisServerProcess.start({ log, tcp: { host: EDGE_NET_IP, port: 6379 } });
    const redis = await connectRedis({ url: redisServer.url! }, log);
    await writeEdgeTables(redis, users, domain);
    redis.disconnect();
    const nodeUris = Array.from({ length: args.nodes }, (_, k) => `sip:${nodeIp(k + 1)}:5060;transport=tcp`);
    edge = await KamailioEdge.start({
      log,
      edgeIp: '127.0.0.1',
      sipPort: 5060,
      wsPort: 8088,
      nodeNetIp: EDGE_NET_IP,
      domain,
      redisUrl: redisServer.url!,
      nodes: nodeUris,
      ...(args.edgeLog ? { logFile: args.edgeLog } : {}),
      trace: args.edgeTrace,
    });
    process.stdout.write(
      `edge (Kamailio)   pid ${edge.pid}  udp/tcp 127.0.0.1:5060, ws 127.0.0.1:8088, nodes side ${EDGE_NET_IP}:5060\n`,
    );
    process.stdout.write(`redis-server      pid ${redisServer.pid}  ${redisServer.url}\n`);

    const starting: Array<Promise<void>> = [];
    for (let i = 1; i <= args.nodes; i++) {
      const addr = nodeIp(i);
      const config = {
        ...base,
        domain,
        sip: { host: addr, udpPort: 5060, tcpPort: 5060, wsPort: 8088 },
        http: { host: addr, port: 8080 },
        // one mediasoup worker per node unless the base config says otherwise (N nodes share this machine)
        media: { workers: 1, ...((base['media'] as object | undefined) ?? {}), listenIp: addr, announcedAddress: null },
        drachtio: {
          ...((base['drachtio'] as object | undefined) ?? {}),
          embedded: true,
          host: '127.0.0.1',
          port: 9022,
        },
        cluster: {
          ...((base['cluster'] as object | undefined) ?? {}),
          nodeId: `node-${i}`,
          redis: redisServer.url!,
          sipUri: nodeUris[i - 1]!,
          httpUrl: `http://${addr}:8080`,
          // the page's phone registers and calls through the edge, never a node directly
          wsUri: 'ws://127.0.0.1:8088',
        },
      };
      const file = join(dir, `node-${i}.json`);
      writeFileSync(file, JSON.stringify(config, null, 2));
      const readyFile = join(dir, `node-${i}.ready.json`);
      const child = spawn(
        'ip',
        [
          'netns',
          'exec',
          nsName(i),
          process.execPath,
          join(ROOT, 'apps/conclave/src/main.ts'),
          '--config',
          file,
          '--ready-file',
          readyFile,
        ],
        {
          cwd: ROOT,
          stdio: ['ignore', 'inherit', 'inherit'],
        },
      );
      children.push(child);
      child.once('exit', (code, signal) => {
        if (!stopping)
          process.stdout.write(`cluster: node ${i} (${addr}, pid ${child.pid}) exited (${code ?? signal})\n`);
      });
      starting.push(nodeReady(child, readyFile, i));
      process.stdout.write(
        `node ${i}            pid ${child.pid}  netns ${nsName(i)}  sip ${addr}:5060 (udp/tcp)  http http://${addr}:8080  media ${addr}\n`,
      );
    }
    await Promise.all(starting);
    process.stdout.write(`cluster: ${args.nodes} node(s) ready (each announced itself in Redis)\n`);
    web = await startWebProxy({ host: nodeIp(1), port: 8080 });
    process.stdout.write('web page          http://127.0.0.1:8080/ (proxied to node 1)\nCtrl-C stops everything.\n');
  } catch (err) {
    process.stderr.write(`cluster: ${(err as Error).message}\n`);
    await stop(1);
  }
}

await main();
