/**
 * The codecs a mixer input or output may use, each as a decoder to and an encoder from the mixer's
 * 16 kHz mono PCM. G.711 is a table (g711.ts) plus 2:1 resampling; G.722 and packet-loss concealment
 * are spandsp's; Opus is libopus, which decodes and encodes at 16 kHz itself.
 */
import { g711Decode, g711Encode, type G711Law } from './g711.ts';
import { KIND, NativeHandle, nativeCodecs } from './native.ts';
import { Downsampler, Upsampler } from './resampler.ts';

export type CodecName = 'PCMU' | 'PCMA' | 'G722' | 'opus';

/** The mixer's own rate and frame: 16 kHz (wideband: G.722 and Opus voice keep their band), 20 ms. */
export const MIX_RATE = 16000;
export const FRAME_MS = 20;
export const FRAME_SAMPLES = (MIX_RATE * FRAME_MS) / 1000;

/** RTP clock rate (RFC 3551; G.722's is 8000 by an old error kept for compatibility; Opus RFC 7587). */
export function rtpClockRate(codec: CodecName): number {
  return codec === 'opus' ? 48000 : 8000;
}

export function isCodecName(value: unknown): value is CodecName {
  return value === 'PCMU' || value === 'PCMA' || value === 'G722' || value === 'opus';
}

// Longest packet accepted: 120 ms (Opus' maximum; G.711 phones send 10-60 ms).
const MAX_PACKET_SAMPLES = (MIX_RATE * 120) / 1000;

/** Turns one codec's payloads into 16 kHz PCM; views returned are valid until the next call. */
export interface FrameDecoder {
  /** The decoded samples, or undefined if the payload is corrupt (the caller conceals instead). */
  decode(payload: Uint8Array): Int16Array | undefined;
  /** `samples` of concealment after a loss; `next` is the following packet when known (Opus FEC). */
  conceal(samples: number, next?: Uint8Array): Int16Array;
  close(): void;
}

/** Turns 16 kHz PCM (a multiple of 20 ms) into one payload, a new Buffer the caller may keep. */
export interface FrameEncoder {
  encode(pcm: Int16Array): Buffer;
  close(): void;
}

class G711Decoder implements FrameDecoder {
  readonly #law: G711Law;
  readonly #narrow = new Int16Array(MAX_PACKET_SAMPLES / 2);
  readonly #wide = new Int16Array(MAX_PACKET_SAMPLES);
  readonly #up = new Upsampler();
  readonly #plc = new NativeHandle(KIND.plc);

  constructor(law: G711Law) {
    this.#law = law;
  }

  decode(payload: Uint8Array): Int16Array {
    const n = g711Decode(this.#law, payload, this.#narrow);
    const narrow = this.#narrow.subarray(0, n);
    nativeCodecs().plcRx(this.#plc.handle, narrow);
    this.#up.process(narrow, n, this.#wide);
    return this.#wide.subarray(0, 2 * n);
  }

  conceal(samples: number): Int16Array {
    const n = Math.min(samples >> 1, this.#narrow.length);
    const narrow = this.#narrow.subarray(0, n);
    nativeCodecs().plcFillin(this.#plc.handle, narrow);
    this.#up.process(narrow, n, this.#wide);
    return this.#wide.subarray(0, 2 * n);
  }

  close(): void {
    this.#plc.close();
  }
}

class G722Decoder implements FrameDecoder {
  readonly #pcm = new Int16Array(MAX_PACKET_SAMPLES);
  readonly #dec = new NativeHandle(KIND.g722Decoder);
  readonly #plc = new NativeHandle(KIND.plc);

  decode(payload: Uint8Array): Int16Array {
    const n = nativeCodecs().g722Decode(this.#dec.handle, payload, this.#pcm);
    const pcm = this.#pcm.subarray(0, n);
    nativeCodecs().plcRx(this.#plc.handle, pcm);
    return pcm;
  }

  conceal(samples: number): Int16Array {
    const pcm = this.#pcm.subarray(0, Math.min(samples, this.#pcm.length));
    nativeCodecs().plcFillin(this.#plc.handle, pcm);
    return pcm;
  }

  close(): void {
    this.#dec.close();
    this.#plc.close();
  }
}

class OpusDecoder implements FrameDecoder {
  readonly #pcm = new Int16Array(MAX_PACKET_SAMPLES);
  readonly #dec = new NativeHandle(KIND.opusDecoder, MIX_RATE);

  decode(payload: Uint8Array): Int16Array | undefined {
    const n = nativeCodecs().opusDecode(this.#dec.handle, payload, this.#pcm, false);
    return n > 0 ? this.#pcm.subarray(0, n) : undefined;
  }

  conceal(samples: number, next?: Uint8Array): Int16Array {
    // With the next packet at hand its in-band FEC (LBRR) rebuilds the lost frame; else libopus' PLC.
    const out = this.#pcm.subarray(0, Math.min(samples, this.#pcm.length));
    const n = nativeCodecs().opusDecode(this.#dec.handle, next ?? null, out, next !== undefined);
    if (n < 0) out.fill(0);
    return out;
  }

  close(): void {
    this.#dec.close();
  }
}

class G711Encoder implements FrameEncoder {
  readonly #law: G711Law;
  readonly #down = new Downsampler();
  readonly #narrow = new Int16Array(MAX_PACKET_SAMPLES / 2);

  constructor(law: G711Law) {
    this.#law = law;
  }

  encode(pcm: Int16Array): Buffer {
    const n = pcm.length >> 1;
    const narrow = this.#narrow.subarray(0, n);
    this.#down.process(pcm, narrow);
    const out = Buffer.allocUnsafe(n);
    g711Encode(this.#law, narrow, out);
    return out;
  }

  close(): void {}
}

class G722Encoder implements FrameEncoder {
  readonly #enc = new NativeHandle(KIND.g722Encoder);

  encode(pcm: Int16Array): Buffer {
    const out = Buffer.allocUnsafe(pcm.length >> 1);
    const n = nativeCodecs().g722Encode(this.#enc.handle, pcm, out);
    return n === out.length ? out : out.subarray(0, n);
  }

  close(): void {
    this.#enc.close();
  }
}

class OpusEncoder implements FrameEncoder {
  readonly #enc: NativeHandle;
  readonly #scratch = new Uint8Array(1500);

  constructor(bitrate: number) {
    this.#enc = new NativeHandle(KIND.opusEncoder, MIX_RATE, bitrate);
  }

  encode(pcm: Int16Array): Buffer {
    const n = nativeCodecs().opusEncode(this.#enc.handle, pcm, this.#scratch);
    return Buffer.from(this.#scratch.subarray(0, n));
  }

  close(): void {
    this.#enc.close();
  }
}

export function createDecoder(codec: CodecName): FrameDecoder {
  switch (codec) {
    case 'PCMU':
    case 'PCMA':
      return new G711Decoder(codec);
    case 'G722':
      return new G722Decoder();
    case 'opus':
      return new OpusDecoder();
  }
}

export interface EncoderOptions {
  /** Opus bit rate in bit/s (default 32000: wideband voice). */
  opusBitrate?: number;
}

export function createEncoder(codec: CodecName, options: EncoderOptions = {}): FrameEncoder {
  switch (codec) {
    case 'PCMU':
    case 'PCMA':
      return new G711Encoder(codec);
    case 'G722':
      return new G722Encoder();
    case 'opus':
      return new OpusEncoder(options.opusBitrate ?? 32000);
  }
}
