/**
 * A PlainRtpLeg's place in its room's mixer (room-audio.ts, packages/mixer): the phone's RTP goes into
 * one mixer input (in the codec it sends), and what it hears (everyone but itself) comes out of one
 * mixer output in its negotiated codec, numbered by one RtpPacketizer: same SSRC and continuous sequence
 * numbers for the phone across codec changes, pauses and room moves.
 *
 * Joining a room (or moving to another) only adds an input and an output to that room's mixer; leaving
 * removes them. Nothing restarts and nobody else's audio changes.
 */
import type { Logger } from '@conclave/log';
import { RtpPacketizer, rtpClockRate, type MixerInput, type MixerOutput, type RoomMixer } from '@conclave/mixer';
import type { PlainCodecName } from './sdp/plain-description.ts';

export interface PlainMixCodec {
  name: PlainCodecName;
  payloadType: number;
}

/** What the leg wants from the mixer now. */
export interface PlainMixState {
  /** What the phone sends (its input), undefined before negotiation. */
  input: (PlainMixCodec & { telephoneEventPayloadType: number | undefined }) | undefined;
  /** What we send to the phone (its output), undefined before negotiation. */
  output: PlainMixCodec | undefined;
  /** Nobody hears the phone (held, held by the focus, muted by the focus). */
  muted: boolean;
  /** The phone hears the mix (negotiated, not held, it receives): else its packets are not sent. */
  listens: boolean;
}

export interface PlainMixStats {
  inputs: number;
  input?: MixerInput['stats'];
  /** Packets the mixer made for the phone (sent or, while it does not listen, skipped). */
  outputPackets: number;
}

export class PlainLegMix {
  readonly #log: Logger;
  readonly #legId: string;
  readonly #send: (packet: Buffer) => void;
  readonly #rtp: RtpPacketizer;
  #mixer: RoomMixer | undefined;
  #input: MixerInput | undefined;
  #inputKey = '';
  #output: MixerOutput | undefined;
  #outputKey = '';
  #listens = false;
  #closed = false;

  constructor(params: { log: Logger; legId: string; ssrc: number; send: (packet: Buffer) => void }) {
    this.#log = params.log;
    this.#legId = params.legId;
    this.#send = params.send;
    this.#rtp = new RtpPacketizer({ payloadType: 0, clockRate: 8000, ssrc: params.ssrc });
  }

  get mixer(): RoomMixer | undefined {
    return this.#mixer;
  }

  get input(): MixerInput | undefined {
    return this.#input;
  }

  /** Puts the leg into `mixer` (its room's; undefined: none) as `state` says. Idempotent. */
  configure(mixer: RoomMixer | undefined, state: PlainMixState): void {
    if (this.#closed) return;
    if (mixer?.closed) mixer = undefined;
    if (mixer !== this.#mixer) {
      this.#leave();
      this.#mixer = mixer;
    }
    this.#listens = state.listens;
    if (!mixer) return;
    const id = this.#legId;
    const inKey = state.input
      ? `${state.input.name}/${state.input.payloadType}/${state.input.telephoneEventPayloadType}`
      : '';
    if (inKey !== this.#inputKey || (this.#input && !mixer.inputs.has(id))) {
      mixer.removeInput(id);
      this.#input = undefined;
      this.#inputKey = inKey;
      if (state.input) {
        this.#input = mixer.addInput(id, state.input.name, {
          payloadType: state.input.payloadType,
          ...(state.input.telephoneEventPayloadType !== undefined
            ? { telephoneEventPayloadType: state.input.telephoneEventPayloadType }
            : {}),
        });
      }
      if (this.#output) this.#output.ownInput = this.#input;
    }
    if (this.#input) this.#input.muted = state.muted;
    const outKey = state.output ? `${state.output.name}/${state.output.payloadType}` : '';
    if (outKey !== this.#outputKey || (this.#output && !mixer.outputs.has(id))) {
      mixer.removeOutput(id);
      this.#output = undefined;
      this.#outputKey = outKey;
      if (state.output) {
        this.#rtp.setCodec(state.output.payloadType, rtpClockRate(state.output.name));
        this.#output = mixer.addOutput(id, state.output.name, {
          ptimeMs: 20,
          ...(this.#input ? { ownInput: this.#input } : {}),
          onPayload: (payload, durationMs) => this.#deliver(payload, durationMs),
        });
      }
    }
  }

  /** RTP from the phone (already checked by the leg): false when it is not for the mixer. */
  push(datagram: Buffer): boolean {
    return this.#input?.pushRtp(datagram) ?? false;
  }

  stats(): PlainMixStats | undefined {
    const mixer = this.#mixer;
    if (!mixer) return undefined;
    return {
      inputs: mixer.inputs.size,
      ...(this.#input ? { input: { ...this.#input.stats } } : {}),
      outputPackets: this.#output?.packets ?? 0,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#leave();
    this.#closed = true;
  }

  #deliver(payload: Buffer, durationMs: number): void {
    if (this.#closed) return;
    // Paused: the phone does not listen; the stream's clock keeps running so that it resumes in step.
    if (!this.#listens) {
      this.#rtp.skip(durationMs);
      return;
    }
    this.#send(this.#rtp.packetize(payload, durationMs));
  }

  #leave(): void {
    const mixer = this.#mixer;
    if (mixer && !mixer.closed) {
      mixer.removeOutput(this.#legId);
      mixer.removeInput(this.#legId);
      this.#log.info('left the room mix');
    }
    this.#mixer = undefined;
    this.#input = undefined;
    this.#inputKey = '';
    this.#output = undefined;
    this.#outputKey = '';
  }
}
