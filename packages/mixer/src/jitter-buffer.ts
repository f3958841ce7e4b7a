/**
 * Packets of one input ordered by RTP timestamp (serial-number arithmetic, RFC 1982), with duplicates
 * refused; and the RFC 3550 inter-arrival jitter, from which the input chooses its playout delay.
 */

export interface BufferedPacket {
  ts: number;
  payload: Uint8Array;
}

/** a - b for 32-bit RTP timestamps, as a signed difference. */
export function tsDiff(a: number, b: number): number {
  return (a - b) | 0;
}

const MAX_PACKETS = 64;

export class JitterBuffer {
  readonly #packets: BufferedPacket[] = [];
  readonly #clockRate: number;
  #lastTransit: number | undefined;
  /** RFC 3550 §6.4.1 inter-arrival jitter, in milliseconds. */
  jitterMs = 0;
  /** Arrival time of the oldest packet received since the buffer was last empty and idle. */
  firstArrival: number | undefined;

  constructor(clockRate: number) {
    this.#clockRate = clockRate;
  }

  get size(): number {
    return this.#packets.length;
  }

  /** Adds a packet; false if it duplicates one already held or the buffer is full. */
  push(ts: number, payload: Uint8Array, arrivalMs: number): boolean {
    const transit = arrivalMs - (ts >>> 0) * (1000 / this.#clockRate);
    if (this.#lastTransit !== undefined) {
      let d = Math.abs(transit - this.#lastTransit);
      // A timestamp wrap or a sender restart is not jitter.
      if (d > 1000) d = 0;
      this.jitterMs += (d - this.jitterMs) / 16;
    }
    this.#lastTransit = transit;
    const list = this.#packets;
    if (list.length >= MAX_PACKETS) return false;
    let i = list.length;
    while (i > 0 && tsDiff(list[i - 1]!.ts, ts) > 0) i--;
    if (i > 0 && list[i - 1]!.ts === ts) return false;
    list.splice(i, 0, { ts, payload });
    if (this.firstArrival === undefined) this.firstArrival = arrivalMs;
    return true;
  }

  peek(index = 0): BufferedPacket | undefined {
    return this.#packets[index];
  }

  shift(): BufferedPacket | undefined {
    return this.#packets.shift();
  }

  /** Timestamp span from `from` to the end of the newest packet's start. */
  spanFrom(from: number): number {
    const last = this.#packets[this.#packets.length - 1];
    return last ? tsDiff(last.ts, from) : 0;
  }

  clear(): void {
    this.#packets.length = 0;
    this.firstArrival = undefined;
  }
}
