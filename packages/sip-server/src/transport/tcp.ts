import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '@conclave/log';
import { SipParseError, SipStreamFramer } from '@conclave/sip-message';
import type { Flow, FlowTable, HostPort, TransportName } from './flow.ts';
import type { InboundHandler } from './udp.ts';

export interface StreamTransportOptions {
  transport: 'tcp' | 'tls';
  maxMessageSize: number;
  /** Required for tls. */
  tlsOptions?: tls.TlsOptions;
  /** Connections with no traffic for this long are closed (ms). */
  idleTimeout: number;
}

/** A TCP (or TLS) connection carrying SIP, framed by Content-Length. */
class StreamFlow implements Flow {
  readonly id: string;
  readonly transport: TransportName;
  readonly local: HostPort;
  readonly remote: HostPort;
  readonly reliable = true;
  readonly socket: net.Socket;
  #closed = false;
  #connected: boolean;
  readonly #pending: Buffer[] = [];

  constructor(transport: TransportName, socket: net.Socket, local: HostPort, remote: HostPort, connected: boolean) {
    this.transport = transport;
    this.socket = socket;
    this.local = local;
    this.remote = remote;
    this.#connected = connected;
    this.id = `${transport}|${remote.host}|${remote.port}|${Math.random().toString(36).slice(2, 8)}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  markConnected(): void {
    this.#connected = true;
    for (const b of this.#pending.splice(0)) this.socket.write(b);
  }

  markClosed(): void {
    this.#closed = true;
    this.#pending.length = 0;
  }

  send(data: Buffer): boolean {
    if (this.#closed || this.socket.destroyed) return false;
    if (!this.#connected) {
      this.#pending.push(data);
      return true;
    }
    this.socket.write(data);
    return true;
  }
}

export class StreamTransport {
  readonly #opts: StreamTransportOptions;
  readonly #log: Logger;
  readonly #onMessage: InboundHandler;
  readonly #flows: FlowTable;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #local: HostPort = { host: '', port: 0 };
  #closed = false;
  /** Called when a connection closes so the owner can drop state tied to it. */
  onFlowClosed: (flow: Flow) => void = () => {};
  /** Decides whether a new inbound connection from this address is admitted. */
  admit: (remoteAddress: string) => boolean = () => true;

  constructor(opts: StreamTransportOptions, flows: FlowTable, log: Logger, onMessage: InboundHandler) {
    this.#opts = opts;
    this.#flows = flows;
    this.#log = log;
    this.#onMessage = onMessage;
    const onSocket = (socket: net.Socket) => this.#accept(socket);
    this.#server =
      opts.transport === 'tls' ? tls.createServer(opts.tlsOptions ?? {}, onSocket) : net.createServer(onSocket);
    this.#server.on('error', (err) => this.#log.warn(`${opts.transport} server error`, { err }));
    if (opts.transport === 'tls')
      this.#server.on('tlsClientError', (err) => this.#log.info('tls handshake failed', { err }));
  }

  get local(): HostPort {
    return this.#local;
  }

  get connectionCount(): number {
    return this.#sockets.size;
  }

  listen(host: string, port: number): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        const a = this.#server.address() as net.AddressInfo;
        this.#local = { host, port: a.port };
        resolve(this.#local);
      });
    });
  }

  #accept(socket: net.Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const remoteHost = socket.remoteAddress ?? '0.0.0.0';
    if (!this.admit(remoteHost)) {
      this.#log.warn(`${this.#opts.transport} connection refused: limit reached`, { from: remoteHost });
      socket.destroy();
      return;
    }
    const flow = new StreamFlow(
      this.#opts.transport,
      socket,
      this.#local,
      { host: remoteHost.replace(/^::ffff:/, ''), port: socket.remotePort ?? 0 },
      true,
    );
    this.#wire(flow);
  }

  /** An existing connection to host:port, or a new outbound one (messages queue until connected). */
  connect(host: string, port: number): Flow {
    const existing = this.#flows.byRemote(this.#opts.transport, host, port);
    if (existing) return existing;
    const socket =
      this.#opts.transport === 'tls'
        ? tls.connect({
            host,
            port,
            ...(this.#opts.tlsOptions as tls.ConnectionOptions),
            servername: net.isIP(host) ? undefined : host,
          })
        : net.connect({ host, port });
    const flow = new StreamFlow(this.#opts.transport, socket, this.#local, { host, port }, false);
    socket.once(this.#opts.transport === 'tls' ? 'secureConnect' : 'connect', () => flow.markConnected());
    this.#wire(flow);
    return flow;
  }

  #wire(flow: StreamFlow): void {
    const socket = flow.socket;
    this.#sockets.add(socket);
    this.#flows.add(flow);
    socket.setNoDelay(true);
    socket.setTimeout(this.#opts.idleTimeout);
    socket.on('timeout', () => {
      this.#log.debug(`${flow.transport} connection idle, closing`, {
        remote: `${flow.remote.host}:${flow.remote.port}`,
      });
      socket.destroy();
    });
    const framer = new SipStreamFramer({ maxMessageSize: this.#opts.maxMessageSize });
    socket.on('data', (chunk: Buffer) => {
      let events;
      try {
        events = framer.push(chunk);
      } catch (err) {
        this.#log.warn(`${flow.transport} stream unframeable, closing`, {
          err,
          remote: `${flow.remote.host}:${flow.remote.port}`,
        });
        if (err instanceof SipParseError && err.reason === 'Message Too Large') this.onTooLarge(flow);
        socket.destroy();
        return;
      }
      for (const ev of events) {
        if (ev.type === 'keepalive') {
          if (ev.kind === 'ping') flow.send(Buffer.from('\r\n'));
          continue;
        }
        try {
          this.#onMessage(ev.data, flow);
        } catch (err) {
          this.#log.error(`${flow.transport} message handler failed`, { err });
        }
      }
    });
    socket.on('error', (err) =>
      this.#log.debug(`${flow.transport} connection error`, { err, remote: `${flow.remote.host}:${flow.remote.port}` }),
    );
    socket.on('close', () => {
      flow.markClosed();
      this.#sockets.delete(socket);
      this.#flows.remove(flow);
      this.onFlowClosed(flow);
    });
  }

  /** Hook: a peer sent a message beyond the size limit (the owner may answer 513 before closing). */
  onTooLarge: (flow: Flow) => void = () => {};

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
