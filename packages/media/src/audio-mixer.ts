/**
 * The downlink of a plain RTP leg: a GStreamer process that mixes the Opus streams of every other
 * party (one mediasoup consumer each) into the phone's codec.
 *
 * gst-launch cannot add inputs to a running pipeline, so the mixer is a function of its input set:
 * when parties join or leave, a new process is started with the new set ("make before break"). While
 * it starts, the relay feeds both processes and keeps sending the old one's output; once the new one
 * has produced output for longer than its jitter buffers need to fill, it takes over and the old one is
 * killed (a new one that stays mute is replaced by another attempt; the old one plays on). Each input
 * has its own loopback port, so every branch is linked and running before the first packet. Paused
 * sources are left out of the set (the leg decides): a silent input would make the mixer wait for it
 * up to its jitter-buffer latency on every buffer. The leg's RtpRewriter keeps the phone's stream continuous across the switch (same SSRC,
 * sequence numbers, timestamps), so a phone never notices a membership change other than by the mix.
 * Changes within DEBOUNCE_MS are batched into one restart.
 */
import type { Logger } from '@conclave/log';
import { GstProcess, type GstExit } from './gst-process.ts';
import { mixerInputName, mixerPipeline, MIXER_JITTER_MS } from './audio-pipelines.ts';
import { randomSsrc, rtpPayloadOffset } from './rtp-packet.ts';
import { g711Power } from './g711.ts';
import type { PlainCodecName } from './sdp/plain-description.ts';

const DEBOUNCE_MS = 20;
/** The new mixer's output is used once it has run this long (its jitter buffers are full by then)... */
const HANDOVER_MS = MIXER_JITTER_MS + 60;
/**
 * ...and, for G.711 output, once it is about as loud as the mixer in use (both get the same packets
 * for the sources they share), so that a slow start never silences a party; at the latest after this.
 */
const HANDOVER_MAX_MS = 1000;
/** "About as loud": within this many dB, over the last LEVEL_FRAMES packets. */
const HANDOVER_LEVEL_DB = 6;
const LEVEL_FRAMES = 5;
/** Output quieter than this (dBFS) is silence: nothing to compare. */
const SILENCE_DBFS = -50;
/** A starting mixer that produced nothing after this long is replaced by another attempt (the old one keeps playing). */
const HANDOVER_TIMEOUT_MS = 4000;
const MAX_BACKOFF_MS = 5000;
/** A process that ran this long before dying is restarted without backoff history. */
const STABLE_MS = 10_000;

export interface MixerOutput {
  codec: PlainCodecName;
  payloadType: number;
}

interface Instance {
  key: string;
  ssrc: number;
  inputs: Set<number>;
  /** Input SSRC → the pipeline's udpsrc port for it. */
  ports: Map<number, number>;
  output: MixerOutput;
  proc?: GstProcess;
  firstOutputAt?: number;
  timer?: NodeJS.Timeout;
  /** Power of its last output packets (G.711 only). */
  levels: number[];
}

function levelDb(levels: number[]): number {
  if (levels.length === 0) return -Infinity;
  return 10 * Math.log10(levels.reduce((a, b) => a + b, 0) / levels.length + 1e-12);
}

function sameSet(a: Set<number>, b: readonly number[]): boolean {
  return a.size === b.length && b.every((x) => a.has(x));
}

export class DownlinkMixer {
  readonly #log: Logger;
  readonly #relayPort: number;
  readonly #inputPayloadType: number;
  readonly #send: (buf: Buffer, port: number) => void;
  readonly #deliver: (buf: Buffer, instanceKey: string) => void;
  #wantOutput: MixerOutput | undefined;
  #wantInputs: number[] = [];
  #active: Instance | undefined;
  #next: Instance | undefined;
  #starting = false;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #counter = 0;
  #closed = false;
  /** Processes started after the first one (membership changes, codec changes, crashes). */
  restarts = 0;
  #started = 0;

  constructor(params: {
    log: Logger;
    /** The relay's loopback port: the pipeline sends its RTP there. */
    relayPort: number;
    /** Payload type of the Opus consumers (the router's). */
    inputPayloadType: number;
    /** Sends a datagram from the relay socket to 127.0.0.1:port. */
    send: (buf: Buffer, port: number) => void;
    /** Mixed RTP for the phone; instanceKey changes when another process takes over. */
    deliver: (buf: Buffer, instanceKey: string) => void;
  }) {
    this.#log = params.log.child({ pipeline: 'mixer' });
    this.#relayPort = params.relayPort;
    this.#inputPayloadType = params.inputPayloadType;
    this.#send = params.send;
    this.#deliver = params.deliver;
  }

  /** PID of the process whose output the phone hears. */
  get pid(): number | undefined {
    return this.#active?.proc?.pid;
  }
  get inputs(): number[] {
    return this.#active ? [...this.#active.inputs] : [];
  }
  /** PIDs of every process of this mixer (the one in use and one starting). */
  get pids(): number[] {
    return [this.#active, this.#next].flatMap((i) => (i?.proc ? [i.proc.pid] : []));
  }
  cpuSeconds(): number {
    return [this.#active, this.#next].reduce((n, i) => n + (i?.proc?.cpuSeconds() ?? 0), 0);
  }

  /**
   * The desired state: mix `inputs` (consumer SSRCs) into `output`, or no process at all (output
   * undefined: not negotiated yet, held, closed). Applied asynchronously.
   */
  configure(output: MixerOutput | undefined, inputs: number[]): void {
    if (this.#closed) return;
    this.#wantOutput = output;
    this.#wantInputs = [...new Set(inputs)].sort((a, b) => a - b);
    this.#schedule(DEBOUNCE_MS);
  }

  /** RTP of a consumer: to every process that mixes it. */
  input(buf: Buffer, ssrc: number): void {
    for (const inst of [this.#active, this.#next]) {
      const port = inst?.ports.get(ssrc);
      if (port !== undefined && !inst!.proc!.exited) this.#send(buf, port);
    }
  }

  /** A datagram from a pipeline; false if it is not a mixer's. */
  output(buf: Buffer, ssrc: number): boolean {
    const next = this.#next;
    if (next && ssrc === next.ssrc) {
      // A pipeline may speak before GstProcess.start() has resolved (its first RTP can overtake the
      // line naming its ports): promoted then, the start would find it gone from #next and kill it,
      // leaving the phone with no mixer at all (seen under load). Its output counts once it started.
      if (!next.proc) return true;
      const now = Date.now();
      next.firstOutputAt ??= now;
      this.#measure(next, buf);
      if (!this.#active || this.#ready(next, now - next.firstOutputAt)) this.#promote(next);
      else return true;
    }
    const active = this.#active;
    if (active && ssrc === active.ssrc) {
      this.#measure(active, buf);
      this.#deliver(buf, active.key);
      return true;
    }
    return false;
  }

  #measure(inst: Instance, buf: Buffer): void {
    const codec = inst.output.codec;
    if (codec === 'opus') return;
    const offset = rtpPayloadOffset(buf);
    if (offset < 0) return;
    inst.levels.push(g711Power(buf.subarray(offset), codec));
    if (inst.levels.length > LEVEL_FRAMES) inst.levels.shift();
  }

  /** Whether a starting mixer may take over from the one in use. */
  #ready(next: Instance, runningMs: number): boolean {
    if (runningMs < HANDOVER_MS) return false;
    if (runningMs >= HANDOVER_MAX_MS || next.output.codec === 'opus' || !this.#active) return true;
    const current = levelDb(this.#active.levels);
    return current < SILENCE_DBFS || levelDb(next.levels) >= current - HANDOVER_LEVEL_DB;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const inst of [this.#active, this.#next]) this.#stop(inst);
    this.#active = undefined;
    this.#next = undefined;
  }

  #schedule(delay: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#reconcile(), delay);
  }

  #matches(inst: Instance | undefined): boolean {
    const out = this.#wantOutput;
    return Boolean(
      inst &&
      out &&
      inst.output.codec === out.codec &&
      inst.output.payloadType === out.payloadType &&
      sameSet(inst.inputs, this.#wantInputs),
    );
  }

  async #reconcile(): Promise<void> {
    if (this.#closed || this.#starting) return;
    if (!this.#wantOutput) {
      this.#stop(this.#active);
      this.#stop(this.#next);
      this.#active = undefined;
      this.#next = undefined;
      return;
    }
    if (this.#matches(this.#active)) {
      this.#stop(this.#next);
      this.#next = undefined;
      return;
    }
    if (this.#matches(this.#next)) return;
    this.#stop(this.#next);
    const inst: Instance = {
      key: `mixer-${++this.#counter}`,
      ssrc: randomSsrc(),
      inputs: new Set(this.#wantInputs),
      ports: new Map(),
      output: { ...this.#wantOutput },
      levels: [],
    };
    const inputs = [...inst.inputs];
    this.#next = inst;
    this.#starting = true;
    let proc: GstProcess;
    try {
      proc = await GstProcess.start({
        role: 'mixer',
        pipeline: mixerPipeline({
          inputs,
          inputPayloadType: this.#inputPayloadType,
          output: inst.output,
          outPort: this.#relayPort,
          outSsrc: inst.ssrc,
        }),
        udpsrcNames: inputs.map((_, i) => mixerInputName(i)),
        log: this.#log,
        onExit: (exit) => this.#onExit(inst, exit),
      });
    } catch (err) {
      this.#starting = false;
      if (this.#next === inst) this.#next = undefined;
      this.#failures += 1;
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.#failures);
      this.#log.error('cannot start the mixer; retrying', { err, retryMs: delay });
      this.#schedule(delay);
      return;
    }
    this.#starting = false;
    if (this.#closed || this.#next !== inst) {
      proc.kill();
      if (!this.#closed) this.#schedule(0);
      return;
    }
    inputs.forEach((ssrc, i) => inst.ports.set(ssrc, proc.ports[mixerInputName(i)]!));
    inst.proc = proc;
    if (this.#started++ > 0) this.restarts += 1;
    this.#log.info('mixer started', { pid: proc.pid, inputs: inst.inputs.size, codec: inst.output.codec });
    inst.timer = setTimeout(() => {
      if (this.#next !== inst || inst.firstOutputAt !== undefined) return;
      // Never switch to a mixer that says nothing: the old one keeps playing, try again.
      this.#log.warn('the new mixer produced no output in time; starting another', { pid: proc.pid });
      this.#stop(inst);
      this.#next = undefined;
      this.#failures += 1;
      this.#schedule(Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.#failures));
    }, HANDOVER_TIMEOUT_MS);
    // The wanted state may have moved on while this one started.
    if (!this.#matches(inst)) this.#schedule(DEBOUNCE_MS);
  }

  #promote(inst: Instance): void {
    clearTimeout(inst.timer);
    const old = this.#active;
    this.#active = inst;
    this.#next = undefined;
    this.#stop(old);
    this.#log.debug('mixer took over', { pid: inst.proc?.pid, inputs: inst.inputs.size });
  }

  #stop(inst: Instance | undefined): void {
    if (!inst) return;
    clearTimeout(inst.timer);
    inst.proc?.kill();
  }

  #onExit(inst: Instance, exit: GstExit): void {
    if (exit.killed || this.#closed) return;
    clearTimeout(inst.timer);
    if (this.#active === inst) this.#active = undefined;
    if (this.#next === inst) this.#next = undefined;
    // A process that ran for a while gets a quick restart; one that keeps dying, a growing backoff.
    this.#failures = inst.proc && Date.now() - inst.proc.startedAt > STABLE_MS ? 1 : this.#failures + 1;
    this.#schedule(Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.#failures));
  }
}
