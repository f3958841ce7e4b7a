/**
 * baresip (Debian's, headless) as a real SIP peer for interop tests: configured in a temp directory,
 * driven over its ctrl_tcp module (netstring-framed JSON), its events collected.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BaresipEvent {
  type?: string;
  param?: string;
  [key: string]: unknown;
}

export class Baresip {
  readonly events: BaresipEvent[] = [];
  readonly #child: ChildProcess;
  readonly #ctrlPort: number;
  #socket: Socket | undefined;
  #buffer = '';
  output = '';

  private constructor(child: ChildProcess, ctrlPort: number) {
    this.#child = child;
    this.#ctrlPort = ctrlPort;
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  /** Starts baresip with one account (`<sip:user@host:port;transport=udp>;auth_pass=…`). */
  static async start(options: { account: string; sipPort: number; ctrlPort: number; rtpPorts: string; toneHz?: number }): Promise<Baresip> {
    const dir = mkdtempSync(join(tmpdir(), 'baresip-'));
    // ausine only runs at 48 kHz; with G.711 the microphone is an 8 kHz tone file.
    const tone = join(dir, 'tone.wav');
    execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', tone, 'synth', '60', 'sine', String(options.toneHz ?? 500), 'vol', '0.5']);
    writeFileSync(join(dir, 'config'), [
      'module_path /usr/lib/baresip/modules',
      `sip_listen 127.0.0.1:${options.sipPort}`,
      'net_interface 127.0.0.1',
      'audio_player aufile,/dev/null',
      `audio_source aufile,${tone}`,
      `rtp_ports ${options.rtpPorts}`,
      'module g711.so', 'module aufile.so',
      'module_tmp uuid.so', 'module_tmp account.so',
      'module_app contact.so', 'module_app menu.so', 'module_app ctrl_tcp.so',
      `ctrl_tcp_listen 127.0.0.1:${options.ctrlPort}`,
      '',
    ].join('\n'));
    writeFileSync(join(dir, 'accounts'), options.account + '\n');
    writeFileSync(join(dir, 'contacts'), '');
    const child = spawn('baresip', ['-f', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const b = new Baresip(child, options.ctrlPort);
    await b.#connect();
    return b;
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
        if (Date.now() > end) throw new Error(`baresip ctrl_tcp not reachable: ${(err as Error).message}\n${this.output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.#socket.on('data', (d) => this.#onData(d.toString()));
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
        /* not JSON: ignore */
      }
    }
  }

  command(command: string, params = ''): void {
    const json = JSON.stringify({ command, params, token: String(Date.now()) });
    this.#socket!.write(`${Buffer.byteLength(json)}:${json},`);
  }

  stop(): void {
    this.#socket?.destroy();
    this.#child.kill('SIGKILL');
  }
}
