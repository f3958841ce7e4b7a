/**
 * The typed event emitter every Conclave package uses, after mediasoup's EnhancedEventEmitter. No Node
 * APIs, so it runs in the browser as well.
 *
 * - emit(): listeners run synchronously, in the order they were added; a listener that throws
 *   propagates to the caller and the later listeners do not run (what node:events does).
 * - safeEmit(): every listener runs; one that throws is caught and handed to the reporter given to
 *   the constructor, and can never break the code that emitted (a faulty listener must not leave a
 *   leg half-negotiated or stop the mixer's tick).
 *
 * Listeners added or removed while an event is being emitted take effect from the next emit.
 */

/** Event name → the arguments its listeners receive. */
export type EventMap<E> = { [K in keyof E]: unknown[] };

export type Listener<Args extends unknown[]> = (...args: Args) => void;

/**
 * Where safeEmit() sends a listener's exception: a function, or a logger (the error is logged as
 * `event listener threw` with `event` and `err`).
 */
export type ListenerErrorReporter =
  ((error: unknown, event: string) => void) | { error(message: string, fields?: Record<string, unknown>): void };

/** Listeners are stored untyped: the map mixes events (and the class must not vary with E, see MediaLeg). */
type AnyListener = (...args: unknown[]) => void;

interface Entry {
  readonly listener: AnyListener;
  readonly once: boolean;
  fired: boolean;
}

/** Without a reporter, a listener's exception is rethrown from a microtask: surfaced, but after the emit. */
function rethrowLater(error: unknown, event: string): void {
  queueMicrotask(() => {
    throw new Error(`listener for "${event}" failed`, { cause: error });
  });
}

export class EnhancedEventEmitter<E extends EventMap<E>> {
  readonly #listeners = new Map<PropertyKey, Entry[]>();
  readonly #report: (error: unknown, event: string) => void;

  constructor(onListenerError: ListenerErrorReporter = rethrowLater) {
    if (typeof onListenerError === 'function') this.#report = onListenerError;
    else {
      const log = onListenerError;
      this.#report = (err, event) => log.error('event listener threw', { event, err });
    }
  }

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    return this.#add(event, listener as unknown as AnyListener, false);
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    return this.#add(event, listener as unknown as AnyListener, true);
  }

  /** Removes the most recently added registration of `listener` (on() or once()) for `event`. */
  off<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const list = this.#listeners.get(event);
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]!.listener === (listener as unknown as AnyListener)) {
        list.splice(i, 1);
        break;
      }
    }
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  removeAllListeners(event?: keyof E): this {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  listenerCount(event: keyof E): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Calls the listeners; the first one that throws stops the emit and the exception reaches the caller. */
  emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    return this.#emit(event, args, undefined);
  }

  /** Calls every listener; an exception goes to the reporter and the next listener still runs. */
  safeEmit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    return this.#emit(event, args, this.#report);
  }

  #add(event: keyof E, listener: AnyListener, once: boolean): this {
    const list = this.#listeners.get(event);
    const entry: Entry = { listener, once, fired: false };
    if (list) list.push(entry);
    else this.#listeners.set(event, [entry]);
    return this;
  }

  #emit(event: keyof E, args: unknown[], report: ((error: unknown, event: string) => void) | undefined): boolean {
    const list = this.#listeners.get(event);
    if (!list) return false;
    for (const entry of [...list]) {
      if (entry.once) {
        // A once() listener runs at most once, even when a listener emits the same event again.
        if (entry.fired) continue;
        entry.fired = true;
        this.#remove(event, entry);
      }
      if (!report) {
        entry.listener(...args);
        continue;
      }
      try {
        entry.listener(...args);
      } catch (error) {
        try {
          report(error, String(event));
        } catch {
          // the reporter itself failed: nothing sensible is left to do
        }
      }
    }
    return true;
  }

  #remove(event: keyof E, entry: Entry): void {
    const list = this.#listeners.get(event);
    const i = list ? list.indexOf(entry) : -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.#listeners.delete(event);
  }
}
