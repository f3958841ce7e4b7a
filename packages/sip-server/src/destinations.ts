import dns from 'node:dns';
import net from 'node:net';
import type { Logger } from '@conclave/log';
import { getParam, tryParseSipUri, type SipRequest } from '@conclave/sip-message';
import type { Dialog } from './dialog.ts';
import { parseNameAddrSafe } from './header-policy.ts';
import type { Flow, FlowTable, HostPort, TransportName } from './transport/flow.ts';
import type { StreamTransport } from './transport/tcp.ts';
import type { UdpTransport } from './transport/udp.ts';

/** The listening transports requests can go out on. */
export interface AgentTransports {
  udp?: UdpTransport;
  tcp?: StreamTransport;
  tls?: StreamTransport;
  ws?: { local: HostPort };
  wss?: { local: HostPort };
}

/**
 * Where a request goes: which flow reaches a URI (reusing connections and WebSocket aliases, resolving host
 * names), which addresses are ours, and popping our own Route entries.
 */
export class Destinations {
  readonly #log: Logger;
  readonly #flows: FlowTable;
  readonly #transports: AgentTransports;
  readonly #isClosed: () => boolean;

  constructor(opts: { log: Logger; flows: FlowTable; transports: AgentTransports; isClosed: () => boolean }) {
    this.#log = opts.log;
    this.#flows = opts.flows;
    this.#transports = opts.transports;
    this.#isClosed = opts.isClosed;
  }

  /** Our own Route entries at the top of a request (we Record-Routed the dialog): pop them. */
  popOwnRoutes(req: SipRequest): boolean {
    let popped = false;
    for (;;) {
      const routes = req.getAll('route');
      const first = routes[0];
      if (!first) return popped;
      const uri = tryParseSipUri(parseNameAddrSafe(first)?.uri ?? '');
      if (!uri || !this.isOurAddress(uri.host, uri.port)) return popped;
      req.remove('route');
      for (const r of routes.slice(1)) req.append('Route', r);
      popped = true;
    }
  }

  isOurAddress(host: string, port: number | undefined): boolean {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '');
    const t = this.#transports;
    for (const l of [t.udp?.local, t.tcp?.local, t.tls?.local, t.ws?.local, t.wss?.local]) {
      if (!l) continue;
      const sameHost = h === l.host.toLowerCase() || (h === 'localhost' && l.host === '127.0.0.1');
      if (sameHost && (port ?? 5060) === l.port) return true;
    }
    return false;
  }

  fallbackFlow(): Flow | undefined {
    const t = this.#transports;
    if (t.udp) return t.udp.flowTo('0.0.0.0', 0);
    return undefined;
  }

  /** Where in-dialog requests go: the route set, else the remote target; reuse the dialog's connection. */
  withFlowFor(d: Dialog, cb: (flow: Flow | undefined) => void): void {
    if (d.flow.reliable && !d.flow.closed) {
      cb(d.flow);
      return;
    }
    const first = d.routeSet[0];
    const target = first ? (parseNameAddrSafe(first)?.uri ?? d.remoteTarget) : d.remoteTarget;
    this.withFlow(target, d.flow, cb);
  }

  /**
   * Find (or open) the flow to reach a URI. Synchronous for IP literals and known aliases so the order
   * of app commands is kept; hostnames go through the resolver.
   */
  withFlow(uriText: string, preferred: Flow | undefined, cb: (flow: Flow | undefined) => void): void {
    const uri = tryParseSipUri(uriText);
    if (!uri) {
      cb(undefined);
      return;
    }
    const transportParam = String(getParam(uri.params, 'transport') ?? '').toLowerCase();
    let transport: TransportName =
      uri.scheme === 'sips'
        ? 'tls'
        : transportParam === 'tcp'
          ? 'tcp'
          : transportParam === 'tls'
            ? 'tls'
            : transportParam === 'ws'
              ? 'ws'
              : transportParam === 'wss'
                ? 'wss'
                : 'udp';
    if (transport === 'udp' && !this.#transports.udp && this.#transports.tcp) transport = 'tcp';
    const host = uri.host.toLowerCase();
    // An alias is a connection the target announced itself over. Use it only for the transport the URI
    // asks for (a `.invalid` host can only be reached over its WebSocket, whatever the URI says): a
    // UDP Contact must not be sent over a TCP connection the same host:port happened to open earlier.
    const alias =
      this.#flows.byAlias(uri.host, uri.port) ??
      (uri.port === undefined ? undefined : this.#flows.byAlias(uri.host, undefined));
    if (alias && (host.endsWith('.invalid') || alias.transport === transport)) {
      cb(alias);
      return;
    }
    if (host.endsWith('.invalid')) {
      cb(undefined);
      return;
    }
    if (transport === 'ws' || transport === 'wss') {
      // Browsers cannot be dialled; only an existing connection from the same address would do.
      cb(preferred && !preferred.closed && preferred.transport === transport ? preferred : undefined);
      return;
    }
    const port = uri.port ?? (transport === 'tls' ? 5061 : 5060);
    const connectTo = (ip: string) => {
      if (
        preferred &&
        !preferred.closed &&
        preferred.transport === transport &&
        preferred.remote.host === ip &&
        preferred.remote.port === port
      )
        return preferred;
      if (transport === 'udp') return this.#transports.udp?.flowTo(ip, port);
      if (transport === 'tcp') return this.#transports.tcp?.connect(ip, port);
      return this.#transports.tls?.connect(ip, port);
    };
    let ip = host.startsWith('[') ? host.slice(1, -1) : host;
    if (ip === 'localhost') ip = '127.0.0.1';
    if (net.isIP(ip)) {
      cb(connectTo(ip));
      return;
    }
    dns.lookup(ip, { family: 4 }, (err, address) => {
      if (this.#isClosed()) return;
      if (err || !address) {
        this.#log.info('cannot resolve request target', { host: ip, err: err?.code });
        cb(undefined);
        return;
      }
      cb(connectTo(address));
    });
  }
}
