/**
 * The native codec addon (native/codecs.c: libopus and spandsp from Debian), loaded once. If it has not
 * been built yet it is built here with the system compiler (a few seconds), so a fresh clone needs only
 * the Debian packages libopus-dev and libspandsp-dev.
 */
import { createRequire } from 'node:module';
import { buildAddon } from '../native/build.ts';

export interface NativeCodecs {
  create(kind: number, sampleRate: number, bitrate: number): object;
  free(handle: object): void;
  opusEncode(handle: object, pcm: Int16Array, out: Uint8Array): number;
  opusDecode(handle: object, payload: Uint8Array | null, out: Int16Array, fec: boolean): number;
  g722Encode(handle: object, pcm: Int16Array, out: Uint8Array): number;
  g722Decode(handle: object, payload: Uint8Array, out: Int16Array): number;
  plcRx(handle: object, samples: Int16Array): number;
  plcFillin(handle: object, samples: Int16Array): number;
  opusVersion(): string;
}

export const KIND = { opusEncoder: 1, opusDecoder: 2, g722Encoder: 3, g722Decoder: 4, plc: 5 } as const;

let loaded: NativeCodecs | undefined;

export function nativeCodecs(): NativeCodecs {
  if (loaded) return loaded;
  const path = buildAddon();
  loaded = createRequire(import.meta.url)(path) as NativeCodecs;
  return loaded;
}

/** Owns one native codec state; close() frees it at once (the GC finalizer is only a safety net). */
export class NativeHandle {
  readonly handle: object;
  #closed = false;

  constructor(kind: number, sampleRate = 0, bitrate = 0) {
    this.handle = nativeCodecs().create(kind, sampleRate, bitrate);
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    nativeCodecs().free(this.handle);
  }
}
