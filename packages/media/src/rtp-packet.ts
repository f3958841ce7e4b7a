/**
 * The little of RTP (RFC 3550) a relay needs: read a packet's header fields, tell RTP from RTCP on a
 * muxed port (RFC 5761), and rewrite SSRC/sequence/timestamp so that a stream whose producer restarts
 * (a GStreamer pipeline replaced on a membership change) stays one continuous stream for its receiver.
 */

export interface RtpHeader {
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
}

/** The header of an RTP packet, or undefined if `buf` is not RTP version 2 (or is RTCP). */
export function readRtpHeader(buf: Buffer): RtpHeader | undefined {
  if (buf.length < 12 || buf[0]! >> 6 !== 2) return undefined;
  if (isRtcp(buf)) return undefined;
  return {
    payloadType: buf[1]! & 0x7f,
    marker: (buf[1]! & 0x80) !== 0,
    sequenceNumber: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
  };
}

/** RFC 5761 §4: RTCP packet types 192–223 (SR 200, RR 201, ...) on a muxed port. */
export function isRtcp(buf: Buffer): boolean {
  if (buf.length < 8 || buf[0]! >> 6 !== 2) return false;
  const pt = buf[1]!;
  return pt >= 192 && pt <= 223;
}

/** Byte offset of the payload (after CSRCs and the header extension), or -1 if the packet is malformed. */
export function rtpPayloadOffset(buf: Buffer): number {
  if (buf.length < 12) return -1;
  let offset = 12 + (buf[0]! & 0x0f) * 4;
  if (buf[0]! & 0x10) {
    if (buf.length < offset + 4) return -1;
    offset += 4 + buf.readUInt16BE(offset + 2) * 4;
  }
  let end = buf.length;
  if (buf[0]! & 0x20) end -= buf[buf.length - 1]!;
  return offset <= end ? offset : -1;
}

const SEQ_MOD = 0x10000;
const TS_MOD = 0x100000000;

/**
 * Maps packets from successive upstream "sources" (each with its own SSRC, sequence and timestamp
 * origin) onto one outgoing stream: fixed SSRC and payload type, sequence numbers that continue,
 * and timestamps that advance by the wall-clock time between the last packet of the old source and
 * the first of the new one. The first packet after a switch carries the marker bit (a new talkspurt),
 * which tells the receiver's jitter buffer to resynchronise.
 */
export class RtpRewriter {
  readonly ssrc: number;
  readonly #clockRate: number;
  readonly #payloadType: number | undefined;
  #source: string | undefined;
  #seqOffset = 0;
  #tsOffset = 0;
  #lastSeq: number | undefined;
  #lastTs = 0;
  #lastAt = 0;
  packets = 0;
  bytes = 0;

  constructor(params: { ssrc: number; clockRate: number; payloadType?: number }) {
    this.ssrc = params.ssrc >>> 0;
    this.#clockRate = params.clockRate;
    this.#payloadType = params.payloadType;
  }

  /** Rewrites `buf` in place (it must be RTP) and returns it. `source` identifies the upstream stream. */
  rewrite(buf: Buffer, source: string, now = Date.now()): Buffer {
    const seq = buf.readUInt16BE(2);
    const ts = buf.readUInt32BE(4);
    let marker = false;
    if (source !== this.#source) {
      this.#source = source;
      if (this.#lastSeq === undefined) {
        this.#seqOffset = 0;
        this.#tsOffset = 0;
      } else {
        const elapsed = Math.max(1, Math.round(((now - this.#lastAt) * this.#clockRate) / 1000));
        this.#seqOffset = (this.#lastSeq + 1 - seq + SEQ_MOD * 2) % SEQ_MOD;
        this.#tsOffset = (this.#lastTs + elapsed - ts + TS_MOD * 2) % TS_MOD;
      }
      marker = true;
    }
    const outSeq = (seq + this.#seqOffset) % SEQ_MOD;
    const outTs = (ts + this.#tsOffset) % TS_MOD;
    buf.writeUInt16BE(outSeq, 2);
    buf.writeUInt32BE(outTs, 4);
    buf.writeUInt32BE(this.ssrc, 8);
    let b1 = buf[1]!;
    if (this.#payloadType !== undefined) b1 = (b1 & 0x80) | this.#payloadType;
    if (marker) b1 |= 0x80;
    buf[1] = b1;
    // Remember the newest packet (serial-number arithmetic: a late, reordered packet does not move it back).
    if (this.#lastSeq === undefined || (outSeq - this.#lastSeq + SEQ_MOD) % SEQ_MOD < SEQ_MOD / 2) {
      this.#lastSeq = outSeq;
      this.#lastTs = outTs;
      this.#lastAt = now;
    }
    this.packets += 1;
    this.bytes += buf.length;
    return buf;
  }
}

/** A random non-zero 32-bit SSRC. */
export function randomSsrc(): number {
  return (Math.floor(Math.random() * 0xfffffffe) + 1) >>> 0;
}
