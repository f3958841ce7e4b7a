/** The results table, verdicts against the issue's targets, and the JSON form of a run. */
import { cpus, loadavg, release } from 'node:os';
import type { BenchOptions } from './options.ts';
import {
  mib,
  othersCores,
  type CapacityResult,
  type DialogsResult,
  type SoakResult,
  type StepResult,
} from './phases.ts';
import type { TargetName } from './targets.ts';

export interface TargetReport {
  name: TargetName;
  description: string;
  /** Set when the target could not be measured (fully or partly). */
  error?: string;
  warmUp?: StepResult;
  dialogs?: DialogsResult;
  soak?: SoakResult;
  capacity?: CapacityResult;
  halfLoad?: StepResult;
}

export interface RunInfo {
  started: Date;
  finished: Date;
  machine: string;
  loadAtStart: number[];
  sipp: string;
  out: string;
}

export function machineDescription(): string {
  const c = cpus();
  return `${c[0]?.model.trim() ?? 'unknown CPU'}, ${c.length} cores, Linux ${release()}`;
}

export function loadNow(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

/** The issue's targets, for the embedded B2BUA. */
export const TARGETS = {
  callsPerCore: 300,
  p99Ms: 50,
  /** Growth of memory in use after the calls ended (PSS when the server cannot tell). */
  inUseGrowthBytes: 1 * 1048576,
  pssGrowthBytes: 4 * 1048576,
};

type Verdict = 'PASS' | 'FAIL' | 'n/a';

export interface Verdicts {
  capacity: Verdict;
  latency: Verdict;
  soak: Verdict;
}

export function verdicts(r: TargetReport): Verdicts {
  const best = r.capacity?.best;
  const capacity: Verdict =
    r.capacity === undefined
      ? 'n/a'
      : best && best.rate >= TARGETS.callsPerCore && best.callsPerCoreSecond >= TARGETS.callsPerCore
        ? 'PASS'
        : 'FAIL';
  const lat = r.halfLoad?.latency;
  const latency: Verdict =
    r.halfLoad === undefined || lat === undefined
      ? r.capacity && !best
        ? 'FAIL'
        : 'n/a'
      : lat.p99 < TARGETS.p99Ms && r.halfLoad.successRatio >= 0.999
        ? 'PASS'
        : 'FAIL';
  let soak: Verdict = 'n/a';
  if (r.soak) {
    const s = r.soak;
    const grew =
      s.inUseGrowth !== undefined ? s.inUseGrowth > TARGETS.inUseGrowthBytes : s.pssGrowth > TARGETS.pssGrowthBytes;
    soak = grew ? 'FAIL' : 'PASS';
  }
  return { capacity, latency, soak };
}

const fmt = {
  rate: (s: StepResult | undefined): string => (s ? `${s.rate}` : '-'),
  perCore: (v: number | undefined): string => (v === undefined ? '-' : Number.isFinite(v) ? v.toFixed(0) : '∞'),
  pct: (v: number): string => `${(v * 100).toFixed(1)}%`,
};

function capacityCell(r: TargetReport): string {
  const c = r.capacity;
  if (!c) return '-';
  if (c.best) return `${c.best.rate}${c.hitCeiling && c.best === c.confirms[0] ? '+ (max tried)' : ''}`;
  const tried = c.confirms.map((s) => s.rate);
  return tried.length ? `< ${Math.min(...tried)} (${tried.join(', ')} did not hold)` : `< ${c.steps[0]?.rate ?? '?'}`;
}

function searchCell(r: TargetReport): string {
  const c = r.capacity;
  if (!c) return '-';
  return c.searchBest ? `${c.searchBest.rate}${c.hitCeiling ? '+ (max tried)' : ''}` : `< ${c.steps[0]?.rate ?? '?'}`;
}

function failureCell(r: TargetReport): string {
  const c = r.capacity;
  if (!c) return '-';
  const bad = c.confirms
    .filter((s) => !s.sustained)
    .concat(c.steps.filter((s) => !s.sustained).sort((a, b) => a.rate - b.rate));
  const first = bad[0];
  return first ? `${first.label}: ${first.problems.join('; ')}` : '-';
}

function latencyCell(s: StepResult | undefined): string {
  const l = s?.latency;
  return l ? `${l.p50} / ${l.p99} ms (mean ${l.mean.toFixed(2)})` : '-';
}

function cpuPer1000(s: StepResult | undefined): string {
  if (!s || s.uac.successful === 0) return '-';
  // CPU-seconds per call x 1000 = cores busy per 1000 calls/s.
  return `${((s.serverCpu / s.uac.successful) * 1000).toFixed(2)} cores`;
}

function memCell(d: DialogsResult | undefined): string {
  if (!d) return '-';
  // (A Node process's PSS keeps its high-water mark, so only the allocator figure means anything there.)
  return d.inUsePer1000 !== undefined ? `${mib(d.inUsePer1000)} in use` : `PSS ${mib(d.pssPer1000)}`;
}

function soakCell(s: SoakResult | undefined): string {
  if (!s) return '-';
  return `${s.inUseGrowth !== undefined ? `${sign(s.inUseGrowth)} in use, ` : ''}PSS ${sign(s.pssGrowth)}`;
}

function sign(bytes: number): string {
  return `${bytes >= 0 ? '+' : ''}${mib(bytes)}`;
}

function bottleneck(s: StepResult | undefined): string {
  if (!s) return '-';
  return `server ${(s.serverCpu / s.wallSeconds).toFixed(2)}, SIPp ${(s.sippCpu / s.wallSeconds).toFixed(2)}, others ${othersCores(s).toFixed(2)}`;
}

const NOTES = [
  "Setup latency: INVITE sent -> 200 OK received at the SIPp caller. SIPp's clock has 1 ms resolution: p50/p99 are",
  'whole ms (0 = under 1 ms); the mean is unbiased. Sustained = >= 99.9% of the calls ok and >= 97% of the rate',
  'started. "Long run" = the best short step repeated for longer than the server keeps per-call state (settle + 3 s).',
  'Calls/s per server core = completed calls / CPU-seconds (utime+stime, /proc) of all server processes in that run;',
  'CPU per 1000 calls/s likewise. Memory per 1000 concurrent calls = (all calls held - all ended), both after GC and',
  'after the server\'s transaction timers expired. "In use" = V8 heapUsed + external (Node: the embedded server AND',
  'the B2BUA app) or shm + pkg real_used (Kamailio, via kamcmd); PSS = proportional set size (a Node process keeps',
  'its high-water mark). A B2BUA holds 2 dialogs per call, a tm proxy none. Soak growth = same reading before and',
  'after the soak. "Others" = cores used by other processes on this shared machine; softirq = kernel UDP work.',
];

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((row) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function renderReport(reports: TargetReport[], info: RunInfo, opts: BenchOptions): string {
  const emb = reports.find((r) => r.name === 'embedded');
  const kam = reports.find((r) => r.name === 'kamailio');
  const cols = reports.map((r) => r.name);
  const v = emb ? verdicts(emb) : undefined;
  const out: string[] = [];
  out.push(
    '',
    `Conclave SIP benchmark  ${info.started.toISOString()}  (${((info.finished.getTime() - info.started.getTime()) / 60000).toFixed(1)} min)`,
  );
  out.push(`machine: ${info.machine}; load average at start ${info.loadAtStart.join(' ')}`);
  out.push(
    `load: ${info.sipp} over UDP on loopback; INVITE/100/200/ACK, hold ${opts.holdMs} ms, BYE/200; 1 SIPp caller + 1 SIPp callee`,
  );
  for (const r of reports) out.push(`${r.name}: ${r.description}`);
  out.push('');
  const rows: string[][] = [['', ...cols, emb ? 'target (embedded)' : '']];
  const add = (label: string, cell: (r: TargetReport) => string, verdict = ''): void => {
    rows.push([label, ...reports.map(cell), verdict]);
  };
  const confirmS = emb?.capacity?.confirms[0]?.wallSeconds ?? kam?.capacity?.confirms[0]?.wallSeconds;
  add(`max sustained call setups/s${confirmS ? ' (long run)' : ''}`, capacityCell);
  if (emb && kam && emb.capacity?.best && kam.capacity?.best) {
    rows.push([
      'ratio embedded / kamailio',
      ...reports.map((r) =>
        r.name === 'embedded' ? (emb.capacity!.best!.rate / kam.capacity!.best!.rate).toFixed(3) : '',
      ),
      '',
    ]);
  }
  add(`best short step (${opts.stepSeconds} s)`, searchCell);
  add('first run not sustained', failureCell);
  add(
    'calls/s per server core (at max)',
    (r) => fmt.perCore(r.capacity?.best?.callsPerCoreSecond),
    v ? `>= ${TARGETS.callsPerCore} sustained and per core: ${v.capacity}` : '',
  );
  add('  same, best short step', (r) => fmt.perCore(r.capacity?.searchBest?.callsPerCoreSecond));
  const eCore = emb?.capacity?.best?.callsPerCoreSecond ?? emb?.capacity?.searchBest?.callsPerCoreSecond;
  const kCore = kam?.capacity?.best?.callsPerCoreSecond ?? kam?.capacity?.searchBest?.callsPerCoreSecond;
  if (eCore !== undefined && kCore !== undefined && Number.isFinite(eCore) && Number.isFinite(kCore)) {
    rows.push([
      'ratio per core embedded / kamailio',
      ...reports.map((r) => (r.name === 'embedded' ? (eCore / kCore).toFixed(3) : '')),
      '',
    ]);
  }
  add('cores busy at max', (r) => bottleneck(r.capacity?.best));
  add('cores busy at half load', (r) => bottleneck(r.halfLoad));
  add('half load (calls/s)', (r) => fmt.rate(r.halfLoad));
  add(
    'setup p50 / p99 at half load',
    (r) => latencyCell(r.halfLoad),
    v ? `p99 < ${TARGETS.p99Ms} ms: ${v.latency}` : '',
  );
  add('server CPU per 1000 calls/s', (r) => cpuPer1000(r.halfLoad));
  add(`memory per 1000 concurrent calls`, (r) => memCell(r.dialogs));
  add('  same, right after setup', (r) =>
    r.dialogs?.freshInUsePer1000 !== undefined ? `${mib(r.dialogs.freshInUsePer1000)} in use` : '-',
  );
  add(`CPU holding ${opts.dialogs} idle calls`, (r) => (r.dialogs ? fmt.pct(r.dialogs.idleCores) + ' of a core' : '-'));
  add(`soak ${opts.soakMinutes} min @ ${opts.soakRate}/s: calls ok`, (r) =>
    r.soak ? `${r.soak.step.uac.successful}/${r.soak.step.calls}` : '-',
  );
  add('soak: setup p50 / p99 (steady state)', (r) => latencyCell(r.soak?.step));
  add(
    'soak: memory growth after calls end',
    (r) => soakCell(r.soak),
    v && emb?.soak ? `flat (in use <= +${mib(TARGETS.inUseGrowthBytes)}): ${v.soak}` : '',
  );
  add('soak: PSS before / peak / after', (r) =>
    r.soak
      ? `${mib(r.soak.before.pss)} / ${mib(Math.max(0, ...r.soak.samples.map((s) => s.pss)))} / ${mib(r.soak.after.pss)}`
      : '-',
  );
  add('soak: PSS trend, 2nd half of load', (r) => (r.soak ? `${sign(r.soak.pssTrendPerMinute)}/min` : '-'));
  out.push(table(rows));
  out.push('');
  out.push(...NOTES);
  for (const r of reports) if (r.error) out.push('', `${r.name}: NOT FULLY MEASURED: ${r.error}`);
  out.push('', `run files: ${info.out}`);
  return out.join('\n');
}

/** JSON-friendly results (drops per-call samples). */
export function toJson(reports: TargetReport[], info: RunInfo, opts: BenchOptions): unknown {
  return JSON.parse(
    JSON.stringify(
      { info, opts, reports, verdicts: Object.fromEntries(reports.map((r) => [r.name, verdicts(r)])) },
      (key, value: unknown) => (key === 'setupMs' ? undefined : value),
    ),
  );
}
