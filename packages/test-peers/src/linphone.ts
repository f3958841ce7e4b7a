/**
 * linphonec 5.1 (Debian, headless) as a SIP peer: a private HOME with .local/share/linphone (else every INVITE gets 503), IPv6 off, guess_hostname=0,
 * scripted through stdin, events read from its console output. One process per transport (UDP-only
 * or TCP-only).
 *
 * Ports: its SIP port and RTP pair are configured, so they come from port blocks; a SIP bind that finds
 * its port taken is only logged ("bind() failed … Address already in use") and linphonec keeps running
 * deaf, so start() watches for that line and starts again on another block.
 *
 * Capabilities: re-INVITE (`pause`), REFER (`transfer`), SUBSCRIBE presence (`friend add`),
 * 100rel/PRACK (`[sip] 100rel_support_level=1`: Supported: 100rel in INVITEs, PRACK for reliable 1xx).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

export const LINPHONE_CAPS: PeerCapabilities = {
  subscribe: true,
  refer: true,
  reinvite: true,
  prack: true,
  notifyEvents: true,
  notes: {
    subscribe:
      'a dedicated linphonec per subscription (it unsubscribes only when it quits); UDP only: linphonec 5.1 `friend add` hangs (stops reading stdin) when the address carries ;transport=tcp, and a TCP-only linphonec cannot send a parameterless (UDP) SUBSCRIBE',
  },
};

export interface LinphoneOptions {
  user: string;
  transport: 'udp' | 'tcp';
  /** Where its SIP port is taken (default SIP_PEER_PORTS). */
  sipPortRange?: PortRange;
  /** Where its RTP/RTCP pair is taken (default RTP_PEER_PORTS). */
  rtpPortRange?: PortRange;
}

export class LinphonePeer implements Peer {
  readonly kind = 'linphone' as const;
  readonly transport: PeerTransport;
  readonly label: string;
  readonly caps = LINPHONE_CAPS;
  readonly uri: string;
  readonly ports: number[];
  readonly log = new EventLog();
  output = '';
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #blocks: PortBlock[];
  #line = '';
  #calls = new Set<number>();
  #closed = false;

  private constructor(child: ChildProcess, dir: string, opts: LinphoneOptions, port: number, blocks: PortBlock[]) {
    this.#child = child;
    this.#blocks = blocks;
    this.#dir = dir;
    this.transport = opts.transport;
    this.label = `linphone-${opts.transport}`;
    this.uri = `sip:${opts.user}@127.0.0.1:${port}${opts.transport === 'tcp' ? ';transport=tcp' : ''}`;
    this.ports = [port];
    child.stdout!.on('data', (d: Buffer) => this.#onOutput(d.toString()));
    child.stderr!.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
  }

  static start(opts: LinphoneOptions): Promise<LinphonePeer> {
    const requests = [
      { count: 1, range: opts.sipPortRange ?? SIP_PEER_PORTS },
      { count: 2, range: opts.rtpPortRange ?? RTP_PEER_PORTS },
    ];
    return startOnPortBlocks(requests, (blocks) => LinphonePeer.#startOn(opts, blocks));
  }

  static async #startOn(opts: LinphoneOptions, blocks: PortBlock[]): Promise<LinphonePeer> {
    const port = blocks[0]!.base;
    const media = blocks[1]!.base;
    const dir = mkdtempSync(join(tmpdir(), 'conformance-linphone-'));
    mkdirSync(join(dir, 'home', '.local', 'share', 'linphone'), { recursive: true });
    writeFileSync(
      join(dir, 'rc'),
      [
        '[sip]',
        // One transport per process, so that everything this peer sends goes over "its" transport
        // (linphonec drops ;transport= from `friend add` addresses, for one).
        `sip_port=${opts.transport === 'udp' ? port : -1}`,
        `sip_tcp_port=${opts.transport === 'tcp' ? port : -1}`,
        'sip_tls_port=-1',
        'bind_address=127.0.0.1',
        'default_proxy=-1',
        'guess_hostname=0',
        '100rel_support_level=1',
        `contact="${opts.user}" <sip:${opts.user}@127.0.0.1:${port}>`,
        '[rtp]',
        `audio_rtp_port=${media}`,
        '[video]',
        'enabled=0',
        '[net]',
        'ipv6=0',
        '',
      ].join('\n'),
    );
    const child = trackChild(
      spawn('linphonec', ['-c', join(dir, 'rc'), '-S', '-d', '0'], {
        env: { ...process.env, HOME: join(dir, 'home') },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    const peer = new LinphonePeer(child, dir, opts, port, blocks);
    try {
      peer.send('soundcard use files');
      peer.send('autoanswer enable');
      const end = Date.now() + 10_000;
      while (!/Auto answer enabled/.test(peer.output)) {
        if (saysAddressInUse(peer.output))
          throw new PortInUseError(`linphonec: port ${port} in use:\n${peer.output.slice(-1000)}`);
        if (child.exitCode !== null) throw new Error(`linphonec exited (${child.exitCode}):\n${peer.output}`);
        if (Date.now() > end) throw new Error(`linphonec did not start:\n${peer.output}`);
        await new Promise((r) => setTimeout(r, 30));
      }
      // The bind error is printed (stderr) before the commands are answered (stdout): look once more.
      if (saysAddressInUse(peer.output))
        throw new PortInUseError(`linphonec: port ${port} in use:\n${peer.output.slice(-1000)}`);
    } catch (err) {
      await peer.close();
      throw err;
    }
    return peer;
  }

  send(line: string): void {
    if (this.#closed) return;
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
      throw new Error(
        `${this.label}: linphonec exited (${this.#child.exitCode ?? this.#child.signalCode}):\n${this.output.slice(-2000)}`,
      );
    }
    this.#child.stdin!.write(line + '\n');
  }

  #onOutput(text: string): void {
    this.output += text;
    if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    this.#line += text;
    const lines = this.#line.split('\n');
    this.#line = lines.pop() ?? '';
    for (const raw of lines) this.#onLine(raw.replace(/^(linphonec> )+/, '').trim());
  }

  #onLine(line: string): void {
    let m: RegExpExecArray | null;
    if ((m = /^Receiving new incoming call from .*, assigned id (\d+)/.exec(line))) {
      this.#calls.add(Number(m[1]));
      this.log.push('incoming', line);
    } else if ((m = /^Establishing call id to .*, assigned id (\d+)/.exec(line))) {
      this.#calls.add(Number(m[1]));
    } else if (/^Call \d+ to .* (ringing|early media)\./.test(line)) {
      this.log.push('ringing', line);
    } else if (/^Call \d+ with .* connected\./.test(line)) {
      this.log.push('established', line);
    } else if ((m = /^Call (\d+) (?:with|to|from) .* (?:ended|error|declined)/i.exec(line))) {
      this.#calls.delete(Number(m[1]));
      this.log.push('closed', line);
    } else if (/^Friend .* is /.test(line)) {
      this.log.push('notify', line);
    } else if (/is now paused\.$/.test(line)) {
      this.log.push('reinvite-ok', line);
    } else if (/could not be paused|pause.*failed/i.test(line)) {
      this.log.push('reinvite-failed', line);
    }
  }

  /** A console command for the Peer contract: a refusal (linphonec gone, ...) comes back as a rejection. */
  #command(line: () => string): Promise<void> {
    return new Promise((resolve) => resolve(this.send(line())));
  }

  call(target: string): Promise<void> {
    return this.#command(() => `call ${target}`);
  }

  hangup(): Promise<void> {
    return this.#command(() => 'terminate');
  }

  reinvite(): Promise<void> {
    return this.#command(() => 'pause');
  }

  transfer(target: string): Promise<void> {
    return this.#command(() => `transfer ${target}`);
  }

  subscribe(target: string): Promise<void> {
    return this.#command(() => {
      if (target.includes(';')) {
        throw new Error(
          'linphonec 5.1 stops reading commands after `friend add` of an address with URI parameters (e.g. ;transport=tcp)',
        );
      }
      // Always with the scheme: linphonec 5.1 stops responding to stdin after `friend add` of an address
      // without "sip:" (its help says the scheme is optional).
      return `friend add "presence" ${target.startsWith('sip:') ? target : `sip:${target}`}`;
    });
  }

  /** Drop friends (subscriptions) and calls left by an earlier scenario. */
  async reset(): Promise<void> {
    if (this.#calls.size > 0) {
      this.send('terminate all');
      const end = Date.now() + 2000;
      while (this.#calls.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 30));
    }
  }

  /**
   * linphonec unsubscribes (SUBSCRIBE Expires: 0) only when it quits: `friend delete` drops the friend
   * silently. So a subscribing linphonec is a dedicated process, and unsubscribing ends it.
   */
  async unsubscribe(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.send('quit');
    this.#closed = true;
    // linphonec unsubscribes and finishes pending transactions before exiting: give it time.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((r) => this.#child.once('exit', () => r())),
      new Promise((r) => (timer = setTimeout(r, 3000))),
    ]);
    clearTimeout(timer);
    await stopChild(this.#child, 300);
    for (const b of this.#blocks) b.release();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
