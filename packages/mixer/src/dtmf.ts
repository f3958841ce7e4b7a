/**
 * RFC 4733 telephone-events (DTMF digits in RTP): reading a phone's events into digits, once each, and
 * building the payloads that send a digit to a phone. All packets of one event share the RTP timestamp of
 * its start; the duration grows in each; the last three carry the E (end) bit (RFC 4733 §2.5.1.4).
 */

export const DTMF_DIGITS = '0123456789*#ABCD';

export interface TelephoneEvent {
  /** Event code: 0-9, 10 = *, 11 = #, 12-15 = A-D; others are not DTMF. */
  event: number;
  digit: string | undefined;
  end: boolean;
  /** Power of the tone, -dBm0 (0-63). */
  volume: number;
  /** Duration so far, in RTP clock units. */
  duration: number;
}

/** The event in an RFC 4733 payload, or undefined if it is too short. */
export function parseTelephoneEvent(payload: Uint8Array): TelephoneEvent | undefined {
  if (payload.length < 4) return undefined;
  const event = payload[0]!;
  return {
    event,
    digit: event < DTMF_DIGITS.length ? DTMF_DIGITS[event] : undefined,
    end: (payload[1]! & 0x80) !== 0,
    volume: payload[1]! & 0x3f,
    duration: (payload[2]! << 8) | payload[3]!,
  };
}

/** One telephone-event payload. */
export function telephoneEventPayload(digit: string, end: boolean, duration: number, volume = 10): Buffer {
  const event = DTMF_DIGITS.indexOf(digit.toUpperCase());
  if (event < 0 || digit.length !== 1) throw new RangeError(`not a DTMF digit: ${JSON.stringify(digit)}`);
  const buf = Buffer.alloc(4);
  buf[0] = event;
  buf[1] = (end ? 0x80 : 0) | (volume & 0x3f);
  buf.writeUInt16BE(Math.min(0xffff, Math.max(0, Math.round(duration))), 2);
  return buf;
}

/**
 * The payloads, one per packet time, that send `digit` for `durationMs` (RFC 4733: same timestamp for
 * all, the first with the marker bit, the final one repeated three times with the E bit).
 */
export function telephoneEventPayloads(digit: string, durationMs = 100, clockRate = 8000, packetMs = 20): Buffer[] {
  const out: Buffer[] = [];
  const step = (clockRate * packetMs) / 1000;
  const total = Math.max(step, Math.round((clockRate * durationMs) / 1000));
  for (let d = step; d < total; d += step) out.push(telephoneEventPayload(digit, false, d));
  for (let i = 0; i < 3; i++) out.push(telephoneEventPayload(digit, true, total));
  return out;
}

/**
 * Turns one stream's telephone-events into digits, each reported once, in order: an event is known by its
 * RTP timestamp, so the retransmitted end packets and the growing-duration updates of the same digit are
 * not new digits; a lost first packet does not lose the digit (any packet of a new timestamp reports it).
 */
export class DtmfReceiver {
  #lastTimestamp: number | undefined;

  /** The digit if this packet starts a new event, else undefined. */
  push(timestamp: number, payload: Uint8Array): string | undefined {
    const ev = parseTelephoneEvent(payload);
    if (!ev || ev.digit === undefined) return undefined;
    if (this.#lastTimestamp === timestamp) return undefined;
    // An older event's late packet (serial arithmetic) is not a new digit either.
    if (this.#lastTimestamp !== undefined && ((timestamp - this.#lastTimestamp) | 0) < 0) return undefined;
    this.#lastTimestamp = timestamp;
    return ev.digit;
  }
}

/** A sine beep at 16 kHz (the mixer's rate) with 5 ms fades, e.g. a menu's confirmation tone. */
export function beep(freq: number, ms: number, amplitude = 8000, sampleRate = 16000): Int16Array {
  const n = Math.round((sampleRate * ms) / 1000);
  const fade = Math.min(n / 2, Math.round(sampleRate * 0.005));
  return Int16Array.from({ length: n }, (_, i) => {
    const env = Math.min(1, i / fade, (n - 1 - i) / fade);
    return Math.round(amplitude * env * Math.sin((2 * Math.PI * freq * i) / sampleRate));
  });
}
