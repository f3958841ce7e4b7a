import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '@conclave/log';
import type { Flow, FlowTable, HostPort, TransportName } from './flow.ts';
import type { InboundHandler } from './udp.ts';

export interface WsTransportOptions {
  secure: boolean;
  tlsOptions?: tls.TlsOptions;
  maxMessageSize: number;
}

/** One WebSocket connection (RFC 7118): one SIP message per text frame. */
class WsFlow implements Flow {
  readonly id: string;
  readonly transport: TransportName;
  readonly local: HostPort;
  readonly remote: HostPort;
  readonly reliable = true;
  readonly ws: WebSocket;
  #closed = false;

  constructor(transport: TransportName, ws: WebSocket, local: HostPort, remote: HostPort) {
    this.transport = transport;
    this.ws = ws;
    this.local = local;
    this.remote = remote;
    this.id = `${transport}|${remote.host}|${remote.port}|${Math.random().toString(36).slice(2, 8)}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  markClosed(): void {
    this.#closed = true;
  }

  send(data: Buffer): boolean {
    if (this.#closed || this.ws.readyState !== this.ws.OPEN) return false;
    // Text frames, as drachtio (sofia) sends them; SIP over WS peers expect UTF-8 text.
    this.ws.send(data.toString('utf8'));
    return true;
  }
}

export class WsTransport {
  readonly #opts: WsTransportOptions;
  readonly #log: Logger;
  readonly #onMessage: InboundHandler;
  readonly #flows: FlowTable;
  readonly #http: http.Server | https.Server;
  readonly #wss: WebSocketServer;
  readonly #conns = new Set<WebSocket>();
  #local: HostPort = { host: '', port: 0 };
  #closed = false;
  onFlowClosed: (flow: Flow) => void = () => {};
  admit: (remoteAddress: string) => boolean = () => true;

  constructor(opts: WsTransportOptions, flows: FlowTable, log: Logger, onMessage: InboundHandler) {
    this.#opts = opts;
    this.#flows = flows;
    this.#log = log;
    this.#onMessage = onMessage;
    const reject = (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close' });
      res.end('SIP over WebSocket endpoint: upgrade required\n');
    };
    this.#http = opts.secure ? https.createServer(opts.tlsOptions ?? {}, reject) : http.createServer(reject);
    this.#http.on('error', (err) => this.#log.warn('ws server error', { err }));
    this.#http.on('clientError', (err, socket: net.Socket) => {
      this.#log.debug('ws http client error', { err });
      socket.destroy();
    });
    this.#wss = new WebSocketServer({
      server: this.#http,
      perMessageDeflate: false,
      maxPayload: opts.maxMessageSize,
      clientTracking: false,
      // RFC 7118: the subprotocol is "sip"; accept clients that do not offer it rather than refuse them.
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
      verifyClient: (info: { req: http.IncomingMessage }) => {
        const addr = info.req.socket.remoteAddress ?? '';
        if (this.#closed) return false;
        if (!this.admit(addr)) {
          this.#log.warn('ws connection refused: limit reached', { from: addr });
          return false;
        }
        return true;
      },
    });
    this.#wss.on('connection', (ws, req) => this.#accept(ws, req));
    this.#wss.on('error', (err) => this.#log.warn('ws error', { err }));
  }

  get local(): HostPort {
    return this.#local;
  }

  get connectionCount(): number {
    return this.#conns.size;
  }

  listen(host: string, port: number): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#http.once('error', onError);
      this.#http.listen(port, host, () => {
        this.#http.off('error', onError);
        const a = this.#http.address() as net.AddressInfo;
        this.#local = { host, port: a.port };
        resolve(this.#local);
      });
    });
  }

  #accept(ws: WebSocket, req: http.IncomingMessage): void {
    const remote = {
      host: (req.socket.remoteAddress ?? '0.0.0.0').replace(/^::ffff:/, ''),
      port: req.socket.remotePort ?? 0,
    };
    const flow = new WsFlow(this.#opts.secure ? 'wss' : 'ws', ws, this.#local, remote);
    this.#conns.add(ws);
    this.#flows.add(flow);
    this.#log.debug('ws connection', { remote: `${remote.host}:${remote.port}`, protocol: ws.protocol });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      // RFC 7118 §6: CRLF keep-alives may also arrive over WebSocket; ignore them.
      if (buf.length <= 4 && /^[\r\n]*$/.test(buf.toString('latin1'))) return;
      try {
        this.#onMessage(buf, flow);
      } catch (err) {
        this.#log.error('ws message handler failed', { err });
      }
    });
    ws.on('error', (err) => this.#log.debug('ws connection error', { err }));
    ws.on('close', () => {
      flow.markClosed();
      this.#conns.delete(ws);
      this.#flows.remove(flow);
      this.onFlowClosed(flow);
    });
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const ws of this.#conns) ws.terminate();
    return new Promise((resolve) => {
      this.#wss.close(() => {
        this.#http.close(() => resolve());
        this.#http.closeAllConnections?.();
      });
    });
  }
}
