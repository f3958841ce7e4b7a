/**
 * Runs async tasks one at a time, in call order. Every offer/answer step of a leg goes through one
 * queue so that concurrent triggers (a remote re-offer racing a participant joining) never interleave
 * their awaits on the same SDP state; NOTIFYs of one subscription go out in order. A task that fails
 * does not stop the queue: the next one still runs, and the caller sees the rejection through push().
 * Tasks never await another queue's tasks, so queues cannot deadlock.
 */
export class SerialQueue {
  #tail: Promise<unknown>;

  /** `gate`: the first task waits for it too (settled either way). */
  constructor(gate: Promise<unknown> = Promise.resolve()) {
    this.#tail = gate;
  }

  push<T>(task: () => T | Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task);
    // The chain must survive a failed task; the caller still sees the rejection through `run`.
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
