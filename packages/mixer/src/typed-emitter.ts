import { EventEmitter } from 'node:events';
import type { Logger } from '@conclave/log';

/** Maps event names to the tuple of arguments their listeners receive. */
export type EventMap = Record<string, unknown[]>;

type Listener<Args extends unknown[]> = (...args: Args) => void;

/** A typed EventEmitter; a listener that throws is logged and never breaks the mixer's tick. */
export class TypedEmitter<E extends EventMap> {
  readonly #emitter = new EventEmitter();
  readonly #emitterLog: Logger;

  constructor(log: Logger) {
    this.#emitterLog = log;
    this.#emitter.setMaxListeners(Infinity);
  }

  on<K extends keyof E & string>(event: K, listener: Listener<E[K]>): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: Listener<E[K]>): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: Listener<E[K]>): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  protected safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    for (const listener of this.#emitter.rawListeners(event)) {
      try {
        (listener as (...a: unknown[]) => void).apply(this.#emitter, args);
      } catch (err) {
        this.#emitterLog.error('event listener threw', { event, err });
      }
    }
  }
}
