/**
 * Test helper: Debian's baresip 1.0 as a real plain SIP phone, headless. Its microphone is an 8 kHz
 * WAV tone (aufile), its loudspeaker ALSA's null device, and the sndfile module records what it
 * decodes (`dump-*-dec.wav`), which tests read while the call runs. Driven over ctrl_tcp
 * (netstring-framed JSON): dial, hold, resume, hangup.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';

const run = promisify(execFile);

/** A free port on 127.0.0.1 for both UDP and TCP (baresip listens on both). */
async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const port = (udp.address() as AddressInfo).port;
    const ok = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    udp.close();
    if (ok) return port;
  }
  throw new Error('no free port');
}

export interface BaresipEvent {
  type?: string;
  class?: string;
  param?: string;
  [key: string]: unknown;
}

/** 16-bit PCM samples of a (possibly still growing) WAV file. */
export async function readWav(file: string): Promise<{ rate: number; samples: Int16Array }> {
  const buf = await readFile(file);
  let offset = 12;
  let rate = 8000;
  let channels = 1;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(offset + 10);
      rate = buf.readUInt32LE(offset + 12);
    }
    if (id === 'data') {
      // The size is only final once the file is closed: read what is there.
      const data = buf.subarray(offset + 8, buf.length - ((buf.length - offset - 8) % (2 * channels)));
      const all = new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
      if (channels === 1) return { rate, samples: all };
      const mono = new Int16Array(all.length / channels);
      for (let i = 0; i < mono.length; i++) mono[i] = all[i * channels]!;
      return { rate, samples: mono };
    }
    offset += 8 + size + (size % 2);
  }
  return { rate, samples: new Int16Array(0) };
}

export class BaresipPhone {
  readonly name: string;
  readonly dir: string;
  readonly sipPort: number;
  readonly events: BaresipEvent[] = [];
  readonly #child: ChildProcess;
  readonly #ctrl: Socket;
  #buffer = '';
  output = '';

  private constructor(name: string, dir: string, sipPort: number, child: ChildProcess, ctrl: Socket) {
    this.name = name;
    this.dir = dir;
    this.sipPort = sipPort;
    this.#child = child;
    this.#ctrl = ctrl;
    ctrl.on('data', (d) => this.#onData(d.toString()));
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }
  get uri(): string {
    return `sip:${this.name}@127.0.0.1:${this.sipPort}`;
  }

  /** Starts baresip with an 8 kHz `toneHz` sine as its microphone; answermode auto (it answers calls). */
  static async start(name: string, toneHz: number, rtpPorts: string): Promise<BaresipPhone> {
    const dir = await mkdtemp(path.join(tmpdir(), `conclave-baresip-${name}-`));
    const tone = path.join(dir, 'tone.wav');
    await run('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', tone, 'synth', '120', 'sine', String(toneHz), 'vol', '0.5']);
    const sipPort = await freePort();
    const ctrlPort = await freePort();
    await writeFile(path.join(dir, 'config'), [
      'module_path /usr/lib/baresip/modules',
      `sip_listen 127.0.0.1:${sipPort}`,
      'net_interface 127.0.0.1',
      'audio_player alsa,null',
      'audio_alert alsa,null',
      `audio_source aufile,${tone}`,
      `rtp_ports ${rtpPorts}`,
      'module g711.so', 'module alsa.so', 'module aufile.so', 'module sndfile.so',
      'module_tmp uuid.so', 'module_tmp account.so',
      'module_app contact.so', 'module_app menu.so', 'module_app ctrl_tcp.so',
      `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
      `snd_path ${dir}`,
      '',
    ].join('\n'));
    await writeFile(path.join(dir, 'accounts'), `<sip:${name}@127.0.0.1:${sipPort}>;regint=0;answermode=auto\n`);
    await writeFile(path.join(dir, 'contacts'), '');
    const child = spawn('baresip', ['-f', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        const ctrl = await new Promise<Socket>((ok, fail) => {
          const s = connect(ctrlPort, '127.0.0.1', () => ok(s));
          s.once('error', fail);
        });
        const phone = new BaresipPhone(name, dir, sipPort, child, ctrl);
        child.stdout!.on('data', (d: Buffer) => (phone.output += d.toString()));
        phone.output = output;
        return phone;
      } catch (err) {
        if (Date.now() > end || child.exitCode !== null) {
          child.kill('SIGKILL');
          throw new Error(`baresip ctrl_tcp not reachable: ${(err as Error).message}\n${output}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  #onData(text: string): void {
    this.#buffer += text;
    for (;;) {
      const colon = this.#buffer.indexOf(':');
      if (colon < 0) return;
      const len = Number(this.#buffer.slice(0, colon));
      if (!Number.isFinite(len) || this.#buffer.length < colon + 1 + len + 1) return;
      const payload = this.#buffer.slice(colon + 1, colon + 1 + len);
      this.#buffer = this.#buffer.slice(colon + 1 + len + 1);
      try {
        this.events.push(JSON.parse(payload) as BaresipEvent);
      } catch {
        /* not JSON */
      }
    }
  }

  command(command: string, params = ''): void {
    const json = JSON.stringify({ command, params, token: String(Date.now()) });
    this.#ctrl.write(`${Buffer.byteLength(json)}:${json},`);
  }

  async waitForEvent(type: string, timeoutMs = 8000): Promise<BaresipEvent> {
    const end = Date.now() + timeoutMs;
    let seen = 0;
    while (Date.now() < end) {
      for (; seen < this.events.length; seen++) if (this.events[seen]!.type === type) return this.events[seen]!;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${this.name}: no ${type} event within ${timeoutMs} ms; events: ${this.events.map((e) => e.type).join(', ')}\n${this.output.slice(-2000)}`);
  }

  /** The recording of what the phone decoded in its current (or last) call, 8 kHz. */
  async recording(): Promise<Int16Array> {
    const files = (await readdir(this.dir)).filter((f) => f.startsWith('dump-') && f.endsWith('-dec.wav'));
    if (files.length === 0) return new Int16Array(0);
    const withTimes = await Promise.all(files.map(async (f) => ({ f, t: (await stat(path.join(this.dir, f))).mtimeMs })));
    withTimes.sort((a, b) => b.t - a.t);
    return (await readWav(path.join(this.dir, withTimes[0]!.f))).samples;
  }

  async stop(): Promise<void> {
    this.#ctrl.destroy();
    this.#child.kill('SIGKILL');
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
