import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MixerClock, type ClockTimers } from '../src/index.ts';

/** Fake time: every timer fires `lateMs` after its due time, and each tick's work takes `workMs`. */
class LateTimers implements ClockTimers {
  t = 1000;
  readonly #lateMs: number;
  #pending: { at: number; fn: () => void } | undefined;

  constructor(lateMs: number) {
    this.#lateMs = lateMs;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, delayMs: number): unknown {
    this.#pending = { at: this.t + delayMs + this.#lateMs, fn };
    return this.#pending;
  }

  clearTimer(): void {
    this.#pending = undefined;
  }

  /** Fires the pending timer (advancing time to it). */
  fire(): void {
    const p = this.#pending;
    assert.ok(p, 'a timer is pending');
    this.#pending = undefined;
    this.t = Math.max(this.t, p.at);
    p.fn();
  }
}

test('the clock keeps its deadlines at start + k * 20 ms however late its timers fire (no drift)', () => {
  const timers = new LateTimers(3);
  const ticks: Array<{ now: number; k: number }> = [];
  const clock = new MixerClock(
    (now, k) => {
      ticks.push({ now, k });
      timers.t += 2; // the tick's own work
    },
    { timers },
  );
  clock.start();
  for (let i = 0; i < 500; i++) timers.fire();
  clock.close();
  // Chained 20 ms timers would put tick 500 at 500 * (20 + 3 + 2) = 12.5 s; deadlines keep it at 10 s + 3 ms.
  const last = ticks.at(-1)!;
  assert.equal(last.k, 500);
  assert.ok(Math.abs(last.now - (1000 + 500 * 20 + 3)) < 0.001, `tick 500 at ${last.now - 1000} ms`);
  for (const { now, k } of ticks) assert.ok(now >= 1000 + k * 20, 'never before its deadline');
  assert.ok(Math.abs(clock.stats.meanLateMs - 3) < 0.001);
  assert.equal(clock.stats.skipped, 0);
});

test('after a stall the clock catches up a few ticks, then skips instead of bursting', () => {
  const timers = new LateTimers(0);
  const ticks: number[] = [];
  const clock = new MixerClock((_now, k) => ticks.push(k), { timers, maxCatchUp: 3 });
  clock.start();
  for (let i = 0; i < 10; i++) timers.fire();
  timers.t += 200; // a 200 ms stall (10 ticks)
  timers.fire();
  for (let i = 0; i < 5; i++) timers.fire();
  clock.close();
  assert.deepEqual(ticks.slice(0, 10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  // The stalled callback runs 3 ticks back to back, skips the rest, and the clock is on time again.
  assert.deepEqual(ticks.slice(10, 13), [11, 12, 13]);
  assert.ok(clock.stats.skipped >= 7, `skipped ${clock.stats.skipped}`);
  const after = ticks.slice(13);
  for (let i = 1; i < after.length; i++) assert.equal(after[i], after[i - 1]! + 1);
});

test('the real clock ticks every 20 ms on the monotonic clock', async () => {
  const times: number[] = [];
  let clock: MixerClock | undefined;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    clock = new MixerClock((now) => {
      times.push(now);
      if (times.length === 10) resolve();
    });
    clock.start();
  });
  clock!.close();
  assert.equal(clock!.stats.ticks, 10);
  // Tick k never runs before start + k * 20 ms.
  for (const [i, t] of times.entries())
    assert.ok(t - started >= (i + 1) * 20 - 1, `tick ${i + 1} at ${(t - started).toFixed(1)} ms`);
});
