/**
 * baresip 1.0.0 (Debian, headless) as a conformance peer: configured in a temp directory, driven over
 * its ctrl_tcp module (netstring-framed JSON), one account on UDP or TCP, auto-answer. Generalises
 * apps/focus/test/support/baresip.ts (which must keep `module_path /usr/lib/baresip/modules`).
 *
 * Capabilities of this version: re-INVITE (`reinvite`), REFER (`transfer`), SUBSCRIBE presence through
 * the `presence` module (it subscribes to the contacts file's `;presence=p2p` entries when it starts, so a
 * subscribing baresip is started per scenario). No 100rel/PRACK in libre 1.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocatePorts, MEDIA_PORT_RANGE } from '../ports.ts';
import { stopChild, trackChild } from '../processes.ts';
import { EventLog, type Peer, type PeerCapabilities, type PeerTransport } from './peer.ts';

export interface BaresipEvent {
  event?: boolean;
  type?: string;
  class?: string;
  param?: string;
  id?: string;
  direction?: string;
  [key: string]: unknown;
}

interface Pending {
  resolve(r: { ok: boolean; data: string }): void;
}

export interface BaresipOptions {
  user: string;
  transport: 'udp' | 'tcp';
  /** Contacts file lines, e.g. `"P" <sip:p@127.0.0.1:5060>;presence=p2p` (subscribed at start by `presence`). */
  contacts?: string[];
}

const CAPS: PeerCapabilities = {
  subscribe: true,
  refer: true,
  reinvite: true,
  prack: false,
  notifyEvents: false,
  notes: {
    prack: 'baresip 1.0.0 / libre 1.1 has no 100rel support (no PRACK, ignores Require: 100rel)',
    subscribe: 'only at start-up: the presence module subscribes to `;presence=p2p` contacts, so a dedicated baresip is started',
  },
};

export class BaresipPeer implements Peer {
  readonly kind = 'baresip' as const;
  readonly transport: PeerTransport;
  readonly label: string;
  readonly caps = CAPS;
  readonly uri: string;
  readonly ports: number[];
  readonly log = new EventLog();
  readonly raw: BaresipEvent[] = [];
  output = '';
  readonly #child: ChildProcess;
  readonly #ctrlPort: number;
  readonly #dir: string;
  readonly #pending = new Map<string, Pending>();
  #socket: Socket | undefined;
  #buffer = '';
  #token = 0;
  #closed = false;
  #exited: string | undefined;

  private constructor(child: ChildProcess, dir: string, opts: BaresipOptions, sipPort: number, ctrlPort: number) {
    this.#child = child;
    this.#dir = dir;
    this.#ctrlPort = ctrlPort;
    this.transport = opts.transport;
    this.label = `baresip-${opts.transport}`;
    this.uri = `sip:${opts.user}@127.0.0.1:${sipPort}${opts.transport === 'tcp' ? ';transport=tcp' : ''}`;
    this.ports = [sipPort];
    child.stdout?.on('data', (d: Buffer) => this.#onOutput(d.toString()));
    child.stderr?.on('data', (d: Buffer) => this.#onOutput(d.toString()));
    child.once('exit', (code, signal) => {
      this.#exited = `baresip exited (${code ?? signal})`;
      for (const p of this.#pending.values()) p.resolve({ ok: false, data: this.#exited });
      this.#pending.clear();
    });
  }

  static async start(opts: BaresipOptions): Promise<BaresipPeer> {
    // SIP (udp+tcp), SIP+1 (baresip binds TLS there), ctrl_tcp, and an RTP range.
    const base = await allocatePorts(3);
    const sipPort = base;
    const ctrlPort = base + 2;
    const media = await allocatePorts(4, MEDIA_PORT_RANGE);
    const rtp = `${media}-${media + 3}`;
    const dir = mkdtempSync(join(tmpdir(), 'conformance-baresip-'));
    writeFileSync(join(dir, 'config'), [
      'module_path /usr/lib/baresip/modules',
      `sip_listen 127.0.0.1:${sipPort}`,
      'net_interface 127.0.0.1',
      'audio_player aufile,/dev/null',
      `audio_source aufile,${join(dir, 'tone-8k.wav')}`,
      `rtp_ports ${rtp}`,
      'module g711.so', 'module aufile.so',
      'module_tmp uuid.so', 'module_tmp account.so',
      'module_app contact.so', 'module_app menu.so', 'module_app ctrl_tcp.so',
      ...(opts.contacts ? ['module_app presence.so'] : []),
      `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
      '',
    ].join('\n'));
    // aufile is the only 8 kHz source in 1.0.0 (ausine is 48 kHz only and fails with G.711).
    writeFileSync(join(dir, 'tone-8k.wav'), toneWav(30));
    const transportParam = opts.transport === 'tcp' ? ';transport=tcp' : '';
    writeFileSync(join(dir, 'accounts'), `<sip:${opts.user}@127.0.0.1:${sipPort}${transportParam}>;regint=0;answermode=auto\n`);
    writeFileSync(join(dir, 'contacts'), (opts.contacts ?? []).join('\n') + '\n');
    const child = trackChild(spawn('baresip', ['-f', dir], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const peer = new BaresipPeer(child, dir, opts, sipPort, ctrlPort);
    try {
      await peer.#connect();
    } catch (err) {
      await peer.close();
      throw err;
    }
    return peer;
  }

  #onOutput(text: string): void {
    this.output += text;
    if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    // presence module: "<sip:…> changed status from Online to Offline", "presence: subscriber closed <sip:…>: noresource"
    const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
    for (const m of plain.matchAll(/> changed status from (\S+) to (\S+)/g)) this.log.push('notify', m[2]);
    for (const m of plain.matchAll(/presence: subscriber closed <[^>]*>: (\S+)/g)) this.log.push('unsubscribed', m[1]);
  }

  async #connect(): Promise<void> {
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        this.#socket = await new Promise<Socket>((ok, fail) => {
          const s = connect(this.#ctrlPort, '127.0.0.1', () => ok(s));
          s.once('error', fail);
        });
        break;
      } catch (err) {
        if (this.#child.exitCode !== null) throw new Error(`baresip exited (${this.#child.exitCode}):\n${this.output}`);
        if (Date.now() > end) throw new Error(`baresip ctrl_tcp not reachable: ${(err as Error).message}\n${this.output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.#socket.on('data', (d) => this.#onData(d.toString()));
    this.#socket.on('error', () => {});
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
      let msg: BaresipEvent & { response?: boolean; ok?: boolean; data?: string; token?: string };
      try {
        msg = JSON.parse(payload) as typeof msg;
      } catch {
        continue;
      }
      if (msg.response && msg.token) {
        this.#pending.get(msg.token)?.resolve({ ok: !!msg.ok, data: msg.data ?? '' });
        this.#pending.delete(msg.token);
        continue;
      }
      if (msg.event) this.#onEvent(msg);
    }
  }

  #onEvent(e: BaresipEvent): void {
    this.raw.push(e);
    switch (e.type) {
      case 'CALL_INCOMING': this.log.push('incoming', e.param); break;
      case 'CALL_RINGING': case 'CALL_PROGRESS': this.log.push('ringing', e.type); break;
      case 'CALL_ESTABLISHED': this.log.push('established', e.param); break;
      case 'CALL_CLOSED': this.log.push('closed', e.param); break;
      case 'CALL_TRANSFER_FAILED': this.log.push('transfer-failed', e.param); break;
      default: break;
    }
  }

  /** Send a ctrl_tcp command; resolves with baresip's response. */
  command(command: string, params = ''): Promise<{ ok: boolean; data: string }> {
    const token = String(++this.#token);
    const json = JSON.stringify({ command, params, token });
    return new Promise((resolve, reject) => {
      if (this.#exited) return reject(new Error(`${this.label}: ${this.#exited}:\n${this.output.slice(-2000)}`));
      if (!this.#socket || this.#closed) return reject(new Error('baresip is closed'));
      const timer = setTimeout(() => {
        this.#pending.delete(token);
        reject(new Error(`baresip: no response to ${command} ${params}`));
      }, 5000);
      this.#pending.set(token, { resolve: (r) => { clearTimeout(timer); resolve(r); } });
      this.#socket.write(`${Buffer.byteLength(json)}:${json},`);
    });
  }

  async call(target: string): Promise<void> {
    // baresip appends the account's transport parameter itself.
    if (this.transport === 'tcp') target = target.replace(/;transport=tcp/i, '');
    const r = await this.command('dial', target);
    if (!r.ok) throw new Error(`baresip dial ${target} failed: ${r.data}`);
  }

  async hangup(): Promise<void> {
    await this.command('hangup');
  }

  async reinvite(): Promise<void> {
    const r = await this.command('reinvite');
    if (!r.ok) throw new Error(`baresip reinvite failed: ${r.data}`);
  }

  async transfer(target: string): Promise<void> {
    const r = await this.command('transfer', target);
    if (!r.ok) throw new Error(`baresip transfer failed: ${r.data}`);
  }

  subscribe(): Promise<void> {
    return Promise.reject(new Error('baresip subscribes only at start-up (presence module + contacts file)'));
  }

  /** A watcher's subscription ends when it shuts down (the presence module unsubscribes). */
  async unsubscribe(): Promise<void> {
    await this.close();
  }

  async reset(): Promise<void> {
    for (let i = 0; i < 4; i++) {
      const r = await this.command('listcalls').catch(() => ({ ok: false, data: '' }));
      if (!/\S/.test(r.data.replace(/active calls?:?\s*\(?0\)?/i, '').replace(/---[^\n]*\n?/g, ''))) return;
      await this.command('hangup').catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.destroy();
    await stopChild(this.#child, 300);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A mono 16-bit 8 kHz WAV with a quiet 440 Hz tone. */
function toneWav(seconds: number): Buffer {
  const rate = 8000;
  const n = rate * seconds;
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(2000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  return buf;
}
