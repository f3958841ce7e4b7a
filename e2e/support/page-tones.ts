/**
 * What a Playwright page hears, found with WebAudio inside the page: the tones (Hz) in its audio, and
 * the level of a DTMF digit's two frequencies. Used by the e2e tests and the page scripts
 * (apps/web/scripts/softphone-check.ts) alike: it imports nothing but Playwright's types, so either
 * project can compile it.
 */
import type { Page } from '@playwright/test';

/** Where a page's audio is listened to: every remote audio element, or what the page plays (its mix after every participant's volume and local mute). */
export type ToneSource = 'remote-elements' | 'played-mix';

/**
 * Listens to a page's audio for `ms` and returns the frequencies (Hz) whose level stands well above
 * the spectrum's median and close to its strongest component: the tones in it.
 */
export async function tonesIn(page: Page, source: ToneSource, ms = 1500): Promise<number[]> {
  return page.evaluate(
    async ({ duration, source }) => {
      let streams: MediaStream[] = [];
      if (source === 'played-mix') {
        const phone = (window as unknown as { conclave: { phone: { audioOutput(): MediaStream | null } } }).conclave
          .phone;
        const mix = phone.audioOutput();
        if (mix) streams = [mix];
      } else {
        for (const el of document.querySelectorAll<HTMLAudioElement>('audio[data-testid="remote-audio"]')) {
          const stream = el.srcObject;
          if (stream instanceof MediaStream && stream.getAudioTracks().length > 0) streams.push(stream);
        }
      }
      if (streams.length === 0) return [];
      const ctx = new AudioContext();
      await ctx.resume();
      const analysers = streams.map((stream) => {
        const analyser = ctx.createAnalyser();
        analyser.fftSize = 8192;
        analyser.smoothingTimeConstant = 0.5;
        ctx.createMediaStreamSource(stream).connect(analyser);
        return analyser;
      });
      const bins = analysers[0]!.frequencyBinCount;
      const sum = new Float64Array(bins);
      let frames = 0;
      const end = performance.now() + duration;
      while (performance.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        for (const a of analysers) {
          const data = new Float32Array(bins);
          a.getFloatFrequencyData(data);
          // Sum power (not dB) across streams: a tone on any of them counts.
          for (let i = 0; i < bins; i++) sum[i]! += Math.pow(10, data[i]! / 10);
        }
        frames++;
      }
      // Bin width follows the context's real rate (headless Chromium often runs at 44.1 kHz, not 48).
      const sampleRate = ctx.sampleRate;
      await ctx.close();
      const db = Array.from(sum, (v) => 10 * Math.log10(v / frames + 1e-20));
      const sorted = [...db].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      const hz = (i: number) => (i * sampleRate) / 8192;
      // A tone is a local maximum well above the noise floor and close to the strongest component
      // (tones of similar level mix in a conference; codec artefacts sit far below them).
      let max = -Infinity;
      for (let i = 0; i < bins; i++) if (hz(i) > 100 && hz(i) < 8000) max = Math.max(max, db[i]!);
      // An absolute floor too: silence (everything at gain 0) has no "strongest component".
      if (max < -90) return [];
      const peaks: number[] = [];
      for (let i = 2; i < bins - 2; i++) {
        const v = db[i]!;
        if (
          v > median + 30 &&
          v > max - 20 &&
          v >= db[i - 1]! &&
          v >= db[i + 1]! &&
          v >= db[i - 2]! &&
          v >= db[i + 2]! &&
          hz(i) > 100 &&
          hz(i) < 8000
        ) {
          peaks.push(Math.round(hz(i)));
        }
      }
      return peaks;
    },
    { duration: ms, source },
  );
}

/** True when one of the peaks is within `tolerance` Hz of `freq`. */
export function hasTone(peaks: number[], freq: number, tolerance = 20): boolean {
  return peaks.some((p) => Math.abs(p - freq) <= tolerance);
}

/** A level (dB) before a tone starts and at its peak. */
export interface ToneLevel {
  before: number;
  peak: number;
}

/** DTMF "1": 697 Hz and 1209 Hz. */
export const DTMF_1: readonly [low: number, high: number] = [697, 1209];

/**
 * Level (dB) at a DTMF digit's two frequencies in what the page plays (its played mix, the page's
 * `conclave.phone.audioOutput()`: remote audio and the tones of received keys): the highest in the
 * first 200 ms (before the tone) and the peak afterwards, over `ms`. No smoothing, a look every 40 ms:
 * a key's tone lasts 160 ms.
 */
export async function dtmfLevels(
  page: Page,
  ms: number,
  freqs: readonly [low: number, high: number] = DTMF_1,
): Promise<{ low: ToneLevel; high: ToneLevel }> {
  return page.evaluate(
    async ({ duration, freqs }) => {
      const ctx = new AudioContext();
      await ctx.resume();
      const an = ctx.createAnalyser();
      an.fftSize = 8192;
      an.smoothingTimeConstant = 0;
      const phone = (window as unknown as { conclave?: { phone: { audioOutput(): MediaStream | null } } }).conclave
        ?.phone;
      const mix = phone?.audioOutput();
      if (mix) ctx.createMediaStreamSource(mix).connect(an);
      const d = new Float32Array(an.frequencyBinCount);
      const at = (f: number) => {
        const i = Math.round((f * 8192) / ctx.sampleRate);
        return Math.max(d[i - 1]!, d[i]!, d[i + 1]!);
      };
      const low = { before: -200, peak: -200 };
      const high = { before: -200, peak: -200 };
      const start = performance.now();
      while (performance.now() - start < duration) {
        await new Promise((r) => setTimeout(r, 40));
        an.getFloatFrequencyData(d);
        const early = performance.now() - start < 200;
        for (const [o, f] of [
          [low, freqs[0]],
          [high, freqs[1]],
        ] as const) {
          if (early) o.before = Math.max(o.before, at(f));
          else o.peak = Math.max(o.peak, at(f));
        }
      }
      await ctx.close();
      return { low, high };
    },
    { duration: ms, freqs },
  );
}
