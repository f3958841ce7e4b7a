/**
 * Slows down password guessing: after `maxFailures` failed logins from one remote address within
 * `windowMs`, further attempts from that address are refused (429) until the oldest failure ages
 * out of the window. A successful login clears the address's record.
 */

export interface LoginThrottleOptions {
  /** Failures allowed per window, default 5. */
  maxFailures?: number;
  /** Default 60 s. */
  windowMs?: number;
  /** Addresses tracked at most (a flood of distinct addresses cannot fill memory), default 10 000. */
  maxAddresses?: number;
  now?: () => number;
}

export class LoginThrottle {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;
  /** Failure times per address, oldest first, at most #max entries. */
  readonly #failures = new Map<string, number[]>();
  /** Addresses blocked and already reported (one log line per block, not one per attempt). */
  readonly #reported = new Set<string>();

  constructor(options: LoginThrottleOptions = {}) {
    this.#max = options.maxFailures ?? 5;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxAddresses = options.maxAddresses ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Milliseconds until `address` may try again, or 0 when it may try now. */
  retryAfterMs(address: string): number {
    const times = this.#recent(address);
    if (times.length < this.#max) return 0;
    return Math.max(1, times[0]! + this.#windowMs - this.#now());
  }

  recordFailure(address: string): void {
    const times = this.#recent(address);
    times.push(this.#now());
    while (times.length > this.#max) times.shift();
    this.#failures.delete(address); // re-insert: the map stays ordered by last failure
    this.#failures.set(address, times);
    if (this.#failures.size > this.#maxAddresses) this.#evict();
  }

  recordSuccess(address: string): void {
    this.#failures.delete(address);
    this.#reported.delete(address);
  }

  /** Call on each refused attempt: true the first time in a block, so it is logged once. */
  reportRefusal(address: string): boolean {
    if (this.#reported.has(address)) return false;
    this.#reported.add(address);
    return true;
  }

  #recent(address: string): number[] {
    const times = this.#failures.get(address);
    if (!times) return [];
    const since = this.#now() - this.#windowMs;
    while (times.length > 0 && times[0]! <= since) times.shift();
    if (times.length === 0) this.#failures.delete(address);
    if (times.length < this.#max) this.#reported.delete(address);
    return times;
  }

  #evict(): void {
    for (const address of [...this.#failures.keys()]) this.#recent(address);
    while (this.#failures.size > this.#maxAddresses) {
      const oldest = this.#failures.keys().next().value;
      if (oldest === undefined) break;
      this.#failures.delete(oldest);
      this.#reported.delete(oldest);
    }
  }
}

/** The throttling key of a socket's remote address (IPv4-mapped IPv6 as plain IPv4). */
export function remoteKey(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
