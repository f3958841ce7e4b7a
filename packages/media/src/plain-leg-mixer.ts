/**
 * A PlainRtpLeg's place in its room's mixer (room-audio.ts, packages/mixer): the phone's RTP goes into
 * one mixer input (in the codec it sends), and what it hears (everyone but itself) comes out of one
 * mixer output in its negotiated codec, numbered by one RtpPacketizer: same SSRC and continuous sequence
 * numbers for the phone across codec changes, pauses and room moves.
 *
 * Joining a room (or moving to another) only adds an input and an output to that room's mixer; leaving
 * removes them. Nothing restarts and nobody else's audio changes.
 *
 * DTMF (RFC 4733) both ways: the input reads the phone's telephone-events into digits (onDtmf); sendDtmf()
 * puts events into the phone's stream in place of the mix's packets, paced by the mixer's own packets
 * (same SSRC, sequence continuing, every packet of an event with its start timestamp, marker on the first,
 * three end packets; the audio clock keeps running underneath).
 */
import type { Logger } from '@conclave/log';
import {
  DTMF_DIGITS,
  RtpPacketizer,
  rtpClockRate,
  telephoneEventPayloads,
  type MixerInput,
  type MixerOutput,
  type RoomMixer,
} from '@conclave/mixer';
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
  /** The telephone-event we may send (negotiated at the output's clock rate), if any. */
  telephoneEvent: { payloadType: number; clockRate: number } | undefined;
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

/** One digit being sent: its packets, one per mixer packet, all with the event's start timestamp. */
interface DtmfSending {
  payloads: Buffer[];
  next: number;
  timestamp: number;
  payloadType: number;
  /** Packets of the mix to let through after the event before the next digit (the inter-digit gap). */
  gapPackets: number;
}

interface DtmfRequest {
  digits: string[];
  durationMs: number;
  gapMs: number;
  done: (sent: boolean) => void;
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
  #telephoneEvent: PlainMixState['telephoneEvent'];
  readonly #dtmfQueue: DtmfRequest[] = [];
  #dtmf: DtmfSending | undefined;
  #gap = 0;
  readonly #onDtmf: (digit: string) => void;

  constructor(params: {
    log: Logger;
    legId: string;
    ssrc: number;
    send: (packet: Buffer) => void;
    /** A digit from the phone (RFC 4733), once each, in order. */
    onDtmf: (digit: string) => void;
  }) {
    this.#log = params.log;
    this.#legId = params.legId;
    this.#send = params.send;
    this.#onDtmf = params.onDtmf;
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
    this.#telephoneEvent = state.telephoneEvent;
    if (!state.listens || !state.telephoneEvent) this.#abortDtmf();
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
        // The room mixer reports digits as its 'dtmf' event too; the leg takes its own here.
        const input = this.#input;
        const roomHandler = input.onDtmf;
        input.onDtmf = (digit) => {
          roomHandler?.(digit);
          if (this.#input === input) this.#onDtmf(digit);
        };
      }
      if (this.#output) this.#output.ownInput = this.#input;
    }
    if (this.#input) this.#input.muted = state.muted;
    const outKey = state.output ? `${state.output.name}/${state.output.payloadType}` : '';
    if (outKey !== this.#outputKey || (this.#output && !mixer.outputs.has(id))) {
      mixer.removeOutput(id);
      this.#output = undefined;
      this.#outputKey = outKey;
      this.#abortDtmf();
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

  /**
   * Sends `digits` (0-9, *, #, A-D) to the phone as RFC 4733 telephone-events, one after the other
   * (`durationMs` each, `gapMs` of the mix between them). Resolves true once all were sent; false at once
   * when the phone negotiated no telephone-event, does not listen (held) or is in no mixer, and false if
   * that changes before they were all sent. Calls queue up in order.
   */
  sendDtmf(digits: string, options: { durationMs?: number; gapMs?: number } = {}): Promise<boolean> {
    const list = [...digits.toUpperCase()];
    const bad = list.find((d) => !DTMF_DIGITS.includes(d));
    if (bad !== undefined || list.length === 0)
      return Promise.reject(new RangeError(`not DTMF digits: ${JSON.stringify(digits)} (0-9, *, #, A-D)`));
    if (this.#closed || !this.#telephoneEvent || !this.#listens || !this.#output) return Promise.resolve(false);
    const durationMs = Math.max(40, Math.min(5000, options.durationMs ?? 100));
    const gapMs = Math.max(20, Math.min(5000, options.gapMs ?? 60));
    return new Promise((done) => this.#dtmfQueue.push({ digits: list, durationMs, gapMs, done }));
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
    this.#abortDtmf();
  }

  #deliver(payload: Buffer, durationMs: number): void {
    if (this.#closed) return;
    // Paused: the phone does not listen; the stream's clock keeps running so that it resumes in step.
    if (!this.#listens) {
      this.#rtp.skip(durationMs);
      return;
    }
    const event = this.#nextDtmfPacket(durationMs);
    if (event) {
      this.#send(event);
      this.#rtp.skip(durationMs);
      return;
    }
    this.#send(this.#rtp.packetize(payload, durationMs));
  }

  /** The telephone-event packet to send instead of this mix packet, if a digit is being sent. */
  #nextDtmfPacket(packetMs: number): Buffer | undefined {
    if (this.#gap > 0) {
      this.#gap--;
      return undefined;
    }
    let sending = this.#dtmf;
    if (!sending) {
      const request = this.#dtmfQueue[0];
      const te = this.#telephoneEvent;
      if (!request || !te) return undefined;
      const digit = request.digits.shift()!;
      sending = {
        payloads: telephoneEventPayloads(digit, request.durationMs, te.clockRate, packetMs),
        next: 0,
        timestamp: this.#rtp.timestamp,
        payloadType: te.payloadType,
        gapPackets: Math.ceil(request.gapMs / packetMs),
      };
      this.#dtmf = sending;
    }
    const payload = sending.payloads[sending.next]!;
    const packet = this.#rtp.packetizeWith(payload, sending.payloadType, sending.timestamp, sending.next === 0);
    sending.next++;
    if (sending.next >= sending.payloads.length) {
      this.#dtmf = undefined;
      this.#gap = sending.gapPackets;
      const request = this.#dtmfQueue[0];
      if (request && request.digits.length === 0) {
        this.#dtmfQueue.shift();
        request.done(true);
      }
    }
    return packet;
  }

  /** Digits not sent yet are not sent: their callers learn it (false). */
  #abortDtmf(): void {
    this.#dtmf = undefined;
    this.#gap = 0;
    for (const request of this.#dtmfQueue.splice(0)) request.done(false);
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
