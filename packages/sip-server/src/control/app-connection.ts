import type net from 'node:net';
import type { Logger } from '@conclave/log';
import { newUuid } from '../ids.ts';
import { frame, WireFramer, WireFramingError } from './wire-framer.ts';

/** A parsed app→server message: `<msgId>|<type>|<args...>` plus the text after the first CRLF. */
export interface AppCommand {
  msgId: string;
  type: string;
  args: string[];
  /** Everything after the first CRLF (a SIP message for `sip`/`proxy`), '' if none. */
  body: string;
}

export function parseAppCommand(payload: string): AppCommand | undefined {
  const crlf = payload.indexOf('\r\n');
  const leader = crlf < 0 ? payload : payload.slice(0, crlf);
  const body = crlf < 0 ? '' : payload.slice(crlf + 2);
  const tokens = leader.split('|');
  if (tokens.length < 2 || !tokens[0] || !tokens[1]) return undefined;
  return { msgId: tokens[0], type: tokens[1], args: tokens.slice(2), body };
}

/**
 * One drachtio-srf application connected to the control port (or, in outbound mode, the connection
 * the server opened to an app). Knows framing, authentication state and its routes; what the
 * commands mean is up to the owner (the `onCommand` callback).
 */
export class AppConnection {
  readonly id: string;
  readonly socket: net.Socket;
  readonly remote: string;
  readonly log: Logger;
  authenticated = false;
  tags: string[] = [];
  readonly routes = new Set<string>();
  /** Outbound mode: the server opened this connection to hand over one incoming request. */
  outbound = false;
  #closed = false;
  readonly #framer = new WireFramer();
  onCommand: (cmd: AppCommand) => void = () => {};
  onClose: () => void = () => {};

  constructor(socket: net.Socket, log: Logger) {
    this.id = newUuid();
    this.socket = socket;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.log = log.child({ app: this.id.slice(0, 8), remote: this.remote });
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.log.debug('app socket error', { err }));
    socket.on('close', () => {
      this.#closed = true;
      this.onClose();
    });
  }

  get closed(): boolean {
    return this.#closed || this.socket.destroyed;
  }

  #onData(chunk: Buffer): void {
    let payloads: string[];
    try {
      payloads = this.#framer.push(chunk);
    } catch (err) {
      this.log.warn('invalid framing from app, closing connection', {
        err: err instanceof WireFramingError ? err.message : err,
      });
      this.socket.destroy();
      return;
    }
    for (const p of payloads) {
      if (this.#closed) return;
      const cmd = parseAppCommand(p);
      if (!cmd) {
        this.log.warn('unparseable app message', { text: p.slice(0, 120) });
        continue;
      }
      try {
        this.onCommand(cmd);
      } catch (err) {
        this.log.error('app command handler failed', { err, type: cmd.type });
        this.respond(cmd.msgId, 'NOK', 'internal error');
      }
    }
  }

  /** Send `<newId>|<payload>`; returns the message id used. */
  send(payload: string): string {
    const id = newUuid();
    if (this.closed) return id;
    this.socket.write(frame(`${id}|${payload}`));
    return id;
  }

  /** `<id>|response|<reqId>|<fields...>` */
  respond(reqId: string, ...fields: string[]): void {
    this.send(['response', reqId, ...fields].join('|'));
  }

  /** Refuse a command: `<id>|response|<reqId>|NOK|<reason>`. */
  refuse(reqId: string, reason: string): void {
    this.respond(reqId, 'NOK', reason);
  }

  /** Half-close after pending writes, then destroy if the peer lingers. */
  close(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), 1000);
    t.unref();
  }

  destroy(): void {
    this.#closed = true;
    this.socket.destroy();
  }
}
