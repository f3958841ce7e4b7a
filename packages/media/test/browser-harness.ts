/**
 * Test helper: Debian's Chromium (headless, via playwright-core) as a JsSIP-shaped softphone.
 * One browser process per party (the fake microphone is a per-process flag), each with its own
 * sox-generated sine tone, and a page served over http://127.0.0.1 (a secure context).
 */
import { createServer, type Server } from 'node:http';
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from '@playwright/test';

const run = promisify(execFile);
const PAGE_SCRIPT = path.join(import.meta.dirname, 'fixtures', 'peer-page.js');

export interface Peaks {
  [mid: string]: { hz: number; db: number; state: string; muted: boolean };
}
export interface Counters {
  inbound: Record<string, number>;
  sent: number;
}

interface PeerApi {
  start(options?: { video?: boolean; rawAudio?: boolean }): boolean;
  videoStats(): Record<string, { framesDecoded: number; width: number; height: number; packets: number }>;
  createOffer(options?: { hold?: boolean; iceRestart?: boolean }): string;
  applyAnswer(sdp: string): string;
  answer(sdp: string): string;
  peaks(): Peaks;
  counters(): Counters;
  info(): {
    signalingState: string;
    connectionState: string;
    mids: { mid: string | null; direction: string | null }[];
    events: unknown[];
  };
  close(): boolean;
  inboundDetail(): unknown[];
}

export class PageServer {
  #server: Server;
  readonly url: string;
  private constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
  }
  static async start(): Promise<PageServer> {
    const script = await readFile(PAGE_SCRIPT, 'utf8');
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>peer</title></head><body><script>${script}</script></body></html>`;
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new PageServer(server, `http://127.0.0.1:${port}/`);
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

export class ToneDir {
  readonly dir: string;
  private constructor(dir: string) {
    this.dir = dir;
  }
  static async create(): Promise<ToneDir> {
    return new ToneDir(await mkdtemp(path.join(tmpdir(), 'conclave-media-tones-')));
  }
  /** A sine tone; `volume` is sox's linear factor (0.5 ≈ -6 dBFS, 0.01 ≈ -40 dBFS). */
  async tone(hz: number, seconds = 60, volume = 0.5): Promise<string> {
    const file = path.join(this.dir, volume === 0.5 ? `tone-${hz}.wav` : `tone-${hz}-${volume}.wav`);
    await run('sox', [
      '-n',
      '-r',
      '48000',
      '-c',
      '1',
      '-b',
      '16',
      file,
      'synth',
      String(seconds),
      'sine',
      String(hz),
      'vol',
      String(volume),
    ]);
    return file;
  }
  /** Digital silence: a microphone that hears nothing. */
  async silence(seconds = 60): Promise<string> {
    const file = path.join(this.dir, 'silence.wav');
    await run('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', file, 'trim', '0', String(seconds)]);
    return file;
  }
  remove(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

/** A party: its own Chromium process with a fake microphone playing one tone. */
export class BrowserPeer {
  readonly name: string;
  readonly toneHz: number;
  readonly #browser: Browser;
  readonly #page: Page;
  /** A flag Chromium ignores, to find this party's browser process. */
  readonly #marker: string;

  private constructor(name: string, toneHz: number, browser: Browser, page: Page, marker: string) {
    this.name = name;
    this.toneHz = toneHz;
    this.#browser = browser;
    this.#page = page;
    this.#marker = marker;
  }

  /** `rawAudio`: no echo cancellation, noise suppression or gain control, so levels stay as in the file. */
  static async launch(
    name: string,
    toneHz: number,
    toneFile: string,
    pageUrl: string,
    options: { video?: boolean; rawAudio?: boolean } = {},
  ): Promise<BrowserPeer> {
    const marker = `--conclave-peer=${randomUUID()}`;
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-audio-capture=${toneFile}`,
        '--autoplay-policy=no-user-gesture-required',
        '--allow-loopback-in-peer-connection',
        '--disable-features=WebRtcHideLocalIpsWithMdns',
        marker,
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(pageUrl);
      const peer = new BrowserPeer(name, toneHz, browser, page, marker);
      await peer.call('start', { video: options.video === true, rawAudio: options.rawAudio === true });
      return peer;
    } catch (err) {
      await browser.close();
      throw err;
    }
  }

  call<K extends keyof PeerApi>(method: K, ...args: Parameters<PeerApi[K]>): Promise<ReturnType<PeerApi[K]>> {
    return this.#page.evaluate(
      ({ method, args }) => {
        const api = (globalThis as unknown as { peer: Record<string, (...a: unknown[]) => unknown> }).peer;
        return api[method]!(...args);
      },
      { method, args: args },
    ) as Promise<ReturnType<PeerApi[K]>>;
  }

  createOffer(hold = false, iceRestart = false): Promise<string> {
    return this.call('createOffer', { hold, iceRestart });
  }
  applyAnswer(sdp: string): Promise<string> {
    return this.call('applyAnswer', sdp);
  }
  answer(sdp: string): Promise<string> {
    return this.call('answer', sdp);
  }
  peaks(): Promise<Peaks> {
    return this.call('peaks');
  }
  counters(): Promise<Counters> {
    return this.call('counters');
  }
  /** The party's own m-line directions etc. (page view). */
  info(): Promise<ReturnType<PeerApi['info']>> {
    return this.call('info');
  }

  async close(): Promise<void> {
    await this.call('close').catch(() => undefined);
    await this.#browser.close().catch(() => undefined);
  }

  /**
   * The party's machine dies: SIGKILL to this test's Chromium process (found by its marker flag, a
   * child of this process) and every process under it. No BYE, no DTLS close, no more consent checks.
   * Resolves with the killed pids.
   */
  async kill(): Promise<number[]> {
    const procs: { pid: number; ppid: number; cmdline: string }[] = [];
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
        procs.push({ pid: Number(entry), ppid, cmdline });
      } catch {
        /* exited meanwhile */
      }
    }
    const main = procs.find((p) => p.ppid === process.pid && p.cmdline.includes(this.#marker));
    if (!main) throw new Error(`${this.name}: its Chromium process was not found`);
    const doomed = new Set([main.pid]);
    for (let grew = true; grew;) {
      grew = false;
      for (const p of procs) {
        if (!doomed.has(p.pid) && doomed.has(p.ppid)) {
          doomed.add(p.pid);
          grew = true;
        }
      }
    }
    for (const pid of doomed) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    return [...doomed];
  }
}

/**
 * Polls the peer's FFT until every expected mid shows its expected tone (±tolerance, louder than
 * -60 dBFS) on 3 consecutive reads 100 ms apart, so neither a stale spectrum nor a short burst passes.
 */
export async function waitForTones(
  peer: BrowserPeer,
  expected: Record<string, number>,
  { timeoutMs = 5000, toleranceHz = 15, minDb = -60, reads = 3 } = {},
): Promise<{ peaks: Peaks; ms: number }> {
  const started = Date.now();
  let last: Peaks = {};
  let streak = 0;
  const history: string[] = [];
  while (Date.now() - started < timeoutMs) {
    last = await peer.peaks();
    history.push(
      Object.entries(last)
        .map(([mid, p]) => `${mid}:${p.hz}Hz/${p.db}dB`)
        .join(' '),
    );
    const ok = Object.entries(expected).every(([mid, hz]) => {
      const p = last[mid];
      return p !== undefined && p.state === 'live' && Math.abs(p.hz - hz) <= toleranceHz && p.db > minDb;
    });
    streak = ok ? streak + 1 : 0;
    if (streak >= reads) return { peaks: last, ms: Date.now() - started };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${peer.name} did not hear ${JSON.stringify(expected)} within ${timeoutMs} ms; reads: ${history.slice(-8).join(' | ')}`,
  );
}
