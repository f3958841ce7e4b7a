/**
 * One party's audio into a room mixer: a jitter buffer with an adaptive playout delay, decoding once,
 * packet-loss concealment (libopus' PLC/FEC, spandsp's PLC for G.711 and G.722), a gain, and the
 * level of each 20 ms frame (dBov, as RFC 6464) with a talk detector that says whether the input is in
 * the mix at all: only talkers are summed, so everyone else can share one encoded frame.
 */
import {
  FRAME_MS,
  FRAME_SAMPLES,
  MIX_RATE,
  createDecoder,
  rtpClockRate,
  type CodecName,
  type FrameDecoder,
} from './codecs.ts';
import { JitterBuffer, tsDiff } from './jitter-buffer.ts';
import { parseRtp } from './rtp.ts';
import { DtmfReceiver } from './dtmf.ts';

const STATIC_PAYLOAD_TYPES: Partial<Record<CodecName, number>> = { PCMU: 0, PCMA: 8, G722: 9 };

export interface MixerInputOptions {
  /**
   * RTP payload type of the codec; packets of other types are not audio for the mixer (pushRtp says so).
   * Default: the static type of G.711/G.722 (0, 8, 9); Opus has none, so an Opus input without it takes
   * every payload type but its telephone-event one.
   */
  payloadType?: number;
  /** Negotiated RFC 4733 telephone-event payload type: such packets become digits (onDtmf), not audio. */
  telephoneEventPayloadType?: number;
  /** Linear gain (1 = unchanged). */
  gain?: number;
  /** Smallest playout delay, ms (default 20): the margin for arrival jitter on a quiet network. */
  minDelayMs?: number;
  /** Largest playout delay, ms (default 200). */
  maxDelayMs?: number;
  /** Level above which the input counts as talking, dBov (default -50). */
  talkThresholdDbov?: number;
  /** How long an input stays a talker after its level fell, ms (default 300: the gaps between words). */
  talkHangoverMs?: number;
}

export interface MixerInputStats {
  packets: number;
  late: number;
  duplicates: number;
  concealedFrames: number;
  droppedForDelay: number;
  jitterMs: number;
  delayMs: number;
}

/** The lowest level reported, as RFC 6464 (-127 dBov = silence). */
export const SILENCE_DBOV = -127;
const MAX_CONCEAL_FRAMES = 5;
// A timestamp jump this far ahead is a new stream (sender restart, long DTX), not a loss.
const RESYNC_MS = 1000;
const ADAPT_WINDOW_FRAMES = 25;

export class MixerInput {
  readonly id: string;
  readonly codec: CodecName;
  readonly payloadType: number | undefined;
  readonly telephoneEventPayloadType: number | undefined;
  /** Called with each digit the party sends (RFC 4733), once per digit, in order. */
  onDtmf: ((digit: string) => void) | undefined;
  readonly #dtmf = new DtmfReceiver();
  /** This frame's contribution after gain, 32-bit so that a gain above 1 does not clip before the sum. */
  readonly frame = new Int32Array(FRAME_SAMPLES);
  gain: number;
  muted = false;
  readonly #decoder: FrameDecoder;
  readonly #buffer: JitterBuffer;
  readonly #rtpPerSample: number;
  readonly #rtpPerFrame: number;
  readonly #minDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #talkThreshold: number;
  readonly #hangoverFrames: number;
  readonly #fifo = new Int16Array(FRAME_SAMPLES * 8);
  #fifoLength = 0;
  #playing = false;
  #nextTs = 0;
  #delayMs: number;
  #concealed = 0;
  #minQueued = Infinity;
  #window = 0;
  #level = SILENCE_DBOV;
  /** Mean square of the frames since takeMeanLevel() was last called (active-speaker windows). */
  #powerSum = 0;
  #powerFrames = 0;
  #talking = false;
  #hangover = 0;
  #closed = false;
  readonly stats: MixerInputStats = {
    packets: 0,
    late: 0,
    duplicates: 0,
    concealedFrames: 0,
    droppedForDelay: 0,
    jitterMs: 0,
    delayMs: 0,
  };

  constructor(id: string, codec: CodecName, options: MixerInputOptions = {}) {
    this.id = id;
    this.codec = codec;
    this.payloadType = options.payloadType ?? STATIC_PAYLOAD_TYPES[codec];
    this.telephoneEventPayloadType = options.telephoneEventPayloadType;
    this.gain = options.gain ?? 1;
    this.#decoder = createDecoder(codec);
    const clock = rtpClockRate(codec);
    this.#buffer = new JitterBuffer(clock);
    this.#rtpPerSample = clock / MIX_RATE;
    this.#rtpPerFrame = (clock * FRAME_MS) / 1000;
    this.#minDelayMs = options.minDelayMs ?? 20;
    this.#maxDelayMs = options.maxDelayMs ?? 200;
    this.#delayMs = this.#minDelayMs;
    this.#talkThreshold = options.talkThresholdDbov ?? -50;
    this.#hangoverFrames = Math.round((options.talkHangoverMs ?? 300) / FRAME_MS);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Level of the last frame, dBov (0 = full scale, -127 = silence), after gain. */
  get level(): number {
    return this.#level;
  }

  /**
   * The level over every frame since the last call, dBov (mean power, as RFC 6464 averages), then starts
   * a new window: what an active-speaker detector polls every few hundred ms. -127 without frames.
   */
  takeMeanLevel(): number {
    const mean = this.#powerFrames > 0 ? this.#powerSum / this.#powerFrames : 0;
    this.#powerSum = 0;
    this.#powerFrames = 0;
    return mean > 0 ? Math.max(SILENCE_DBOV, Math.min(0, 10 * Math.log10(mean))) : SILENCE_DBOV;
  }

  /** Whether this input is summed into the mix this frame (talking and not muted). */
  get talking(): boolean {
    return this.#talking;
  }

  /**
   * Takes one RTP datagram; false if it is neither this input's audio nor its telephone-events (RTCP,
   * another payload type, malformed).
   */
  pushRtp(datagram: Uint8Array, arrivalMs = performance.now()): boolean {
    const p = parseRtp(datagram);
    if (!p) return false;
    if (p.payloadType === this.telephoneEventPayloadType) {
      const digit = this.#closed ? undefined : this.#dtmf.push(p.timestamp, p.payload);
      if (digit !== undefined) this.onDtmf?.(digit);
      return true;
    }
    if (this.payloadType !== undefined && p.payloadType !== this.payloadType) return false;
    this.push(p.timestamp, p.payload, arrivalMs);
    return true;
  }

  /** Takes one payload with its RTP timestamp. The payload is copied (datagram buffers are reused). */
  push(timestamp: number, payload: Uint8Array, arrivalMs = performance.now()): void {
    if (this.#closed || payload.length === 0) return;
    this.stats.packets++;
    // Late: it ends before what plays next (a packet overlapping it is misaligned, not late: see pull()).
    if (
      this.#playing &&
      tsDiff(timestamp, this.#nextTs) <= -this.#rtpPerFrame &&
      tsDiff(this.#nextTs, timestamp) < this.#rtpPerFrame * 50
    ) {
      this.stats.late++;
      return;
    }
    if (!this.#buffer.push(timestamp >>> 0, Uint8Array.from(payload), arrivalMs)) this.stats.duplicates++;
  }

  /**
   * Produces this tick's 20 ms into `frame` and updates level and talking. Called by the mixer once per
   * tick; returns whether the frame holds audio (played or concealed) rather than idle silence.
   */
  pull(nowMs: number): boolean {
    if (this.#closed) return false;
    const buffer = this.#buffer;
    if (!this.#playing) {
      const first = buffer.firstArrival;
      const head = buffer.peek();
      // Start once the oldest packet has waited the playout delay: that wait is the margin for jitter.
      if (!head || first === undefined || nowMs - first < this.#delayMs - 0.5) {
        this.#silence();
        return false;
      }
      this.#playing = true;
      this.#nextTs = head.ts;
      this.#concealed = 0;
    }
    while (this.#fifoLength < FRAME_SAMPLES) {
      let head = buffer.peek();
      while (head && tsDiff(head.ts, this.#nextTs) <= -this.#rtpPerFrame) {
        buffer.shift();
        this.stats.late++;
        head = buffer.peek();
      }
      if (head && tsDiff(head.ts, this.#nextTs) > (RESYNC_MS * this.#rtpPerFrame) / FRAME_MS) {
        this.#nextTs = head.ts;
        continue;
      }
      // Within a frame of where playout is: play it and follow its timestamps. Senders whose packets are
      // not spaced exactly by their duration exist (GStreamer's first Opus packet is shorter by the
      // encoder's look-ahead): requiring an exact match would call every later packet late.
      if (head && Math.abs(tsDiff(head.ts, this.#nextTs)) < this.#rtpPerFrame) {
        buffer.shift();
        const pcm = this.#decoder.decode(head.payload);
        if (pcm && pcm.length > 0) {
          this.#append(pcm);
          this.#nextTs = (head.ts + Math.round(pcm.length * this.#rtpPerSample)) >>> 0;
          this.#concealed = 0;
          continue;
        }
      }
      if (!head && this.#concealed >= MAX_CONCEAL_FRAMES) {
        // The talker stopped (or the stream died): idle until packets come again, then wait the delay.
        this.#goIdle();
        this.#silence();
        return false;
      }
      const next = head && tsDiff(head.ts, this.#nextTs) === this.#rtpPerFrame ? head.payload : undefined;
      this.#append(this.#decoder.conceal(FRAME_SAMPLES, next));
      // A later packet is here, so this one is lost: move on. Nothing is here: it is late, so wait for it
      // (the playout delay grows by a frame; #adaptDelay takes it back once the jitter allows).
      if (head) this.#nextTs = (this.#nextTs + this.#rtpPerFrame) >>> 0;
      this.#concealed++;
      this.stats.concealedFrames++;
    }
    this.#emitFrame();
    this.#adaptDelay();
    return true;
  }

  #append(pcm: Int16Array): void {
    const room = this.#fifo.length - this.#fifoLength;
    const n = Math.min(room, pcm.length);
    this.#fifo.set(pcm.subarray(0, n), this.#fifoLength);
    this.#fifoLength += n;
  }

  #emitFrame(): void {
    const f = this.frame;
    const fifo = this.#fifo;
    const g = this.muted ? 0 : this.gain;
    let energy = 0;
    if (g === 1) {
      for (let i = 0; i < FRAME_SAMPLES; i++) {
        const s = fifo[i]!;
        f[i] = s;
        energy += s * s;
      }
    } else {
      for (let i = 0; i < FRAME_SAMPLES; i++) {
        const s = Math.round(fifo[i]! * g);
        f[i] = s;
        energy += s * s;
      }
    }
    fifo.copyWithin(0, FRAME_SAMPLES, this.#fifoLength);
    this.#fifoLength -= FRAME_SAMPLES;
    this.#setLevel(energy);
  }

  #silence(): void {
    this.frame.fill(0);
    this.#setLevel(0);
  }

  #setLevel(energy: number): void {
    const meanSquare = energy / FRAME_SAMPLES / (32768 * 32768);
    this.#powerSum += meanSquare;
    this.#powerFrames++;
    this.#level = meanSquare > 0 ? Math.max(SILENCE_DBOV, Math.min(0, 10 * Math.log10(meanSquare))) : SILENCE_DBOV;
    if (this.#level > this.#talkThreshold && !this.muted) {
      this.#talking = true;
      this.#hangover = this.#hangoverFrames;
    } else if (this.#hangover > 0 && !this.muted) {
      this.#hangover--;
    } else {
      this.#talking = false;
    }
  }

  #goIdle(): void {
    this.#playing = false;
    this.#buffer.clear();
    this.#fifoLength = 0;
    // Adapt the delay at the start of each talkspurt: three times the jitter covers nearly all arrivals.
    this.#delayMs = Math.min(this.#maxDelayMs, Math.max(this.#minDelayMs, Math.ceil(3 * this.#buffer.jitterMs)));
  }

  /**
   * Keeps the playout delay near its target. Every half second, the least audio that was waiting after a
   * tick tells how much of the delay was never needed; half of that excess is dropped (packets skipped).
   * A burst far beyond the target loses a packet per tick.
   */
  #adaptDelay(): void {
    const perMs = this.#rtpPerFrame / FRAME_MS;
    const queued = this.#buffer.size > 0 ? this.#buffer.spanFrom(this.#nextTs) / perMs + FRAME_MS : 0;
    const target = Math.min(this.#maxDelayMs, Math.max(this.#minDelayMs, 3 * this.#buffer.jitterMs));
    this.#delayMs = target;
    this.stats.jitterMs = this.#buffer.jitterMs;
    this.stats.delayMs = target;
    if (queued < this.#minQueued) this.#minQueued = queued;
    const windowDone = ++this.#window >= ADAPT_WINDOW_FRAMES;
    let drop = queued > target + 3 * FRAME_MS ? 1 : 0;
    // Half the excess each window: a long stall's delay is gone within a few seconds, in small steps.
    if (windowDone && this.#minQueued >= target + FRAME_MS)
      drop = Math.ceil(Math.floor((this.#minQueued - target) / FRAME_MS) / 2);
    for (; drop > 0 && this.#buffer.size > 1; drop--) {
      this.#buffer.shift();
      this.stats.droppedForDelay++;
      this.#nextTs = this.#buffer.peek()!.ts;
    }
    if (windowDone) {
      this.#window = 0;
      this.#minQueued = Infinity;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffer.clear();
    this.#decoder.close();
    this.#talking = false;
    this.#level = SILENCE_DBOV;
  }
}
