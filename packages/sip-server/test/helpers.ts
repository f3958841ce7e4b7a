/** Shared test fixtures: a server on ephemeral ports, real drachtio-srf apps, raw SIP peers, a wire tap. */
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Srf from 'drachtio-srf';
import { createLogger, type Logger } from '@conclave/log';
import {
  parseMessage,
  SipStreamFramer,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '@conclave/sip-message';
import { SipServer, type SipServerAddresses, type SipServerOptions } from '../src/index.ts';

export const SECRET = 'cymru';

/**
 * The reference recordings of a real drachtio-server: `../shared/drachtio-transcripts` next to the clone
 * (`CONCLAVE_SHARED_DIR` overrides the shared folder). Not part of the repository; undefined when absent,
 * so tests that need them skip with the reason.
 */
export function referenceTranscriptsDir(): string | undefined {
  const shared =
    process.env['CONCLAVE_SHARED_DIR'] ?? join(fileURLToPath(new URL('../../../', import.meta.url)), '..', 'shared');
  const dir = join(shared, 'drachtio-transcripts');
  return existsSync(dir) ? dir : undefined;
}

export interface LogCapture {
  logger: Logger;
  lines: string[];
}

export function testLogger(): LogCapture {
  const lines: string[] = [];
  const level = (process.env['TEST_LOG_LEVEL'] as 'debug' | 'info' | 'warn' | undefined) ?? undefined;
  const logger = createLogger('sip-server', {
    level: 'debug',
    sink: (line) => {
      lines.push(line);
      if (
        level &&
        (level === 'debug' ||
          (level === 'info' && !line.includes(' DEBUG ')) ||
          (level === 'warn' && (line.includes(' WARN ') || line.includes(' ERROR '))))
      )
        process.stderr.write(line + '\n');
    },
  });
  return { logger, lines };
}

export async function startServer(
  extra: Partial<SipServerOptions> = {},
): Promise<{ server: SipServer; addrs: SipServerAddresses; log: LogCapture }> {
  const log = testLogger();
  const server = new SipServer({
    listen: {
      udp: { host: '127.0.0.1', port: 0 },
      tcp: { host: '127.0.0.1', port: 0 },
      ws: { host: '127.0.0.1', port: 0 },
    },
    control: { host: '127.0.0.1', port: 0, secret: SECRET },
    logger: log.logger,
    ...extra,
  });
  const addrs = await server.start();
  return { server, addrs, log };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The part of drachtio-srf the tests use. srf's bundled typings lag its API (no options()/register()/
 * subscribe(), partial Dialog), so tests go through this loose facade instead.
 */
export interface AppReq {
  method: string;
  uri: string;
  body: string;
  protocol: string;
  source_address: string;
  get(name: string): string;
  has(name: string): boolean;
  on(event: string, fn: (...args: any[]) => void): void;
}
export interface AppRes {
  send(status: number, ...rest: any[]): void;
}
type Handler = (req: AppReq, res: AppRes) => void;
/** A response an app got for a request it sent. */
export interface AppResponse {
  status: number;
  reason: string;
  body: string;
  get(name: string): string;
}
/** A request an app sent out of dialog (srf.request): its response arrives as an event. */
export interface AppSentRequest {
  on(event: 'response', fn: (res: AppResponse) => void): void;
}
/** An srf Dialog (createUAS / createUAC / createB2BUA). */
export interface AppDialog {
  id: string;
  on(event: string, fn: (...args: any[]) => void): void;
  modify(sdp: string): Promise<unknown>;
  request(opts: { method: string; headers?: Record<string, string>; body?: string }): Promise<AppResponse>;
  destroy(opts?: unknown): Promise<void>;
}
export interface LooseSrf {
  invite(h: Handler): void;
  options(h: Handler): void;
  register(h: Handler): void;
  subscribe(h: Handler): void;
  refer(h: Handler): void;
  message(h: Handler): void;
  createUAS(req: AppReq, res: AppRes, opts: any): Promise<AppDialog>;
  createUAC(uri: string, opts: any, cbs?: any): Promise<AppDialog>;
  createB2BUA(req: AppReq, res: AppRes, uri: string, opts: any): Promise<{ uas: AppDialog; uac: AppDialog }>;
  request(uri: string, opts: any): Promise<AppSentRequest>;
  on(event: string, fn: (...args: any[]) => void): void;
  connect(opts: any): void;
  disconnect(): void;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface ConnectedSrf {
  srf: LooseSrf;
  hostport: string;
  version: string;
  close(): void;
}

/** A drachtio-srf app connected to the control port; resolves once authenticated. */
export function connectSrf(
  control: { host: string; port: number },
  secret = SECRET,
  setup?: (srf: LooseSrf) => void,
): Promise<ConnectedSrf> {
  const srf = new Srf() as unknown as LooseSrf;
  setup?.(srf);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('srf did not connect')), 3000);
    srf.on('connect', (err: Error | null, hostport: string, version: string) => {
      clearTimeout(timer);
      if (err) {
        stopReconnecting(srf);
        return reject(err);
      }
      resolve({
        srf,
        hostport,
        version,
        close: () => {
          stopReconnecting(srf);
          try {
            srf.disconnect();
          } catch {
            // already disconnected
          }
        },
      });
    });
    srf.on('error', () => {});
    srf.connect({ host: control.host, port: control.port, secret });
  });
}

/** srf retries a refused connection forever; tests must stop that to let the process exit. */
export function stopReconnecting(srf: LooseSrf): void {
  const wp = (
    srf as unknown as {
      _app?: {
        client?: {
          wp?: { closing?: boolean; reconnectVars?: { retryTimer?: NodeJS.Timeout }; socket?: { destroy(): void } };
        };
      };
    }
  )._app?.client?.wp;
  if (!wp) return;
  wp.closing = true;
  if (wp.reconnectVars?.retryTimer) clearTimeout(wp.reconnectVars.retryTimer);
}

/** Wait until `fn` returns something truthy (polling), or fail after `ms`. */
export async function waitFor<T>(fn: () => T | undefined | false | null, ms = 3000, what = 'condition'): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A scripted SIP endpoint on UDP: sends raw text, records every message received. */
export class UdpPeer {
  readonly socket = dgram.createSocket('udp4');
  readonly received: Array<{ msg: SipMessage; raw: string; at: number }> = [];
  port = 0;

  async bind(): Promise<this> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    this.port = this.socket.address().port;
    this.socket.on('message', (buf) => {
      try {
        this.received.push({ msg: parseMessage(buf), raw: buf.toString('utf8'), at: Date.now() });
      } catch {
        this.received.push({ msg: undefined as unknown as SipMessage, raw: buf.toString('utf8'), at: Date.now() });
      }
    });
    return this;
  }

  send(text: string, port: number, host = '127.0.0.1'): void {
    this.socket.send(Buffer.from(text.replace(/\r?\n/g, '\r\n').replace(/\r\n\r\n$/, '\r\n\r\n')), port, host);
  }

  sendRaw(buf: Buffer, port: number, host = '127.0.0.1'): void {
    this.socket.send(buf, port, host);
  }

  responses(pred: (r: SipResponse) => boolean = () => true): SipResponse[] {
    return this.received.map((x) => x.msg).filter((m): m is SipResponse => !!m && m.kind === 'response' && pred(m));
  }

  requests(pred: (r: SipRequest) => boolean = () => true): SipRequest[] {
    return this.received.map((x) => x.msg).filter((m): m is SipRequest => !!m && m.kind === 'request' && pred(m));
  }

  waitResponse(pred: (r: SipResponse) => boolean, ms = 3000): Promise<SipResponse> {
    return waitFor(() => this.responses(pred)[0], ms, 'response');
  }

  waitRequest(pred: (r: SipRequest) => boolean, ms = 3000): Promise<SipRequest> {
    return waitFor(() => this.requests(pred)[0], ms, 'request');
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

/** A raw TCP SIP client. */
export class TcpPeer {
  socket!: net.Socket;
  readonly received: SipMessage[] = [];
  readonly framer = new SipStreamFramer();

  async connect(port: number): Promise<this> {
    this.socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((r, j) => {
      this.socket.once('connect', () => r());
      this.socket.once('error', j);
    });
    this.socket.on('data', (c: Buffer) => {
      for (const ev of this.framer.push(c))
        if (ev.type === 'message') this.received.push(parseMessage(ev.data, { stream: true }));
    });
    this.socket.on('error', () => {});
    return this;
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  send(text: string): void {
    this.socket.write(text.replace(/\r?\n/g, '\r\n'));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Build a request with CRLFs; `body` gets a Content-Length. */
export function sipText(lines: string[], body = ''): string {
  const head = lines.filter((l) => l !== '').join('\r\n');
  return `${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export const SDP_A = [
  'v=0',
  'o=carol 1001 1001 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 41000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  'a=sendrecv',
  '',
].join('\r\n');
export const SDP_B = [
  'v=0',
  'o=drachtio-app 2002 2002 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 42000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  'a=sendrecv',
  '',
].join('\r\n');

/**
 * A man-in-the-middle on the control connection, like the one used to record the transcripts:
 * apps connect to `port`, frames in both directions are recorded.
 */
export class WireTap {
  readonly frames: Array<{ dir: 'app->server' | 'server->app'; payload: string }> = [];
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  port = 0;

  constructor(target: { host: string; port: number }) {
    this.#server = net.createServer((client) => {
      const upstream = net.connect(target);
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      const tapDir = (dir: 'app->server' | 'server->app') => {
        let buf = Buffer.alloc(0);
        return (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          for (;;) {
            const hash = buf.indexOf('#');
            if (hash < 0) break;
            const len = Number(buf.subarray(0, hash).toString());
            if (buf.length < hash + 1 + len) break;
            this.frames.push({ dir, payload: buf.subarray(hash + 1, hash + 1 + len).toString('utf8') });
            buf = buf.subarray(hash + 1 + len);
          }
        };
      };
      const a = tapDir('app->server');
      const b = tapDir('server->app');
      client.on('data', (c: Buffer) => {
        a(c);
        upstream.write(c);
      });
      upstream.on('data', (c: Buffer) => {
        b(c);
        client.write(c);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('error', () => {});
      upstream.on('error', () => {});
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.#server.address() as net.AddressInfo).port;
    return this;
  }

  /** Server→app `sip` messages (leader fields and the SIP text). */
  sipToApp(): Array<{ fields: string[]; sip: string }> {
    return this.frames
      .filter((f) => f.dir === 'server->app')
      .map((f) => {
        const i = f.payload.indexOf('\r\n');
        return {
          fields: (i < 0 ? f.payload : f.payload.slice(0, i)).split('|'),
          sip: i < 0 ? '' : f.payload.slice(i + 2),
        };
      });
  }

  close(): void {
    for (const s of this.#sockets) s.destroy();
    this.#server.close();
  }
}
