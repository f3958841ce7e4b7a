/**
 * drachtio wire framing: `<utf8-byte-length>#<payload>`, frames back to back on one TCP stream.
 */
export class WireFramingError extends Error {}

export class WireFramer {
  #buf: Buffer = Buffer.alloc(0);
  readonly #maxFrame: number;

  constructor(maxFrame = 1024 * 1024) {
    this.#maxFrame = maxFrame;
  }

  /** Returns the complete payloads in the chunk; throws WireFramingError if the stream is garbage. */
  push(chunk: Buffer): string[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: string[] = [];
    for (;;) {
      const hash = this.#buf.indexOf(0x23); // '#'
      if (hash < 0) {
        if (this.#buf.length > 12) throw new WireFramingError('missing length prefix');
        break;
      }
      const lenText = this.#buf.subarray(0, hash).toString('latin1');
      if (!/^\d{1,10}$/.test(lenText)) throw new WireFramingError(`invalid length prefix '${lenText.slice(0, 20)}'`);
      const len = Number(lenText);
      if (len <= 0 || len > this.#maxFrame) throw new WireFramingError(`invalid frame length ${len}`);
      if (this.#buf.length < hash + 1 + len) break;
      out.push(this.#buf.subarray(hash + 1, hash + 1 + len).toString('utf8'));
      this.#buf = this.#buf.subarray(hash + 1 + len);
    }
    return out;
  }
}

export function frame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}#`, 'latin1'), body]);
}
