import type { AppConnection } from './control/app-connection.ts';

/**
 * Which apps want which incoming request methods (`route|invite`). Several apps on one method share
 * the load round-robin, as drachtio-server does.
 */
export class RouteTable {
  readonly #byVerb = new Map<string, AppConnection[]>();
  readonly #next = new Map<string, number>();

  add(verb: string, app: AppConnection): void {
    const list = this.#byVerb.get(verb) ?? [];
    if (!list.includes(app)) list.push(app);
    this.#byVerb.set(verb, list);
  }

  remove(verb: string, app: AppConnection): void {
    const list = this.#byVerb.get(verb);
    if (!list) return;
    const i = list.indexOf(app);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#byVerb.delete(verb);
  }

  removeApp(app: AppConnection): void {
    for (const verb of [...this.#byVerb.keys()]) this.remove(verb, app);
  }

  /** Next live app for a verb (lower-case method), or undefined. */
  pick(verb: string): AppConnection | undefined {
    const list = (this.#byVerb.get(verb) ?? []).filter((a) => !a.closed);
    if (list.length === 0) return undefined;
    const i = (this.#next.get(verb) ?? 0) % list.length;
    this.#next.set(verb, i + 1);
    return list[i];
  }

  has(verb: string): boolean {
    return (this.#byVerb.get(verb)?.length ?? 0) > 0;
  }
}
