/**
 * A redis-server child process (Debian's `redis-server`), for tests and `npm run cluster`: no
 * persistence, stopped with the owner. Listens either on a unix socket only (`--port 0`: TCP off, so no
 * port can collide — what tests use) or on a TCP address the caller chose.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@conclave/log';

export interface RedisServerOptions {
  log: Logger;
  /** TCP listen address; omitted: unix socket only. */
  tcp?: { host: string; port: number };
  /** Also listen on a unix socket in a fresh temporary folder (default true when tcp is omitted). */
  unixSocket?: boolean;
  /** Program (default `redis-server` on PATH). */
  command?: string;
}

export class RedisServerProcess {
  readonly socketPath: string | undefined;
  readonly tcp: { host: string; port: number } | undefined;
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #log: Logger;
  #exited: Promise<void>;
  #closed = false;

  private constructor(
    child: ChildProcess,
    dir: string,
    socketPath: string | undefined,
    tcp: RedisServerOptions['tcp'],
    log: Logger,
  ) {
    this.#child = child;
    this.#dir = dir;
    this.socketPath = socketPath;
    this.tcp = tcp;
    this.#log = log;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** redis://host:port/0 when listening on TCP. */
  get url(): string | undefined {
    return this.tcp ? `redis://${this.tcp.host}:${this.tcp.port}/0` : undefined;
  }

  /** Starts redis-server and resolves once it accepts connections (its own "Ready" line). */
  static async start(options: RedisServerOptions): Promise<RedisServerProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-redis-'));
    const wantSocket = options.unixSocket ?? !options.tcp;
    const socketPath = wantSocket ? join(dir, 'redis.sock') : undefined;
    const args = ['--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'notice', '--databases', '4'];
    if (options.tcp)
      args.push('--bind', options.tcp.host, '--port', String(options.tcp.port), '--protected-mode', 'no');
    else args.push('--port', '0');
    if (socketPath) args.push('--unixsocket', socketPath, '--unixsocketperm', '700');
    const child = spawn(options.command ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const log = options.log.child('redis-server');
    const server = new RedisServerProcess(child, dir, socketPath, options.tcp, log);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/ready to accept connections/i.test(output)) {
          child.stdout.off('data', onData);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.once('error', (err) => reject(new Error(`cannot start redis-server: ${err.message}`, { cause: err })));
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `redis-server exited (${code ?? signal}) before it was ready: ${output.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        ),
      );
    }).catch((err: Error) => {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    });
    child.stdout.resume();
    child.stderr.resume();
    log.debug('redis-server ready', { pid: child.pid, socketPath, tcp: options.tcp });
    return server;
  }

  /** SIGTERM, wait for the exit, remove the temporary folder. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
    await this.#exited;
    rmSync(this.#dir, { recursive: true, force: true });
    this.#log.debug('redis-server stopped');
  }

  /** SIGKILL: a crash, for tests of what survives one. */
  async kill(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.#exited;
  }
}
