/** RFC 3261 timer values. Injectable so tests of retransmission and timeouts run in milliseconds. */
export interface SipTimerOptions {
  /** RTT estimate, default 500 ms. Timer B/F/H/J and the 2xx ACK wait are 64*T1. */
  T1?: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4000 ms. */
  T2?: number;
  /** Maximum duration a message remains in the network, default 5000 ms. */
  T4?: number;
  /**
   * How long an incoming INVITE may stay without a final response from the app before the server
   * answers 408 itself (a guard against leaked transactions), default 180000 ms.
   */
  inviteServerTimeout?: number;
}

export interface SipTimers {
  T1: number;
  T2: number;
  T4: number;
  inviteServerTimeout: number;
}

export function resolveTimers(options: SipTimerOptions = {}): SipTimers {
  const T1 = options.T1 ?? 500;
  return {
    T1,
    T2: options.T2 ?? Math.max(T1, 4000 * (T1 / 500)),
    T4: options.T4 ?? 5000 * (T1 / 500),
    inviteServerTimeout: options.inviteServerTimeout ?? 360 * T1,
  };
}

/**
 * Owns every timer a component starts so close() can cancel them all at once; a closed set
 * refuses new timers, so nothing fires after shutdown.
 */
export class TimerSet {
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  set(ms: number, fn: () => void): NodeJS.Timeout | undefined {
    if (this.#closed) return undefined;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    t.unref?.();
    this.#timers.add(t);
    return t;
  }

  clear(t: NodeJS.Timeout | undefined): void {
    if (!t) return;
    clearTimeout(t);
    this.#timers.delete(t);
  }

  get size(): number {
    return this.#timers.size;
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
