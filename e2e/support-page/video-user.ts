/**
 * Issue 12 helpers: a page per user with a distinct fake camera (a solid colour, .y4m made at test
 * time) and tone, what the page really plays (after per-listener gains), and tile colours.
 */
import { chromium, type Page } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, chromiumArgs } from '@conclave/test-peers';
import { E2E_BASE_URL } from '../support/env.ts';
import { toneFile, type UserName } from '../support/tones.ts';
import { tonesIn, type UserPage } from '../support/phone.ts';

export type Colour = 'red' | 'green' | 'blue' | 'yellow' | 'magenta' | 'cyan' | 'white' | 'orange';
export const CAMERAS: Record<UserName, Colour> = {
  alice: 'red',
  bob: 'green',
  carol: 'blue',
  dave: 'yellow',
  erin: 'magenta',
  frank: 'cyan',
  grace: 'white',
  heidi: 'orange',
};
const RGB: Record<Colour, [number, number, number]> = {
  red: [220, 20, 20],
  green: [20, 200, 20],
  blue: [20, 20, 220],
  yellow: [220, 220, 20],
  magenta: [220, 20, 220],
  cyan: [20, 220, 220],
  white: [230, 230, 230],
  orange: [230, 130, 20],
};

/** A 160×120, 10-frame YUV4MPEG2 (4:2:0, BT.601 full range) of one solid colour. */
function y4m(colour: Colour): Buffer {
  const [r, g, b] = RGB[colour];
  const y = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  const u = Math.round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
  const v = Math.round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
  const w = 160,
    h = 120;
  const frame = Buffer.concat([
    Buffer.from('FRAME\n'),
    Buffer.alloc(w * h, y),
    Buffer.alloc((w * h) / 4, u),
    Buffer.alloc((w * h) / 4, v),
  ]);
  return Buffer.concat([
    Buffer.from(`YUV4MPEG2 W${w} H${h} F10:1 Ip A1:1 C420jpeg\n`),
    ...Array.from({ length: 10 }, () => frame),
  ]);
}

export function cameraFile(user: UserName): string {
  const dir = join(tmpdir(), `conclave-e2e-cameras-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${user}-${CAMERAS[user]}.y4m`);
  writeFileSync(file, y4m(CAMERAS[user]));
  return file;
}

export async function openVideoUserPage(user: UserName, baseURL = E2E_BASE_URL): Promise<UserPage> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: chromiumArgs({ audioFile: toneFile(user), videoFile: cameraFile(user) }),
  });
  const context = await browser.newContext({
    baseURL,
    permissions: ['microphone', 'camera'],
    viewport: { width: 1100, height: 1400 },
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.log(`[${user} page] ${msg.text()}`);
  });
  await page.goto('/');
  return { user, browser, page, close: () => browser.close() };
}

/** The tones in what the page actually plays (Phone.audioOutput(): the mix after every participant's volume and local mute). */
export function playedTones(page: Page, ms = 1500): Promise<number[]> {
  return tonesIn(page, 'played-mix', ms);
}

export { hasTone as has } from '../support/phone.ts';

/** Polls playedTones until `check` holds; returns the last peaks or throws with them. */
export async function untilPlayed(
  p: UserPage,
  what: string,
  check: (peaks: number[]) => boolean,
  timeoutMs = 12_000,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let peaks: number[] = [];
  while (Date.now() < deadline) {
    peaks = await playedTones(p.page);
    if (check(peaks)) return peaks;
  }
  throw new Error(`${p.user}: ${what} did not happen; tones played: [${peaks.join(', ')}]`);
}

/** The dominant colour of each remote tile's picture: { party, colour } per live remote tile. */
export async function tileColours(page: Page): Promise<{ party: string; name: string; colour: string }[]> {
  return page.evaluate(() => {
    const out: { party: string; name: string; colour: string }[] = [];
    for (const fig of document.querySelectorAll<HTMLElement>('[data-testid="video-tile"][data-local="false"]')) {
      const video = fig.querySelector('video');
      if (!video || video.videoWidth === 0) continue;
      const canvas = document.createElement('canvas');
      canvas.width = 32;
      canvas.height = 24;
      const g = canvas.getContext('2d')!;
      g.drawImage(video, 0, 0, 32, 24);
      const d = g.getImageData(0, 0, 32, 24).data;
      let r = 0,
        gr = 0,
        b = 0;
      for (let i = 0; i < d.length; i += 4) {
        r += d[i]!;
        gr += d[i + 1]!;
        b += d[i + 2]!;
      }
      const n = d.length / 4;
      [r, gr, b] = [r / n, gr / n, b / n];
      const hi = (x: number) => x > 120;
      const lo = (x: number) => x < 90;
      const colour =
        hi(r) && hi(gr) && lo(b)
          ? 'yellow'
          : hi(r) && hi(b) && lo(gr)
            ? 'magenta'
            : hi(r) && lo(gr) && lo(b)
              ? 'red'
              : hi(gr) && lo(r) && lo(b)
                ? 'green'
                : hi(b) && lo(r) && lo(gr)
                  ? 'blue'
                  : `rgb(${r | 0},${gr | 0},${b | 0})`;
      out.push({ party: fig.dataset['party'] ?? '', name: fig.dataset['name'] ?? '', colour });
    }
    return out;
  });
}
