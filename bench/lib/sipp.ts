/**
 * SIPp (Debian package sip-tester) as the load generator: a long-running callee (UAS) and one caller
 * (UAC) process per measurement step, both driven by the XML scenarios in bench/scenarios/.
 *
 * Results come from SIPp's own files, written into a fresh directory per run:
 *  - `-trace_stat` CSV (final row): calls created / successful / failed, retransmissions;
 *  - `-trace_rtt` CSV: one row per call and response-time measurement ("setup" = INVITE sent ->
 *    200 OK received, "teardown" = BYE -> 200). SIPp's clock has 1 ms resolution, so single values
 *    are whole milliseconds; their mean is still unbiased.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, existsSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const SCENARIOS = join(import.meta.dirname, '..', 'scenarios');
export const UAC_SCENARIO = join(SCENARIOS, 'uac.xml');
export const UAS_SCENARIO = join(SCENARIOS, 'uas.xml');

/**
 * SIPp's UDP socket buffers default to 64 KB, which overflow on loopback bursts above ~2000 calls/s and
 * turn into retransmission storms that are SIPp's, not the server's. 4 MB = Debian's net.core.rmem_max.
 */
const SOCKET_BUFFERS = ['-buff_size', String(4 * 1024 * 1024)];

/** Resolves with the exit code (or the signal name) once the child has exited. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
}

/** Signal a child and wait for it; SIGKILL after `graceMs`. */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 5000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

function lastLines(file: string, n: number): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n');
}

/** The SIPp callee: answers every INVITE with 200 OK and every BYE with 200 OK. */
export class SippUas {
  readonly #child: ChildProcess;
  readonly port: number;
  readonly #stderrFile: string;

  private constructor(child: ChildProcess, port: number, stderrFile: string) {
    this.#child = child;
    this.port = port;
    this.#stderrFile = stderrFile;
  }

  static async start(port: number, dir: string): Promise<SippUas> {
    mkdirSync(dir, { recursive: true });
    const stderrFile = join(dir, 'uas.stderr');
    const errFd = openSync(stderrFile, 'w');
    const child = spawn(
      'sipp',
      [
        '-sf',
        UAS_SCENARIO,
        '-i',
        '127.0.0.1',
        '-p',
        String(port),
        '-nostdin',
        ...SOCKET_BUFFERS,
        '-trace_err',
        '-error_file',
        join(dir, 'uas-errors.log'),
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', errFd] },
    );
    closeSync(errFd);
    const uas = new SippUas(child, port, stderrFile);
    // SIPp exits at once if it cannot bind; otherwise it keeps running.
    const early = await Promise.race([exited(child), sleep(500).then(() => undefined)]);
    if (early !== undefined)
      throw new Error(`SIPp callee on udp/127.0.0.1:${port} exited (${early}): ${lastLines(stderrFile, 5)}`);
    return uas;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  describeExit(): string {
    return `SIPp callee exited (${this.#child.exitCode ?? this.#child.signalCode}): ${lastLines(this.#stderrFile, 5)}`;
  }

  async stop(): Promise<void> {
    await stopChild(this.#child, 'SIGINT');
  }
}

export interface UacOptions {
  /** host:port the caller sends its INVITEs to. */
  target: string;
  localPort: number;
  /** Calls per second. */
  rate: number;
  /** Total calls; SIPp exits when all are finished. */
  calls: number;
  /** Time between ACK and BYE, ms. */
  holdMs: number;
  /** Most simultaneous calls SIPp keeps open (it stops creating calls beyond this). */
  limit: number;
  /** Fresh directory for this run's files. */
  dir: string;
  /** Record every call's response times (for percentiles). */
  traceRtt: boolean;
}

export interface UacResult {
  exit: number | string;
  created: number;
  successful: number;
  failed: number;
  retransmissions: number;
  /** INVITE -> 200 OK, ms, one per successful call (only with traceRtt). */
  setupMs: number[];
  /** Rate at which calls were actually started, calls/s (only with traceRtt). */
  achievedRate: number;
  /** Successful calls per second among those started in the second half of the run (only with traceRtt). */
  steadyGoodput: number;
  /** Successful calls per second of the planned run time (calls / rate). */
  goodput: number;
  wallMs: number;
  /** Last lines of SIPp's error log, for reports. */
  errors: string;
}

/** Parse a SIPp `-trace_stat` CSV: the column values of the last row, by header name. */
export function readStatCsv(file: string): Record<string, string> | undefined {
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  if (lines.length < 2) return undefined;
  const header = (lines[0] ?? '').split(';');
  const row = (lines[lines.length - 1] ?? '').split(';');
  const out: Record<string, string> = {};
  header.forEach((h, i) => {
    if (h) out[h] = row[i] ?? '';
  });
  return out;
}

export class SippUac {
  readonly #child: ChildProcess;
  readonly #opts: UacOptions;
  readonly #started = performance.now();
  readonly #statFile: string;

  constructor(opts: UacOptions) {
    this.#opts = opts;
    mkdirSync(opts.dir, { recursive: true });
    this.#statFile = join(opts.dir, 'stat.csv');
    // Generous global timeout: SIPp should finish by itself within calls/rate + hold + a few seconds.
    const timeoutS = Math.ceil(opts.calls / opts.rate + opts.holdMs / 1000 + 60);
    const args = [
      opts.target,
      '-sf',
      UAC_SCENARIO,
      '-s',
      'service',
      '-i',
      '127.0.0.1',
      '-p',
      String(opts.localPort),
      '-nostdin',
      ...SOCKET_BUFFERS,
      '-r',
      String(opts.rate),
      '-m',
      String(opts.calls),
      '-d',
      String(opts.holdMs),
      '-l',
      String(opts.limit),
      '-recv_timeout',
      '10000',
      '-timeout',
      `${timeoutS}s`,
      '-trace_stat',
      '-stf',
      this.#statFile,
      '-fd',
      '1',
      '-trace_err',
      '-error_file',
      join(opts.dir, 'errors.log'),
    ];
    if (opts.traceRtt) args.push('-trace_rtt', '-rtt_freq', '200');
    const errFd = openSync(join(opts.dir, 'uac.stderr'), 'w');
    this.#child = spawn('sipp', args, { cwd: opts.dir, stdio: ['ignore', 'ignore', errFd] });
    closeSync(errFd);
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** The latest periodic statistics row (SIPp writes one per second). */
  progress(): { created: number; current: number; successful: number; failed: number } | undefined {
    const s = readStatCsv(this.#statFile);
    if (!s) return undefined;
    return {
      created: Number(s['TotalCallCreated'] ?? 0),
      current: Number(s['CurrentCall'] ?? 0),
      successful: Number(s['SuccessfulCall(C)'] ?? 0),
      failed: Number(s['FailedCall(C)'] ?? 0),
    };
  }

  async result(): Promise<UacResult> {
    const exit = await exited(this.#child);
    const wallMs = performance.now() - this.#started;
    const s = readStatCsv(this.#statFile) ?? {};
    const n = (k: string): number => Number(s[k] ?? 0) || 0;
    const setupMs: number[] = [];
    const sendTimes: number[] = [];
    if (this.#opts.traceRtt) {
      const file = readdirSync(this.#opts.dir).find((f) => f.endsWith('_rtt.csv'));
      if (file) {
        for (const line of readFileSync(join(this.#opts.dir, file), 'utf8').split('\n')) {
          const [date, rt, name] = line.split(';');
          if (name !== 'setup') continue;
          const ms = Number(rt);
          setupMs.push(ms);
          sendTimes.push(Number(date) - ms);
        }
      }
    }
    let achievedRate = 0;
    let steadyGoodput = 0;
    if (sendTimes.length > 1) {
      let first = Infinity;
      let last = -Infinity;
      for (const t of sendTimes) {
        first = Math.min(first, t);
        last = Math.max(last, t);
      }
      const span = (last - first) / 1000;
      achievedRate = span > 0 ? (sendTimes.length - 1) / span : 0;
      // Successful calls started in the second half of the run, per second of that half (never more
      // than the offered rate).
      const half = Math.max(span, this.#opts.calls / this.#opts.rate) / 2;
      const mid = first + half * 1000;
      let late = 0;
      for (const t of sendTimes) if (t >= mid) late++;
      steadyGoodput = half > 0 ? Math.min(this.#opts.rate, late / half) : 0;
    }
    return {
      exit,
      created: n('TotalCallCreated'),
      successful: n('SuccessfulCall(C)'),
      failed: n('FailedCall(C)'),
      retransmissions: n('Retransmissions(C)'),
      setupMs,
      achievedRate,
      steadyGoodput,
      goodput: n('SuccessfulCall(C)') / (this.#opts.calls / this.#opts.rate),
      wallMs,
      errors: lastLines(join(this.#opts.dir, 'errors.log'), 12) || lastLines(join(this.#opts.dir, 'uac.stderr'), 5),
    };
  }
}
