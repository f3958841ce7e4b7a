/**
 * A man-in-the-middle on the drachtio control port, as used to record the reference transcripts: apps
 * connect to the tap, the tap connects to the server, and every `<len>#<payload>` frame is recorded in
 * both directions with a timestamp and the index of the app connection.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface ControlFrame {
  /** Epoch milliseconds. */
  t: number;
  /** Which app connection (0, 1, … in connection order). */
  conn: number;
  dir: 'app->server' | 'server->app';
  payload: string;
}

export class ControlTap {
  readonly frames: ControlFrame[] = [];
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #conns = 0;
  port = 0;

  constructor(target: { host: string; port: number }) {
    this.#server = net.createServer((client) => {
      const conn = this.#conns++;
      const upstream = net.connect(target);
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      const toServer = this.#framer(conn, 'app->server');
      const toApp = this.#framer(conn, 'server->app');
      client.on('data', (c: Buffer) => {
        toServer(c);
        upstream.write(c);
      });
      upstream.on('data', (c: Buffer) => {
        toApp(c);
        client.write(c);
      });
      const drop = (s: net.Socket) => () => {
        this.#sockets.delete(s);
      };
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('close', drop(client));
      upstream.on('close', drop(upstream));
      client.on('error', () => {});
      upstream.on('error', () => {});
    });
  }

  #framer(conn: number, dir: ControlFrame['dir']): (chunk: Buffer) => void {
    let buf = Buffer.alloc(0);
    return (chunk) => {
      const t = performance.timeOrigin + performance.now();
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const hash = buf.indexOf('#');
        if (hash < 0) break;
        const len = Number(buf.subarray(0, hash).toString());
        if (!Number.isFinite(len)) {
          // Not the drachtio framing: record the rest as is and stop parsing this direction.
          this.frames.push({ t, conn, dir, payload: buf.toString('utf8') });
          buf = Buffer.alloc(0);
          break;
        }
        if (buf.length < hash + 1 + len) break;
        this.frames.push({ t, conn, dir, payload: buf.subarray(hash + 1, hash + 1 + len).toString('utf8') });
        buf = buf.subarray(hash + 1 + len);
      }
    };
  }

  async listen(host = '127.0.0.1'): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, host, () => resolve());
    });
    this.port = (this.#server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
