/**
 * CPU and memory of processes and of the machine, read from /proc (Linux only).
 *
 * CPU is counted in clock ticks (utime + stime) and converted to seconds; memory is PSS (proportional
 * set size, from smaps_rollup) so that a multi-process server such as Kamailio, whose workers share a
 * large memory segment, is not counted once per process. RSS is reported next to it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

export const CLK_TCK = clockTicksPerSecond();

interface StatFields {
  ppid: number;
  /** utime + stime, ticks. */
  ticks: number;
  /** cutime + cstime (children that have been waited for), ticks. */
  childTicks: number;
}

/** Fields of /proc/<pid>/stat; undefined when the process is gone. */
function readStat(pid: number | 'self'): StatFields | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field n is rest[n - 3].
  const num = (field: number): number => Number(rest[field - 3] ?? 0);
  return { ppid: num(4), ticks: num(14) + num(15), childTicks: num(16) + num(17) };
}

/** `root` and all its descendants that are alive now. */
export function processTree(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st) parentOf.set(Number(name), st.ppid);
  }
  const tree = new Set<number>([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parentOf) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree].filter((pid) => parentOf.has(pid));
}

/** CPU seconds (user + system) used so far by the given processes. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / CLK_TCK;
}

/** CPU seconds of this process's children that have exited and been reaped (SIPp callers). */
export function reapedChildrenCpuSeconds(): number {
  return (readStat('self')?.childTicks ?? 0) / CLK_TCK;
}

export interface MemorySample {
  /** Sum of PSS over the processes, bytes. */
  pss: number;
  /** Sum of RSS over the processes, bytes (double-counts shared pages). */
  rss: number;
}

function kbField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

export function memory(pids: readonly number[]): MemorySample {
  let pss = 0;
  let rss = 0;
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      pss += kbField(rollup, 'Pss');
      rss += kbField(rollup, 'Rss');
    } catch {
      // exited
    }
  }
  return { pss, rss };
}

export interface MachineCpu {
  /** user + nice + system: time charged to processes (ours and everyone else's). */
  busy: number;
  /** irq + softirq: mostly the kernel's loopback UDP processing of the benchmark's own packets. */
  kernel: number;
  /** Time the hypervisor gave to other guests. */
  steal: number;
}

/** CPU time of the whole machine from /proc/stat, in seconds summed over all cores. */
export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const at = (i: number): number => v[i] ?? 0;
  return { busy: (at(0) + at(1) + at(2)) / CLK_TCK, kernel: (at(5) + at(6)) / CLK_TCK, steal: at(7) / CLK_TCK };
}
