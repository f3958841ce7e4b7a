/**
 * The Kamailio edge as a child process (Debian's `kamailio`, deploy/kamailio.cfg), for tests and
 * `npm run cluster`: foreground (-DD -E), configured only through the CONCLAVE_* environment the
 * config reads, ready once it answers an OPTIONS on its UDP socket, and inspected through kamcmd.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from '@conclave/log';

const run = promisify(execFile);

/** deploy/kamailio.cfg of this work tree. */
export const EDGE_CONFIG_PATH = resolve(fileURLToPath(import.meta.url), '../../../../deploy/kamailio.cfg');

export interface KamailioEdgeOptions {
  log: Logger;
  edgeIp: string;
  sipPort: number;
  wsPort: number;
  /** Second listen address facing the nodes, when they cannot reach edgeIp. */
  nodeNetIp?: string;
  domain?: string;
  /** redis://host:port/db (db_redis needs TCP) */
  redisUrl: string;
  /** Node SIP URIs for dispatcher set 1, e.g. sip:198.18.0.11:5060;transport=tcp */
  nodes: readonly string[];
  children?: number;
  configPath?: string;
  /** Command prefix to run kamailio through (e.g. none); default runs `kamailio` from PATH. */
  command?: string;
  /** Kamailio's output is appended to this file as well (`npm run cluster -- --edge-log`). */
  logFile?: string;
  /** Log one line per request and reply the edge routes (CONCLAVE_EDGE_TRACE in kamailio.cfg). */
  trace?: boolean;
}

export interface DispatcherTarget {
  uri: string;
  /** dispatcher flags: AP active+probing, AX active, IP inactive+probing, DX disabled... */
  flags: string;
}

export class KamailioEdge {
  readonly options: KamailioEdgeOptions;
  readonly ctlSocket: string;
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #log: Logger;
  readonly #exited: Promise<void>;
  #output = '';
  #closed = false;

  private constructor(options: KamailioEdgeOptions, child: ChildProcess, dir: string, ctlSocket: string) {
    this.options = options;
    this.#child = child;
    this.#dir = dir;
    this.ctlSocket = ctlSocket;
    this.#log = options.log.child('kamailio');
    this.#exited = new Promise((r) => child.once('exit', () => r()));
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-20_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    if (options.logFile) {
      const file = createWriteStream(options.logFile, { flags: 'a' });
      child.stdout!.pipe(file, { end: false });
      child.stderr!.pipe(file, { end: false });
      child.once('exit', () => file.end());
    }
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The last lines Kamailio logged (for error messages). */
  get output(): string {
    return this.#output;
  }

  static environment(options: KamailioEdgeOptions, dispatcherList: string, ctlSocket: string): Record<string, string> {
    const env: Record<string, string> = {
      CONCLAVE_EDGE_IP: options.edgeIp,
      CONCLAVE_SIP_PORT: String(options.sipPort),
      CONCLAVE_WS_PORT: String(options.wsPort),
      CONCLAVE_REDIS_DB_URL: options.redisUrl,
      CONCLAVE_REDIS_SERVER: redisServerParam(options.redisUrl),
      CONCLAVE_DISPATCHER_LIST: dispatcherList,
      CONCLAVE_CTL_SOCKET: `unix:${ctlSocket}`,
      CONCLAVE_CHILDREN: String(options.children ?? 2),
    };
    if (options.nodeNetIp) env['CONCLAVE_NODE_NET_IP'] = options.nodeNetIp;
    // An alias only for a domain name. An address alias (any port) would make every URI on that address
    // "myself" to Kamailio, phones' Contacts on 127.0.0.1 included, and loose_route() would take their
    // in-dialog requests for strict-routed ones. An IP literal domain is one of the listen addresses anyway.
    if (options.domain && isIP(options.domain.replace(/^\[|\]$/g, '')) === 0) env['CONCLAVE_DOMAIN'] = options.domain;
    if (options.trace) env['CONCLAVE_EDGE_TRACE'] = '1';
    return env;
  }

  static async start(options: KamailioEdgeOptions): Promise<KamailioEdge> {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-edge-'));
    const list = join(dir, 'dispatcher.list');
    writeFileSync(list, options.nodes.map((uri) => `1 ${uri}\n`).join(''));
    const ctlSocket = join(dir, 'ctl.sock');
    const env = { ...process.env, ...KamailioEdge.environment(options, list, ctlSocket) };
    const child = spawn(
      options.command ?? 'kamailio',
      ['-f', options.configPath ?? EDGE_CONFIG_PATH, '-DD', '-E', '-Y', dir],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const edge = new KamailioEdge(options, child, dir, ctlSocket);
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (err) => reject(new Error(`cannot start kamailio: ${err.message}`, { cause: err })));
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `kamailio exited (${code ?? signal}) at start-up:\n${edge.#output.trim().split('\n').slice(-8).join('\n')}`,
          ),
        ),
      );
    });
    try {
      await Promise.race([edge.#waitReady(), failed]);
    } catch (err) {
      await edge.close();
      throw err;
    }
    edge.#log.debug('kamailio ready', { pid: child.pid });
    return edge;
  }

  /** `kamcmd dispatcher.list`, reduced to URI and flags. */
  async dispatcherTargets(): Promise<DispatcherTarget[]> {
    const { stdout } = await run('kamcmd', ['-s', `unix:${this.ctlSocket}`, 'dispatcher.list']);
    const out: DispatcherTarget[] = [];
    const re = /URI:\s*(\S+)\s*\n\s*FLAGS:\s*(\S+)/g;
    for (let m = re.exec(stdout); m; m = re.exec(stdout)) out.push({ uri: m[1]!, flags: m[2]! });
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
    await this.#exited;
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** Sends OPTIONS to the edge until one is answered (each try waits up to 250 ms for its answer). */
  async #waitReady(): Promise<void> {
    const socket = createSocket('udp4');
    await new Promise<void>((ok) => socket.bind(0, '127.0.0.1', () => ok()));
    try {
      for (let attempt = 0; !this.#closed && this.#child.exitCode === null; attempt++) {
        const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
        const port = socket.address().port;
        const msg =
          `OPTIONS sip:${this.options.edgeIp}:${this.options.sipPort} SIP/2.0\r\n` +
          `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch};rport\r\n` +
          `Max-Forwards: 70\r\nFrom: <sip:ready@127.0.0.1>;tag=${attempt}\r\nTo: <sip:${this.options.edgeIp}>\r\n` +
          `Call-ID: ready-${branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
        const answered = await new Promise<boolean>((resolveAnswer) => {
          const timer = setTimeout(() => {
            socket.off('message', onMessage);
            resolveAnswer(false);
          }, 250);
          const onMessage = (data: Buffer) => {
            if (!data.includes(branch)) return;
            clearTimeout(timer);
            socket.off('message', onMessage);
            resolveAnswer(/^SIP\/2\.0 200/.test(data.toString()));
          };
          socket.on('message', onMessage);
          socket.send(msg, this.options.sipPort, this.options.edgeIp);
        });
        if (answered) return;
      }
    } finally {
      socket.close();
    }
  }
}

/** ndb_redis's server parameter from a redis:// URL. */
export function redisServerParam(url: string): string {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '') || '0';
  return `name=conclave;addr=${u.hostname};port=${u.port || '6379'};db=${db}`;
}

/** `kamailio -c`: parses the config and loads every module without starting. Returns its output. */
export async function checkEdgeConfig(
  configPath = EDGE_CONFIG_PATH,
  env: Record<string, string> = {},
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-edge-check-'));
  try {
    const list = join(dir, 'dispatcher.list');
    writeFileSync(list, '1 sip:127.0.0.1:5999\n');
    const { stdout, stderr } = await run('kamailio', ['-c', '-f', configPath], {
      env: {
        ...process.env,
        CONCLAVE_DISPATCHER_LIST: list,
        CONCLAVE_CTL_SOCKET: `unix:${join(dir, 'ctl.sock')}`,
        ...env,
      },
    });
    return stdout + stderr;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
