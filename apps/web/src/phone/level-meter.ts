/**
 * LevelMeter: how loud a local microphone track is, ~10 times a second, as 0..1 (WebAudio
 * AnalyserNode on the track; nothing is played). A disabled (muted) or ended track reads 0.
 */

/** Below this the meter shows nothing (room noise of a quiet microphone). */
const FLOOR_DB = -60;
/** How fast the shown level falls (per tick) after a peak, so the bar does not flicker. */
const FALL_PER_TICK = 0.12;

/** RMS of samples in [-1, 1] mapped from dBFS (FLOOR_DB..0) to 0..1. Pure. */
export function levelFromRms(rms: number): number {
  if (!(rms > 0)) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB));
}

/** RMS of a block of samples. Pure. */
export function rmsOf(samples: ArrayLike<number>): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / samples.length);
}

/** The bar: rises at once, falls gently. Pure. */
export function smoothLevel(previous: number, measured: number): number {
  return measured >= previous ? measured : Math.max(measured, previous - FALL_PER_TICK);
}

export class LevelMeter {
  #track: MediaStreamTrack;
  #ctx: AudioContext | null = null;
  #analyser: AnalyserNode | null = null;
  #source: MediaStreamAudioSourceNode | null = null;
  #buffer: Float32Array<ArrayBuffer> = new Float32Array(1024);
  #timer: ReturnType<typeof setInterval> | undefined;
  #level = 0;
  #closed = false;

  /** `onLevel` is called every `intervalMs` with the smoothed level. Never throws: no WebAudio → always 0. */
  constructor(track: MediaStreamTrack, onLevel: (level: number) => void, intervalMs = 100) {
    this.#track = track;
    try {
      const ctx = new AudioContext();
      this.#ctx = ctx;
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      analyser.smoothingTimeConstant = 0;
      this.#source = ctx.createMediaStreamSource(new MediaStream([track]));
      this.#source.connect(analyser);
      this.#analyser = analyser;
      this.#buffer = new Float32Array(analyser.fftSize);
      if (ctx.state === 'suspended') {
        // Autoplay policy: an AudioContext made without a user gesture waits for one.
        void ctx.resume().catch(() => {});
        const resume = (): void => {
          if (!this.#closed) void ctx.resume().catch(() => {});
        };
        window.addEventListener('pointerdown', resume, { once: true });
        window.addEventListener('keydown', resume, { once: true });
      }
    } catch {
      this.#analyser = null;
    }
    this.#timer = setInterval(() => onLevel(this.#tick()), intervalMs);
  }

  get level(): number {
    return this.#level;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      this.#source?.disconnect();
    } catch {
      // already disconnected
    }
    void this.#ctx?.close().catch(() => {});
    this.#ctx = null;
  }

  #tick(): number {
    if (this.#analyser && this.#track.enabled && this.#track.readyState === 'live') {
      this.#analyser.getFloatTimeDomainData(this.#buffer);
      this.#level = smoothLevel(this.#level, levelFromRms(rmsOf(this.#buffer)));
    } else {
      this.#level = 0; // muted reads 0 at once
    }
    return this.#level;
  }
}
