/**
 * mediasoup worker processes: one per core by default. Routers go to the least-loaded live worker (load =
 * routers + WebRTC transports hosted). A worker that dies is logged and replaced (the start is retried a
 * few times); its rooms rebuild themselves on a live worker (see Room), and close with 'worker-died' only
 * when no worker can be started at all.
 *
 * mediasoup marks a worker `died` and closes its routers (they emit 'workerclose') before the worker
 * emits 'died'; pick() therefore skips dead workers itself instead of relying on the 'died' handler.
 */
import { createWorker } from 'mediasoup';
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';

export type WorkerLogLevel = 'debug' | 'warn' | 'error' | 'none';

export interface LoadSource {
  /** Routers + transports currently hosted by this worker. */
  load(): number;
}

interface Entry {
  worker: ms.Worker;
  hosted: Set<LoadSource>;
}

export interface WorkerPoolEvents {
  died(pid: number, error: Error): void;
  replaced(oldPid: number, newPid: number): void;
  /** A worker started (initially or as a replacement): the service counts what it hosts. */
  started?(worker: ms.Worker): void;
}

/** Attempts to start a replacement worker before giving up (the pool then runs with fewer workers). */
const REPLACE_ATTEMPTS = 3;
const REPLACE_RETRY_MS = 250;

export class WorkerPool {
  readonly #log: Logger;
  readonly #logLevel: WorkerLogLevel;
  readonly #entries: Entry[] = [];
  readonly #replacing = new Set<Promise<void>>();
  readonly #events: WorkerPoolEvents;
  #closed = false;

  private constructor(log: Logger, logLevel: WorkerLogLevel, events: WorkerPoolEvents) {
    this.#log = log;
    this.#logLevel = logLevel;
    this.#events = events;
  }

  static async create(params: {
    size: number;
    log: Logger;
    logLevel?: WorkerLogLevel;
    events: WorkerPoolEvents;
  }): Promise<WorkerPool> {
    const size = Math.max(1, Math.floor(params.size));
    const pool = new WorkerPool(params.log, params.logLevel ?? 'warn', params.events);
    try {
      for (let i = 0; i < size; i++) await pool.#spawn();
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  get pids(): number[] {
    return this.#live().map((e) => e.worker.pid);
  }

  get workers(): ms.Worker[] {
    return this.#live().map((e) => e.worker);
  }

  /**
   * The least-loaded live worker (that passes `accept`, when given); waits for a replacement if every
   * worker just died. Resolves undefined only when `accept` refuses every worker. Rejects when no
   * worker is alive and none can be started.
   */
  async pick(
    accept?: (worker: ms.Worker) => boolean,
  ): Promise<{ worker: ms.Worker; host: (source: LoadSource) => () => void } | undefined> {
    while (this.#live().length === 0 && this.#replacing.size > 0 && !this.#closed)
      await Promise.allSettled([...this.#replacing]);
    let best: Entry | undefined;
    let bestLoad = Infinity;
    const live = this.#live();
    for (const entry of live) {
      if (accept && !accept(entry.worker)) continue;
      const load = [...entry.hosted].reduce((n, s) => n + s.load(), 0);
      if (load < bestLoad) {
        best = entry;
        bestLoad = load;
      }
    }
    if (!best) {
      if (accept && live.length > 0) return undefined;
      throw new Error('no mediasoup worker is available');
    }
    const chosen = best;
    return {
      worker: chosen.worker,
      host: (source) => {
        chosen.hosted.add(source);
        return () => chosen.hosted.delete(source);
      },
    };
  }

  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.splice(0)) {
      if (!entry.worker.closed) entry.worker.close();
    }
  }

  #live(): Entry[] {
    return this.#entries.filter((e) => !e.worker.closed && !e.worker.died);
  }

  async #spawn(): Promise<ms.Worker> {
    const worker = await createWorker({ logLevel: this.#logLevel, disableLiburing: true });
    if (this.#closed) {
      worker.close();
      throw new Error('worker pool closed');
    }
    const entry: Entry = { worker, hosted: new Set() };
    this.#entries.push(entry);
    worker.on('died', (error) => this.#onDied(entry, error));
    this.#events.started?.(worker);
    this.#log.info('mediasoup worker started', { pid: worker.pid });
    return worker;
  }

  async #replace(pid: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const worker = await this.#spawn();
        this.#events.replaced(pid, worker.pid);
        return;
      } catch (err) {
        if (this.#closed) return;
        this.#log.error('cannot start a replacement mediasoup worker', { pid, attempt, err });
        if (attempt >= REPLACE_ATTEMPTS) return;
        await new Promise((r) => setTimeout(r, REPLACE_RETRY_MS));
      }
    }
  }

  #onDied(entry: Entry, error: Error): void {
    const pid = entry.worker.pid;
    const index = this.#entries.indexOf(entry);
    if (index >= 0) this.#entries.splice(index, 1);
    this.#log.error('mediasoup worker died; replacing it', { pid, err: error });
    if (!this.#closed) {
      const replacement = this.#replace(pid);
      this.#replacing.add(replacement);
      void replacement.finally(() => this.#replacing.delete(replacement));
    }
    this.#events.died(pid, error);
  }
}
