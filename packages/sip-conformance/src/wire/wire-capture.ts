/**
 * SIP on the wire, as seen on the loopback interface (the way the reference drachtio transcripts were
 * recorded with dumpcap): a tiny AF_PACKET sniffer (sniffer.py, needs CAP_NET_RAW) reports UDP datagrams
 * and TCP segments to/from the SIP server's ports and the peers' ports; this module reassembles TCP
 * streams, frames SIP messages, and unwraps WebSocket frames. It works the same against the embedded
 * server and a real drachtio-server, because it never looks inside the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export type WireTransport = 'udp' | 'tcp' | 'ws';

export interface WireEvent {
  /** Epoch milliseconds (kernel timestamp). */
  t: number;
  transport: WireTransport;
  /** Relative to the SIP server: `in` = received by the server. */
  dir: 'in' | 'out';
  /** Server-side port (a listening port, or an ephemeral one for connections the server opened). */
  serverPort: number;
  remotePort: number;
  /** sip: a SIP message; http: the WebSocket upgrade; ws: a WebSocket control frame; crlf: keep-alive. */
  kind: 'sip' | 'http' | 'ws' | 'crlf';
  text: string;
}

interface Packet {
  t: number;
  p: 'udp' | 'tcp';
  s: number;
  d: number;
  seq?: number;
  f?: number;
  b: string;
}

const SNIFFER = join(dirname(fileURLToPath(import.meta.url)), 'sniffer.py');

/** Ports the capture classifies traffic by (mutable: peers register theirs as they start). */
export interface WirePorts {
  /** The server's listening ports by transport. */
  server: { udp?: number; tcp?: number; ws?: number };
  /** Listening ports of peers (traffic to them from any port counts as server → peer). */
  peers: Set<number>;
}

export class WireCapture {
  readonly events: WireEvent[] = [];
  readonly ports: WirePorts;
  readonly #child: ChildProcess;
  readonly #streams = new Map<string, StreamDecoder>();
  #lastPacketAt = 0;
  #closed = false;
  stderr = '';

  private constructor(child: ChildProcess, ports: WirePorts) {
    this.#child = child;
    this.ports = ports;
  }

  /**
   * Start capturing traffic on `fixedPorts` (the server's) and `ranges` (where peers listen, e.g. `52000-52999`).
   * Rejects if the sniffer cannot start (no python3, no CAP_NET_RAW).
   */
  static async start(ports: WirePorts, ranges: string[]): Promise<WireCapture> {
    const fixed = [ports.server.udp, ports.server.tcp, ports.server.ws].filter((p): p is number => !!p);
    const child = spawn('python3', [SNIFFER, ...new Set(fixed.map(String)), ...ranges], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const cap = new WireCapture(child, ports);
    child.stderr.on('data', (d: Buffer) => (cap.stderr += d.toString()));
    const lines = createInterface({ input: child.stdout });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`wire sniffer did not start: ${cap.stderr}`)), 5000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`wire sniffer exited (${code}): ${cap.stderr.trim()}`));
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      lines.on('line', (line) => {
        if (line.startsWith('{"ready"')) {
          clearTimeout(timer);
          resolve();
          return;
        }
        try {
          cap.#onPacket(JSON.parse(line) as Packet);
        } catch {
          // a partial or odd line: ignore
        }
      });
    });
    child.removeAllListeners('exit');
    child.on('exit', () => (cap.#closed = true));
    return cap;
  }

  /** Resolves once no packet has arrived for `quietMs` (the capture has caught up), at most `maxMs`. */
  async settle(quietMs = 120, maxMs = 3000): Promise<void> {
    const start = Date.now();
    for (;;) {
      const now = Date.now();
      if (now - this.#lastPacketAt >= quietMs || now - start >= maxMs) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  #classify(
    s: number,
    d: number,
    transport: 'udp' | 'tcp',
  ): { dir: 'in' | 'out'; serverPort: number; remotePort: number; wireTransport: WireTransport } | undefined {
    const sv = this.ports.server;
    const serverPorts = transport === 'udp' ? [sv.udp] : [sv.tcp, sv.ws];
    const ws = transport === 'tcp' && sv.ws !== undefined && (s === sv.ws || d === sv.ws);
    const wireTransport: WireTransport = transport === 'udp' ? 'udp' : ws ? 'ws' : 'tcp';
    if (serverPorts.includes(s)) return { dir: 'out', serverPort: s, remotePort: d, wireTransport };
    if (serverPorts.includes(d)) return { dir: 'in', serverPort: d, remotePort: s, wireTransport };
    if (this.ports.peers.has(d)) return { dir: 'out', serverPort: s, remotePort: d, wireTransport };
    if (this.ports.peers.has(s)) return { dir: 'in', serverPort: d, remotePort: s, wireTransport };
    return undefined;
  }

  #onPacket(p: Packet): void {
    const c = this.#classify(p.s, p.d, p.p);
    if (!c) return;
    this.#lastPacketAt = Date.now();
    const t = p.t * 1000;
    const payload = Buffer.from(p.b, 'base64');
    const base = { t, transport: c.wireTransport, dir: c.dir, serverPort: c.serverPort, remotePort: c.remotePort };
    if (p.p === 'udp') {
      if (payload.length === 0) return;
      const text = payload.toString('utf8');
      if (/^\s*$/.test(text)) this.events.push({ ...base, kind: 'crlf', text: '' });
      else this.events.push({ ...base, kind: 'sip', text });
      return;
    }
    const key = `${p.s}>${p.d}`;
    let stream = this.#streams.get(key);
    const SYN = 0x02;
    const FIN = 0x01;
    const RST = 0x04;
    const newStream = (): StreamDecoder => {
      const s: StreamDecoder = new StreamDecoder(c.wireTransport === 'ws', (kind, text) =>
        this.events.push({ ...s.current, kind, text }),
      );
      this.#streams.set(key, s);
      return s;
    };
    if ((p.f ?? 0) & SYN) {
      stream = newStream();
      stream.next = ((p.seq ?? 0) + 1) >>> 0;
      return;
    }
    if (!stream) {
      // Connection opened before the capture started: pick up from here (a WS upgrade is long gone).
      stream = newStream();
      stream.next = p.seq ?? 0;
      stream.skipHttp();
    }
    stream.current = base;
    if (payload.length > 0 && p.seq !== undefined) stream.segment(p.seq, payload);
    if ((p.f ?? 0) & (FIN | RST)) this.#streams.delete(key);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#child.stdin?.end();
    } catch {
      // gone
    }
    this.#child.kill('SIGTERM');
  }
}

/** One direction of one TCP connection: reassembly, then SIP framing or HTTP + WebSocket framing. */
class StreamDecoder {
  next = 0;
  /** Addressing and time of the segment being decoded (what emitted messages are stamped with). */
  current: Omit<WireEvent, 'kind' | 'text'> = { t: 0, transport: 'tcp', dir: 'in', serverPort: 0, remotePort: 0 };
  #buf = Buffer.alloc(0);
  #httpDone: boolean;
  readonly #ws: boolean;
  readonly #emit: (kind: WireEvent['kind'], text: string) => void;
  #fragments: Buffer[] = [];

  constructor(ws: boolean, emit: (kind: WireEvent['kind'], text: string) => void) {
    this.#ws = ws;
    this.#httpDone = !ws;
    this.#emit = emit;
  }

  skipHttp(): void {
    this.#httpDone = true;
  }

  segment(seq: number, data: Buffer): void {
    const delta = (seq - this.next) | 0;
    if (delta < 0) {
      // Retransmission, possibly overlapping new data.
      if (-delta >= data.length) return;
      data = data.subarray(-delta);
    }
    this.next = (seq + Math.max(delta, 0) + data.length) >>> 0;
    this.#buf = Buffer.concat([this.#buf, data]);
    this.#drain();
  }

  #drain(): void {
    for (;;) {
      if (!this.#httpDone) {
        const end = this.#buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        this.#emit('http', this.#buf.subarray(0, end + 4).toString('utf8'));
        this.#buf = this.#buf.subarray(end + 4);
        this.#httpDone = true;
        continue;
      }
      const consumed = this.#ws ? this.#wsFrame() : this.#sipMessage();
      if (!consumed) return;
    }
  }

  #sipMessage(): boolean {
    let i = 0;
    while (i + 1 < this.#buf.length && this.#buf[i] === 13 && this.#buf[i + 1] === 10) i += 2;
    if (i > 0) {
      this.#emit('crlf', '');
      this.#buf = this.#buf.subarray(i);
      return true;
    }
    const end = this.#buf.indexOf('\r\n\r\n');
    if (end < 0) return false;
    const head = this.#buf.subarray(0, end).toString('utf8');
    const m = /^(?:content-length|l)[ \t]*:[ \t]*(\d+)/im.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (this.#buf.length < end + 4 + len) return false;
    this.#emit('sip', this.#buf.subarray(0, end + 4 + len).toString('utf8'));
    this.#buf = this.#buf.subarray(end + 4 + len);
    return true;
  }

  #wsFrame(): boolean {
    const b = this.#buf;
    if (b.length < 2) return false;
    const fin = (b[0]! & 0x80) !== 0;
    const opcode = b[0]! & 0x0f;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) return false;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return false;
      len = Number(b.readBigUInt64BE(2));
      off = 10;
    }
    const maskOff = off;
    if (masked) off += 4;
    if (b.length < off + len) return false;
    const payload = Buffer.from(b.subarray(off, off + len));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= b[maskOff + (i % 4)]!;
    this.#buf = b.subarray(off + len);
    if (opcode === 0 || opcode === 1 || opcode === 2) {
      this.#fragments.push(payload);
      if (fin) {
        const text = Buffer.concat(this.#fragments).toString('utf8');
        this.#fragments = [];
        if (/^\s*$/.test(text)) this.#emit('crlf', '');
        else this.#emit('sip', text);
      }
    } else {
      const name = opcode === 8 ? 'close' : opcode === 9 ? 'ping' : opcode === 10 ? 'pong' : `opcode-${opcode}`;
      this.#emit('ws', name);
    }
    return true;
  }
}
