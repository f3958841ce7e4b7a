/**
 * `npm run cluster`: a Conclave cluster on one machine — Kamailio edge + Redis on the host, N Conclave
 * nodes each in its own network namespace (bridge + veth pairs, addresses from 198.18.0.0/15, RFC 2544),
 * exposing the same host addresses as `npm start`. Needs root (ip netns). See deploy/README.md.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { request as httpRequest, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../packages/log/src/index.ts';
import { KamailioEdge, RedisServerProcess, connectRedis, writeEdgeTables } from '../../packages/cluster/src/index.ts';

const HELP = `npm run cluster -- [options]

Starts a Conclave cluster on this machine: a Kamailio edge and a Redis server on the host, and N
Conclave nodes, each in its own network namespace (bridge cnclv-br0, veth pairs, 198.18.0.0/24).
Host addresses are those of \`npm start\`: web page http://127.0.0.1:8080/ (proxied to node 1),
SIP over WebSocket ws://127.0.0.1:8088, SIP over UDP/TCP 127.0.0.1:5060. Needs root (ip netns).
Ctrl-C (SIGINT/SIGTERM) stops everything and removes the namespaces.

Options:
  --nodes <n>         number of nodes (default 3, at most 50)
  --config <file>     base Conclave config (users, admins, conference, cluster.claimTtlMs...); listen
                      addresses and the cluster identity are set per node
  --edge-log <file>   append Kamailio's output to <file>
  --edge-trace        Kamailio logs a line per request and reply it routes (with --edge-log)
  --cleanup           remove leftovers of a previous run (namespaces, veths, bridge) and exit
  -h, --help          this help

A second cluster next to the first one (tests):
  --instance <k>      1-255: names cnclv<k>-*, subnet 198.18.<k>.0/24 (default 0: cnclv-*, 198.18.0.0/24)
  --edge-ip <addr>    host address of the edge and the web page (default 127.0.0.1)
  --sip-port <p>      SIP over UDP/TCP on the edge (default 5060)
  --ws-port <p>       SIP over WebSocket on the edge (default 8088)
  --http-port <p>     web page (default 8080)
  --ready-file <f>    once every node is up, write JSON with the edge, Redis and each node's address and pid

Addresses: bridge/edge 198.18.<k>.1, node i 198.18.<k>.(10+i); Redis 198.18.<k>.1:6379.
`;

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const log = createLogger('cluster');

interface Args {
  nodes: number;
  config?: string;
  edgeLog?: string;
  edgeTrace: boolean;
  cleanup: boolean;
  instance: number;
  edgeIp: string;
  sipPort: number;
  wsPort: number;
  httpPort: number;
  readyFile?: string;
}

/** Names and addresses of one cluster instance (0: what `npm run cluster` uses). */
interface Net {
  prefix: string;
  bridge: string;
  edgeNetIp: string;
  ns(i: number): string;
  hostVeth(i: number): string;
  nodeVeth(i: number): string;
  nodeIp(i: number): string;
}

function netOf(instance: number): Net {
  const prefix = instance === 0 ? 'cnclv' : `cnclv${instance}`;
  const subnet = `198.18.${instance}`;
  return {
    prefix,
    bridge: `${prefix}-br0`,
    edgeNetIp: `${subnet}.1`,
    ns: (i) => `${prefix}-n${i}`,
    hostVeth: (i) => `${prefix}-h${i}`,
    nodeVeth: (i) => `${prefix}-p${i}`,
    nodeIp: (i) => `${subnet}.${10 + i}`,
  };
}

function parseArgs(argv: string[]): Args {
  const out: Args = {
    nodes: 3,
    cleanup: false,
    edgeTrace: false,
    instance: 0,
    edgeIp: '127.0.0.1',
    sipPort: 5060,
    wsPort: 8088,
    httpPort: 8080,
  };
  const int = (name: string, value: string | undefined, min: number, max: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      fail(`${name} must be an integer from ${min} to ${max}, got ${value}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      process.stdout.write(HELP);
      process.exit(0);
    } else if (a === '--cleanup') out.cleanup = true;
    else if (a === '--nodes') out.nodes = int(a, argv[++i], 1, 50);
    else if (a === '--config') out.config = argv[++i] ?? fail('--config needs a file');
    else if (a === '--edge-log') out.edgeLog = resolve(argv[++i] ?? fail('--edge-log needs a file'));
    else if (a === '--edge-trace') out.edgeTrace = true;
    else if (a === '--instance') out.instance = int(a, argv[++i], 0, 255);
    else if (a === '--edge-ip') {
      out.edgeIp = argv[++i] ?? fail('--edge-ip needs an address');
      if (isIP(out.edgeIp) !== 4) fail(`--edge-ip must be an IPv4 address, got ${out.edgeIp}`);
    } else if (a === '--sip-port') out.sipPort = int(a, argv[++i], 1, 65535);
    else if (a === '--ws-port') out.wsPort = int(a, argv[++i], 1, 65535);
    else if (a === '--http-port') out.httpPort = int(a, argv[++i], 1, 65535);
    else if (a === '--ready-file') out.readyFile = resolve(argv[++i] ?? fail('--ready-file needs a file'));
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

/** Removes every namespace, veth and the bridge of one instance (by their fixed names). */
function cleanup(net: Net): void {
  const ns = new RegExp(`^${net.prefix}-n\\d+$`);
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => ns.test(n));
  for (const n of namespaces) quietly(() => ip('netns', 'del', n));
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n && n.startsWith(`${net.prefix}-`));
  for (const l of links) quietly(() => ip('link', 'del', l));
}

function createNetwork(net: Net, n: number): void {
  ip('link', 'add', net.bridge, 'type', 'bridge');
  ip('addr', 'add', `${net.edgeNetIp}/24`, 'dev', net.bridge);
  ip('link', 'set', net.bridge, 'up');
  for (let i = 1; i <= n; i++) {
    const ns = net.ns(i);
    ip('netns', 'add', ns);
    ip('link', 'add', net.hostVeth(i), 'type', 'veth', 'peer', 'name', net.nodeVeth(i));
    ip('link', 'set', net.hostVeth(i), 'master', net.bridge);
    ip('link', 'set', net.hostVeth(i), 'up');
    ip('link', 'set', net.nodeVeth(i), 'netns', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', `${net.nodeIp(i)}/24`, 'dev', net.nodeVeth(i));
    ip('-n', ns, 'link', 'set', net.nodeVeth(i), 'up');
    // no default route: a node can reach only its own loopback and its /24
  }
}

/** The web page and admin API on the host, proxied to one node's HTTP server (SSE included). */
function startWebProxy(
  listen: { host: string; port: number },
  target: { host: string; port: number },
): Promise<ReturnType<typeof createServer>> {
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
    server.listen(listen.port, listen.host, () => ok(server));
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

/**
 * Waits until the edge's dispatcher has every node active: the nodes came up after the edge, so its first
 * OPTIONS probes failed, and factory INVITEs would get 503 until the next probe answered (<= 1 s).
 */
async function dispatcherSeesAll(edge: KamailioEdge, nodeUris: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const targets = await edge.dispatcherTargets();
    const active = nodeUris.filter((uri) => targets.some((t) => t.uri === uri && t.flags.startsWith('A')));
    if (active.length === nodeUris.length) return;
    if (Date.now() > deadline)
      throw new Error(`the edge's dispatcher still lacks ${nodeUris.filter((u) => !active.includes(u)).join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What --ready-file holds. */
export interface ClusterReady {
  pid: number;
  edge: { pid: number; ip: string; sipPort: number; wsPort: number; nodeNetIp: string };
  redis: { pid: number; url: string };
  web: string;
  domain: string;
  nodes: Array<{ id: string; pid: number; ip: string; netns: string; sip: string; http: string }>;
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
  const net = netOf(args.instance);
  cleanup(net);
  if (args.cleanup) {
    process.stdout.write('cluster: leftovers removed\n');
    return;
  }
  const base = args.config ? (JSON.parse(readFileSync(args.config, 'utf8')) as Record<string, unknown>) : {};
  const users =
    (base['users'] as Array<{ name: string; password: string }> | undefined) ??
    ['alice', 'bob', 'carol', 'dave', 'erin'].map((name) => ({ name, password: `${name}-secret` }));
  const domain = (base['domain'] as string | undefined) ?? args.edgeIp;
  // Every node verifies the nonces the others issued (a request may land on another node than its challenge).
  const nonceSecret =
    ((base['cluster'] as { nonceSecret?: string } | undefined)?.nonceSecret ?? null) ||
    randomBytes(24).toString('base64url');

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
    cleanup(net);
    rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    createNetwork(net, args.nodes);
    redisServer = await RedisServerProcess.start({ log, tcp: { host: net.edgeNetIp, port: 6379 } });
    const redisUrl = redisServer.url!;
    const redis = await connectRedis({ url: redisUrl }, log);
    await writeEdgeTables(redis, users, domain);
    redis.disconnect();
    const nodeUris = Array.from({ length: args.nodes }, (_, k) => `sip:${net.nodeIp(k + 1)}:5060;transport=tcp`);
    edge = await KamailioEdge.start({
      log,
      edgeIp: args.edgeIp,
      sipPort: args.sipPort,
      wsPort: args.wsPort,
      nodeNetIp: net.edgeNetIp,
      domain,
      redisUrl,
      nodes: nodeUris,
      ...(args.edgeLog ? { logFile: args.edgeLog } : {}),
      trace: args.edgeTrace,
    });
    process.stdout.write(
      `edge (Kamailio)   pid ${edge.pid}  udp/tcp ${args.edgeIp}:${args.sipPort}, ws ${args.edgeIp}:${args.wsPort}, nodes side ${net.edgeNetIp}:5060\n`,
    );
    process.stdout.write(`redis-server      pid ${redisServer.pid}  ${redisUrl}\n`);

    const starting: Array<Promise<void>> = [];
    const nodes: ClusterReady['nodes'] = [];
    for (let i = 1; i <= args.nodes; i++) {
      const addr = net.nodeIp(i);
      const id = `node-${i}`;
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
          nodeId: id,
          redis: redisUrl,
          sipUri: nodeUris[i - 1]!,
          httpUrl: `http://${addr}:8080`,
          // the page's phone registers and calls through the edge, never a node directly
          wsUri: `ws://${args.edgeIp}:${args.wsPort}`,
          edgeSipPort: args.sipPort,
          // the focus calls users through the edge (its lookup finds them), on the edge's bridge address
          edgeProxy: `sip:${net.edgeNetIp}:${args.sipPort};transport=tcp;lr`,
          nonceSecret,
        },
      };
      const file = join(dir, `${id}.json`);
      writeFileSync(file, JSON.stringify(config, null, 2));
      const readyFile = join(dir, `${id}.ready.json`);
      const main = join(ROOT, 'apps/conclave/src/main.ts');
      const child = spawn(
        'ip',
        ['netns', 'exec', net.ns(i), process.execPath, main, '--config', file, '--ready-file', readyFile],
        { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
      );
      children.push(child);
      child.once('exit', (code, signal) => {
        if (!stopping)
          process.stdout.write(`cluster: node ${i} (${addr}, pid ${child.pid}) exited (${code ?? signal})\n`);
      });
      starting.push(nodeReady(child, readyFile, i));
      nodes.push({
        id,
        pid: child.pid!,
        ip: addr,
        netns: net.ns(i),
        sip: nodeUris[i - 1]!,
        http: `http://${addr}:8080`,
      });
      process.stdout.write(
        `node ${i}            pid ${child.pid}  netns ${net.ns(i)}  sip ${addr}:5060 (udp/tcp)  http http://${addr}:8080  media ${addr}\n`,
      );
    }
    await Promise.all(starting);
    await dispatcherSeesAll(edge, nodeUris);
    process.stdout.write(
      `cluster: ${args.nodes} node(s) ready (each announced itself in Redis, the edge's dispatcher probes them as active)\n`,
    );
    web = await startWebProxy({ host: args.edgeIp, port: args.httpPort }, { host: net.nodeIp(1), port: 8080 });
    const webUrl = `http://${args.edgeIp}:${args.httpPort}/`;
    process.stdout.write(`web page          ${webUrl} (proxied to node 1)\nCtrl-C stops everything.\n`);
    if (args.readyFile) {
      const ready: ClusterReady = {
        pid: process.pid,
        edge: { pid: edge.pid!, ip: args.edgeIp, sipPort: args.sipPort, wsPort: args.wsPort, nodeNetIp: net.edgeNetIp },
        redis: { pid: redisServer.pid!, url: redisUrl },
        web: webUrl,
        domain,
        nodes,
      };
      // Written whole then renamed, so a reader never sees half a file.
      writeFileSync(`${args.readyFile}.tmp`, JSON.stringify(ready, null, 2) + '\n');
      renameSync(`${args.readyFile}.tmp`, args.readyFile);
    }
  } catch (err) {
    process.stderr.write(`cluster: ${(err as Error).message}\n`);
    await stop(1);
  }
}

await main();
