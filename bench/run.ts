/**
 * `pnpm bench`: call setups per second through the embedded SipServer + a drachtio-srf B2BUA, and the
 * same load through Kamailio as a stateful proxy, on this machine, in one run. See bench/README.md.
 *
 *   SIPp caller -> embedded SipServer -> drachtio-srf createB2BUA app -> SIPp callee
 *   SIPp caller -> Kamailio (tm + rr)                                 -> SIPp callee
 *
 * Progress goes to stderr, the results table to stdout.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HELP, UsageError, parseOptions, type BenchOptions, type PhaseName } from './lib/options.ts';
import {
  capacity,
  latencyAtHalfLoad,
  measureDialogs,
  nextConfirmRate,
  settledMemory,
  soak,
  warmUp,
  type PhaseContext,
} from './lib/phases.ts';
import { loadNow, machineDescription, renderReport, toJson, type TargetReport } from './lib/report.ts';
import { SippUas } from './lib/sipp.ts';
import { EmbeddedTarget, KamailioTarget, type Target, type TargetName } from './lib/targets.ts';

const stopOnExit = new Set<() => Promise<void>>();

function progress(scope: string): (line: string) => void {
  return (line) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)} ${scope}] ${line}\n`);
}

function sippVersion(): string {
  try {
    const out = execFileSync('sipp', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return /SIPp v[\w.-]+/.exec(out)?.[0] ?? 'SIPp';
  } catch (err) {
    // `sipp -v` exits non-zero on some versions but still prints.
    const out = (err as { stdout?: string }).stdout ?? ''; // encoding 'utf8': a string
    const m = /SIPp v[\w.-]+/.exec(out);
    if (m) return m[0];
    throw new Error('sipp not found: apt-get install -y sip-tester (or run pnpm setup as root)', { cause: err });
  }
}

async function benchTarget(name: TargetName, opts: BenchOptions, out: string): Promise<TargetReport> {
  const say = progress(name);
  const dir = join(out, name);
  mkdirSync(dir, { recursive: true });
  const p = opts.basePort;
  const ports = { embeddedSip: p, control: p + 1, kamailio: p + 2, callee: p + 3 };
  let callerPort = p + 10;
  const report: TargetReport = { name, description: name };
  let target: Target | undefined;
  let uas: SippUas | undefined;
  try {
    uas = await SippUas.start(ports.callee, dir);
    const u = uas;
    stopOnExit.add(() => u.stop());
    target =
      name === 'embedded'
        ? await EmbeddedTarget.start({
            sipPort: ports.embeddedSip,
            controlPort: ports.control,
            calleePort: ports.callee,
            dir,
            logLevel: opts.logLevel,
            maxServerTransactions: opts.serverTransactionLimit,
            nodeArgs: opts.nodeArgs,
          })
        : await KamailioTarget.start({
            port: ports.kamailio,
            calleePort: ports.callee,
            dir,
            children: opts.kamailioChildren,
          });
    const t = target;
    stopOnExit.add(() => t.stop());
    report.description = target.description;
    say(`started: ${target.description} on udp/${target.sipAddress}`);
    const ctx: PhaseContext = {
      target,
      uas,
      opts,
      dir,
      progress: say,
      nextCallerPort: () => {
        const port = callerPort;
        callerPort = callerPort >= p + 99 ? p + 10 : callerPort + 1;
        return port;
      },
      settleSeconds: opts.settleSeconds ?? (name === 'embedded' ? 33 : 6),
    };
    report.warmUp = await warmUp(ctx);
    const want = (phase: PhaseName): boolean => opts.phases.includes(phase);
    if (want('dialogs')) report.dialogs = await measureDialogs(ctx);
    if (want('soak') && opts.soakMinutes > 0) {
      // The soak starts from the settled, call-free state the dialogs phase ended in.
      const before = report.dialogs?.after ?? (await settledMemory(ctx, 'before the soak'));
      report.soak = await soak(ctx, before);
    }
    if (!want('capacity')) return report;
    report.capacity = await capacity(ctx);
    // Half of the max sustained rate; if no long run held, half of the rate the last one would have tried next.
    const c = report.capacity;
    const last = c.confirms[c.confirms.length - 1];
    const base = c.best?.rate ?? (last ? nextConfirmRate(last.rate, last) : undefined);
    if (base !== undefined) report.halfLoad = await latencyAtHalfLoad(ctx, base);
    else say('no capacity step was sustained: no half-load measurement');
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
    say(`ERROR: ${report.error}`);
  } finally {
    await target?.stop();
    await uas?.stop();
    stopOnExit.clear();
  }
  return report;
}

async function main(): Promise<number> {
  // `pnpm bench mixer [...]`: the room mixer's benchmark (bench/mixer/), a separate phase with its own options.
  const args = process.argv.slice(2);
  if (args[0] === '--') args.shift();
  if (args[0] === 'mixer') return (await import('./mixer/run-mixer.ts')).runMixerBench(args.slice(1));
  // `pnpm bench cluster [...]`: conferences per second through the cluster's edge, 1 vs 3 nodes (bench/cluster/).
  if (args[0] === 'cluster') return (await import('./cluster/run-cluster.ts')).runClusterBench(args.slice(1));
  let opts: BenchOptions | 'help';
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${HELP}`);
      return 2;
    }
    throw err;
  }
  if (opts === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const sipp = sippVersion();
  const out = opts.out ? resolve(opts.out) : mkdtempSync(join(tmpdir(), 'conclave-bench-'));
  mkdirSync(out, { recursive: true });
  const started = new Date();
  const loadAtStart = loadNow();
  progress('run')(`${sipp}; files in ${out}; load average ${loadAtStart.join(' ')}`);
  const reports: TargetReport[] = [];
  for (const name of opts.targets) reports.push(await benchTarget(name, opts, out));
  const info = { started, finished: new Date(), machine: machineDescription(), loadAtStart, sipp, out };
  process.stdout.write(renderReport(reports, info, opts) + '\n');
  if (opts.json) writeFileSync(opts.json, JSON.stringify(toJson(reports, info, opts), null, 2) + '\n');
  return reports.some((r) => r.error !== undefined) ? 1 : 0;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n[bench] ${sig}: stopping servers and SIPp\n`);
    void Promise.allSettled([...stopOnExit].map((stop) => stop())).finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[bench] harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    void Promise.allSettled([...stopOnExit].map((stop) => stop())).finally(() => process.exit(1));
  },
);
