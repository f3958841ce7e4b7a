/** Command-line options of `pnpm bench` (bench/run.ts). */
import { parseArgs } from 'node:util';
import type { LogLevel } from '../../packages/log/src/index.ts';
import { TARGET_NAMES, type TargetName } from './targets.ts';

export type PhaseName = 'dialogs' | 'soak' | 'capacity';
export const PHASE_NAMES: readonly PhaseName[] = ['dialogs', 'soak', 'capacity'];

export interface BenchOptions {
  targets: TargetName[];
  /** Which measurements to run (the warm-up always runs). */
  phases: PhaseName[];
  /** Seconds per fixed-rate step of the capacity search. */
  stepSeconds: number;
  /** Fixed rate instead of the search (calls/s), or undefined. */
  rate: number | undefined;
  startRate: number;
  maxRate: number;
  /** Bisection steps after the first failing rate. */
  refine: number;
  /** Seconds of the confirmation run at the max rate; undefined = settle time + 5. */
  confirmSeconds: number | undefined;
  confirmTries: number;
  /** limits.maxServerTransactions for the embedded server; undefined = its default. */
  serverTransactionLimit: number | undefined;
  /** Extra Node options for the embedded server's process (profiling, diagnostics). */
  nodeArgs: string[];
  holdMs: number;
  latencySeconds: number;
  soakMinutes: number;
  soakRate: number;
  dialogs: number;
  dialogRate: number;
  /** Seconds to wait for server state to expire before a settled memory reading; undefined = per target. */
  settleSeconds: number | undefined;
  basePort: number;
  kamailioChildren: number;
  logLevel: LogLevel;
  out: string | undefined;
  json: string | undefined;
}

export const HELP = `Usage: pnpm bench [options]     (or: node bench/run.ts [options])

Call setups per second (INVITE/100/200/ACK ... BYE/200, UDP, SIPp) through
  embedded: Conclave's SipServer + a drachtio-srf createB2BUA app (own Node process)
  kamailio: Kamailio (Debian package) as a tm + rr stateful proxy
on loopback, both in one run; prints rates, their ratio, p50/p99 setup latency at half the max rate,
server CPU, memory per 1000 concurrent dialogs and soak growth, with PASS/FAIL against the targets.
Exit status: 0 when every requested target was measured (targets missed or not), 1 on a harness error
or a target that could not be measured at all, 2 on bad options.

Options:
  --targets LIST          embedded,kamailio (default both, in that order)
  --phases LIST           dialogs,soak,capacity (default all; capacity includes the half-load run)
  --duration S            seconds per short capacity step (default 5)
  --rate CPS              skip the search: measure one fixed rate and use it as "max"
  --start-rate CPS        first capacity step (default 200); rates double until a step fails
  --max-rate CPS          highest rate tried (default 2000: beyond it SIPp and the kernel's loopback
                          UDP work need most of a 2-core machine)
  --refine N              short bisection steps between the last good and first bad rate (default 0:
                          the long confirmation runs bisect)
  --confirm S             seconds of the run that confirms the best step holds in steady state
                          (default: settle time + 3 s)
  --confirm-tries N       confirmation runs before giving up, each lower (default 3)
  --hold MS               call hold time between ACK and BYE (default 1000)
  --latency-duration S    seconds at half the max rate for p50/p99 and CPU (default 15)
  --soak MIN              soak minutes at constant load (default 1; the full soak is --soak 10)
  --soak-rate CPS         soak load (default 150: half of the 300 calls/s/core target)
  --dialogs N             concurrent calls held for the memory-per-dialog figure (default 1000)
  --dialog-rate CPS       rate at which they are set up (default 200)
  --settle S              wait before a settled memory reading (default: 33 s embedded = 64*T1 + 1,
                          6 s kamailio = tm wait timer + 1)
  --base-port P           loopback ports P..P+99 (default 35060): embedded SIP P, control P+1,
                          kamailio P+2, SIPp callee P+3, SIPp callers P+10..P+99
  --kamailio-children N   Kamailio UDP worker processes (default 2 = cores)
  --log-level L           embedded server log level (default warn)
  --server-limit N        pass limits.maxServerTransactions = N to the embedded server (default: its
                          own default); to see what the engine does beyond that limit
  --node-arg ARG          extra Node option for the embedded server's process, repeatable
                          (e.g. --node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/prof)
  --out DIR               keep run files here (default: a new directory under /tmp)
  --json FILE             also write the results as JSON
  -h, --help              this text
`;

export class UsageError extends Error {}

function num(raw: string | undefined, name: string, dflt: number, min = 0): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min)
    throw new UsageError(`--${name} needs a number >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Parsed options, or 'help'. Throws UsageError on bad input. */
export function parseOptions(argv: string[]): BenchOptions | 'help' {
  // `pnpm bench -- --soak 10` hands the `--` on to the script.
  if (argv[0] === '--') argv = argv.slice(1);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        targets: { type: 'string' },
        phases: { type: 'string' },
        duration: { type: 'string' },
        rate: { type: 'string' },
        'start-rate': { type: 'string' },
        'max-rate': { type: 'string' },
        refine: { type: 'string' },
        hold: { type: 'string' },
        'latency-duration': { type: 'string' },
        soak: { type: 'string' },
        'soak-rate': { type: 'string' },
        dialogs: { type: 'string' },
        'dialog-rate': { type: 'string' },
        settle: { type: 'string' },
        confirm: { type: 'string' },
        'confirm-tries': { type: 'string' },
        'server-limit': { type: 'string' },
        'node-arg': { type: 'string', multiple: true },
        'base-port': { type: 'string' },
        'kamailio-children': { type: 'string' },
        'log-level': { type: 'string' },
        out: { type: 'string' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const targets = (v.targets ?? TARGET_NAMES.join(','))
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of targets) {
    if (!TARGET_NAMES.includes(t as TargetName))
      throw new UsageError(`unknown target ${JSON.stringify(t)} (known: ${TARGET_NAMES.join(', ')})`);
  }
  if (targets.length === 0) throw new UsageError('--targets is empty');
  const phases = (v.phases ?? PHASE_NAMES.join(','))
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const p of phases) {
    if (!PHASE_NAMES.includes(p as PhaseName))
      throw new UsageError(`unknown phase ${JSON.stringify(p)} (known: ${PHASE_NAMES.join(', ')})`);
  }
  const logLevel = (v['log-level'] ?? 'warn') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel))
    throw new UsageError(`bad --log-level ${logLevel}`);
  const basePort = num(v['base-port'], 'base-port', 35060, 1024);
  if (basePort > 65535 - 100) throw new UsageError('--base-port too high');
  return {
    targets: [...new Set(targets)] as TargetName[],
    phases: [...new Set(phases)] as PhaseName[],
    stepSeconds: num(v.duration, 'duration', 5, 1),
    rate: v.rate === undefined ? undefined : num(v.rate, 'rate', 0, 1),
    startRate: num(v['start-rate'], 'start-rate', 200, 1),
    maxRate: num(v['max-rate'], 'max-rate', 2000, 1),
    refine: num(v.refine, 'refine', 0, 0),
    confirmSeconds: v.confirm === undefined ? undefined : num(v.confirm, 'confirm', 0, 1),
    confirmTries: Math.round(num(v['confirm-tries'], 'confirm-tries', 3, 1)),
    nodeArgs: v['node-arg'] ?? [],
    serverTransactionLimit:
      v['server-limit'] === undefined ? undefined : Math.round(num(v['server-limit'], 'server-limit', 0, 1)),
    holdMs: num(v.hold, 'hold', 1000, 0),
    latencySeconds: num(v['latency-duration'], 'latency-duration', 15, 1),
    soakMinutes: num(v.soak, 'soak', 1, 0),
    soakRate: num(v['soak-rate'], 'soak-rate', 150, 1),
    dialogs: Math.round(num(v.dialogs, 'dialogs', 1000, 1)),
    dialogRate: num(v['dialog-rate'], 'dialog-rate', 200, 1),
    settleSeconds: v.settle === undefined ? undefined : num(v.settle, 'settle', 0, 0),
    basePort,
    kamailioChildren: Math.round(num(v['kamailio-children'], 'kamailio-children', 2, 1)),
    logLevel,
    out: v.out,
    json: v.json,
  };
}
