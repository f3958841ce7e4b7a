/**
 * A flow is "where a message came from / how to reach a peer": one UDP peer address, or one TCP/TLS/WS
 * connection. Responses and in-dialog requests go back over the flow a peer used (RFC 3261 §18.2.2,
 * RFC 5626 style reuse), which is the only way to reach WebSocket clients (`*.invalid` contacts).
 */
export type TransportName = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface HostPort {
  host: string;
  port: number;
}

export interface Flow {
  readonly id: string;
  readonly transport: TransportName;
  /** The listener address this flow belongs to (used in Via, Contact and wire messages). */
  readonly local: HostPort;
  readonly remote: HostPort;
  readonly reliable: boolean;
  readonly closed: boolean;
  /** Sends one complete SIP message; failures are logged by the transport, never thrown. */
  send(data: Buffer): boolean;
}

/** The transport name drachtio reports to apps: WebSocket flows appear as `tcp`, WSS as `tls`. */
export function wireTransport(t: TransportName): string {
  if (t === 'ws') return 'tcp';
  if (t === 'wss') return 'tls';
  return t;
}

/** Via transport token for a flow. */
export function viaTransport(t: TransportName): string {
  return t.toUpperCase();
}

/**
 * Index of live connection-oriented flows, by id, by remote address and by alias (a Contact or Via
 * host[:port] a client announced over the flow, e.g. `en91duleqqoo.invalid`).
 */
export class FlowTable {
  readonly #byId = new Map<string, Flow>();
  readonly #byRemote = new Map<string, Flow>();
  readonly #aliases = new Map<string, Flow>();
  readonly #aliasesOf = new Map<string, Set<string>>();

  add(flow: Flow): void {
    this.#byId.set(flow.id, flow);
    this.#byRemote.set(remoteKey(flow.transport, flow.remote.host, flow.remote.port), flow);
  }

  remove(flow: Flow): void {
    this.#byId.delete(flow.id);
    const rk = remoteKey(flow.transport, flow.remote.host, flow.remote.port);
    if (this.#byRemote.get(rk) === flow) this.#byRemote.delete(rk);
    for (const a of this.#aliasesOf.get(flow.id) ?? []) if (this.#aliases.get(a) === flow) this.#aliases.delete(a);
    this.#aliasesOf.delete(flow.id);
  }

  get(id: string): Flow | undefined {
    const f = this.#byId.get(id);
    return f && !f.closed ? f : undefined;
  }

  byRemote(transport: TransportName, host: string, port: number): Flow | undefined {
    const f = this.#byRemote.get(remoteKey(transport, host, port));
    return f && !f.closed ? f : undefined;
  }

  /** Remember that `host[:port]` is reachable over this flow. */
  alias(flow: Flow, host: string, port: number | undefined): void {
    const key = aliasKey(host, port);
    this.#aliases.set(key, flow);
    let set = this.#aliasesOf.get(flow.id);
    if (!set) this.#aliasesOf.set(flow.id, (set = new Set()));
    set.add(key);
  }

  byAlias(host: string, port: number | undefined): Flow | undefined {
    const f = this.#aliases.get(aliasKey(host, port)) ?? (port !== undefined ? undefined : undefined);
    return f && !f.closed ? f : undefined;
  }

  get size(): number {
    return this.#byId.size;
  }

  all(): Flow[] {
    return [...this.#byId.values()];
  }
}

function remoteKey(t: TransportName, host: string, port: number): string {
  return `${t}|${host.toLowerCase()}|${port}`;
}

function aliasKey(host: string, port: number | undefined): string {
  return `${host.toLowerCase()}|${port ?? ''}`;
}
