/**
 * Minimal typed event emitter for the browser (no Node 'events' dependency).
 * A listener that throws never prevents the other listeners from running.
 */
export type EventMap = Record<string, unknown[]>;
export type Listener<Args extends unknown[]> = (...args: Args) => void;

export class Emitter<E extends EventMap> {
  // Values are Listener<E[K]> for their key K; stored untyped because the map mixes keys.
  #listeners = new Map<keyof E, Set<unknown>>();
  #onError: (error: unknown, event: keyof E) => void;

  constructor(onError?: (error: unknown, event: keyof E) => void) {
    this.#onError = onError ?? ((error, event) => {
      // Surface, but never break the emitting code path.
      queueMicrotask(() => {
        throw new Error(`listener for "${String(event)}" failed`, { cause: error });
      });
    });
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (...args: E[K]) => {
      off();
      listener(...args);
    });
    return off;
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    this.#listeners.get(event)?.delete(listener);
  }

  emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K]>)(...args);
      } catch (error) {
        this.#onError(error, event);
      }
    }
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }
}
