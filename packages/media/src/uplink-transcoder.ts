/**
 * The uplink of a G.711 phone: a GStreamer process that turns the phone's PCMU/PCMA RTP into Opus RTP
 * for the leg's mediasoup producer (mediasoup forwards, it never transcodes, and browsers get Opus).
 * One process per leg, started once the codec is negotiated, replaced only if the phone's codec
 * changes (re-INVITE) or the process dies (restarted with backoff). The leg's RtpRewriter keeps the
 * producer's stream continuous across a replacement.
 */
import type { Logger } from '@conclave/log';
import { GstProcess, type GstExit } from './gst-process.ts';
import { uplinkPipeline } from './audio-pipelines.ts';
import { randomSsrc } from './rtp-packet.ts';

const MAX_BACKOFF_MS = 5000;
/** A process that ran this long before dying is restarted without backoff history. */
const STABLE_MS = 10_000;

export interface UplinkCodec {
  codec: 'PCMU' | 'PCMA';
  payloadType: number;
}

interface Instance {
  key: string;
  ssrc: number;
  codec: UplinkCodec;
  proc?: GstProcess;
}

export class UplinkTranscoder {
  readonly #log: Logger;
  readonly #relayPort: number;
  readonly #outPayloadType: number;
  readonly #send: (buf: Buffer, port: number) => void;
  readonly #deliver: (buf: Buffer, instanceKey: string) => void;
  #want: UplinkCodec | undefined;
  #current: Instance | undefined;
  #starting = false;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #counter = 0;
  #started = 0;
  #closed = false;
  restarts = 0;

  constructor(params: {
    log: Logger;
    relayPort: number;
    /** Payload type of the Opus output (the router's). */
    outPayloadType: number;
    send: (buf: Buffer, port: number) => void;
    /** Opus RTP for the producer; instanceKey changes when a new process takes over. */
    deliver: (buf: Buffer, instanceKey: string) => void;
  }) {
    this.#log = params.log.child({ pipeline: 'uplink' });
    this.#relayPort = params.relayPort;
    this.#outPayloadType = params.outPayloadType;
    this.#send = params.send;
    this.#deliver = params.deliver;
  }

  get pid(): number | undefined {
    return this.#current?.proc?.pid;
  }
  get pids(): number[] {
    return this.#current?.proc ? [this.#current.proc.pid] : [];
  }
  cpuSeconds(): number {
    return this.#current?.proc?.cpuSeconds() ?? 0;
  }
  /** The codec the running process decodes. */
  get codec(): UplinkCodec | undefined {
    return this.#current?.proc ? this.#current.codec : undefined;
  }

  /** Decode `codec` from now on (undefined: no process). Applied asynchronously. */
  configure(codec: UplinkCodec | undefined): void {
    if (this.#closed) return;
    this.#want = codec ? { ...codec } : undefined;
    this.#schedule(0);
  }

  /** The phone's RTP (of the configured payload type). */
  input(buf: Buffer): void {
    const proc = this.#current?.proc;
    if (proc && !proc.exited) this.#send(buf, proc.ports['in']!);
  }

  /** A datagram from a pipeline; false if it is not this uplink's. */
  output(buf: Buffer, ssrc: number): boolean {
    const cur = this.#current;
    if (!cur || ssrc !== cur.ssrc) return false;
    this.#deliver(buf, cur.key);
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#current?.proc?.kill();
    this.#current = undefined;
  }

  #schedule(delay: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#reconcile(), delay);
  }

  async #reconcile(): Promise<void> {
    if (this.#closed || this.#starting) return;
    const want = this.#want;
    const cur = this.#current;
    if (cur && want && cur.codec.codec === want.codec && cur.codec.payloadType === want.payloadType) return;
    cur?.proc?.kill();
    this.#current = undefined;
    if (!want) return;
    const inst: Instance = { key: `uplink-${++this.#counter}`, ssrc: randomSsrc(), codec: want };
    this.#starting = true;
    let proc: GstProcess;
    try {
      proc = await GstProcess.start({
        role: 'uplink',
        pipeline: uplinkPipeline({
          codec: want.codec,
          payloadType: want.payloadType,
          outPort: this.#relayPort,
          outSsrc: inst.ssrc,
          outPayloadType: this.#outPayloadType,
        }),
        udpsrcNames: ['in'],
        log: this.#log,
        onExit: (exit) => this.#onExit(inst, exit),
      });
    } catch (err) {
      this.#starting = false;
      this.#failures += 1;
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.#failures);
      this.#log.error('cannot start the uplink transcoder; retrying', { err, retryMs: delay });
      this.#schedule(delay);
      return;
    }
    this.#starting = false;
    if (this.#closed) {
      proc.kill();
      return;
    }
    inst.proc = proc;
    this.#current = inst;
    if (this.#started++ > 0) this.restarts += 1;
    this.#log.info('uplink transcoder started', { pid: proc.pid, codec: want.codec });
    if (this.#want !== want) this.#schedule(0);
  }

  #onExit(inst: Instance, exit: GstExit): void {
    if (exit.killed || this.#closed || this.#current !== inst) return;
    this.#current = undefined;
    // A process that ran for a while gets a quick restart; one that keeps dying, a growing backoff.
    this.#failures = inst.proc && Date.now() - inst.proc.startedAt > STABLE_MS ? 1 : this.#failures + 1;
    this.#schedule(Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.#failures));
  }
}
