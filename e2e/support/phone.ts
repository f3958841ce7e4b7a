/**
 * One user's browser and page, driven through the page's documented data-testid contract.
 */
import { chromium, expect, type Browser, type Page } from '@playwright/test';
import { CHROMIUM, chromiumArgs } from '@conclave/test-peers';
import { E2E_BASE_URL } from './env.ts';
import { TONES, toneFile, type UserName } from './tones.ts';

export interface UserPage {
  user: UserName;
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

export async function openUserPage(user: UserName, path = '/', baseURL = E2E_BASE_URL): Promise<UserPage> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: chromiumArgs({ audioFile: toneFile(user), fakeAudioOutput: true }),
  });
  const context = await browser.newContext({ baseURL, permissions: ['microphone', 'camera'] });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.log(`[${user} page] ${msg.text()}`);
  });
  await page.goto(path);
  return { user, browser, page, close: () => browser.close() };
}

/** The admin console in its own browser (no microphone needed). */
export async function openAdminPage(
  baseURL = E2E_BASE_URL,
): Promise<{ browser: Browser; page: Page; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: chromiumArgs({ media: false }),
  });
  const page = await (await browser.newContext({ baseURL })).newPage();
  await page.goto('/admin');
  await page.getByTestId('admin-login-user').fill('admin');
  await page.getByTestId('admin-login-password').fill('admin-secret');
  await page.getByTestId('admin-login-submit').click();
  return { browser, page, close: () => browser.close() };
}

export async function login(p: UserPage, password = `${p.user}-secret`): Promise<void> {
  await p.page.getByTestId('login-user').fill(p.user);
  await p.page.getByTestId('login-password').fill(password);
  await p.page.getByTestId('login-submit').click();
}

export async function expectRegistered(p: UserPage): Promise<void> {
  await expect(p.page.getByTestId('registration-status')).toContainText(/\bregistered\b/i, { timeout: 15_000 });
}

export async function dial(p: UserPage, target: string): Promise<void> {
  await p.page.getByTestId('dial-input').fill(target);
  await p.page.getByTestId('dial-button').click();
}

/** Waits until ended lines have faded out, so nothing shifts under the next click. */
export async function settled(p: UserPage): Promise<void> {
  await expect(p.page.locator('[data-testid="line"][data-state="ended"]')).toHaveCount(0, { timeout: 10_000 });
}

export function line(p: UserPage, party: string) {
  return p.page.locator(`[data-testid="line"][data-party*="${party}"]`);
}

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

/** The tones this page receives (every remote audio element). */
export function receivedTones(p: UserPage, ms = 1500): Promise<number[]> {
  return tonesIn(p.page, 'remote-elements', ms);
}

/** True when one of the peaks is within `tolerance` Hz of `freq`. */
export function hasTone(peaks: number[], freq: number, tolerance = 20): boolean {
  return peaks.some((p) => Math.abs(p - freq) <= tolerance);
}

/** Waits until the page receives `freq` (media takes a moment to flow after the answer). */
export async function expectHears(p: UserPage, freq: number, timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let peaks: number[] = [];
  while (Date.now() < deadline) {
    peaks = await receivedTones(p);
    if (hasTone(peaks, freq)) return peaks;
  }
  throw new Error(`${p.user} does not hear ${freq} Hz; peaks heard: [${peaks.join(', ')}]`);
}

/**
 * Every page hears every user listed for it, the pages listening at the same time; resolves with the
 * ms it took, throws naming who does not hear whom after `timeoutMs`.
 */
export async function expectAllHear(
  pages: UserPage[],
  expected: Map<UserPage, UserName[]>,
  timeoutMs = 10_000,
): Promise<number> {
  const started = Date.now();
  let missing: string[] = [];
  while (Date.now() - started < timeoutMs) {
    const heard = await Promise.all(pages.map((p) => receivedTones(p, 1000)));
    missing = pages.flatMap((p, i) =>
      (expected.get(p) ?? [])
        .filter((u) => !hasTone(heard[i]!, TONES[u]))
        .map((u) => `${p.user} does not hear ${u} (heard ${heard[i]!.join(', ') || 'nothing'})`),
    );
    if (missing.length === 0) return Date.now() - started;
  }
  throw new Error(missing.join('; '));
}

/**
 * The central scenario up to the click: alice calls bob, holds him, calls carol, and clicks Conference.
 * Returns the time of the click.
 */
export async function mergeIntoConference(alice: UserPage, bob: UserPage, carol: UserPage): Promise<number> {
  await dial(alice, 'bob');
  await bob.page.getByTestId('answer-button').click();
  await expect(line(alice, 'bob')).toHaveAttribute('data-state', 'active');
  await line(alice, 'bob').getByTestId('hold-button').click();
  await expect(line(alice, 'bob')).toHaveAttribute('data-state', 'held');
  await dial(alice, 'carol');
  await carol.page.getByTestId('answer-button').click();
  await expect(line(alice, 'carol')).toHaveAttribute('data-state', 'active');
  const clicked = Date.now();
  await alice.page.getByTestId('conference-button').click();
  return clicked;
}
