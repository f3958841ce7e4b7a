/**
 * One audio mixer per conference room (Asterisk bridge_softmix / FreeSWITCH mod_conference style).
 * Every 20 ms tick:
 *   1. each input plays one frame out of its jitter buffer (decoded once, concealed if lost);
 *   2. the frames of the talking inputs are summed in 32 bits (non-talkers are not in the sum);
 *   3. the sum is limited once to 16 bits and encoded once per (codec, ptime) group, and that payload
 *      goes to every output whose own input is not talking;
 *   4. each output whose own input talks gets the sum minus its own frame, limited and encoded alone.
 * Cost per tick: O(inputs + talkers + groups) codec work, plus handing a payload to each output.
 * Inputs and outputs come and go between ticks without touching anyone else's state.
 */
import type { Logger } from '@conclave/log';
import { FRAME_SAMPLES, createEncoder, type CodecName, type EncoderOptions, type FrameEncoder } from './codecs.ts';
import { SoftLimiter } from './limiter.ts';
import { MixerInput, type MixerInputOptions } from './mixer-input.ts';
import { MixerOutput, type MixerOutputOptions } from './mixer-output.ts';
import { EnhancedEventEmitter } from '@conclave/events';

export interface RoomMixerOptions {
  log: Logger;
  /** Opus bit rate of the encoders, bit/s (default 32000). */
  opusBitrate?: number;
  /** Defaults for every input (talk threshold, playout delay). */
  inputDefaults?: Omit<MixerInputOptions, 'payloadType' | 'gain'>;
}

export type RoomMixerEvents = {
  /** An input started or stopped being summed (its level crossed the talk threshold, with hangover). */
  talking: [input: MixerInput, talking: boolean];
  /** A party sent a DTMF digit (RFC 4733 on its input's telephone-event payload type). */
  dtmf: [input: MixerInput, digit: string];
  close: [];
};

export interface RoomMixerStats {
  ticks: number;
  sharedEncodes: number;
  privateEncodes: number;
  /** Outputs served by a shared payload, summed over ticks. */
  sharedDeliveries: number;
}

/** The encoder and the packet being built for one (codec, ptime) shared by non-talking outputs. */
class SharedGroup {
  readonly key: string;
  readonly framesPerPacket: number;
  readonly encoder: FrameEncoder;
  readonly pcm: Int16Array;
  readonly members = new Set<MixerOutput>();
  filled = 0;

  constructor(key: string, codec: CodecName, framesPerPacket: number, options: EncoderOptions) {
    this.key = key;
    this.framesPerPacket = framesPerPacket;
    this.encoder = createEncoder(codec, options);
    this.pcm = new Int16Array(FRAME_SAMPLES * framesPerPacket);
  }
}

export class RoomMixer extends EnhancedEventEmitter<RoomMixerEvents> {
  readonly #log: Logger;
  readonly #encoderOptions: EncoderOptions;
  readonly #inputDefaults: RoomMixerOptions['inputDefaults'];
  readonly #inputs = new Map<string, MixerInput>();
  readonly #outputs = new Map<string, MixerOutput>();
  readonly #groups = new Map<string, SharedGroup>();
  readonly #sum = new Int32Array(FRAME_SAMPLES);
  readonly #scratch = new Int32Array(FRAME_SAMPLES);
  readonly #shared = new Int16Array(FRAME_SAMPLES);
  readonly #limiter = new SoftLimiter();
  readonly #zeros = new Int32Array(FRAME_SAMPLES);
  readonly #wasTalking = new WeakMap<MixerInput, boolean>();
  #tick = 0;
  #closed = false;
  readonly stats: RoomMixerStats = { ticks: 0, sharedEncodes: 0, privateEncodes: 0, sharedDeliveries: 0 };

  constructor(options: RoomMixerOptions) {
    super(options.log);
    this.#log = options.log;
    this.#encoderOptions = { opusBitrate: options.opusBitrate ?? 32000 };
    this.#inputDefaults = options.inputDefaults;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get inputs(): ReadonlyMap<string, MixerInput> {
    return this.#inputs;
  }

  get outputs(): ReadonlyMap<string, MixerOutput> {
    return this.#outputs;
  }

  addInput(id: string, codec: CodecName, options: MixerInputOptions = {}): MixerInput {
    this.#assertOpen();
    if (this.#inputs.has(id)) throw new Error(`room mixer: input ${id} already exists`);
    const input = new MixerInput(id, codec, { ...this.#inputDefaults, ...options });
    input.onDtmf = (digit) => this.safeEmit('dtmf', input, digit);
    this.#inputs.set(id, input);
    this.#log.debug('mixer input added', { id, codec });
    return input;
  }

  removeInput(id: string): void {
    const input = this.#inputs.get(id);
    if (!input) return;
    this.#inputs.delete(id);
    if (input.talking) this.safeEmit('talking', input, false);
    input.close();
    for (const output of this.#outputs.values()) if (output.ownInput === input) output.ownInput = undefined;
    this.#log.debug('mixer input removed', { id });
  }

  /** An output; it starts at the next packet boundary of its (codec, ptime) (at most ptime - 20 ms). */
  addOutput(id: string, codec: CodecName, options: MixerOutputOptions): MixerOutput {
    this.#assertOpen();
    if (this.#outputs.has(id)) throw new Error(`room mixer: output ${id} already exists`);
    const output = new MixerOutput(id, codec, options, this.#encoderOptions);
    const key = `${codec}/${output.ptimeMs}`;
    let group = this.#groups.get(key);
    if (!group) {
      group = new SharedGroup(key, codec, output.framesPerPacket, this.#encoderOptions);
      this.#groups.set(key, group);
    }
    group.members.add(output);
    this.#outputs.set(id, output);
    this.#log.debug('mixer output added', { id, codec, ptimeMs: output.ptimeMs });
    return output;
  }

  removeOutput(id: string): void {
    const output = this.#outputs.get(id);
    if (!output) return;
    this.#outputs.delete(id);
    const key = `${output.codec}/${output.ptimeMs}`;
    const group = this.#groups.get(key);
    if (group) {
      group.members.delete(output);
      if (group.members.size === 0) {
        group.encoder.close();
        this.#groups.delete(key);
      }
    }
    output.close();
    this.#log.debug('mixer output removed', { id });
  }

  /** Levels of every input's last frame, dBov (for active-speaker detection). */
  levels(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, input] of this.#inputs) out.set(id, input.level);
    return out;
  }

  /** Runs one 20 ms frame. `nowMs` is the monotonic time of the tick (performance.now()). */
  tick(nowMs = performance.now()): void {
    if (this.#closed) return;
    const sum = this.#sum;
    sum.fill(0);
    for (const input of this.#inputs.values()) {
      try {
        input.pull(nowMs);
      } catch (err) {
        // One party's bad stream must not silence the room: its frame is dropped, the tick goes on.
        input.frame.fill(0);
        this.#warnOnce(input.id, 'mixer input failed; its frame is skipped', err);
      }
      const talking = input.talking;
      if (talking) {
        const f = input.frame;
        for (let i = 0; i < FRAME_SAMPLES; i++) sum[i]! += f[i]!;
      }
      if ((this.#wasTalking.get(input) ?? false) !== talking) {
        this.#wasTalking.set(input, talking);
        this.safeEmit('talking', input, talking);
      }
    }
    this.#limiter.process(sum, this.#shared);
    const tick = this.#tick++;
    this.stats.ticks++;
    for (const group of this.#groups.values()) this.#runGroup(group, tick);
  }

  #runGroup(group: SharedGroup, tick: number): void {
    const frames = group.framesPerPacket;
    const boundary = tick % frames === 0;
    if (boundary) group.filled = 0;
    group.pcm.set(this.#shared, group.filled);
    let sharedMembers = 0;
    for (const output of group.members) {
      const own = output.ownInput;
      const alone = own?.talking === true || output.hasTone;
      if (boundary) output.mode = alone ? 'private' : 'shared';
      if (output.mode === 'shared' && alone) output.beginPrivate(group.pcm, group.filled);
      if (output.mode === 'private')
        output.addPrivateFrame(this.#sum, own?.talking ? own.frame : this.#zeros, this.#scratch);
      else if (output.mode === 'shared') sharedMembers++;
    }
    group.filled += FRAME_SAMPLES;
    if (tick % frames !== frames - 1) return;
    // End of a packet: one encode for every shared member, one per private member.
    let payload: Buffer | undefined;
    if (sharedMembers > 0) {
      payload = group.encoder.encode(group.pcm.subarray(0, group.filled));
      this.stats.sharedEncodes++;
    }
    for (const output of group.members) {
      try {
        if (output.mode === 'private') {
          output.flushPrivate();
          this.stats.privateEncodes++;
        } else if (output.mode === 'shared' && payload) {
          output.deliver(payload);
          this.stats.sharedDeliveries++;
        }
      } catch (err) {
        this.#warnOnce(output.id, 'mixer output failed; its packet is skipped', err);
      }
    }
  }

  readonly #warned = new Set<string>();
  #warnOnce(id: string, message: string, err: unknown): void {
    if (this.#warned.has(id)) return;
    this.#warned.add(id);
    this.#log.warn(message, { id, err });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#outputs.keys()]) this.removeOutput(id);
    for (const id of [...this.#inputs.keys()]) this.removeInput(id);
    this.safeEmit('close');
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('room mixer is closed');
  }
}
