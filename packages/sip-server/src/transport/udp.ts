import dgram from 'node:dgram';
import type { Logger } from '@conclave/log';
import type { Flow, HostPort } from './flow.ts';

export type InboundHandler = (data: Buffer, flow: Flow) => void;

/** One UDP socket; every datagram is one SIP message. A flow is simply the peer address. */
export class UdpTransport {
  readonly #socket: dgram.Socket;
  readonly #log: Logger;
  readonly #onMessage: InboundHandler;
  #local: HostPort = { host: '', port: 0 };
  #closed = false;

  constructor(host: string, log: Logger, onMessage: InboundHandler) {
    this.#socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    this.#log = log;
    this.#onMessage = onMessage;
    this.#socket.on('message', (msg, rinfo) => {
      if (this.#closed) return;
      try {
        this.#onMessage(msg, this.flowTo(rinfo.address, rinfo.port));
      } catch (err) {
        this.#log.error('udp message handler failed', { err, from: `${rinfo.address}:${rinfo.port}` });
      }
    });
    this.#socket.on('error', (err) => this.#log.warn('udp socket error', { err }));
  }

  get local(): HostPort {
    return this.#local;
  }

  listen(host: string, port: number): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#socket.once('error', onError);
      this.#socket.bind(port, host, () => {
        this.#socket.off('error', onError);
        const a = this.#socket.address();
        this.#local = { host, port: a.port };
        resolve(this.#local);
      });
    });
  }

  flowTo(host: string, port: number): Flow {
    const isClosed = () => this.#closed;
    return {
      id: `udp|${host}|${port}`,
      transport: 'udp',
      local: this.#local,
      remote: { host, port },
      reliable: false,
      get closed() {
        return isClosed();
      },
      send: (data: Buffer) => this.#send(data, host, port),
    };
  }

  #send(data: Buffer, host: string, port: number): boolean {
    if (this.#closed) return false;
    this.#socket.send(data, port, host, (err) => {
      if (err) this.#log.warn('udp send failed', { err, to: `${host}:${port}` });
    });
    return true;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
