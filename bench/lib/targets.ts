/**
 * The two systems under test, started as child processes of the driver on loopback:
 *  - embedded: Conclave's SipServer + a drachtio-srf B2BUA (bench/embedded-target.ts, own Node process);
 *  - kamailio: Kamailio from Debian as a transaction-stateful, record-routing proxy (bench/kamailio.cfg).
 * Both forward every call to the same SIPp callee.
 */
import { fork, spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLevel } from '../../packages/log/src/index.ts';
import type { B2buaStats } from '../b2bua-app.ts';
import type { EmbeddedTargetConfig, TargetMessage, TargetRequest } from '../embedded-target.ts';
import { exited, stopChild } from './sipp.ts';
import { memory, processTree } from './procfs.ts';

export type TargetName = 'embedded' | 'kamailio';
export const TARGET_NAMES: readonly TargetName[] = ['embedded', 'kamailio'];

export interface TargetMemory {
  /** PSS summed over the server's processes, bytes. */
  pss: number;
  rss: number;
  /**
   * Bytes the server's allocator has handed out, after GC where there is one: V8 heapUsed + external
   * (Node), shm real_used + every process's pkg real_used (Kamailio). Unlike PSS it does not include
   * pages that were touched once and kept.
   */
  inUse?: number;
  /** B2BUA call counters (embedded only). */
  calls?: B2buaStats;
  /** process.memoryUsage() of the Node process (embedded only). */
  node?: NodeJS.MemoryUsage;
}

export interface Target {
  readonly name: TargetName;
  /** One line: what exactly runs. */
  readonly description: string;
  /** host:port SIPp sends INVITEs to. */
  readonly sipAddress: string;
  /** The server's processes (for CPU and memory). */
  pids(): number[];
  /** Memory now; `settle` forces garbage collection first where the server has one (Node). */
  memory(settle: boolean): Promise<TargetMemory>;
  /** Undefined while running; otherwise why it stopped. */
  exitReason(): string | undefined;
  stop(): Promise<void>;
}

function tail(file: string, n: number): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n') : '';
}

export const EMBEDDED_ENTRY = join(import.meta.dirname, '..', 'embedded-target.ts');
export const KAMAILIO_CFG = join(import.meta.dirname, '..', 'kamailio.cfg');
export const SIP_SERVER_ENTRY = join(import.meta.dirname, '..', '..', 'packages', 'sip-server', 'src', 'index.ts');

export class EmbeddedTarget implements Target {
  readonly name = 'embedded' as const;
  description: string;
  readonly sipAddress: string;
  readonly #child: ChildProcess;
  readonly #stderr: string;
  #nextId = 1;
  readonly #pending = new Map<number, (m: Extract<TargetMessage, { type: 'memory' }>) => void>();

  private constructor(child: ChildProcess, sipPort: number, stderr: string) {
    this.#child = child;
    this.sipAddress = `127.0.0.1:${sipPort}`;
    this.#stderr = stderr;
    this.description = `Conclave SipServer + drachtio-srf ${srfVersion()} createB2BUA, one Node ${process.version} process`;
    child.on('message', (raw) => {
      const msg = raw as TargetMessage;
      if (msg.type === 'memory') {
        this.#pending.get(msg.id)?.(msg);
        this.#pending.delete(msg.id);
      }
    });
  }

  static async start(o: {
    sipPort: number;
    controlPort: number;
    calleePort: number;
    dir: string;
    logLevel: LogLevel;
    maxServerTransactions: number | undefined;
    nodeArgs: string[];
  }): Promise<EmbeddedTarget> {
    if (!existsSync(SIP_SERVER_ENTRY))
      throw new Error(`the embedded SIP server is not there yet (${SIP_SERVER_ENTRY} missing)`);
    mkdirSync(o.dir, { recursive: true });
    const stderr = join(o.dir, 'embedded.stderr');
    const fd = openSync(stderr, 'w');
    const cfg: EmbeddedTargetConfig = {
      sipPort: o.sipPort,
      controlPort: o.controlPort,
      calleeUri: `sip:service@127.0.0.1:${o.calleePort}`,
      logLevel: o.logLevel,
    };
    if (o.maxServerTransactions !== undefined) cfg.maxServerTransactions = o.maxServerTransactions;
    const child = fork(EMBEDDED_ENTRY, [JSON.stringify(cfg)], {
      execPath: process.execPath,
      execArgv: ['--expose-gc', ...o.nodeArgs],
      stdio: ['ignore', fd, fd, 'ipc'],
    });
    closeSync(fd);
    const target = new EmbeddedTarget(child, o.sipPort, stderr);
    if (o.maxServerTransactions !== undefined)
      target.description += `, limits.maxServerTransactions = ${o.maxServerTransactions}`;
    if (o.nodeArgs.length) target.description += `, node ${o.nodeArgs.join(' ')}`;
    const outcome = await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve('no ready message within 20 s'), 20_000);
      child.on('message', (raw) => {
        const msg = raw as TargetMessage;
        if (msg.type !== 'ready' && msg.type !== 'failed') return;
        clearTimeout(timer);
        resolve(msg.type === 'ready' ? undefined : msg.message);
      });
      void exited(child).then((code) => {
        clearTimeout(timer);
        resolve(`exited (${code})`);
      });
    });
    if (outcome !== undefined) {
      await stopChild(child, 'SIGKILL');
      throw new Error(`embedded target did not start: ${outcome}\n${tail(stderr, 15)}`);
    }
    return target;
  }

  pids(): number[] {
    return this.#child.pid ? [this.#child.pid] : [];
  }

  async memory(settle: boolean): Promise<TargetMemory> {
    const mem = memory(this.pids());
    if (this.exitReason() !== undefined) return mem;
    const id = this.#nextId++;
    const reply = await Promise.race([
      new Promise<Extract<TargetMessage, { type: 'memory' }>>((resolve) => {
        this.#pending.set(id, resolve);
        this.#child.send({ type: 'memory', id, gc: settle } satisfies TargetRequest);
      }),
      sleep(10_000).then(() => undefined),
    ]);
    this.#pending.delete(id);
    // Read /proc after the GC so RSS reflects it too.
    const after = memory(this.pids());
    return reply
      ? { ...after, inUse: reply.usage.heapUsed + reply.usage.external, calls: reply.calls, node: reply.usage }
      : after;
  }

  exitReason(): string | undefined {
    const c = this.#child;
    if (c.exitCode === null && c.signalCode === null) return undefined;
    return `embedded target exited (${c.exitCode ?? c.signalCode}): ${tail(this.#stderr, 10)}`;
  }

  async stop(): Promise<void> {
    if (this.exitReason() !== undefined) return;
    const done = exited(this.#child);
    this.#child.send({ type: 'stop' } satisfies TargetRequest);
    const t = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  }
}

function srfVersion(): string {
  try {
    const pkg = join(
      import.meta.dirname,
      '..',
      '..',
      'packages',
      'sip-server',
      'node_modules',
      'drachtio-srf',
      'package.json',
    );
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

export function kamailioVersion(): string | undefined {
  try {
    const out = execFileSync('kamailio', ['-v'], { encoding: 'utf8' });
    return /version: kamailio (\S+)/.exec(out)?.[1] ?? 'unknown';
  } catch {
    return undefined;
  }
}

export class KamailioTarget implements Target {
  readonly name = 'kamailio' as const;
  readonly description: string;
  readonly sipAddress: string;
  readonly #child: ChildProcess;
  readonly #stderr: string;
  readonly #ctlSocket: string;

  private constructor(child: ChildProcess, port: number, stderr: string, description: string, ctlSocket: string) {
    this.#child = child;
    this.sipAddress = `127.0.0.1:${port}`;
    this.#stderr = stderr;
    this.description = description;
    this.#ctlSocket = ctlSocket;
  }

  static async start(o: { port: number; calleePort: number; dir: string; children: number }): Promise<KamailioTarget> {
    const version = kamailioVersion();
    if (!version) throw new Error('kamailio not found: apt-get install -y kamailio (or run pnpm setup as root)');
    const runDir = join(o.dir, 'kamailio-run');
    mkdirSync(runDir, { recursive: true });
    const stderr = join(o.dir, 'kamailio.stderr');
    const ctlSocket = `unix:${join(runDir, 'ctl.sock')}`;
    const fd = openSync(stderr, 'w');
    // -DD: stay in the foreground (workers are still forked); -E: log to stderr; -Y: runtime dir.
    const child = spawn(
      'kamailio',
      [
        '-DD',
        '-E',
        '-f',
        KAMAILIO_CFG,
        '-Y',
        runDir,
        '-l',
        `udp:127.0.0.1:${o.port}`,
        '-A',
        `UAS_URI="sip:127.0.0.1:${o.calleePort}"`,
        '-A',
        `KAM_CHILDREN=${o.children}`,
        '-A',
        `CTL_SOCKET="${ctlSocket}"`,
        '-m',
        '1024',
        '-M',
        '16',
      ],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    const description = `Kamailio ${version} (Debian), tm + rr stateful proxy, ${o.children} UDP workers, 1 GiB shm`;
    const target = new KamailioTarget(child, o.port, stderr, description, ctlSocket);
    // Kamailio has no readiness signal on stdout at debug=1: give it a moment, then check it is alive.
    await sleep(1500);
    const reason = target.exitReason();
    if (reason !== undefined) throw new Error(reason);
    return target;
  }

  pids(): number[] {
    return this.#child.pid ? processTree(this.#child.pid) : [];
  }

  memory(): Promise<TargetMemory> {
    // synchronous readings (/proc, kamcmd), returned as a promise like the other targets' (a failure rejects)
    return new Promise((resolve) => {
      const mem: TargetMemory = memory(this.pids());
      const inUse = this.#allocated();
      if (inUse !== undefined) mem.inUse = inUse;
      resolve(mem);
    });
  }

  /** shm real_used + sum of pkg real_used, from Kamailio's own allocators (kamcmd over the ctl socket). */
  #allocated(): number | undefined {
    const rpc = (cmd: string): string =>
      execFileSync('kamcmd', ['-s', this.#ctlSocket, cmd], { encoding: 'utf8', timeout: 5000 });
    try {
      const sum = (text: string): number =>
        [...text.matchAll(/real_used: (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
      return sum(rpc('core.shmmem')) + sum(rpc('pkg.stats'));
    } catch {
      return undefined;
    }
  }

  exitReason(): string | undefined {
    const c = this.#child;
    if (c.exitCode === null && c.signalCode === null) return undefined;
    return `kamailio exited (${c.exitCode ?? c.signalCode}): ${tail(this.#stderr, 10)}`;
  }

  async stop(): Promise<void> {
    // SIGTERM to the main process; it stops its workers.
    await stopChild(this.#child, 'SIGTERM');
  }
}
