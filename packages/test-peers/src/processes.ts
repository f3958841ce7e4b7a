/**
 * Every child process a test starts (baresip, linphonec, the sniffer, Chromium via playwright) is
 * tracked here and killed when the test process exits, whatever the reason, so a failing test never
 * leaves a phone running.
 */
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
const closers = new Set<() => void>();
let installed = false;

function killAll(): void {
  for (const c of children) {
    try {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const fn of closers) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

export function trackChild(child: ChildProcess): ChildProcess {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A synchronous last-resort cleanup (e.g. kill a browser's process by pid). */
export function atExit(fn: () => void): () => void {
  install();
  closers.add(fn);
  return () => closers.delete(fn);
}

/** Kill a child and wait for it to be gone (SIGTERM, then SIGKILL after `graceMs`). */
export async function stopChild(child: ChildProcess, graceMs = 500): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}
