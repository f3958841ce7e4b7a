/** Polling for a condition that has no event to wait on (a socket's received list, a process's output). */

/** Polls `fn` until it returns something truthy, or fails after `ms` with `what` in the message. */
export async function waitFor<T>(fn: () => T | undefined | false | null, ms = 5000, what = 'condition'): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
