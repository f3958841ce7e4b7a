/**
 * One `gst-launch-1.0` child process (Debian's GStreamer) running an audio pipeline for a plain RTP
 * leg. Its udpsrc elements bind port 0 on the loopback interface (the kernel picks a free port: no
 * race with other processes) and the pipeline is started verbose, so the bound ports can be read from
 * its output (`/GstPipeline:pipeline0/GstUDPSrc:in: port = 40123`).
 *
 * A child never outlives the service: it is killed by close(), by the 'exit' of this Node process
 * (every live child is SIGKILLed), and, where util-linux `setpriv` exists (always on Debian), by the
 * kernel when this process dies without running 'exit' handlers (PR_SET_PDEATHSIG = SIGKILL).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from '@conclave/log';

const GST_LAUNCH = 'gst-launch-1.0';
const SETPRIV = '/usr/bin/setpriv';
const TAIL_BYTES = 4096;
/** Clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on every Linux build that matters). */
const CLOCK_TICKS = 100;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

let available: Promise<string> | undefined;

/**
 * Resolves with GStreamer's version line, or rejects with an Error telling which Debian packages to
 * install. Checked once per process.
 */
export function checkGstreamer(): Promise<string> {
  available ??= new Promise<string>((resolve, reject) => {
    execFile(GST_LAUNCH, ['--version'], { timeout: 5000 }, (err, stdout) => {
      if (err) {
        available = undefined;
        reject(
          new Error(
            `GStreamer is required for plain RTP legs but ${GST_LAUNCH} cannot run (${err.message}); install ` +
              'gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good',
          ),
        );
        return;
      }
      resolve(stdout.split('\n').find((l) => l.startsWith('GStreamer')) ?? stdout.trim());
    });
  });
  return available;
}

export interface GstExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The end of the child's output: GStreamer's error message if it failed. */
  output: string;
  /** close() was called (not a failure). */
  killed: boolean;
}

export interface GstProcessOptions {
  /** For logs: 'uplink', 'mixer'. */
  role: string;
  /** The pipeline description, tokens separated by single spaces (no spaces inside a value). */
  pipeline: string;
  /** Names of the `udpsrc ... port=0` elements whose bound ports start() waits for. */
  udpsrcNames: string[];
  log: Logger;
  startTimeoutMs?: number;
  onExit?: (exit: GstExit) => void;
}

export class GstProcess {
  readonly role: string;
  readonly pid: number;
  readonly ports: Readonly<Record<string, number>>;
  readonly startedAt = Date.now();
  readonly #child: ChildProcess;
  readonly #log: Logger;
  #exited = false;
  #killed = false;
  #output = '';

  private constructor(role: string, child: ChildProcess, ports: Record<string, number>, output: string, log: Logger) {
    this.role = role;
    this.#child = child;
    this.pid = child.pid ?? -1;
    this.ports = ports;
    this.#output = output;
    this.#log = log;
  }

  static async start(options: GstProcessOptions): Promise<GstProcess> {
    installExitHook();
    const args = ['-v', '--exclude=caps', ...options.pipeline.split(' ').filter(Boolean)];
    // PR_SET_PDEATHSIG survives execve: gst-launch is killed by the kernel if this process dies.
    const child = existsSync(SETPRIV)
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', GST_LAUNCH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(GST_LAUNCH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const log = options.log;
    const ports: Record<string, number> = {};
    let output = '';
    let instance: GstProcess | undefined;
    const wanted = new Set(options.udpsrcNames);

    return new Promise<GstProcess>((resolve, reject) => {
      let settled = false;
      const fail = (message: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(
          new Error(
            `${options.role} pipeline: ${message}${output ? `: ${output.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
          ),
        );
      };
      const timer = setTimeout(
        () => fail(`not ready within ${options.startTimeoutMs ?? 5000} ms`),
        options.startTimeoutMs ?? 5000,
      );
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString();
        if (instance) {
          instance.#output = (instance.#output + text).slice(-TAIL_BYTES);
          return;
        }
        output = (output + text).slice(-TAIL_BYTES * 4);
        for (const m of output.matchAll(/GstUDPSrc:([\w-]+): port = (\d+)/g)) {
          if (wanted.has(m[1]!)) ports[m[1]!] = Number(m[2]);
        }
        if (!settled && [...wanted].every((n) => ports[n] !== undefined)) {
          settled = true;
          clearTimeout(timer);
          instance = new GstProcess(options.role, child, ports, output.slice(-TAIL_BYTES), log);
          resolve(instance);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', (err) => {
        live.delete(child);
        fail(`cannot start ${GST_LAUNCH}: ${err.message}`);
      });
      child.once('exit', (code, signal) => {
        live.delete(child);
        if (!instance) {
          fail(`exited before it was ready (code ${code}, signal ${signal})`);
          return;
        }
        instance.#exited = true;
        const exit: GstExit = {
          code,
          signal,
          output: instance.#output.trim().split('\n').slice(-5).join(' | '),
          killed: instance.#killed,
        };
        if (!exit.killed)
          log.warn('gstreamer pipeline exited', {
            role: options.role,
            pid: instance.pid,
            code,
            signal,
            output: exit.output,
          });
        options.onExit?.(exit);
      });
    });
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** CPU time (user + system) the child has used so far, in seconds; undefined where /proc is missing. */
  cpuSeconds(): number | undefined {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces): utime is the 14th field, stime the 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
      return undefined;
    }
  }

  /** Kills the child (SIGKILL: nothing to flush). Idempotent. */
  kill(): void {
    if (this.#exited || this.#killed) return;
    this.#killed = true;
    try {
      this.#child.kill('SIGKILL');
    } catch (err) {
      this.#log.warn('cannot kill gstreamer pipeline', { role: this.role, pid: this.pid, err });
    }
  }
}

/** PIDs of the gst-launch children still running (tests: prove that nothing leaked). */
export function liveGstPids(): number[] {
  return [...live].flatMap((c) => (c.pid !== undefined && c.exitCode === null && c.signalCode === null ? [c.pid] : []));
}
