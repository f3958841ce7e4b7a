/**
 * `pnpm bench mixer`: N synthetic plain-RTP phones in one conference and in conferences of 8, through
 * the room mixer (packages/mixer) in its own process. See bench/README.md, "pnpm bench mixer".
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineCpu } from '../lib/procfs.ts';
import { nativeCodecs } from '../../packages/mixer/src/index.ts';
import { engineCost, type EngineCost } from './engine-cost.ts';
import type {
  FromHost,
  FromPhones,
  HostStats,
  PhoneCodec,
  PhoneSpec,
  PhoneStats,
  ToHost,
  ToPhones,
} from './protocol.ts';

const here = dirname(fileURLToPath(import.meta.url));

export const MIXER_HELP = `pnpm bench mixer [options]: the room mixer with N synthetic plain-RTP phones over UDP loopback

  --sizes 25,50,100      numbers of phones
  --layouts one,rooms8   one conference of N, and conferences of 8 (2 talkers in every conference)
  --codecs g711,mixed    all G.711 (PCMU), and mixed (every 4th phone Opus, the rest PCMU)
  --seconds 10           measured time per run (after --warmup 3 seconds)
  --no-forward           skip the baseline: mediasoup only forwarding the same G.711 streams
  --sched fifo           scheduling of the mixer (or mediasoup) and phone processes: fifo = SCHED_FIFO
                         priority 10 (chrt; as Asterisk -p / FreeSWITCH -rp run their media), nice =
                         nice --priority (default -10), none = unchanged (timing then depends on whatever
                         else the machine runs: see the "others" column)
  --json FILE            write the results as JSON
`;

type Layout = 'one' | 'rooms8';
type CodecMix = 'g711' | 'mixed';
type Engine = 'mixer' | 'mediasoup-forward';

interface RunResult {
  engine: Engine;
  phones: number;
  layout: Layout;
  codecs: CodecMix;
  rooms: number;
  seconds: number;
  hostCores: number;
  phonesCores: number;
  otherCores: number;
  kernelCores: number;
  cpuPerLegPct: number;
  legsPerCore: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  latencySamples: number;
  jitterMeanMs: number;
  jitterMaxMs: number;
  intervalDevP99Ms: number;
  tickLateP99Ms: number;
  senderLateP99Ms: number;
  sharedEncodesPerTick: number;
  privateEncodesPerTick: number;
  concealedFrames: number;
  ownEchoes: number;
  /** The engine alone (no sockets), same phones: measured in the driver before the UDP runs. */
  engineOnly?: EngineCost;
}

function progress(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)} mixer] ${line}\n`);
}

function specs(n: number, layout: Layout, codecs: CodecMix): PhoneSpec[] {
  const size = layout === 'one' ? n : 8;
  return Array.from({ length: n }, (_, i) => {
    const inRoom = i % size;
    const codec: PhoneCodec = codecs === 'mixed' && i % 4 === 1 ? 'opus' : 'PCMU';
    const spec: PhoneSpec = {
      id: `p${i}`,
      codec,
      payloadType: codec === 'opus' ? 111 : 0,
      room: Math.floor(i / size),
      ssrc: 0x10000 + i,
    };
    if (inRoom < 2) spec.talker = inRoom as 0 | 1;
    return spec;
  });
}

/** A forked child speaking the protocol: send a message, await the next one of a type. */
class Child<In, Out extends { type: string }> {
  readonly proc: ChildProcess;
  readonly #waiting: Array<{ type: string; resolve: (m: Out) => void }> = [];

  constructor(script: string, priority: number, realtime: boolean) {
    this.proc = fork(join(here, script), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    if (realtime && this.proc.pid !== undefined) {
      try {
        // SCHED_FIFO for the process's threads (the kernel keeps 5 % for others: sched_rt_runtime_us).
        execFileSync('chrt', ['-a', '-f', '-p', '10', String(this.proc.pid)], { stdio: 'ignore' });
      } catch (err) {
        progress(`cannot make ${script} real-time (${err instanceof Error ? err.message : String(err)})`);
      }
    } else if (priority !== 0 && this.proc.pid !== undefined) {
      try {
        setPriority(this.proc.pid, priority);
      } catch (err) {
        progress(
          `cannot set priority ${priority} (${err instanceof Error ? err.message : String(err)}): running at the default`,
        );
      }
    }
    this.proc.on('message', (m: unknown) => {
      const msg = m as Out;
      const i = this.#waiting.findIndex((w) => w.type === msg.type);
      if (i >= 0) this.#waiting.splice(i, 1)[0]!.resolve(msg);
    });
  }

  request<T extends Out['type']>(msg: In, reply: T, timeoutMs = 30000): Promise<Extract<Out, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${reply} from ${this.proc.spawnargs.join(' ')}`)), timeoutMs);
      this.#waiting.push({
        type: reply,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<Out, { type: T }>);
        },
      });
      this.proc.send(msg as object);
    });
  }

  send(msg: In): void {
    this.proc.send(msg as object);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    try {
      this.proc.send({ type: 'stop' });
    } catch {
      // already gone
    }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface Scheduling {
  priority: number;
  realtime: boolean;
}

async function runOne(
  engine: Engine,
  n: number,
  layout: Layout,
  codecs: CodecMix,
  seconds: number,
  warmup: number,
  sched: Scheduling,
): Promise<RunResult> {
  const phoneSpecs = specs(n, layout, codecs);
  const host = new Child<ToHost, FromHost>(
    engine === 'mixer' ? 'host.ts' : 'forward-host.ts',
    sched.priority,
    sched.realtime,
  );
  const phones = new Child<ToPhones, FromPhones>('phones.ts', sched.priority, sched.realtime);
  try {
    const hostReady = await host.request({ type: 'setup', phones: phoneSpecs }, 'ready');
    const phonesReady = await phones.request({ type: 'setup', phones: phoneSpecs, latencyListeners: 8 }, 'ready');
    host.send({ type: 'peers', ports: phonesReady.ports });
    phones.send({ type: 'start', hostPorts: hostReady.ports });
    await sleep(warmup * 1000);
    const h0 = await host.request({ type: 'stats', reset: true }, 'stats');
    const p0 = await phones.request({ type: 'stats', reset: true }, 'stats');
    const m0 = machineCpu();
    await sleep(seconds * 1000);
    const h1: HostStats = await host.request({ type: 'stats', reset: false }, 'stats');
    const p1: PhoneStats = await phones.request({ type: 'stats', reset: false }, 'stats');
    const m1 = machineCpu();
    const wall = (h1.at - h0.at) / 1000;
    const hostCores = (h1.cpu - h0.cpu) / wall;
    const phonesCores = (p1.cpu - p0.cpu) / wall;
    const busy = (m1.busy - m0.busy) / wall;
    const ticks = Math.max(1, h1.ticks);
    return {
      engine,
      phones: n,
      layout,
      codecs,
      rooms: new Set(phoneSpecs.map((s) => s.room)).size,
      seconds: wall,
      hostCores,
      phonesCores,
      otherCores: Math.max(0, busy - hostCores - phonesCores),
      kernelCores: (m1.kernel - m0.kernel) / wall,
      cpuPerLegPct: (100 * hostCores) / n,
      legsPerCore: n / hostCores,
      latencyP50Ms: percentile(p1.latencies, 0.5),
      latencyP95Ms: percentile(p1.latencies, 0.95),
      latencySamples: p1.latencies.length,
      jitterMeanMs: p1.jitterMeanMs,
      jitterMaxMs: p1.jitterMaxMs,
      intervalDevP99Ms: p1.intervalDevP99Ms,
      tickLateP99Ms: h1.lateP99Ms,
      senderLateP99Ms: p1.senderLateP99Ms,
      sharedEncodesPerTick: (h1.sharedEncodes - h0.sharedEncodes) / ticks,
      privateEncodesPerTick: (h1.privateEncodes - h0.privateEncodes) / ticks,
      concealedFrames: h1.concealedFrames - h0.concealedFrames,
      ownEchoes: p1.ownEchoes,
    };
  } finally {
    await phones.stop();
    await host.stop();
  }
}

const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-');
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '-');

function table(results: RunResult[]): string {
  const head = [
    'engine',
    'phones',
    'layout',
    'codecs',
    'mixer cores',
    '% core/leg',
    'legs/core',
    'latency p50/p95 ms',
    'jitter mean/max ms',
    'interval dev p99 ms',
    'tick late p99 ms',
    'encodes/tick shared+private',
    'phones cores',
    'others',
    'concealed frames',
    'own echo',
    'engine only: µs/tick, legs/core',
  ];
  const rows = results.map((r) => [
    r.engine === 'mixer' ? 'mixer' : 'mediasoup forward',
    String(r.phones),
    r.layout === 'one' ? '1 room' : `${r.rooms} rooms of 8`,
    r.codecs,
    f2(r.hostCores),
    f2(r.cpuPerLegPct),
    r.legsPerCore.toFixed(0),
    `${f1(r.latencyP50Ms)} / ${f1(r.latencyP95Ms)} (${r.latencySamples})`,
    `${f2(r.jitterMeanMs)} / ${f2(r.jitterMaxMs)}`,
    f2(r.intervalDevP99Ms),
    f2(r.tickLateP99Ms),
    `${f1(r.sharedEncodesPerTick)} + ${f1(r.privateEncodesPerTick)}`,
    f2(r.phonesCores),
    f2(r.otherCores),
    String(r.concealedFrames),
    String(r.ownEchoes),
    r.engineOnly ? `${r.engineOnly.usPerTick.toFixed(0)}, ${r.engineOnly.legsPerCore.toFixed(0)}` : '',
  ]);
  return [head, ...rows]
    .map((cells) => `| ${cells.join(' | ')} |`)
    .join('\n')
    .replace(/\n/, `\n|${head.map(() => '---').join('|')}|\n`);
}

export async function runMixerBench(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      sizes: { type: 'string' },
      layouts: { type: 'string' },
      codecs: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      json: { type: 'string' },
      'no-forward': { type: 'boolean' },
      priority: { type: 'string' },
      sched: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(MIXER_HELP);
    return 0;
  }
  const sizes = (values.sizes ?? '25,50,100').split(',').map(Number);
  const layouts = (values.layouts ?? 'one,rooms8').split(',') as Layout[];
  const codecs = (values.codecs ?? 'g711,mixed').split(',') as CodecMix[];
  const seconds = Number(values.seconds ?? 10);
  const warmup = Number(values.warmup ?? 3);
  const sched = values.sched ?? 'fifo';
  const priority = sched === 'none' ? 0 : Number(values.priority ?? -10);
  const realtime = sched === 'fifo';
  if (
    sizes.some((n) => !Number.isInteger(n) || n < 2) ||
    layouts.some((l) => l !== 'one' && l !== 'rooms8') ||
    codecs.some((c) => c !== 'g711' && c !== 'mixed') ||
    !(seconds > 0) ||
    !(warmup >= 0) ||
    !Number.isInteger(priority) ||
    priority < -20 ||
    priority > 19 ||
    !['fifo', 'nice', 'none'].includes(sched)
  ) {
    process.stderr.write(`bad options\n\n${MIXER_HELP}`);
    return 2;
  }
  // Build (if needed) and load the codec addon once here, before the child processes load it.
  progress(`codecs: ${nativeCodecs().opusVersion()}, spandsp G.722 + PLC`);
  const results: RunResult[] = [];
  for (const codec of codecs) {
    for (const layout of layouts) {
      for (const n of sizes) {
        const engines: Engine[] =
          codec === 'g711' && !values['no-forward'] ? ['mixer', 'mediasoup-forward'] : ['mixer'];
        for (const engine of engines) {
          progress(`${engine}: ${n} phones, ${layout}, ${codec}: ${warmup} s warm-up + ${seconds} s`);
          const r = await runOne(engine, n, layout, codec, seconds, warmup, { priority, realtime });
          if (engine === 'mixer') r.engineOnly = engineCost(specs(n, layout, codec));
          progress(
            `  ${f2(r.hostCores)} cores (${f2(r.cpuPerLegPct)} % per leg), latency p50 ${f1(r.latencyP50Ms)} ms, jitter ${f2(r.jitterMeanMs)} ms, others ${f2(r.otherCores)} cores`,
          );
          results.push(r);
        }
      }
    }
  }
  process.stdout.write(
    `${table(results)}\n\n${realtime ? 'SCHED_FIFO 10' : `nice ${priority}`} for the mixer/mediasoup and phone processes; "others" = cores used by every other process meanwhile.\n`,
  );
  if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2) + '\n');
  // Headline: G.711 at the largest N, the costlier of the two layouts; latency p95 and mean jitter
  // over every G.711 run at that N.
  const g711 = results.filter((r) => r.codecs === 'g711' && r.engine === 'mixer');
  const pool = g711.length > 0 ? g711 : results.filter((r) => r.engine === 'mixer');
  const maxN = Math.max(...pool.map((r) => r.phones));
  const atMax = pool.filter((r) => r.phones === maxN);
  const legsPerCore = Math.min(...atMax.map((r) => r.legsPerCore));
  const latency = Math.max(...atMax.map((r) => r.latencyP95Ms));
  const jitter = Math.max(...atMax.map((r) => r.jitterMeanMs));
  process.stdout.write(
    `mixer: ${legsPerCore.toFixed(0)} G.711 phone legs per core, added latency ${f1(latency)} ms, outgoing jitter ${f2(jitter)} ms\n`,
  );
  return 0;
}
