/**
 * What a PlainRtpLeg's phone hears: a consumer (Opus, on the leg's loopback PlainTransport) of every
 * other party's audio, all fed to one DownlinkMixer (GStreamer) that sends the mix, in the phone's
 * codec, back through the relay. A paused source (muted, held) leaves the mix: a silent input would make
 * the mixer wait for it.
 *
 * This is the part of a plain leg that mixes per leg; a per-room mixer (packages/mixer, issue 9) is
 * meant to replace it as a whole. The leg gives it the transport, tells it when to listen and in which
 * codec, and hands it the consumers' RTP arriving on the relay.
 */
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { SerialQueue } from '@conclave/events';
import { DownlinkMixer, type MixerOutput } from './audio-mixer.ts';
import type { PlainRtpLegStats } from './leg-types.ts';

interface ConsumerEntry {
  consumer: ms.Consumer;
  sourceLegId: string;
  sourceLabel: string;
}

export class PlainLegMixer {
  readonly #log: Logger;
  readonly #legId: string;
  readonly #opusCapability: ms.RtpCodecCapability;
  readonly #transport: () => ms.PlainTransport;
  readonly #closed: () => boolean;
  /** Whether consumers should be paused now (the phone cannot hear the mix). */
  readonly #shouldPause: () => boolean;
  /** The inputs changed: the leg re-applies its media state (configure()). */
  readonly #changed: () => void;
  readonly #mixer: DownlinkMixer;
  readonly #wiring = new SerialQueue();
  readonly #consumers = new Map<string, ConsumerEntry>();
  readonly #consumerBySsrc = new Map<number, ms.Consumer>();
  /** Producers of other legs this leg was asked to hear (a consumer is being made or exists). */
  readonly #wanted = new Set<string>();

  constructor(params: {
    log: Logger;
    legId: string;
    relayPort: number;
    opusCapability: ms.RtpCodecCapability;
    transport: () => ms.PlainTransport;
    closed: () => boolean;
    shouldPause: () => boolean;
    changed: () => void;
    /** Sends a datagram from the relay to a pipeline's loopback port. */
    send: (buf: Buffer, port: number) => void;
    /** The mix, for the phone. */
    deliver: (buf: Buffer, key: string) => void;
  }) {
    this.#log = params.log;
    this.#legId = params.legId;
    this.#opusCapability = params.opusCapability;
    this.#transport = params.transport;
    this.#closed = params.closed;
    this.#shouldPause = params.shouldPause;
    this.#changed = params.changed;
    this.#mixer = new DownlinkMixer({
      log: params.log,
      relayPort: params.relayPort,
      inputPayloadType: params.opusCapability.preferredPayloadType,
      send: params.send,
      deliver: params.deliver,
    });
  }

  /** PIDs of the mixer's GStreamer processes. */
  get pids(): number[] {
    return this.#mixer.pids;
  }

  cpuSeconds(): number {
    return this.#mixer.cpuSeconds();
  }

  /** Mixes the live, unpaused sources into `output` (the phone's codec), or stops mixing (undefined). */
  configure(output: MixerOutput | undefined): void {
    const inputs = [...this.#consumerBySsrc].flatMap(([ssrc, c]) => (c.closed || c.producerPaused ? [] : [ssrc]));
    this.#mixer.configure(output, inputs);
  }

  /** Another leg's producer the phone should hear. */
  want(producer: ms.Producer): void {
    if (this.#closed() || producer.closed || producer.kind !== 'audio') return;
    if (this.#wanted.has(producer.id)) return;
    this.#wanted.add(producer.id);
    void this.#wiring.push(() => this.#consume(producer));
  }

  forget(producerId: string): void {
    this.#wanted.delete(producerId);
  }

  /** The producer's party left the room: its consumer goes. */
  drop(producerId: string): void {
    this.#wanted.delete(producerId);
    const entry = this.#consumers.get(producerId);
    if (entry) {
      if (!entry.consumer.closed) entry.consumer.close();
      this.#onConsumerGone(entry.consumer);
    }
  }

  /** The leg moved to another room: stop hearing the old room (the new one wires itself in). */
  dropAll(): void {
    this.#wanted.clear();
    for (const { consumer } of [...this.#consumers.values()]) {
      if (!consumer.closed) consumer.close();
      this.#onConsumerGone(consumer);
    }
  }

  /** The transport died with its worker (and its consumers with it): the room offers its producers again. */
  transportGone(): void {
    this.#wanted.clear();
    for (const { consumer } of [...this.#consumers.values()]) this.#onConsumerGone(consumer);
  }

  close(): void {
    this.#wanted.clear();
    this.#mixer.close();
  }

  /** RTP of a consumer, as it arrives on the relay from the PlainTransport. */
  input(buf: Buffer, payloadType: number, ssrc: number): void {
    if (payloadType === this.#opusCapability.preferredPayloadType && this.#consumerBySsrc.has(ssrc))
      this.#mixer.input(buf, ssrc);
  }

  /** A loopback datagram of the mixer's pipeline (its output). */
  output(buf: Buffer, ssrc: number): void {
    this.#mixer.output(buf, ssrc);
  }

  /** Pauses or resumes every consumer as `#shouldPause()` says. */
  syncPauses(): Promise<void>[] {
    const ops: Promise<void>[] = [];
    const pause = this.#shouldPause();
    for (const { consumer } of this.#consumers.values()) {
      if (consumer.closed) continue;
      if (pause && !consumer.paused) ops.push(consumer.pause());
      else if (!pause && consumer.paused) ops.push(consumer.resume());
    }
    return ops;
  }

  async consumerStats(
    sum: (stats: ms.ConsumerStat[]) => { packets: number; bytes: number },
  ): Promise<PlainRtpLegStats['consumers']> {
    return Promise.all(
      [...this.#consumers.values()].map(async (e) => ({
        id: e.consumer.id,
        sourceLegId: e.sourceLegId,
        sourceLabel: e.sourceLabel,
        paused: e.consumer.paused,
        ...sum(await e.consumer.getStats().catch(() => [])),
      })),
    );
  }

  pipelineStats(): PlainRtpLegStats['pipelines']['mixer'] {
    const mixer = this.#mixer;
    return mixer.pid === undefined
      ? undefined
      : { pid: mixer.pid, inputs: mixer.inputs.length, restarts: mixer.restarts };
  }

  async #consume(producer: ms.Producer): Promise<void> {
    if (this.#closed() || producer.closed || !this.#wanted.has(producer.id) || this.#consumers.has(producer.id)) return;
    let consumer: ms.Consumer;
    try {
      consumer = await this.#transport().consume({
        producerId: producer.id,
        rtpCapabilities: { codecs: [{ ...this.#opusCapability, rtcpFeedback: [] }], headerExtensions: [] },
        paused: this.#shouldPause(),
        appData: { legId: this.#legId },
      });
    } catch (err) {
      if (!this.#closed() && !producer.closed)
        this.#log.warn('cannot consume producer for the mixer; skipping it', { producerId: producer.id, err });
      return;
    }
    if (this.#closed() || !this.#wanted.has(producer.id)) {
      consumer.close();
      return;
    }
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    if (ssrc === undefined) {
      consumer.close();
      return;
    }
    const source = producer.appData as { legId?: string; legLabel?: string };
    this.#consumers.set(producer.id, {
      consumer,
      sourceLegId: String(source.legId ?? ''),
      sourceLabel: String(source.legLabel ?? ''),
    });
    this.#consumerBySsrc.set(ssrc, consumer);
    consumer.on('producerclose', () => this.#onConsumerGone(consumer));
    consumer.on('transportclose', () => this.#onConsumerGone(consumer));
    // A paused source (muted, held) leaves the mix: a silent input would make the mixer wait for it.
    consumer.on('producerpause', () => this.#changed());
    consumer.on('producerresume', () => this.#changed());
    this.#log.info('consumer created', { source: source.legLabel, ssrc });
    this.#changed();
  }

  #onConsumerGone(consumer: ms.Consumer): void {
    const entry = this.#consumers.get(consumer.producerId);
    if (!entry || entry.consumer !== consumer) return;
    this.#consumers.delete(consumer.producerId);
    for (const [ssrc, c] of this.#consumerBySsrc) if (c === consumer) this.#consumerBySsrc.delete(ssrc);
    if (this.#closed()) return;
    this.#log.info('remote party left the mix', { source: entry.sourceLabel });
    this.#changed();
  }
}
