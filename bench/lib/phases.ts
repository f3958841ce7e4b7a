/**
 * The measurements, run against one target (server) with one SIPp callee:
 *
 *  warm-up      a few calls at a low rate; proves the path works and warms the JIT.
 *  dialogs      hold N calls open at once: memory while held minus memory after they ended, both
 *               after GC and after the server's transaction timers expired -> memory per 1000
 *               concurrent calls; and the CPU an idle server spends on them.
 *  soak         constant load for the soak duration, memory sampled every 5 s; then, after all calls
 *               ended and the server's timers expired, memory (after GC) again: growth must be ~0.
 *  capacity     short fixed-rate steps (doubling) find the highest rate with >= 99.9% successful calls
 *               and >= 97% of the rate actually started; longer runs then confirm a rate holds once
 *               the server's per-call state has reached its steady size, bisecting if it does not.
 *  latency      half the max rate: p50/p99 setup latency, server CPU per 1000 calls/s.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchOptions } from './options.ts';
import { cpuSeconds, machineCpu, reapedChildrenCpuSeconds } from './procfs.ts';
import { SippUac, type SippUas, type UacResult } from './sipp.ts';
import type { Target, TargetMemory } from './targets.ts';

export class TargetFailure extends Error {}

export interface PhaseContext {
  target: Target;
  uas: SippUas;
  opts: BenchOptions;
  dir: string;
  /** A fresh local port for the next SIPp caller. */
  nextCallerPort(): number;
  /** Seconds after the last call before server state has expired. */
  settleSeconds: number;
  progress(line: string): void;
}

export interface LatencySummary {
  p50: number;
  p99: number;
  mean: number;
  max: number;
  samples: number;
}

export interface StepResult {
  label: string;
  rate: number;
  calls: number;
  uac: UacResult;
  successRatio: number;
  latency: LatencySummary | undefined;
  /** CPU seconds used by the server during the step. */
  serverCpu: number;
  /** CPU seconds used by both SIPp processes. */
  sippCpu: number;
  /** Cores busy with processes machine-wide (user + system), averaged over the step. */
  machineCores: number;
  /** Cores in irq/softirq (loopback UDP processing) and stolen by the hypervisor. */
  kernelCores: number;
  stealCores: number;
  wallSeconds: number;
  /** Calls completed per server CPU-second = calls/s one core could carry at this efficiency. */
  callsPerCoreSecond: number;
  sustained: boolean;
  /** Why a step is not sustained. */
  problems: string[];
}

export function summarise(values: number[]): LatencySummary | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  let sum = 0;
  for (const v of s) sum += v;
  return { p50: rank(0.5), p99: rank(0.99), mean: sum / s.length, max: s[s.length - 1] ?? NaN, samples: s.length };
}

function checkAlive(ctx: PhaseContext): void {
  const why = ctx.target.exitReason();
  if (why !== undefined) throw new TargetFailure(why);
  if (!ctx.uas.alive) throw new Error(ctx.uas.describeExit());
}

const SUCCESS_MIN = 0.999;
const RATE_KEPT_MIN = 0.97;
const CAPACITY_RETRIES = 1;
/** Other processes busier than this during a failed step: the failure may be theirs, retry. */
const DISTURBED_CORES = 0.3;

/**
 * A failed run that other processes may have caused: they were busy, the machine had no idle core
 * left, and most calls still worked (a server at its limit fails a large share of the calls, a short
 * stall only a few).
 */
function looksDisturbed(step: StepResult): boolean {
  const busy = step.machineCores + step.kernelCores + step.stealCores;
  return othersCores(step) >= DISTURBED_CORES && busy >= 0.85 * availableParallelism() && step.successRatio >= 0.9;
}

const QUIET_CORES = 0.5;
const QUIET_WAIT_MAX_S = 10;

/**
 * The machine is shared with other work: before a measured step, wait (up to 10 s) until processes
 * other than the server, the SIPp callee and this driver use less than half a core.
 */
async function waitForQuiet(ctx: PhaseContext): Promise<void> {
  const ours = (): number => cpuSeconds([...ctx.target.pids(), ctx.uas.pid, process.pid]);
  const t0 = performance.now();
  let said = false;
  for (;;) {
    const m0 = machineCpu();
    const o0 = ours();
    await sleep(1000);
    const others = machineCpu().busy - m0.busy - (ours() - o0);
    if (others < QUIET_CORES) return;
    if ((performance.now() - t0) / 1000 >= QUIET_WAIT_MAX_S) {
      ctx.progress(`  machine still busy (others ${others.toFixed(2)} cores): measuring anyway`);
      return;
    }
    if (!said) ctx.progress(`  machine busy (others ${others.toFixed(2)} cores): waiting up to ${QUIET_WAIT_MAX_S} s`);
    said = true;
  }
}

/** One SIPp caller run at a fixed rate, with the server's and the load generator's CPU. */
export async function runStep(
  ctx: PhaseContext,
  label: string,
  rate: number,
  seconds: number,
  holdMs: number,
): Promise<StepResult> {
  checkAlive(ctx);
  if (label !== 'soak') await waitForQuiet(ctx);
  const calls = Math.max(1, Math.round(rate * seconds));
  const serverPids = ctx.target.pids();
  const server0 = cpuSeconds(serverPids);
  const uas0 = cpuSeconds([ctx.uas.pid]);
  const reaped0 = reapedChildrenCpuSeconds();
  const machine0 = machineCpu();
  const uac = new SippUac({
    target: ctx.target.sipAddress,
    localPort: ctx.nextCallerPort(),
    rate,
    calls,
    holdMs,
    // Room for 2 s of backlog on top of the calls legitimately open during their hold time.
    limit: Math.max(100, Math.ceil(rate * (holdMs / 1000 + 2))),
    dir: join(ctx.dir, label.replace(/[^\w.-]+/g, '-')),
    traceRtt: true,
  });
  const res = await uac.result();
  const serverCpu = cpuSeconds(serverPids) - server0;
  const sippCpu = cpuSeconds([ctx.uas.pid]) - uas0 + (reapedChildrenCpuSeconds() - reaped0);
  const machine1 = machineCpu();
  const wallSeconds = res.wallMs / 1000;
  checkAlive(ctx);

  const successRatio = calls > 0 ? res.successful / calls : 0;
  const latency = summarise(res.setupMs);
  const problems: string[] = [];
  if (typeof res.exit !== 'number' || res.exit > 1) problems.push(`SIPp exit ${res.exit}`);
  if (successRatio < SUCCESS_MIN) problems.push(`${res.successful}/${calls} calls ok (${res.failed} failed)`);
  // (Only successful calls have timestamps, so the started rate is only meaningful when they all are.)
  if (successRatio >= SUCCESS_MIN && res.achievedRate < rate * RATE_KEPT_MIN)
    problems.push(`calls started at ${res.achievedRate.toFixed(0)}/s`);
  return {
    label,
    rate,
    calls,
    uac: res,
    successRatio,
    latency,
    serverCpu,
    sippCpu,
    machineCores: (machine1.busy - machine0.busy) / Math.max(0.001, wallSeconds),
    kernelCores: (machine1.kernel - machine0.kernel) / Math.max(0.001, wallSeconds),
    stealCores: (machine1.steal - machine0.steal) / Math.max(0.001, wallSeconds),
    wallSeconds,
    callsPerCoreSecond: serverCpu > 0 ? res.successful / serverCpu : Infinity,
    sustained: problems.length === 0,
    problems,
  };
}

export function describeStep(s: StepResult): string {
  const lat = s.latency ? `setup p50 ${s.latency.p50} / p99 ${s.latency.p99} ms` : 'no latency samples';
  const verdict = s.sustained ? 'ok' : `NOT sustained: ${s.problems.join('; ')}`;
  return (
    `${s.label}: ${s.rate} calls/s x ${s.calls}: ${s.uac.successful} ok, ${s.uac.failed} failed, ${s.uac.retransmissions} retrans, ${lat}; ` +
    `server ${(s.serverCpu / s.wallSeconds).toFixed(2)} cores (${fmtPerCore(s.callsPerCoreSecond)} calls/s/core), ` +
    `SIPp ${(s.sippCpu / s.wallSeconds).toFixed(2)}, others ${othersCores(s).toFixed(2)}, softirq ${s.kernelCores.toFixed(2)}` +
    `${s.stealCores >= 0.05 ? `, steal ${s.stealCores.toFixed(2)}` : ''} -> ${verdict}`
  );
}

/** Cores used by everything but the server and SIPp during a step (other users of the machine). */
export function othersCores(s: StepResult): number {
  return Math.max(0, s.machineCores - (s.serverCpu + s.sippCpu) / s.wallSeconds);
}

function fmtPerCore(v: number): string {
  return Number.isFinite(v) ? v.toFixed(0) : '∞';
}

// ---------------------------------------------------------------------------------------------------

export async function warmUp(ctx: PhaseContext): Promise<StepResult> {
  const step = await runStep(ctx, 'warm-up', 50, 3, 200);
  ctx.progress(describeStep(step));
  if (step.uac.successful === 0) {
    throw new TargetFailure(
      `no call got through during the warm-up (${step.uac.failed} failed). SIPp errors:\n${step.uac.errors}`,
    );
  }
  return step;
}

export interface DialogsResult {
  dialogs: number;
  established: boolean;
  /** Right after the last call was answered (includes the just-finished transactions). */
  fresh: TargetMemory;
  /** Still holding every call, after the server's transaction timers expired. */
  held: TargetMemory;
  /** After every call ended and the timers expired: the baseline (also the soak's starting point). */
  after: TargetMemory;
  /** Bytes per 1000 concurrent calls, held - after (PSS, and memory in use by the server's allocator). */
  pssPer1000: number;
  inUsePer1000: number | undefined;
  /** Same, fresh - after: what the last seconds' transactions add on top. */
  freshInUsePer1000: number | undefined;
  /** Server cores busy while only holding the calls (no signalling). */
  idleCores: number;
  step: StepResult;
}

/**
 * Hold `dialogs` calls open at once and weigh them: memory while they are held (once the server's
 * transaction timers have expired) minus memory after they all ended (same wait), both after GC.
 */
export async function measureDialogs(ctx: PhaseContext): Promise<DialogsResult> {
  const n = ctx.opts.dialogs;
  const rate = ctx.opts.dialogRate;
  const setupSeconds = n / rate;
  const idleWindowSeconds = 3;
  // Every call stays up until well after the last one is established and the settle wait is over.
  const holdMs = Math.round((setupSeconds + 1 + ctx.settleSeconds + idleWindowSeconds + 3) * 1000);
  checkAlive(ctx);
  ctx.progress(`dialogs: ${n} calls at ${rate}/s, each held ${(holdMs / 1000).toFixed(0)} s`);
  const uac = new SippUac({
    target: ctx.target.sipAddress,
    localPort: ctx.nextCallerPort(),
    rate,
    calls: n,
    holdMs,
    limit: n + 10,
    dir: join(ctx.dir, 'dialogs'),
    traceRtt: true,
  });
  const serverPids = ctx.target.pids();
  const server0 = cpuSeconds(serverPids);
  const reaped0 = reapedChildrenCpuSeconds();
  const uas0 = cpuSeconds([ctx.uas.pid]);
  const machine0 = machineCpu();
  const t0 = performance.now();

  // Wait until SIPp reports all calls created and none finished, plus a moment for the last 200/ACK.
  let established = false;
  const deadline = t0 + (setupSeconds + 6) * 1000;
  while (performance.now() < deadline) {
    await sleep(250);
    const p = uac.progress();
    if (p && p.created >= n && p.current >= n) {
      established = true;
      break;
    }
  }
  await sleep(1000);
  const fresh = await ctx.target.memory(true);
  ctx.progress(
    `  ${n} calls up: ${mib(fresh.pss)} PSS${inUseText(fresh)}; waiting ${ctx.settleSeconds} s for server timers to expire`,
  );
  await sleep(ctx.settleSeconds * 1000);
  const held = await ctx.target.memory(true);
  // CPU of a server that only holds calls (after the GC above).
  const idle0 = cpuSeconds(serverPids);
  const idleT0 = performance.now();
  await sleep(idleWindowSeconds * 1000);
  const idleCores = (cpuSeconds(serverPids) - idle0) / ((performance.now() - idleT0) / 1000);
  const stillUp = uac.progress()?.current ?? 0;
  const res = await uac.result();
  const wallSeconds = res.wallMs / 1000;
  const serverCpu = cpuSeconds(serverPids) - server0;
  checkAlive(ctx);
  const latency = summarise(res.setupMs);
  const problems: string[] = [];
  if (!established) problems.push(`not all ${n} calls were up at once`);
  if (stillUp < n) problems.push(`only ${stillUp} calls up when weighed`);
  if (res.successful < n) problems.push(`${res.successful}/${n} calls ok`);
  const machine1 = machineCpu();
  const step: StepResult = {
    label: 'dialogs',
    rate,
    calls: n,
    uac: res,
    successRatio: res.successful / n,
    latency,
    serverCpu,
    sippCpu: cpuSeconds([ctx.uas.pid]) - uas0 + (reapedChildrenCpuSeconds() - reaped0),
    machineCores: (machine1.busy - machine0.busy) / wallSeconds,
    wallSeconds,
    kernelCores: (machine1.kernel - machine0.kernel) / wallSeconds,
    stealCores: (machine1.steal - machine0.steal) / wallSeconds,
    callsPerCoreSecond: serverCpu > 0 ? res.successful / serverCpu : Infinity,
    sustained: problems.length === 0,
    problems,
  };
  ctx.progress(describeStep(step));
  const after = await settledMemory(ctx, 'dialogs ended');
  const per1000 = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined ? undefined : ((b - a) / n) * 1000;
  const result: DialogsResult = {
    dialogs: n,
    established,
    fresh,
    held,
    after,
    pssPer1000: per1000(after.pss, held.pss) ?? NaN,
    inUsePer1000: per1000(after.inUse, held.inUse),
    freshInUsePer1000: per1000(after.inUse, fresh.inUse),
    idleCores,
    step,
  };
  ctx.progress(
    `  memory: ${n} calls held ${mib(held.pss)} PSS${inUseText(held)}, none ${mib(after.pss)} PSS${inUseText(after)}` +
      ` -> per 1000 calls ${mib(result.pssPer1000)} PSS${result.inUsePer1000 !== undefined ? ` / ${mib(result.inUsePer1000)} in use` : ''}` +
      `${result.freshInUsePer1000 !== undefined ? ` (${mib(result.freshInUsePer1000)} in use right after setup)` : ''}; idle CPU ${(idleCores * 100).toFixed(1)}% of a core`,
  );
  return result;
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(bytes !== 0 && Math.abs(bytes) < 10 * 1048576 ? 2 : 1)} MiB`;
}

function inUseText(m: TargetMemory): string {
  return m.inUse !== undefined ? ` / ${mib(m.inUse)} in use` : '';
}

/** Wait for timers to expire, then read memory after GC. */
export async function settledMemory(ctx: PhaseContext, why: string): Promise<TargetMemory> {
  ctx.progress(`${why}: waiting ${ctx.settleSeconds} s for server timers to expire`);
  await sleep(ctx.settleSeconds * 1000);
  checkAlive(ctx);
  return ctx.target.memory(true);
}

export interface SoakSample {
  /** Seconds since the soak started. */
  t: number;
  pss: number;
  inUse?: number;
}

export interface SoakResult {
  minutes: number;
  rate: number;
  step: StepResult;
  before: TargetMemory;
  after: TargetMemory;
  samples: SoakSample[];
  /** PSS slope over the second half of the load, bytes per minute. */
  pssTrendPerMinute: number;
  /** Growth after the calls ended and timers expired, bytes. */
  pssGrowth: number;
  inUseGrowth: number | undefined;
}

function slopePerMinute(samples: SoakSample[]): number {
  if (samples.length < 3) return 0;
  const n = samples.length;
  const mx = samples.reduce((a, s) => a + s.t, 0) / n;
  const my = samples.reduce((a, s) => a + s.pss, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - mx) * (s.pss - my);
    den += (s.t - mx) ** 2;
  }
  return den > 0 ? (num / den) * 60 : 0;
}

/** Constant load for the soak duration; memory must come back to where it was. */
export async function soak(ctx: PhaseContext, before: TargetMemory): Promise<SoakResult> {
  const minutes = ctx.opts.soakMinutes;
  const rate = ctx.opts.soakRate;
  const holdMs = ctx.opts.holdMs;
  const seconds = minutes * 60;
  ctx.progress(`soak: ${rate} calls/s for ${minutes} min (${Math.round(rate * seconds)} calls)`);
  const samples: SoakSample[] = [];
  const t0 = performance.now();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await sleep(5000);
      if (!sampling || ctx.target.exitReason() !== undefined) break;
      const m = await ctx.target.memory(false);
      const t = (performance.now() - t0) / 1000;
      const s: SoakSample = { t, pss: m.pss };
      if (m.inUse !== undefined) s.inUse = m.inUse;
      samples.push(s);
      if (samples.length % 12 === 0)
        ctx.progress(
          `  soak ${t.toFixed(0)} s: ${mib(m.pss)} PSS${inUseText(m)}${m.calls ? `, ${m.calls.active} calls up` : ''}`,
        );
    }
  })();
  let step: StepResult;
  try {
    step = await runStep(ctx, 'soak', rate, seconds, holdMs);
  } finally {
    sampling = false;
    await sampler;
  }
  ctx.progress(describeStep(step));
  const after = await settledMemory(ctx, 'soak done');
  const loadEnd = seconds;
  const secondHalf = samples.filter((s) => s.t >= loadEnd / 2 && s.t <= loadEnd);
  const result: SoakResult = {
    minutes,
    rate,
    step,
    before,
    after,
    samples,
    pssTrendPerMinute: slopePerMinute(secondHalf),
    pssGrowth: after.pss - before.pss,
    inUseGrowth: before.inUse !== undefined && after.inUse !== undefined ? after.inUse - before.inUse : undefined,
  };
  ctx.progress(
    `soak memory: before ${mib(before.pss)} PSS${inUseText(before)}, after ${mib(after.pss)} PSS${inUseText(after)}` +
      ` (growth ${mib(result.pssGrowth)} PSS${result.inUseGrowth !== undefined ? ` / ${mib(result.inUseGrowth)} in use` : ''}); under load ${mib(result.pssTrendPerMinute)}/min`,
  );
  return result;
}

export interface CapacityResult {
  /** Short fixed-rate steps (the search). */
  steps: StepResult[];
  /** Highest sustained short step. */
  searchBest: StepResult | undefined;
  /** True when the search stopped at --max-rate without a failing step. */
  hitCeiling: boolean;
  /** Long runs that check the rate holds once the server's state has reached its steady size. */
  confirms: StepResult[];
  /** The max sustained rate: the first confirmed long run (undefined if none held). */
  best: StepResult | undefined;
}

/**
 * 1. Search with short fixed-rate steps: double until a step is not sustained, then bisect.
 * 2. Confirm: run the best rate for longer than the server keeps per-call state (settle time + 5 s),
 *    because a server that holds transactions for 32 s only shows its steady-state limits after that.
 *    Each try starts from a drained server. Until one holds, the next try runs at 90% of the rate of
 *    successful calls seen in the failed run's second half (at most 80% of its rate); once one holds,
 *    the next bisects between it and the lowest failure (bounded by that run's rate of successful
 *    calls). A failure that looks like other processes' doing (see looksDisturbed) is retried as is.
 */
export async function capacity(ctx: PhaseContext): Promise<CapacityResult> {
  const o = ctx.opts;
  const steps: StepResult[] = [];
  const run = async (rate: number): Promise<StepResult> => {
    let step: StepResult | undefined;
    // The machine is shared: a step that fails while other processes were busy is run once more.
    for (let attempt = 0; attempt <= CAPACITY_RETRIES; attempt++) {
      step = await runStep(ctx, `capacity-${rate}${attempt ? `-retry${attempt}` : ''}`, rate, o.stepSeconds, o.holdMs);
      ctx.progress(describeStep(step));
      // After a failure the server is full of the failed step's state (retransmissions, transactions
      // kept for their timers): give it a moment. (Not the full settle time: the search only has to
      // find where to start; the long confirmation run below starts from a drained server.)
      await sleep(step.sustained ? 1000 : Math.min(ctx.settleSeconds, 8) * 1000);
      if (step.sustained || !looksDisturbed(step)) break;
    }
    steps.push(step!);
    return step!;
  };
  let searchBest: StepResult | undefined;
  let firstBad: number | undefined;
  if (o.rate !== undefined) {
    const s = await run(o.rate);
    if (s.sustained) searchBest = s;
  } else {
    let rate = Math.min(o.startRate, o.maxRate);
    for (;;) {
      const s = await run(rate);
      if (!s.sustained) {
        firstBad = rate;
        break;
      }
      searchBest = s;
      if (rate >= o.maxRate) break;
      rate = Math.min(rate * 2, o.maxRate);
    }
    if (firstBad !== undefined) {
      let lo = searchBest?.rate ?? 0;
      let hi = firstBad;
      for (let i = 0; i < o.refine; i++) {
        const mid = Math.round((lo + hi) / 2 / 10) * 10 || Math.round((lo + hi) / 2);
        if (mid <= lo || mid >= hi || (hi - lo) / hi < 0.08) break;
        const s = await run(mid);
        if (s.sustained) {
          searchBest = s;
          lo = mid;
        } else {
          hi = mid;
        }
      }
      firstBad = hi;
    }
  }
  // (firstBad is now the lowest failing short step.)
  const result: CapacityResult = {
    steps,
    searchBest,
    hitCeiling: o.rate === undefined && firstBad === undefined,
    confirms: [],
    best: undefined,
  };
  if (!searchBest) return result;

  const confirmSeconds = o.confirmSeconds ?? ctx.settleSeconds + 3;
  // What the long runs know: the highest rate that held, and the lowest that did not (with the rate of
  // successful calls it still managed, which bounds what can hold).
  let okRate: number | undefined;
  let badBound = firstBad;
  let rate: number | undefined = searchBest.rate;
  // (The search's last step left a drained-enough server if it was sustained.)
  let previousHeld = steps[steps.length - 1]?.sustained === true;
  for (let attempt = 0; attempt < o.confirmTries && rate !== undefined; attempt++) {
    // Start from a drained server: an overloaded run's leftover state would count against this one.
    // (After a run that held at a lower rate, its leftovers are less than this run's own steady state.)
    if (!previousHeld) {
      ctx.progress(`  draining ${ctx.settleSeconds} s before the ${confirmSeconds} s run at ${rate}/s`);
      await sleep(ctx.settleSeconds * 1000);
    }
    const step = await runStep(ctx, `confirm-${rate}`, rate, confirmSeconds, o.holdMs);
    ctx.progress(describeStep(step));
    result.confirms.push(step);
    const tried: number = rate;
    previousHeld = step.sustained;
    let why: string;
    if (step.sustained) {
      okRate = tried;
      result.best = step;
      why = 'held';
    } else if (looksDisturbed(step)) {
      why = `did not hold, other processes busy (${othersCores(step).toFixed(2)} cores)`;
    } else {
      badBound = Math.min(badBound ?? Infinity, tried, Math.max(1, Math.floor(step.uac.goodput)));
      why = `did not hold (${step.uac.goodput.toFixed(0)}/s ok overall, ${step.uac.steadyGoodput.toFixed(0)}/s in its second half)`;
    }
    // Next: bisect between what held and what did not; below the first failure, 90% of its late goodput.
    if (step.sustained || !looksDisturbed(step)) {
      if (okRate === undefined) rate = nextConfirmRate(tried, step);
      else if (badBound !== undefined && badBound / okRate > 1.2) rate = round10((okRate + badBound) / 2);
      else rate = undefined;
    }
    if (attempt + 1 < o.confirmTries && rate !== undefined) ctx.progress(`  ${tried}/s ${why}: next try ${rate}/s`);
  }
  return result;
}

function round10(r: number): number {
  return Math.max(1, r >= 20 ? Math.round(r / 10) * 10 : Math.round(r));
}

/** 90% of the successful-call rate seen in the second half of a failed run, at most 80% of its rate. */
export function nextConfirmRate(rate: number, step: StepResult): number {
  const r = Math.min(rate * 0.8, step.uac.steadyGoodput * 0.9);
  return Math.max(1, r >= 20 ? Math.floor(r / 10) * 10 : Math.floor(r));
}

/** Half the max rate: latency percentiles and CPU per 1000 calls/s. */
export async function latencyAtHalfLoad(ctx: PhaseContext, maxRate: number): Promise<StepResult> {
  const rate = Math.max(1, Math.round(maxRate / 2));
  // Start from a drained server: the state the max-rate runs left behind (up to 64 s of calls at twice
  // this rate) is collected during the first seconds otherwise, and its GC pauses would be measured.
  ctx.progress(`  draining ${ctx.settleSeconds} s before the half-load run`);
  await sleep(ctx.settleSeconds * 1000);
  let step = await runStep(ctx, `half-load-${rate}`, rate, ctx.opts.latencySeconds, ctx.opts.holdMs);
  ctx.progress(describeStep(step));
  if (othersCores(step) >= DISTURBED_CORES) {
    // Latency suffers first when other processes take the CPU: measure once more, keep the quieter run.
    await sleep(2000);
    const again = await runStep(ctx, `half-load-${rate}-retry1`, rate, ctx.opts.latencySeconds, ctx.opts.holdMs);
    ctx.progress(describeStep(again));
    if (othersCores(again) < othersCores(step)) step = again;
  }
  return step;
}
