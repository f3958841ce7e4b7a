/**
 * The downlink of a plain RTP leg: a GStreamer process that mixes the Opus streams of every other
 * party (one mediasoup consumer each) into the phone's codec.
 *
 * gst-launch cannot add inputs to a running pipeline, so the mixer is a function of its input set:
 * when parties join or leave, a new process is started with the new set ("make before break"). While
 * it starts, the relay feeds both processes and keeps sending the old one's output; once the new one
 * has produced output for longer than its jitter buffers need to fill, it takes over and the old one is
 * killed. The leg's RtpRewriter keeps the phone's stream continuous across the switch (same SSRC,
 * sequence numbers, timestamps), so a phone never notices a membership change other than by the mix.
 * Changes within DEBOUNCE_MS are batched into one restart.
 */
import type { Logger } from '@conclave/log';
import { GstProcess, type GstExit } from './gst-process.ts';
import { mixerPipeline, MIXER_JITTER_MS } from './audio-pipelines.ts';
import { randomSsrc } from './rtp-packet.ts';
import type { PlainCodecName } from './sdp/plain-description.ts';

const DEBOUNCE_MS = 20;
/** The new mixer's output is used once it has run this long (its jitter buffers are full by then). */
const HANDOVER_MS = MIXER_JITTER_MS + 60;
/** A starting mixer that produced nothing after this long takes over anyway (or is restarted). */
const HANDOVER_TIMEOUT_MS = 2000;
const MAX_BACKOFF_MS = 5000;

export interface MixerOutput {
  codec: PlainCodecName;
  payloadType: number;
}

interface Instance {
  key: string;
  ssrc: number;
  inputs: Set<number>;
  output: MixerOutput;
  proc?: GstProcess;
  firstOutputAt?: number;
  timer?: NodeJS.Timeout;
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
      if (inst?.proc && !inst.proc.exited && inst.inputs.has(ssrc)) this.#send(buf, inst.proc.ports['in']!);
    }
  }

  /** A datagram from a pipeline; false if it is not a mixer's. */
  output(buf: Buffer, ssrc: number): boolean {
    const next = this.#next;
    if (next && ssrc === next.ssrc) {
      const now = Date.now();
      next.firstOutputAt ??= now;
      if (!this.#active || now - next.firstOutputAt >= HANDOVER_MS) this.#promote(next);
      else return true;
    }
    const active = this.#active;
    if (active && ssrc === active.ssrc) {
      this.#deliver(buf, active.key);
      return true;
    }
    return false;
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
      inst && out && inst.output.codec === out.codec && inst.output.payloadType === out.payloadType && sameSet(inst.inputs, this.#wantInputs),
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
      output: { ...this.#wantOutput },
    };
    this.#next = inst;
    this.#starting = true;
    let proc: GstProcess;
    try {
      proc = await GstProcess.start({
        role: 'mixer',
        pipeline: mixerPipeline({
          inputs: [...inst.inputs],
          inputPayloadType: this.#inputPayloadType,
          output: inst.output,
          outPort: this.#relayPort,
          outSsrc: inst.ssrc,
        }),
        udpsrcNames: ['in'],
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
    inst.proc = proc;
    if (this.#started++ > 0) this.restarts += 1;
    this.#log.info('mixer started', { pid: proc.pid, inputs: inst.inputs.size, codec: inst.output.codec });
    inst.timer = setTimeout(() => {
      if (this.#next !== inst) return;
      this.#log.warn('the new mixer produced no output in time; switching anyway', { pid: proc.pid });
      this.#promote(inst);
    }, HANDOVER_TIMEOUT_MS);
    // The wanted state may have moved on while this one started.
    if (!this.#matches(inst)) this.#schedule(DEBOUNCE_MS);
  }

  #promote(inst: Instance): void {
    clearTimeout(inst.timer);
    const old = this.#active;
    this.#active = inst;
    this.#next = undefined;
    this.#failures = 0;
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
    this.#failures += 1;
    this.#schedule(Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.#failures));
  }
}
