/**
 * The mixers' 20 ms clock. Deadlines are computed from one monotonic start (start + k * period), never
 * by chaining timers, so timer lateness does not accumulate into drift. A late callback runs the
 * missed ticks back to back (up to `maxCatchUp`); after a longer stall (a blocked event loop) it skips
 * ahead instead of bursting. It records how late each tick ran: the outgoing packets' jitter.
 */
import { FRAME_MS } from './codecs.ts';

export interface ClockStats {
  ticks: number;
  skipped: number;
  /** Lateness of each tick after its deadline, ms: mean, max, and the last 3000 (for percentiles). */
  meanLateMs: number;
  maxLateMs: number;
}

/** Time and timers the clock uses; tests pass a fake to check the deadline arithmetic exactly. */
export interface ClockTimers {
  now(): number;
  setTimer(fn: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

const REAL_TIMERS: ClockTimers = {
  now: () => performance.now(),
  setTimer: (fn, delayMs) => setTimeout(fn, delayMs),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class MixerClock {
  readonly periodMs: number;
  readonly #onTick: (nowMs: number, tick: number) => void;
  readonly #maxCatchUp: number;
  readonly #timers: ClockTimers;
  #start = 0;
  #k = 0;
  #timer: unknown;
  #closed = false;
  #lateSum = 0;
  readonly #recent: number[] = [];
  readonly stats: ClockStats = { ticks: 0, skipped: 0, meanLateMs: 0, maxLateMs: 0 };

  constructor(
    onTick: (nowMs: number, tick: number) => void,
    options: { periodMs?: number; maxCatchUp?: number; timers?: ClockTimers } = {},
  ) {
    this.periodMs = options.periodMs ?? FRAME_MS;
    this.#onTick = onTick;
    this.#maxCatchUp = options.maxCatchUp ?? 3;
    this.#timers = options.timers ?? REAL_TIMERS;
  }

  get closed(): boolean {
    return this.#closed;
  }

  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#start = this.#timers.now();
    this.#k = 0;
    this.#schedule();
  }

  /** Lateness percentile (0..1) over the last 3000 ticks, ms. */
  latePercentile(p: number): number {
    if (this.#recent.length === 0) return 0;
    const sorted = [...this.#recent].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  }

  /** Starts the statistics afresh (ticks, lateness), e.g. after a warm-up. */
  resetStats(): void {
    this.#lateSum = 0;
    this.#recent.length = 0;
    Object.assign(this.stats, { ticks: 0, skipped: 0, meanLateMs: 0, maxLateMs: 0 });
  }

  #schedule(): void {
    const deadline = this.#start + (this.#k + 1) * this.periodMs;
    this.#timer = this.#timers.setTimer(() => this.#run(), Math.max(0, deadline - this.#timers.now()));
  }

  #run(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    let now = this.#timers.now();
    let ran = 0;
    while (this.#start + (this.#k + 1) * this.periodMs <= now + 0.05 && ran < this.#maxCatchUp) {
      this.#k++;
      const late = now - (this.#start + this.#k * this.periodMs);
      this.#record(late);
      this.#onTick(now, this.#k);
      ran++;
      now = this.#timers.now();
    }
    const behind = Math.floor((now - this.#start) / this.periodMs) - this.#k;
    if (behind > 0 && ran >= this.#maxCatchUp) {
      this.#k += behind;
      this.stats.skipped += behind;
    }
    if (!this.#closed) this.#schedule();
  }

  #record(late: number): void {
    const s = this.stats;
    s.ticks++;
    this.#lateSum += late;
    s.meanLateMs = this.#lateSum / s.ticks;
    if (late > s.maxLateMs) s.maxLateMs = late;
    this.#recent.push(late);
    if (this.#recent.length > 3000) this.#recent.shift();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#timers.clearTimer(this.#timer);
    this.#timer = undefined;
  }
}
