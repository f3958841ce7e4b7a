/**
 * Debian's baresip 1.0.0 as a real plain SIP phone, headless: configured in a temp directory, driven
 * over its ctrl_tcp module (netstring-framed JSON), one account on UDP or TCP. Its microphone is an
 * 8 kHz sine WAV (aufile: ausine only runs at 48 kHz and fails with G.711); with `record`, the sndfile
 * module writes what it decodes (`dump-*-dec.wav`), which tests read while the call runs.
 *
 * Ports: baresip listens on its SIP port (UDP and TCP), on SIP + 1 (TLS, always), on the ctrl_tcp port,
 * and picks RTP ports in `rtp_ports` per call. None can be port 0, so it gets a block (SIP, TLS, ctrl)
 * and an RTP block, and is restarted on new blocks when it says "Address already in use": baresip exits
 * (code 98) when a SIP bind fails, but only logs a failed ctrl_tcp bind and keeps running — the port
 * could then belong to someone else's baresip, so readiness is judged from its output first, and the
 * control socket is connected only to a baresip that bound everything.
 *
 * Capabilities of this version: re-INVITE (`reinvite`), REFER (`transfer`), SUBSCRIBE presence through
 * the `presence` module (it subscribes to the contacts file's `;presence=p2p` entries when it starts, so a
 * subscribing baresip is started per subscription). No 100rel/PRACK in libre 1.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { readWav, toneWav } from './audio.ts';
import { EventLog, type Peer, type PeerCapabilities, type PeerTransport } from './peer.ts';
import {
  PortInUseError,
  RTP_PEER_PORTS,
  saysAddressInUse,
  SIP_PEER_PORTS,
  startOnPortBlocks,
  type PortBlock,
  type PortRange,
} from './ports.ts';
import { stopChild, trackChild } from './processes.ts';

/** One ctrl_tcp event (`{"event":true,"type":"CALL_ESTABLISHED","param":"sip:…",…}`). */
export interface BaresipEvent {
  event?: boolean;
  type?: string;
  class?: string;
  param?: string;
  id?: string;
  direction?: string;
  [key: string]: unknown;
}

export interface BaresipOptions {
  /** User part of the account; also the peer's name in messages. */
  user: string;
  /** Account transport (default udp). */
  transport?: 'udp' | 'tcp';
  /** Register through this server with digest authentication (else `regint=0`: no registration). */
  registrar?: { host: string; port: number; password: string; regint?: number };
  /** Answer incoming calls by itself (default true). */
  autoAnswer?: boolean;
  /** Microphone tone in Hz (default 440). */
  toneHz?: number;
  /** Microphone level, 0..1 of full scale (default 0.5). */
  toneAmplitude?: number;
  /** Record what it decodes (sndfile module; see recording()). */
  record?: boolean;
  /** Contacts file lines, e.g. `"P" <sip:p@127.0.0.1:5060>;presence=p2p` (subscribed at start by `presence`). */
  contacts?: string[];
  /** Where the SIP/TLS/ctrl block is taken (default SIP_PEER_PORTS). */
  sipPortRange?: PortRange;
  /** Where the RTP block is taken (default RTP_PEER_PORTS). */
  rtpPortRange?: PortRange;
  /** RTP ports per phone (default 8: four RTP/RTCP pairs). */
  rtpPorts?: number;
  /** How long start() waits for baresip to be ready (default 10 s). */
  startTimeoutMs?: number;
}

const CAPS: PeerCapabilities = {
  subscribe: true,
  refer: true,
  reinvite: true,
  prack: false,
  notifyEvents: false,
  notes: {
    prack: 'baresip 1.0.0 / libre 1.1 has no 100rel support (no PRACK, ignores Require: 100rel)',
    subscribe:
      'only at start-up: the presence module subscribes to `;presence=p2p` contacts, so a dedicated baresip is started',
  },
};

/** Block layout: SIP (UDP+TCP), SIP + 1 (TLS, bound by baresip whatever the config), ctrl_tcp. */
const SIP_BLOCK = 3;
const TONE_SECONDS = 180;

interface Pending {
  resolve(r: { ok: boolean; data: string }): void;
}

export class BaresipPeer implements Peer {
  readonly kind = 'baresip' as const;
  readonly transport: PeerTransport;
  readonly label: string;
  readonly name: string;
  readonly caps = CAPS;
  /** Where others reach this phone directly (its listening address). */
  readonly uri: string;
  readonly sipPort: number;
  readonly ctrlPort: number;
  /** First and last RTP port it may use. */
  readonly rtpPorts: readonly [number, number];
  readonly ports: number[];
  /** The temp directory with its config, tone and recordings. */
  readonly dir: string;
  /** Normalised events (incoming, ringing, established, closed, transfer-failed, notify, unsubscribed). */
  readonly log = new EventLog();
  /** Every ctrl_tcp event, as baresip sent it. */
  readonly raw: BaresipEvent[] = [];
  /** Everything it printed (the last 100-200 kB). */
  output = '';
  readonly #child: ChildProcess;
  readonly #blocks: PortBlock[];
  readonly #pending = new Map<string, Pending>();
  readonly #eventWaiters = new Set<() => void>();
  readonly #outputWaiters = new Set<() => void>();
  #socket: Socket | undefined;
  #buffer = '';
  #token = 0;
  #closed = false;
  #exited: string | undefined;

  private constructor(child: ChildProcess, dir: string, opts: BaresipOptions, blocks: PortBlock[]) {
    this.#child = child;
    this.#blocks = blocks;
    this.dir = dir;
    this.name = opts.user;
    this.transport = opts.transport ?? 'udp';
    this.label = `baresip-${this.transport}`;
    this.sipPort = blocks[0]!.port(0);
    this.ctrlPort = blocks[0]!.port(2);
    this.rtpPorts = [blocks[1]!.base, blocks[1]!.last];
    this.uri = `sip:${opts.user}@127.0.0.1:${this.sipPort}${this.transport === 'tcp' ? ';transport=tcp' : ''}`;
    this.ports = [this.sipPort];
    child.stdout?.on('data', (d: Buffer) => this.#onOutput(d.toString()));
    child.stderr?.on('data', (d: Buffer) => this.#onOutput(d.toString()));
    child.once('exit', (code, signal) => {
      this.#exited = `baresip exited (${code ?? signal})`;
      for (const p of this.#pending.values()) p.resolve({ ok: false, data: this.#exited });
      this.#pending.clear();
      for (const w of [...this.#outputWaiters]) w();
      for (const w of [...this.#eventWaiters]) w();
    });
  }

  /** Starts a baresip; retried on new ports while one of its binds finds the port taken. */
  static start(opts: BaresipOptions): Promise<BaresipPeer> {
    const requests = [
      { count: SIP_BLOCK, range: opts.sipPortRange ?? SIP_PEER_PORTS },
      { count: opts.rtpPorts ?? 8, range: opts.rtpPortRange ?? RTP_PEER_PORTS },
    ];
    return startOnPortBlocks(requests, (blocks) => BaresipPeer.#startOn(opts, blocks));
  }

  static async #startOn(opts: BaresipOptions, blocks: PortBlock[]): Promise<BaresipPeer> {
    const [sip, rtp] = blocks as [PortBlock, PortBlock];
    const dir = await mkdtemp(join(tmpdir(), `conclave-baresip-${opts.user}-`));
    const tone = join(dir, 'tone-8k.wav');
    await writeFile(tone, toneWav(opts.toneHz ?? 440, TONE_SECONDS, { amplitude: opts.toneAmplitude ?? 0.5 }));
    await writeFile(
      join(dir, 'config'),
      [
        'module_path /usr/lib/baresip/modules',
        `sip_listen 127.0.0.1:${sip.port(0)}`,
        'net_interface 127.0.0.1',
        // sndfile records what passes the decoder on its way to a player that runs in real time (ALSA's
        // null device); without a recording, a file player is enough.
        ...(opts.record
          ? ['audio_player alsa,null', 'audio_alert alsa,null', `snd_path ${dir}`]
          : ['audio_player aufile,/dev/null']),
        `audio_source aufile,${tone}`,
        `rtp_ports ${rtp.base}-${rtp.last}`,
        'module g711.so',
        'module aufile.so',
        ...(opts.record ? ['module alsa.so', 'module sndfile.so'] : []),
        'module_tmp uuid.so',
        'module_tmp account.so',
        'module_app contact.so',
        'module_app menu.so',
        'module_app ctrl_tcp.so',
        ...(opts.contacts ? ['module_app presence.so'] : []),
        `ctrl_tcp_listen 127.0.0.1:${sip.port(2)}`,
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'accounts'), accountLine(opts, sip.port(0)) + '\n');
    await writeFile(join(dir, 'contacts'), (opts.contacts ?? []).join('\n') + '\n');
    const child = trackChild(spawn('baresip', ['-f', dir], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const peer = new BaresipPeer(child, dir, opts, blocks);
    try {
      await peer.#waitReady(opts.startTimeoutMs ?? 10_000);
      await peer.#connect();
    } catch (err) {
      await peer.#shutdown(false);
      throw err;
    }
    return peer;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Waits for "baresip is ready." with every bind done; PortInUseError if one found its port taken. */
  async #waitReady(timeoutMs: number): Promise<void> {
    const ready = () => /baresip is ready\./.test(this.output);
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (saysAddressInUse(this.output))
          return done(
            new PortInUseError(
              `${this.name}: a port of ${this.sipPort}-${this.sipPort + SIP_BLOCK - 1} is in use:\n${this.output.slice(-1000)}`,
            ),
          );
        if (this.#exited)
          return done(new Error(`${this.name}: ${this.#exited} before it was ready:\n${this.output.slice(-2000)}`));
        if (ready()) done();
      };
      const timer = setTimeout(
        () => done(new Error(`${this.name}: baresip not ready within ${timeoutMs} ms:\n${this.output.slice(-2000)}`)),
        timeoutMs,
      );
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.#outputWaiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.#outputWaiters.add(check);
      check();
    });
  }

  async #connect(): Promise<void> {
    this.#socket = await new Promise<Socket>((ok, fail) => {
      const s = connect(this.ctrlPort, '127.0.0.1', () => ok(s));
      s.once('error', (err) =>
        fail(
          new Error(
            `${this.name}: ctrl_tcp on ${this.ctrlPort} not reachable: ${err.message}\n${this.output.slice(-1000)}`,
          ),
        ),
      );
    });
    this.#socket.on('data', (d) => this.#onData(d.toString()));
    this.#socket.on('error', () => {});
  }

  #onOutput(text: string): void {
    this.output += text;
    if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    // presence module: "<sip:…> changed status from Online to Offline", "presence: subscriber closed <sip:…>: noresource"
    const plain = stripVTControlCharacters(text);
    for (const m of plain.matchAll(/> changed status from (\S+) to (\S+)/g)) this.log.push('notify', m[2]);
    for (const m of plain.matchAll(/presence: subscriber closed <[^>]*>: (\S+)/g)) this.log.push('unsubscribed', m[1]);
    for (const w of [...this.#outputWaiters]) w();
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
      case 'CALL_INCOMING':
        this.log.push('incoming', e.param);
        break;
      case 'CALL_RINGING':
      case 'CALL_PROGRESS':
        this.log.push('ringing', e.type);
        break;
      case 'CALL_ESTABLISHED':
        this.log.push('established', e.param);
        break;
      case 'CALL_CLOSED':
        this.log.push('closed', e.param);
        break;
      case 'CALL_TRANSFER_FAILED':
        this.log.push('transfer-failed', e.param);
        break;
      default:
        break;
    }
    for (const w of [...this.#eventWaiters]) w();
  }

  /** The number of raw events so far: pass it to waitForEvent() to wait only for later ones. */
  mark(): number {
    return this.raw.length;
  }

  /** The first raw event of `type` at or after index `since`; rejects after `timeoutMs` or if baresip exits. */
  waitForEvent(
    type: string,
    { since = 0, timeoutMs = 8000 }: { since?: number; timeoutMs?: number } = {},
  ): Promise<BaresipEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.raw.slice(since).find((e) => e.type === type);
        if (found) return done(undefined, found);
        if (this.#exited)
          return done(
            new Error(`${this.name}: ${this.#exited} while waiting for ${type}:\n${this.output.slice(-2000)}`),
          );
      };
      const timer = setTimeout(() => {
        done(
          new Error(
            `${this.name}: no ${type} event within ${timeoutMs} ms; events: ${
              this.raw
                .slice(since)
                .map((e) => e.type)
                .join(', ') || 'none'
            }\n${this.output.slice(-2000)}`,
          ),
        );
      }, timeoutMs);
      const done = (err?: Error, e?: BaresipEvent) => {
        clearTimeout(timer);
        this.#eventWaiters.delete(check);
        if (err) reject(err);
        else resolve(e!);
      };
      this.#eventWaiters.add(check);
      check();
    });
  }

  /** Sends a ctrl_tcp command; resolves with baresip's response. */
  command(command: string, params = ''): Promise<{ ok: boolean; data: string }> {
    const token = String(++this.#token);
    const json = JSON.stringify({ command, params, token });
    return new Promise((resolve, reject) => {
      if (this.#exited) return reject(new Error(`${this.name}: ${this.#exited}:\n${this.output.slice(-2000)}`));
      if (!this.#socket || this.#closed) return reject(new Error(`${this.name}: baresip is closed`));
      const timer = setTimeout(() => {
        this.#pending.delete(token);
        reject(new Error(`${this.name}: no response to ${command} ${params}`));
      }, 5000);
      this.#pending.set(token, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      this.#socket.write(`${Buffer.byteLength(json)}:${json},`);
    });
  }

  /** Sends a command that must succeed. */
  async #must(command: string, params = ''): Promise<void> {
    const r = await this.command(command, params);
    if (!r.ok) throw new Error(`${this.name}: baresip ${command} ${params} failed: ${r.data}`);
  }

  async call(target: string): Promise<void> {
    // baresip appends the account's transport parameter itself.
    if (this.transport === 'tcp') target = target.replace(/;transport=tcp/i, '');
    await this.#must('dial', target);
  }

  async hangup(): Promise<void> {
    await this.command('hangup');
  }

  async hold(): Promise<void> {
    await this.#must('hold');
  }

  async resume(): Promise<void> {
    await this.#must('resume');
  }

  async reinvite(): Promise<void> {
    await this.#must('reinvite');
  }

  async transfer(target: string): Promise<void> {
    await this.#must('transfer', target);
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

  /** The recording of what the phone decoded in its current (or last) call, 8 kHz (needs `record`). */
  async recording(): Promise<Int16Array> {
    const files = (await readdir(this.dir)).filter((f) => f.startsWith('dump-') && f.endsWith('-dec.wav'));
    if (files.length === 0) return new Int16Array(0);
    const withTimes = await Promise.all(files.map(async (f) => ({ f, t: (await stat(join(this.dir, f))).mtimeMs })));
    withTimes.sort((a, b) => b.t - a.t);
    return (await readWav(join(this.dir, withTimes[0]!.f))).samples;
  }

  /** Stops baresip (SIGTERM: it unregisters and ends its calls; SIGKILL after 300 ms). */
  async close(): Promise<void> {
    await this.#shutdown(true);
  }

  async #shutdown(graceful: boolean): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.destroy();
    await stopChild(this.#child, graceful ? 300 : 0);
    for (const b of this.#blocks) b.release();
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function accountLine(opts: BaresipOptions, sipPort: number): string {
  const transport = opts.transport ?? 'udp';
  const answer = opts.autoAnswer === false ? '' : ';answermode=auto';
  if (opts.registrar) {
    const r = opts.registrar;
    return `<sip:${opts.user}@${r.host}:${r.port};transport=${transport}>;auth_pass=${r.password};regint=${r.regint ?? 300}${answer}`;
  }
  return `<sip:${opts.user}@127.0.0.1:${sipPort}${transport === 'tcp' ? ';transport=tcp' : ''}>;regint=0${answer}`;
}
