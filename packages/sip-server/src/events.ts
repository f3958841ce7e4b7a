/**
 * A minimal typed event emitter for the engine's objects (transactions, dialogs, the app hub) to tell their
 * parent what happened. Listeners run synchronously, in order, and a throwing listener propagates to the
 * caller: the engine's entry points (Agent.receive, AppConnection's command loop) already catch and log,
 * exactly as when these were direct method calls.
 */
/** Event name → listener arguments. */
export type EventMap<E> = { [K in keyof E]: unknown[] };

export class Emitter<E extends EventMap<E>> {
  readonly #listeners = new Map<keyof E, Array<(...args: E[keyof E]) => void>>();

  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener as (...args: E[keyof E]) => void);
    this.#listeners.set(event, list);
    return this;
  }

  off<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.#listeners.get(event);
    const i = list ? list.indexOf(listener as (...args: E[keyof E]) => void) : -1;
    if (list && i >= 0) list.splice(i, 1);
    return this;
  }

  emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    for (const listener of [...list]) listener(...(args as E[keyof E]));
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }
}
