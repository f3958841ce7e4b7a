/**
 * One party's audio out of a room mixer: what it hears is the sum of every talker but itself, in its
 * codec and packet time. While its own input is not talking its packets are the payloads shared by
 * every such output of the same (codec, ptime); while it talks it gets a private mix (the sum minus its
 * own frame), with its own limiter and encoder.
 */
import {
  FRAME_MS,
  FRAME_SAMPLES,
  createEncoder,
  type CodecName,
  type EncoderOptions,
  type FrameEncoder,
} from './codecs.ts';
import { SoftLimiter } from './limiter.ts';
import type { MixerInput } from './mixer-input.ts';

/** Receives each packet's payload (shared with other outputs: do not modify it) and its duration. */
export type PayloadSink = (payload: Buffer, durationMs: number) => void;

export interface MixerOutputOptions {
  /** Packet time in ms, a multiple of 20 (default 20). */
  ptimeMs?: number;
  /** The input of the same party, whose audio this output must never contain. */
  ownInput?: MixerInput;
  onPayload: PayloadSink;
}

export type OutputMode = 'shared' | 'private' | 'waiting';

export class MixerOutput {
  readonly id: string;
  readonly codec: CodecName;
  readonly ptimeMs: number;
  readonly framesPerPacket: number;
  ownInput: MixerInput | undefined;
  readonly onPayload: PayloadSink;
  /** The mode for the packet being built: 'waiting' until the next packet boundary after joining. */
  mode: OutputMode = 'waiting';
  readonly #encoderOptions: EncoderOptions;
  #encoder: FrameEncoder | undefined;
  #limiter: SoftLimiter | undefined;
  readonly #pcm: Int16Array;
  #filled = 0;
  #closed = false;
  /** Queued private sound (confirmation tones), 16 kHz, played into this output only. */
  readonly #tones: Int16Array[] = [];
  #toneOffset = 0;
  packets = 0;
  privatePackets = 0;

  constructor(id: string, codec: CodecName, options: MixerOutputOptions, encoderOptions: EncoderOptions) {
    const ptime = options.ptimeMs ?? 20;
    if (!Number.isInteger(ptime / FRAME_MS) || ptime <= 0 || ptime > 120) {
      throw new Error(`mixer output ${id}: ptime ${ptime} ms is not a multiple of ${FRAME_MS} ms up to 120`);
    }
    this.id = id;
    this.codec = codec;
    this.ptimeMs = ptime;
    this.framesPerPacket = ptime / FRAME_MS;
    this.ownInput = options.ownInput;
    this.onPayload = options.onPayload;
    this.#encoderOptions = encoderOptions;
    this.#pcm = new Int16Array(FRAME_SAMPLES * this.framesPerPacket);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Plays `pcm` (16 kHz) to this party only, on top of what it hears (a menu's confirmation beep). While
   * it plays the output is private, so nobody else is affected.
   */
  playTone(pcm: Int16Array): void {
    if (this.#closed || pcm.length === 0) return;
    this.#tones.push(pcm);
  }

  /** Whether a tone is queued or playing. */
  get hasTone(): boolean {
    return this.#tones.length > 0;
  }

  /** Switches to its private mix for the rest of this packet, starting from what was shared so far. */
  beginPrivate(sharedSoFar: Int16Array, filled: number): void {
    this.mode = 'private';
    this.#pcm.set(sharedSoFar.subarray(0, filled));
    this.#filled = filled;
  }

  /** Adds this frame of its private mix (sum minus own frame), limited to 16 bits. */
  addPrivateFrame(sum: Int32Array, own: Int32Array, scratch: Int32Array): void {
    for (let i = 0; i < FRAME_SAMPLES; i++) scratch[i] = sum[i]! - own[i]!;
    this.#addTone(scratch);
    this.#limiter ??= new SoftLimiter();
    this.#limiter.process(scratch, this.#pcm.subarray(this.#filled, this.#filled + FRAME_SAMPLES));
    this.#filled += FRAME_SAMPLES;
  }

  #addTone(frame: Int32Array): void {
    let i = 0;
    while (i < FRAME_SAMPLES && this.#tones.length > 0) {
      const tone = this.#tones[0]!;
      const n = Math.min(FRAME_SAMPLES - i, tone.length - this.#toneOffset);
      for (let k = 0; k < n; k++) frame[i + k]! += tone[this.#toneOffset + k]!;
      i += n;
      this.#toneOffset += n;
      if (this.#toneOffset >= tone.length) {
        this.#tones.shift();
        this.#toneOffset = 0;
      }
    }
  }

  /** At the end of a private packet: encodes it with this output's own encoder and delivers it. */
  flushPrivate(): void {
    this.#encoder ??= createEncoder(this.codec, this.#encoderOptions);
    const payload = this.#encoder.encode(this.#pcm.subarray(0, this.#filled));
    this.#filled = 0;
    this.privatePackets++;
    this.deliver(payload);
  }

  deliver(payload: Buffer): void {
    this.packets++;
    this.onPayload(payload, this.ptimeMs);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#encoder?.close();
    this.#encoder = undefined;
  }
}
