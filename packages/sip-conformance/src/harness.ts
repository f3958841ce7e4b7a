/**
 * The conformance harness: a SIP server (the embedded SipServer on ephemeral ports, or a real
 * drachtio-server given by DRACHTIO_HOST/DRACHTIO_PORT/DRACHTIO_SECRET), a control-port tap, a wire
 * capture, drachtio-srf apps connected through the tap, and per-scenario golden transcripts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, type Logger } from '@conclave/log';
import { SipServer as EmbeddedSipServer, type SipServerOptions, type SipTimerOptions } from '@conclave/sip-server';
import { connectApp, parseHostports, type ConnectedApp, type LooseSrf } from './app.ts';
import { ControlTap } from './control-tap.ts';
import { reservePortBlock } from '@conclave/test-peers';
import { PEER_PORT_RANGE } from './ports.ts';
import {
  diffShapes,
  normalise,
  normaliseWithNotes,
  parseGolden,
  renderGolden,
  shapeOf,
  type Block,
  type RawEntry,
} from './transcript.ts';
import { WireCapture } from './wire/wire-capture.ts';
import type { Peer } from '@conclave/test-peers';

export const GOLDEN_DIR = process.env['GOLDEN_DIR'] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'golden');

export interface HostPort {
  host: string;
  port: number;
}

export interface HarnessOptions {
  /** Server timers (embedded server only; a real drachtio-server uses its own, T1 = 500 ms). */
  timers?: SipTimerOptions;
}

/** A real drachtio-server to test instead of the embedded one. */
export function externalServer(): { host: string; port: number; secret: string } | undefined {
  const host = process.env['DRACHTIO_HOST'];
  if (!host) return undefined;
  return {
    host,
    port: Number(process.env['DRACHTIO_PORT'] ?? 9022),
    secret: process.env['DRACHTIO_SECRET'] ?? 'cymru',
  };
}

export class Harness {
  readonly server: EmbeddedSipServer | undefined;
  readonly control: { host: string; port: number; secret: string };
  readonly sip: { udp: HostPort; tcp: HostPort; ws: HostPort };
  readonly tap: ControlTap;
  readonly wire: WireCapture | undefined;
  readonly wireError: string | undefined;
  /** Port → role name used in transcripts. */
  readonly roles = new Map<number, string>();
  readonly log: Logger;
  readonly logLines: string[];
  readonly #apps = new Set<ConnectedApp>();
  readonly #peers: Peer[] = [];
  #registrar: ConnectedApp | undefined;
  readonly #cleanups: Array<() => Promise<void> | void> = [];
  #closed = false;

  private constructor(init: {
    server: EmbeddedSipServer | undefined;
    control: Harness['control'];
    sip: Harness['sip'];
    tap: ControlTap;
    wire: WireCapture | undefined;
    wireError: string | undefined;
    log: Logger;
    logLines: string[];
  }) {
    this.server = init.server;
    this.control = init.control;
    this.sip = init.sip;
    this.tap = init.tap;
    this.wire = init.wire;
    this.wireError = init.wireError;
    this.log = init.log;
    this.logLines = init.logLines;
    // `S` when UDP and TCP share a port (drachtio, and the embedded server as the harness starts it).
    if (init.sip.udp.port === init.sip.tcp.port) this.roles.set(init.sip.udp.port, 'S');
    else {
      this.roles.set(init.sip.udp.port, 'S.udp');
      this.roles.set(init.sip.tcp.port, 'S.tcp');
    }
    this.roles.set(init.sip.ws.port, 'S.ws');
  }

  get external(): boolean {
    return this.server === undefined;
  }

  static async start(opts: HarnessOptions = {}): Promise<Harness> {
    const logLines: string[] = [];
    const echo = process.env['CONFORMANCE_LOG'];
    const log = createLogger('conformance', {
      level: 'debug',
      sink: (line) => {
        logLines.push(line);
        if (logLines.length > 20_000) logLines.splice(0, 10_000);
        if (echo && (echo === 'debug' || !line.includes(' DEBUG '))) process.stderr.write(line + '\n');
      },
    });
    const ext = externalServer();
    let server: EmbeddedSipServer | undefined;
    let control: Harness['control'];
    let sip: Harness['sip'];
    if (ext) {
      control = ext;
      const probe = await connectApp(ext);
      probe.close();
      const hp = parseHostports(probe.hostport);
      if (!hp.udp || !hp.tcp || !hp.ws)
        throw new Error(`external drachtio-server must listen on udp, tcp and ws; it reports ${probe.hostport}`);
      sip = { udp: hp.udp, tcp: hp.tcp, ws: hp.ws };
    } else {
      // SIP_SERVER_MODULE: run against another build of the embedded server (e.g. a patched copy).
      const override = process.env['SIP_SERVER_MODULE'];
      const SipServer = override
        ? ((await import(override)) as { SipServer: new (o: SipServerOptions) => EmbeddedSipServer }).SipServer
        : EmbeddedSipServer;
      // UDP and TCP on the same port, as drachtio-server does (5080 for both in the reference setup), so
      // transcripts of both servers use the same placeholders.
      let addrs: Awaited<ReturnType<EmbeddedSipServer['start']>> | undefined;
      for (let attempt = 0; !addrs; attempt++) {
        const { base: port } = await reservePortBlock(1, PEER_PORT_RANGE);
        server = new SipServer({
          listen: {
            udp: { host: '127.0.0.1', port },
            tcp: { host: '127.0.0.1', port },
            ws: { host: '127.0.0.1', port: 0 },
          },
          control: { host: '127.0.0.1', port: 0, secret: 'cymru' },
          logger: log.child('sip-server'),
          ...(opts.timers ? { timers: opts.timers } : {}),
        });
        try {
          addrs = await server.start();
        } catch (err) {
          if (attempt >= 5) throw err;
        }
      }
      control = { host: addrs.control.host, port: addrs.control.port, secret: 'cymru' };
      sip = { udp: addrs.udp!, tcp: addrs.tcp!, ws: addrs.ws! };
    }
    const tap = await new ControlTap({ host: control.host, port: control.port }).listen();
    let wire: WireCapture | undefined;
    let wireError: string | undefined;
    try {
      wire = await WireCapture.start(
        { server: { udp: sip.udp.port, tcp: sip.tcp.port, ws: sip.ws.port }, peers: new Set() },
        [`${PEER_PORT_RANGE[0]}-${PEER_PORT_RANGE[1]}`],
      );
    } catch (err) {
      wireError = (err as Error).message;
      if (process.env['REQUIRE_WIRE']) {
        await tap.close();
        await server?.close();
        throw err;
      }
    }
    return new Harness({ server, control, sip, tap, wire, wireError, log, logLines });
  }

  /** The server URI for `user` over the given transport (what a peer dials). */
  uri(user: string, transport: 'udp' | 'tcp' | 'ws'): string {
    const a = this.sip[transport];
    if (transport === 'udp') return `sip:${user}@${a.host}:${a.port}`;
    return `sip:${user}@${a.host}:${a.port};transport=${transport}`;
  }

  /** Register a peer: its ports get role names in transcripts and are watched by the capture. */
  addPeer<P extends Peer>(peer: P, role = peer.label): P {
    this.#peers.push(peer);
    for (const p of peer.ports) {
      this.roles.set(p, role);
      this.wire?.ports.peers.add(p);
    }
    this.#cleanups.push(() => peer.close());
    return peer;
  }

  /** Recent console output of peers that have one (baresip, linphonec), for failure reports. */
  peerOutputs(): string {
    return this.#peers
      .map((p) => {
        const out = (p as unknown as { output?: string }).output;
        return out ? `[${p.label}]\n${out.slice(-1500)}` : '';
      })
      .filter(Boolean)
      .join('\n');
  }

  /** Run `fn` at close() (in reverse order of registration). */
  defer(fn: () => Promise<void> | void): void {
    this.#cleanups.push(fn);
  }

  /** Connect a drachtio-srf app through the control tap. */
  async app(setup?: (srf: LooseSrf) => void): Promise<ConnectedApp> {
    const app = await connectApp({ host: '127.0.0.1', port: this.tap.port, secret: this.control.secret }, setup);
    this.#apps.add(app);
    const close = app.close.bind(app);
    app.close = () => {
      this.#apps.delete(app);
      close();
    };
    return app;
  }

  /**
   * A registrar app for WebSocket clients (JsSIP must register before an app can reach it): answers
   * REGISTER 200 with the Contact and Expires it was given. Stays connected until close().
   */
  async registrar(): Promise<void> {
    if (this.#registrar) return;
    this.#registrar = await this.app((srf) => {
      srf.register((req, res) => {
        res.send(200, {
          headers: { Contact: req.get('Contact'), Expires: req.has('Expires') ? req.get('Expires') : '600' },
        });
      });
    });
  }

  /** Wait until neither the control tap nor the wire has seen anything for `quietMs`. */
  async quiet(quietMs = 80, maxMs = 3000): Promise<void> {
    const start = Date.now();
    let n = this.tap.frames.length;
    let since = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, 20));
      if (this.tap.frames.length !== n) {
        n = this.tap.frames.length;
        since = Date.now();
      }
      if (Date.now() - since >= quietMs || Date.now() - start > maxMs) break;
    }
    await this.wire?.settle(quietMs, maxMs);
  }

  /** Start recording a scenario (call before anything of the scenario happens). */
  record(name: string, opts: { notes?: string[]; keepRetransmissions?: boolean } = {}): Recording {
    return new Recording(this, name, opts);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Peers first: they may still unregister/unsubscribe, which the apps answer.
    for (const fn of this.#cleanups.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      try {
        // A wedged peer must not keep the test file from finishing.
        await Promise.race([fn(), new Promise((r) => (timer = setTimeout(r, 5000)))]);
      } catch {
        // keep cleaning up
      } finally {
        clearTimeout(timer);
      }
    }
    for (const app of [...this.#apps]) app.close();
    this.wire?.close();
    await this.tap.close();
    await this.server?.close();
  }
}

export interface RecordingResult {
  blocks: Block[];
  golden: string;
  /** undefined when the live shape matches the golden one (or the golden was (re)written). */
  diff: string | undefined;
  written: boolean;
}

/** One scenario's slice of the capture, normalised and compared with golden/<name>.txt. */
export class Recording {
  readonly name: string;
  readonly #h: Harness;
  readonly #opts: { notes?: string[]; keepRetransmissions?: boolean };
  readonly #t0: number;
  readonly #frame0: number;

  constructor(h: Harness, name: string, opts: { notes?: string[]; keepRetransmissions?: boolean }) {
    this.#h = h;
    this.name = name;
    this.#opts = opts;
    this.#t0 = Date.now() - 1;
    this.#frame0 = h.tap.frames.length;
  }

  /** Everything captured since the recording started (after the capture has caught up). */
  async entries(): Promise<RawEntry[]> {
    await this.#h.wire?.settle();
    const t1 = Date.now() + 1;
    const out: RawEntry[] = [];
    const frames = this.#h.tap.frames.slice(this.#frame0);
    // SIP on the wire belongs to the scenario when its Call-ID reached the scenario's apps (messages the
    // server absorbs share the Call-ID of one that did). This drops strays: another scenario's late
    // retransmissions (an external server outlives a test file), unrelated traffic on the same ports.
    const callIds = new Set<string>();
    for (const f of frames)
      for (const m of f.payload.matchAll(/^(?:call-id|i)[ \t]*:[ \t]*(\S+)/gim)) callIds.add(m[1]!);
    for (const e of this.#h.wire?.events ?? []) {
      if (e.t < this.#t0 || e.t > t1) continue;
      if (e.kind === 'sip') {
        const callId = /^(?:call-id|i)[ \t]*:[ \t]*(\S+)/im.exec(e.text)?.[1];
        if (callId && !callIds.has(callId)) continue;
      }
      out.push({
        t: e.t,
        channel: 'sip',
        dir: e.dir,
        transport: e.transport,
        kind: e.kind,
        serverPort: e.serverPort,
        remotePort: e.remotePort,
        text: e.text,
      });
    }
    for (const f of frames) out.push({ t: f.t, channel: 'control', dir: f.dir, conn: f.conn, text: f.payload });
    return out;
  }

  /** The normalised transcript so far (for failure reports), without touching golden files. */
  async render(): Promise<string> {
    const entries = await this.entries();
    return renderGolden(this.name, [], normalise(entries, { ports: this.#h.roles, times: true }));
  }

  /**
   * Normalise, then compare with the golden file. UPDATE_GOLDEN=1 writes missing goldens and rewrites those
   * whose shape changed; UPDATE_GOLDEN=force rewrites all; UPDATE_GOLDEN=missing only writes missing ones.
   */
  async finish(extraNotes: string[] = []): Promise<RecordingResult> {
    const entries = await this.entries();
    // Connection numbers relative to the scenario.
    const conns = [...new Set(entries.filter((e) => e.channel === 'control').map((e) => e.conn!))].sort(
      (a, b) => a - b,
    );
    for (const e of entries) if (e.channel === 'control') e.conn = conns.indexOf(e.conn!);
    const { blocks, notes } = normaliseWithNotes(entries, { ports: this.#h.roles }, [
      ...(this.#opts.notes ?? []),
      ...extraNotes,
    ]);
    if (!this.#h.wire) notes.push(`SIP wire capture unavailable: ${this.#h.wireError ?? 'unknown'}`);
    const golden = renderGolden(this.name, notes, blocks);
    const file = join(GOLDEN_DIR, `${this.name}.txt`);
    const update = process.env['UPDATE_GOLDEN'];
    const keep = { keepRetransmissions: this.#opts.keepRetransmissions ?? false };
    if (update === 'force' || ((update === '1' || update === 'missing') && !existsSync(file))) {
      mkdirSync(GOLDEN_DIR, { recursive: true });
      writeFileSync(file, golden);
      return { blocks, golden, diff: undefined, written: true };
    }
    if (update === '1') {
      // Rewrite only when the shape changed: interleavings and timing-dependent details would
      // otherwise churn every file on each update.
      const same = !diffShapes(
        shapeOf(parseGolden(readFileSync(file, 'utf8')), keep),
        shapeOf(parseGolden(golden), keep),
      );
      if (!same) writeFileSync(file, golden);
      return { blocks, golden, diff: undefined, written: !same };
    }
    if (!existsSync(file))
      return {
        blocks,
        golden,
        diff: `no golden transcript ${file} (run with UPDATE_GOLDEN=1 to create it)`,
        written: false,
      };
    const expectedBlocks = parseGolden(readFileSync(file, 'utf8'));
    let expected = shapeOf(expectedBlocks, keep);
    let actual = shapeOf(parseGolden(golden), keep);
    if (!this.#h.wire) {
      // Without a capture only the control channel can be compared.
      expected = { groups: new Map([...expected.groups].filter(([k]) => k.startsWith('control'))) };
      actual = { groups: new Map([...actual.groups].filter(([k]) => k.startsWith('control'))) };
    }
    const diff = diffShapes(expected, actual);
    if (diff) {
      mkdirSync(join(GOLDEN_DIR, '..', '.golden-actual'), { recursive: true });
      writeFileSync(join(GOLDEN_DIR, '..', '.golden-actual', `${this.name}.txt`), golden);
    }
    return { blocks, golden, diff, written: false };
  }
}
