import { SipParseError } from './errors.ts';
import { findHeaderEnd } from './parser.ts';

export interface FramerOptions {
  /** Largest accepted message (headers + body); beyond it the stream is unrecoverable. Default 64 KiB. */
  maxMessageSize?: number;
}

export type FrameEvent =
  | { type: 'message'; data: Buffer }
  | { type: 'keepalive'; /** "ping" is CRLFCRLF (RFC 5626), "pong" a lone CRLF */ kind: 'ping' | 'pong' };

/**
 * Splits a TCP/TLS byte stream into SIP messages using Content-Length (RFC 3261 §18.3). Handles partial
 * and multiple messages per chunk and RFC 5626 CRLF keep-alives between messages. After an error
 * (`push` throws SipParseError) the stream has lost framing and must be closed.
 */
export class SipStreamFramer {
  #buf: Buffer = Buffer.alloc(0);
  readonly #max: number;

  constructor(options: FramerOptions = {}) {
    this.#max = options.maxMessageSize ?? 65536;
  }

  get buffered(): number {
    return this.#buf.length;
  }

  push(chunk: Buffer): FrameEvent[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: FrameEvent[] = [];
    for (;;) {
      // Keep-alives: CRLFCRLF ping, CRLF pong, only at message boundaries.
      let i = 0;
      while (i < this.#buf.length && (this.#buf[i] === 0x0d || this.#buf[i] === 0x0a)) i++;
      if (i > 0) {
        const ws = this.#buf.subarray(0, i).toString('latin1');
        // A partial keep-alive at the end of what we have: wait to see whether it becomes a ping.
        if (i === this.#buf.length && ws !== '\r\n\r\n' && '\r\n\r\n'.startsWith(ws)) break;
        const pings = ws.split('\r\n\r\n').length - 1;
        for (let p = 0; p < pings; p++) out.push({ type: 'keepalive', kind: 'ping' });
        if (pings === 0 && ws.includes('\n')) out.push({ type: 'keepalive', kind: 'pong' });
        this.#buf = this.#buf.subarray(i);
      }
      if (this.#buf.length === 0) break;
      const end = findHeaderEnd(this.#buf);
      if (!end) {
        if (this.#buf.length > this.#max)
          throw new SipParseError('Message Too Large', `no header end within ${this.#max} bytes`);
        break;
      }
      const head = this.#buf.subarray(0, end.index).toString('latin1');
      const m = /(?:^|\n)(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(head);
      const cl = m ? Number(m[1]) : 0;
      const total = end.index + end.sepLength + cl;
      if (total > this.#max) throw new SipParseError('Message Too Large', `${total} bytes`);
      if (this.#buf.length < total) break;
      out.push({ type: 'message', data: Buffer.from(this.#buf.subarray(0, total)) });
      this.#buf = this.#buf.subarray(total);
    }
    return out;
  }
}
