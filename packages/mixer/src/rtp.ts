/**
 * The little of RTP (RFC 3550) the mixer's edges need: read a packet into header fields and a payload
 * view, and number an output's packets (one SSRC, consecutive sequence numbers, timestamps at the
 * codec's clock).
 */

export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** A view into the datagram (no copy). */
  payload: Uint8Array;
}

/** The packet, or undefined if it is not RTP version 2, is RTCP (RFC 5761), or is malformed. */
export function parseRtp(buf: Uint8Array): RtpPacket | undefined {
  if (buf.length < 12 || buf[0]! >> 6 !== 2) return undefined;
  const b1 = buf[1]!;
  if (b1 >= 192 + 0 && b1 <= 223) return undefined;
  let offset = 12 + (buf[0]! & 0x0f) * 4;
  if (buf[0]! & 0x10) {
    if (buf.length < offset + 4) return undefined;
    offset += 4 + ((buf[offset + 2]! << 8) | buf[offset + 3]!) * 4;
  }
  let end = buf.length;
  if (buf[0]! & 0x20) end -= buf[buf.length - 1]!;
  if (offset > end) return undefined;
  return {
    payloadType: b1 & 0x7f,
    marker: (b1 & 0x80) !== 0,
    sequenceNumber: (buf[2]! << 8) | buf[3]!,
    timestamp: ((buf[4]! << 24) | (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!) >>> 0,
    ssrc: ((buf[8]! << 24) | (buf[9]! << 16) | (buf[10]! << 8) | buf[11]!) >>> 0,
    payload: buf.subarray(offset, end),
  };
}

/** Numbers one outgoing stream. */
export class RtpPacketizer {
  readonly ssrc: number;
  #payloadType: number;
  #clockRate: number;
  #seq: number;
  #ts: number;
  #first = true;
  packets = 0;

  constructor(params: { payloadType: number; clockRate: number; ssrc?: number }) {
    this.#payloadType = params.payloadType;
    this.#clockRate = params.clockRate;
    this.ssrc = (params.ssrc ?? Math.floor(Math.random() * 0xfffffffe) + 1) >>> 0;
    this.#seq = Math.floor(Math.random() * 0x10000);
    this.#ts = Math.floor(Math.random() * 0x100000000);
  }

  get payloadType(): number {
    return this.#payloadType;
  }

  get clockRate(): number {
    return this.#clockRate;
  }

  /**
   * Another codec from now on (a re-INVITE changed it): same SSRC, the sequence numbers and the timestamp
   * continue, so the receiver sees one stream whose payload type changes (RFC 3550 §5.1).
   */
  setCodec(payloadType: number, clockRate: number): void {
    this.#payloadType = payloadType;
    this.#clockRate = clockRate;
  }

  /** The timestamp the next audio packet gets (an RFC 4733 event starting now uses it). */
  get timestamp(): number {
    return this.#ts;
  }

  /** Advances the timestamp without a packet (audio not sent while a telephone-event is). */
  skip(durationMs: number): void {
    this.#ts = (this.#ts + (durationMs * this.#clockRate) / 1000) >>> 0;
  }

  /**
   * A packet of another payload type in the same stream (RFC 4733 telephone-event: every packet of an
   * event carries the event's start `timestamp`); the sequence number continues, the timestamp stays.
   */
  packetizeWith(payload: Uint8Array, payloadType: number, timestamp: number, marker: boolean): Buffer {
    const buf = Buffer.allocUnsafe(12 + payload.length);
    buf[0] = 0x80;
    buf[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
    buf.writeUInt16BE(this.#seq, 2);
    buf.writeUInt32BE(timestamp >>> 0, 4);
    buf.writeUInt32BE(this.ssrc, 8);
    buf.set(payload, 12);
    this.#seq = (this.#seq + 1) & 0xffff;
    this.packets++;
    return buf;
  }

  /** A new datagram: 12-byte header + payload; the timestamp then advances by `durationMs`. */
  packetize(payload: Uint8Array, durationMs: number): Buffer {
    const buf = Buffer.allocUnsafe(12 + payload.length);
    buf[0] = 0x80;
    buf[1] = (this.#first ? 0x80 : 0) | this.#payloadType;
    buf.writeUInt16BE(this.#seq, 2);
    buf.writeUInt32BE(this.#ts, 4);
    buf.writeUInt32BE(this.ssrc, 8);
    buf.set(payload, 12);
    this.#first = false;
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#ts = (this.#ts + (durationMs * this.#clockRate) / 1000) >>> 0;
    this.packets++;
    return buf;
  }
}
