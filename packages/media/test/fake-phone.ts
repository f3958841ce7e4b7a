/**
 * Test helper: a minimal plain-RTP phone in this process. It sends a G.711 µ-law sine tone (20 ms
 * packets, paced by the wall clock) and decodes what it receives, so tests can measure by Goertzel
 * which tones it hears, how loud, and when a tone first arrived (latency). Real UDP, real RTP.
 */
import dgram from 'node:dgram';
import { parse } from 'sdp-transform';
import { parseTelephoneEvent, telephoneEventPayloads } from '@conclave/mixer';

// ITU-T G.711 µ-law.
const BIAS = 0x84;
const CLIP = 32635;

export function linearToUlaw(sample: number): number {
  let s = Math.max(-CLIP, Math.min(CLIP, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

// ITU-T G.711 A-law (after Sun's reference g711.c).
const A_SEG_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

export function linearToAlaw(sample: number): number {
  let pcm = Math.max(-32768, Math.min(32767, Math.round(sample))) >> 3;
  let mask: number;
  if (pcm >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  const seg = A_SEG_END.findIndex((end) => pcm <= end);
  if (seg < 0) return 0x7f ^ mask;
  const aval = (seg << 4) | (seg < 2 ? (pcm >> 1) & 0x0f : (pcm >> seg) & 0x0f);
  return aval ^ mask;
}

export function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

/** Level of `hz` in `samples` (8 kHz, full scale ±32768), in dBFS of a sine's amplitude. */
export function goertzelDb(samples: Float64Array | number[], hz: number, rate = 8000): number {
  const n = samples.length;
  if (n === 0) return -Infinity;
  const k = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    // Hann window: a tone between bins still shows.
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    const s0 = samples[i]! * w + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  // Hann window halves the amplitude; a full-scale sine gives |X| = N/4.
  const amplitude = (Math.sqrt(Math.max(power, 0)) * 4) / n;
  return 20 * Math.log10(amplitude / 32768 + 1e-12);
}

export function rmsDb(samples: Float64Array | number[]): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  return 10 * Math.log10(sum / Math.max(1, samples.length) / (32768 * 32768) + 1e-12);
}

interface Frame {
  at: number;
  samples: Int16Array;
}

export class FakePhone {
  readonly name: string;
  readonly socket: dgram.Socket;
  readonly port: number;
  toneHz: number;
  readonly #amplitude: number;
  #remote: { address: string; port: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #seq = Math.floor(Math.random() * 65535);
  #ts = Math.floor(Math.random() * 2 ** 31);
  readonly #ssrc = Math.floor(Math.random() * 2 ** 31) + 1;
  #phase = 0;
  #startedAt = 0;
  #sentFrames = 0;
  #payloadType = 0;
  /** Send A-law (PT 8) instead of the first payload type of the leg's SDP. */
  sendAlaw = false;
  /** Received audio, newest last (kept for 10 s). */
  readonly frames: Frame[] = [];
  packetsReceived = 0;
  packetsSent = 0;
  /** When the send timer actually ran (to tell a starved test process from a media gap). */
  readonly #sendTimes: number[] = [];
  /** SSRCs and payload types seen (the stream must stay one SSRC). */
  readonly ssrcs = new Set<number>();
  readonly payloadTypes = new Set<number>();
  /** Sequence numbers must follow on from each other: count the jumps. */
  seqJumps = 0;
  /** RFC 4733 telephone-event packets received (any payload type other than PCMU/PCMA). */
  readonly events: {
    at: number;
    payloadType: number;
    ssrc: number;
    seq: number;
    ts: number;
    marker: boolean;
    digit: string | undefined;
    end: boolean;
    duration: number;
  }[] = [];
  /** Digits still to send as RFC 4733 (PT 101), and the event being sent. */
  readonly #dtmfDigits: string[] = [];
  #dtmfEvent: { payloads: Buffer[]; next: number; ts: number } | undefined;
  #lastSeq: number | undefined;

  private constructor(name: string, socket: dgram.Socket, toneHz: number, amplitude: number) {
    this.name = name;
    this.socket = socket;
    this.port = socket.address().port;
    this.toneHz = toneHz;
    this.#amplitude = amplitude;
    socket.on('message', (buf) => this.#onRtp(buf));
  }

  static async start(name: string, toneHz: number, amplitude = 0.3): Promise<FakePhone> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new FakePhone(name, socket, toneHz, amplitude * 32767);
  }

  /** A plain offer as a desk phone sends it (no rtpmap for static PTs, no a=ssrc, no rtcp-mux). */
  offer(direction = 'sendrecv'): string {
    return [
      'v=0',
      `o=${this.name} 1 ${Date.now() % 100000} IN IP4 127.0.0.1`,
      's=call',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.port} RTP/AVP 0 8 101`,
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      `a=${direction}`,
      '',
    ].join('\r\n');
  }

  /** Answers an offer from the leg (dial-out): PCMU (and PCMA too if `formats` says so). */
  answer(offer: string, formats = '0'): string {
    this.useRemote(offer);
    return [
      'v=0',
      `o=${this.name} 2 1 IN IP4 127.0.0.1`,
      's=call',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.port} RTP/AVP ${formats} 101`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=sendrecv',
      '',
    ].join('\r\n');
  }

  /** Sends to the address and port of the leg's SDP. */
  useRemote(sdp: string): void {
    const d = parse(sdp);
    const m = d.media.find((x) => x.type === 'audio' && Number(x.port) !== 0);
    if (!m) throw new Error(`${this.name}: no audio in ${sdp}`);
    this.#remote = { address: String((m.connection ?? d.connection)!.ip), port: Number(m.port) };
    this.#payloadType = Number(String(m.payloads).split(' ')[0]);
    if (this.sendAlaw) this.#payloadType = 8;
  }

  /** Starts sending 20 ms packets of the tone (silence if toneHz is 0). */
  startSending(): void {
    if (this.#timer) return;
    this.#startedAt = Date.now();
    this.#sentFrames = 0;
    this.#timer = setInterval(() => {
      const due = Math.floor((Date.now() - this.#startedAt) / 20);
      // Catch up after a late timer, but never burst more than 5 packets.
      if (due - this.#sentFrames > 5) this.#sentFrames = due - 5;
      const now = Date.now();
      this.#sendTimes.push(now);
      while (this.#sendTimes.length > 0 && now - this.#sendTimes[0]! > 10_000) this.#sendTimes.shift();
      while (this.#sentFrames < due) {
        this.#sendFrame();
        this.#sentFrames++;
      }
    }, 5);
  }

  stopSending(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Sends `digits` as RFC 4733 telephone-events (PT 101, 100 ms each, in place of the tone's packets). */
  sendDtmf(digits: string): void {
    this.#dtmfDigits.push(...digits);
  }

  /** Digits received as telephone-events, each once (by event timestamp), in order. */
  receivedDigits(): string[] {
    const seen = new Set<number>();
    const out: string[] = [];
    for (const e of this.events) {
      if (seen.has(e.ts) || e.digit === undefined) continue;
      seen.add(e.ts);
      out.push(e.digit);
    }
    return out;
  }

  /** The next telephone-event packet instead of audio, while digits are being sent. */
  #dtmfPacket(): Buffer | undefined {
    if (!this.#dtmfEvent) {
      const digit = this.#dtmfDigits.shift();
      if (digit === undefined) return undefined;
      this.#dtmfEvent = { payloads: telephoneEventPayloads(digit, 100), next: 0, ts: this.#ts };
    }
    const event = this.#dtmfEvent;
    const payload = event.payloads[event.next]!;
    const pkt = Buffer.alloc(12 + payload.length);
    pkt[0] = 0x80;
    pkt[1] = (event.next === 0 ? 0x80 : 0) | 101;
    pkt.writeUInt16BE(this.#seq, 2);
    pkt.writeUInt32BE(event.ts >>> 0, 4);
    pkt.writeUInt32BE(this.#ssrc, 8);
    payload.copy(pkt, 12);
    event.next++;
    if (event.next >= event.payloads.length) this.#dtmfEvent = undefined;
    return pkt;
  }

  #sendFrame(): void {
    if (!this.#remote) return;
    const dtmf = this.#dtmfPacket();
    if (dtmf) {
      this.#seq = (this.#seq + 1) & 0xffff;
      this.#ts = (this.#ts + 160) % 2 ** 32;
      this.socket.send(dtmf, this.#remote.port, this.#remote.address);
      this.packetsSent++;
      return;
    }
    const pkt = Buffer.alloc(12 + 160);
    pkt[0] = 0x80;
    pkt[1] = this.#payloadType;
    pkt.writeUInt16BE(this.#seq, 2);
    pkt.writeUInt32BE(this.#ts >>> 0, 4);
    pkt.writeUInt32BE(this.#ssrc, 8);
    const step = (2 * Math.PI * this.toneHz) / 8000;
    for (let i = 0; i < 160; i++) {
      const sample = this.toneHz > 0 ? this.#amplitude * Math.sin(this.#phase) : 0;
      this.#phase += step;
      pkt[12 + i] = this.#payloadType === 8 ? linearToAlaw(sample) : linearToUlaw(sample);
    }
    this.#phase %= 2 * Math.PI;
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#ts = (this.#ts + 160) % 2 ** 32;
    this.socket.send(pkt, this.#remote.port, this.#remote.address);
    this.packetsSent++;
  }

  #onRtp(buf: Buffer): void {
    if (buf.length < 12 || buf[0]! >> 6 !== 2) return;
    const pt = buf[1]! & 0x7f;
    if (pt >= 72 && pt <= 95) return; // RTCP
    this.packetsReceived++;
    this.ssrcs.add(buf.readUInt32BE(8));
    this.payloadTypes.add(pt);
    const seq = buf.readUInt16BE(2);
    if (this.#lastSeq !== undefined && seq !== ((this.#lastSeq + 1) & 0xffff)) this.seqJumps++;
    this.#lastSeq = seq;
    if (pt !== 0 && pt !== 8) {
      const ev = parseTelephoneEvent(buf.subarray(12 + (buf[0]! & 0x0f) * 4));
      if (ev)
        this.events.push({
          at: Date.now(),
          payloadType: pt,
          ssrc: buf.readUInt32BE(8),
          seq,
          ts: buf.readUInt32BE(4),
          marker: (buf[1]! & 0x80) !== 0,
          digit: ev.digit,
          end: ev.end,
          duration: ev.duration,
        });
      return;
    }
    const decode = pt === 8 ? alawToLinear : ulawToLinear;
    let offset = 12 + (buf[0]! & 0x0f) * 4;
    if (buf[0]! & 0x10) offset += 4 + buf.readUInt16BE(offset + 2) * 4;
    const samples = new Int16Array(buf.length - offset);
    for (let i = offset; i < buf.length; i++) samples[i - offset] = decode(buf[i]!);
    const now = Date.now();
    this.frames.push({ at: now, samples });
    while (this.frames.length > 0 && now - this.frames[0]!.at > 10_000) this.frames.shift();
  }

  /** The longest time (ms) the send timer did not run since `since`: over ~100 ms, this process was starved. */
  maxSendGap(since: number): number {
    const times = this.#sendTimes.filter((t) => t >= since);
    let max = 0;
    for (let i = 1; i < times.length; i++) max = Math.max(max, times[i]! - times[i - 1]!);
    return max;
  }

  /** Decoded samples of the last `ms` milliseconds. */
  recent(ms: number): Float64Array {
    const since = Date.now() - ms;
    const parts = this.frames.filter((f) => f.at >= since);
    const out = new Float64Array(parts.reduce((n, f) => n + f.samples.length, 0));
    let o = 0;
    for (const f of parts) {
      out.set(f.samples, o);
      o += f.samples.length;
    }
    return out;
  }

  /** Level (dBFS) of each frequency over the last `ms` milliseconds. */
  levels(hzs: number[], ms = 400): Record<number, number> {
    const samples = this.recent(ms);
    return Object.fromEntries(hzs.map((hz) => [hz, Math.round(goertzelDb(samples, hz))]));
  }

  /** Arrival time of the first 20 ms frame since `since` whose `hz` component is above `minDb`. */
  firstToneAt(hz: number, since: number, minDb = -30): number | undefined {
    for (const f of this.frames) {
      if (f.at < since) continue;
      if (goertzelDb(Float64Array.from(f.samples), hz) > minDb) return f.at;
    }
    return undefined;
  }

  close(): void {
    this.stopSending();
    this.socket.close();
  }
}

/** Polls until `phone` hears every tone in `hzs` above `minDb` on 3 consecutive reads. */
export async function waitForPhoneTones(
  phone: FakePhone,
  hzs: number[],
  { timeoutMs = 6000, minDb = -35, windowMs = 400 } = {},
): Promise<{ levels: Record<number, number>; ms: number }> {
  const started = Date.now();
  let streak = 0;
  const history: string[] = [];
  while (Date.now() - started < timeoutMs) {
    const levels = phone.levels(hzs, windowMs);
    history.push(JSON.stringify(levels));
    streak = hzs.every((hz) => levels[hz]! > minDb) ? streak + 1 : 0;
    if (streak >= 3) return { levels, ms: Date.now() - started };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${phone.name} did not hear ${hzs.join('+')} Hz within ${timeoutMs} ms (packets ${phone.packetsReceived}); levels: ${history.slice(-5).join(' | ')}`,
  );
}
