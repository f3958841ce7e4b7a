/**
 * A minimal typed event emitter (no Node APIs, so the model also runs in a browser).
 * A listener that throws does not break the emitter or the operation that emitted: the error goes
 * to the `onListenerError` hook (the conference logs it).
 */

type EventMap<T> = { [K in keyof T]: unknown[] };
type Listener<A extends unknown[]> = (...args: A) => void;

export class TypedEmitter<Events extends EventMap<Events>> {
  readonly #listeners = new Map<keyof Events, Listener<never[]>[]>();
  #onListenerError: (error: unknown, event: string) => void = () => {};

  /** Where listener exceptions go (default: dropped). */
  protected setListenerErrorHandler(handler: (error: unknown, event: string) => void): void {
    this.#onListenerError = handler;
  }

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener as unknown as Listener<never[]>);
    this.#listeners.set(event, list);
    return this;
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const wrapper: Listener<Events[K]> = (...args) => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const list = this.#listeners.get(event);
    if (!list) return this;
    const i = list.indexOf(listener as unknown as Listener<never[]>);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  removeAllListeners(event?: keyof Events): this {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    for (const listener of [...list]) {
      try {
        (listener as unknown as Listener<Events[K]>)(...args);
      } catch (error) {
        try {
          this.#onListenerError(error, String(event));
        } catch {
          // the error hook itself failed: nothing sensible left to do
        }
      }
    }
  }
}
