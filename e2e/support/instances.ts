/**
 * Conclave instances for the e2e tests: each started as `main.ts --config <file> --ready-file <f>`
 * with every listener on port 0, known to be up when it has written its ready file (the bound
 * addresses), and stopped with SIGTERM (it ends its calls with BYE) and waited for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const E2E_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(E2E_DIR, '..', 'apps', 'conclave', 'src', 'main.ts');

/** What main.ts writes to its --ready-file. */
export interface ReadyFile {
  pid: number;
  http: { host: string; port: number };
  sip: {
    udp?: { host: string; port: number };
    tcp?: { host: string; port: number };
    ws?: { host: string; port: number };
  };
  drachtio: { host: string; port: number };
  media: { rtcMinPort: number; rtcMaxPort: number };
}

export class ConclaveInstance {
  readonly name: string;
  readonly ready: ReadyFile;
  readonly #child: ChildProcess;
  readonly #dir: string;

  private constructor(name: string, child: ChildProcess, dir: string, ready: ReadyFile) {
    this.name = name;
    this.#child = child;
    this.#dir = dir;
    this.ready = ready;
  }

  get url(): string {
    return `http://${this.ready.http.host}:${this.ready.http.port}`;
  }

  get wsUrl(): string {
    const ws = this.ready.sip.ws;
    if (!ws) throw new Error(`${this.name}: no SIP WebSocket listener`);
    return `ws://${ws.host}:${ws.port}`;
  }

  /** Starts an instance with `configFile` (relative to e2e/) and waits for its ready file. */
  static async start(name: string, configFile: string, timeoutMs = 60_000): Promise<ConclaveInstance> {
    const dir = mkdtempSync(join(tmpdir(), `conclave-e2e-${name}-`));
    const readyFile = join(dir, 'ready.json');
    const child = spawn(process.execPath, [MAIN, '--config', configFile, '--ready-file', readyFile], {
      cwd: E2E_DIR,
      stdio: ['ignore', process.env['E2E_SERVER_LOGS'] ? 'inherit' : 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8000);
      if (process.env['E2E_SERVER_LOGS']) process.stderr.write(d);
    });
    try {
      const ready = await new Promise<ReadyFile>((resolve, reject) => {
        const watcher = watch(dir, () => check());
        const timer = setTimeout(() => done(new Error(`not ready within ${timeoutMs} ms`)), timeoutMs);
        const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
          done(new Error(`exited (${code ?? signal}) before it was ready`));
        child.once('exit', onExit);
        const done = (err: Error | undefined, value?: ReadyFile) => {
          watcher.close();
          clearTimeout(timer);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve(value!);
        };
        const check = () => {
          if (existsSync(readyFile)) done(undefined, JSON.parse(readFileSync(readyFile, 'utf8')) as ReadyFile);
        };
        check();
      });
      return new ConclaveInstance(name, child, dir, ready);
    } catch (err) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`conclave ${name} (${configFile}): ${(err as Error).message}\n${stderr}`, { cause: err });
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
