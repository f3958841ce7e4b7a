import net from 'node:net';
import os from 'node:os';
import type tls from 'node:tls';
import { EnhancedEventEmitter } from '@conclave/events';
import { createLogger, type Logger } from '@conclave/log';
import { Agent } from './agent.ts';
import type { OutboundRouter } from './outbound.ts';
import { AppConnection } from './control/app-connection.ts';
import { resolveLimits, type LimitOptions } from './limits.ts';
import type { AgentStats, SipConnectionCounts, SipServerStats } from './stats.ts';
import { resolveTimers, type SipTimerOptions } from './timers.ts';
import { FlowTable, type Flow, type HostPort } from './transport/flow.ts';
import { StreamTransport } from './transport/tcp.ts';
import { UdpTransport } from './transport/udp.ts';
import { WsTransport } from './transport/ws.ts';

/** Version reported to apps in the authenticate response (srf only checks it is >= v0.8.2). */
export const SERVER_VERSION = 'v0.9.10-conclave';

export interface ListenAddress {
  host: string;
  /** 0 = ephemeral. */
  port: number;
  /**
   * Address written into Via/Contact and reported to apps. Defaults to `host`, or to the first
   * non-internal IPv4 address when `host` is a wildcard (0.0.0.0 / ::).
   */
  publicHost?: string;
}

export interface SecureListenAddress extends ListenAddress {
  /** Certificate and key (PEM), passed to node:tls. */
  tls: tls.TlsOptions;
}

export interface SipServerOptions {
  listen: {
    udp?: ListenAddress;
    tcp?: ListenAddress;
    ws?: ListenAddress;
    tls?: SecureListenAddress;
    wss?: SecureListenAddress;
  };
  /** drachtio control port: drachtio-srf apps connect here with `srf.connect({host, port, secret})`. */
  control: { host: string; port: number; secret: string };
  logger?: Logger;
  /** T1/T2/T4 overrides (tests use small values to exercise retransmissions and timeouts quickly). */
  timers?: SipTimerOptions;
  limits?: LimitOptions;
  /**
   * Outbound connection mode, for apps that use `srf.listen()` instead of `srf.connect()`: new incoming
   * requests (of `methods`, default all) make the server connect to the app at host:port and hand the
   * request over on that connection. A function decides per request (return undefined to route as usual).
   * If the app cannot be reached or does not authenticate, the caller gets 480 (as with drachtio).
   */
  outbound?: { host: string; port: number; methods?: string[] } | OutboundRouter;
}

export interface SipServerAddresses {
  udp?: HostPort;
  tcp?: HostPort;
  ws?: HostPort;
  tls?: HostPort;
  wss?: HostPort;
  control: HostPort;
}

/** An app connected on the control port. */
export interface AppInfo {
  id: string;
  /** `address:port` of the app's TCP connection. */
  remote: string;
  tags: string[];
}

export interface SipServerEvents {
  'app:connected': [app: AppInfo];
  'app:disconnected': [app: AppInfo];
}

/**
 * Embedded, drachtio-protocol-compatible SIP server. Owns the SIP transports (UDP, TCP, WebSocket,
 * optionally TLS/WSS) and the control port that drachtio-srf apps connect to. Problems are logged,
 * never thrown after start(): there is deliberately no 'error' event.
 */
export class SipServer extends EnhancedEventEmitter<SipServerEvents> {
  readonly #opts: SipServerOptions;
  readonly #log: Logger;
  readonly #flows = new FlowTable();
  readonly #perSource = new Map<string, number>();
  #agent: Agent | undefined;
  #udp: UdpTransport | undefined;
  #tcp: StreamTransport | undefined;
  #tls: StreamTransport | undefined;
  #ws: WsTransport | undefined;
  #wss: WsTransport | undefined;
  #control: net.Server | undefined;
  #addresses: SipServerAddresses | undefined;
  #started = false;
  #closed = false;

  constructor(options: SipServerOptions) {
    super((err, event) => this.#log.error(`listener for ${event} threw`, { err }));
    this.#opts = options;
    this.#log = options.logger ?? createLogger('sip-server');
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bound addresses (after start()). */
  get addresses(): SipServerAddresses | undefined {
    return this.#addresses;
  }

  /** Live counts (transactions, dialogs, connections by transport …) for /metrics and leak checks. */
  stats(): SipServerStats {
    const a: AgentStats = this.#agent?.stats ?? {
      transactions: 0,
      serverTransactions: 0,
      clientTransactions: 0,
      pendingInvites: 0,
      pendingRequests: 0,
      pendingSources: 0,
      dialogs: 0,
      proxyOperations: 0,
      apps: 0,
      timers: 0,
    };
    const connections: SipConnectionCounts = { tcp: 0, tls: 0, ws: 0, wss: 0 };
    let flows = 0;
    for (const flow of this.#flows.all()) {
      if (flow.closed || flow.transport === 'udp') continue;
      connections[flow.transport]++;
      flows++;
    }
    return { ...a, connections, flows };
  }

  /** Bind every configured listener and the control port. Rejects (after cleaning up) if one fails. */
  async start(): Promise<SipServerAddresses> {
    if (this.#started) throw new Error('SipServer.start() called twice');
    if (this.#closed) throw new Error('SipServer is closed');
    this.#started = true;
    const o = this.#opts;
    const limits = resolveLimits(o.limits);
    const timers = resolveTimers(o.timers);
    const log = this.#log;
    const receive = (data: Buffer, flow: Flow) => this.#agent?.receive(data, flow);
    const addresses: Partial<SipServerAddresses> = {};
    try {
      if (o.listen.udp) {
        this.#udp = new UdpTransport(o.listen.udp.host, log.child('udp'), receive);
        const bound = await this.#udp.listen(o.listen.udp.host, o.listen.udp.port);
        addresses.udp = bound;
        advertise(this.#udp.local, o.listen.udp);
      }
      if (o.listen.tcp) {
        this.#tcp = new StreamTransport(
          { transport: 'tcp', maxMessageSize: limits.maxMessageSize, idleTimeout: limits.connectionIdleTimeout },
          this.#flows,
          log.child('tcp'),
          receive,
        );
        addresses.tcp = await this.#tcp.listen(o.listen.tcp.host, o.listen.tcp.port);
        advertise(this.#tcp.local, o.listen.tcp);
        this.#guardConnections(this.#tcp, limits.maxConnectionsPerSource);
      }
      if (o.listen.tls) {
        this.#tls = new StreamTransport(
          {
            transport: 'tls',
            maxMessageSize: limits.maxMessageSize,
            idleTimeout: limits.connectionIdleTimeout,
            tlsOptions: o.listen.tls.tls,
          },
          this.#flows,
          log.child('tls'),
          receive,
        );
        addresses.tls = await this.#tls.listen(o.listen.tls.host, o.listen.tls.port);
        advertise(this.#tls.local, o.listen.tls);
        this.#guardConnections(this.#tls, limits.maxConnectionsPerSource);
      }
      if (o.listen.ws) {
        this.#ws = new WsTransport(
          { secure: false, maxMessageSize: limits.maxMessageSize },
          this.#flows,
          log.child('ws'),
          receive,
        );
        addresses.ws = await this.#ws.listen(o.listen.ws.host, o.listen.ws.port);
        advertise(this.#ws.local, o.listen.ws);
        this.#guardConnections(this.#ws, limits.maxConnectionsPerSource);
      }
      if (o.listen.wss) {
        this.#wss = new WsTransport(
          { secure: true, tlsOptions: o.listen.wss.tls, maxMessageSize: limits.maxMessageSize },
          this.#flows,
          log.child('wss'),
          receive,
        );
        addresses.wss = await this.#wss.listen(o.listen.wss.host, o.listen.wss.port);
        advertise(this.#wss.local, o.listen.wss);
        this.#guardConnections(this.#wss, limits.maxConnectionsPerSource);
      }
      const transports: ConstructorParameters<typeof Agent>[0]['transports'] = {};
      if (this.#udp) transports.udp = this.#udp;
      if (this.#tcp) transports.tcp = this.#tcp;
      if (this.#tls) transports.tls = this.#tls;
      if (this.#ws) transports.ws = this.#ws;
      if (this.#wss) transports.wss = this.#wss;
      this.#agent = new Agent({
        log,
        timers,
        limits,
        flows: this.#flows,
        transports,
        secret: o.control.secret,
        version: SERVER_VERSION,
        ...(o.outbound ? { outbound: outboundRouter(o.outbound) } : {}),
        onAppConnected: (app) => this.safeEmit('app:connected', appInfo(app)),
        onAppDisconnected: (app) => this.safeEmit('app:disconnected', appInfo(app)),
      });
      addresses.control = await this.#listenControl(o.control.host, o.control.port);
    } catch (err) {
      await this.close();
      throw err;
    }
    this.#addresses = addresses as SipServerAddresses;
    log.info('sip server started', {
      udp: fmt(addresses.udp),
      tcp: fmt(addresses.tcp),
      ws: fmt(addresses.ws),
      tls: fmt(addresses.tls),
      wss: fmt(addresses.wss),
      control: fmt(addresses.control),
    });
    return this.#addresses;
  }

  #guardConnections(t: StreamTransport | WsTransport, max: number): void {
    t.admit = (addr) => {
      const n = this.#perSource.get(addr) ?? 0;
      if (max > 0 && n >= max) return false;
      this.#perSource.set(addr, n + 1);
      return true;
    };
    const prev = t.onFlowClosed;
    t.onFlowClosed = (flow) => {
      prev(flow);
      this.#agent?.flowClosed(flow);
      for (const key of [flow.remote.host, `::ffff:${flow.remote.host}`]) {
        const n = this.#perSource.get(key);
        if (n === undefined) continue;
        if (n <= 1) this.#perSource.delete(key);
        else this.#perSource.set(key, n - 1);
        break;
      }
    };
  }

  #listenControl(host: string, port: number): Promise<HostPort> {
    const server = net.createServer((socket) => {
      if (this.#closed || !this.#agent) {
        socket.destroy();
        return;
      }
      const app = new AppConnection(socket, this.#log.child('control'));
      this.#agent.attachApp(app);
    });
    this.#control = server;
    server.on('error', (err) => this.#log.warn('control port error', { err }));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const a = server.address() as net.AddressInfo;
        resolve({ host, port: a.port });
      });
    });
  }

  /** Stop listening, drop app connections and SIP connections. Idempotent; never throws. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#agent?.close();
    } catch (err) {
      this.#log.warn('error closing agent', { err });
    }
    const closing: Array<Promise<void>> = [];
    if (this.#control) {
      const c = this.#control;
      closing.push(new Promise((resolve) => c.close(() => resolve())));
    }
    for (const t of [this.#udp, this.#tcp, this.#tls, this.#ws, this.#wss]) {
      if (t) closing.push(t.close().catch((err: unknown) => this.#log.warn('error closing transport', { err })));
    }
    await Promise.all(closing);
    this.#log.info('sip server closed');
  }
}

function outboundRouter(o: NonNullable<SipServerOptions['outbound']>): OutboundRouter {
  if (typeof o === 'function') return o;
  const methods = o.methods?.map((m) => m.toUpperCase());
  return (info) =>
    !methods || methods.includes(info.method.toUpperCase()) ? { host: o.host, port: o.port } : undefined;
}

function appInfo(app: AppConnection): AppInfo {
  return { id: app.id, remote: app.remote, tags: [...app.tags] };
}

function fmt(a: HostPort | undefined): string | undefined {
  return a ? `${a.host}:${a.port}` : undefined;
}

/** Replace a wildcard bind address by one peers can reach (mutates the transport's local address). */
function advertise(local: HostPort, cfg: ListenAddress): void {
  if (cfg.publicHost) {
    local.host = cfg.publicHost;
    return;
  }
  if (local.host === '0.0.0.0' || local.host === '::' || local.host === '') {
    for (const list of Object.values(os.networkInterfaces())) {
      for (const i of list ?? []) {
        if (i.family === 'IPv4' && !i.internal) {
          local.host = i.address;
          return;
        }
      }
    }
    local.host = '127.0.0.1';
  }
}
