/**
 * The room's audio mix for its phones (issue 9): one RoomMixer per room that has at least one plain leg.
 * Phones put their RTP straight into the mixer's inputs and get their mix-minus from its outputs (see
 * plain-leg-mixer.ts); browsers' audio enters through ONE loopback PlainTransport on the room's home
 * router that consumes each browser audio producer once (Opus), routed to its input by consumer SSRC.
 *
 * Every room mixer of this process is ticked by one MixerClock (20 ms), started with the first mixer and
 * stopped with the last. The mixer keeps no state worth saving across a worker crash: rebuild() makes a
 * new transport on the new home router and the room feeds its browsers' producers again.
 */
import type dgram from 'node:dgram';
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { MixerClock, RoomMixer, type MixerInput } from '@conclave/mixer';
import { OPUS } from './codecs.ts';
import { bindLoopback } from './rtp-port.ts';
import { isRtcp, readRtpHeader } from './rtp-packet.ts';

/** Every room mixer of the process, ticked by one clock. */
const ticking = new Set<RoomMixer>();
let clock: MixerClock | undefined;

function startTicking(mixer: RoomMixer): void {
  ticking.add(mixer);
  if (!clock) {
    clock = new MixerClock((now) => {
      for (const m of ticking) m.tick(now);
    });
    clock.start();
  }
}

function stopTicking(mixer: RoomMixer): void {
  ticking.delete(mixer);
  if (ticking.size === 0 && clock) {
    clock.close();
    clock = undefined;
  }
}

interface BrowserSource {
  sourceLegId: string;
  sourceLabel: string;
  consumer: ms.Consumer | undefined;
  input: MixerInput;
}

export class RoomAudio {
  readonly mixer: RoomMixer;
  readonly #log: Logger;
  readonly #socket: dgram.Socket;
  #transport: ms.PlainTransport | undefined;
  #router: ms.Router | undefined;
  readonly #sources = new Map<string, BrowserSource>();
  readonly #bySsrc = new Map<number, MixerInput>();
  #closed = false;

  private constructor(log: Logger, socket: dgram.Socket) {
    this.#log = log.child({ mix: true });
    this.#socket = socket;
    this.mixer = new RoomMixer({ log: this.#log });
    socket.on('message', (buf, rinfo) => this.#onDatagram(buf, rinfo));
    socket.on('error', (err) => this.#log.warn('room mix socket error', { err }));
    startTicking(this.mixer);
  }

  static async create(log: Logger): Promise<RoomAudio> {
    return new RoomAudio(log, await bindLoopback());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Browser sources being mixed (tests, stats). */
  get sources(): number {
    return this.#sources.size;
  }

  /** The loopback transport on `router` (the room's home router); a new one after a worker crash. */
  async attach(router: ms.Router): Promise<void> {
    if (this.#closed) return;
    if (this.#router === router && this.#transport && !this.#transport.closed) return;
    this.#transport?.close();
    this.#transport = undefined;
    this.#router = router;
    const transport = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: true,
      comedia: false,
      appData: { roomMix: true },
    });
    if (this.#closed || this.#router !== router) {
      transport.close();
      return;
    }
    await transport.connect({ ip: '127.0.0.1', port: this.#socket.address().port });
    this.#transport = transport;
    // The old transport's consumers died with it: their producers are fed again by the room.
    for (const [id, source] of this.#sources) if (!source.consumer || source.consumer.closed) this.#drop(id);
  }

  /**
   * A browser's audio producer (`local`: it, or its pipe on the home router) enters the mix; `sourceId`
   * is the leg's own producer id (a pipe's id differs). Adding one already mixed does nothing.
   */
  async addSource(sourceId: string, local: ms.Producer, leg: { id: string; label: string }): Promise<void> {
    const transport = this.#transport;
    if (this.#closed || !transport || transport.closed || local.closed || local.kind !== 'audio') return;
    if (this.#sources.has(sourceId)) return;
    const opus = (this.#router?.rtpCapabilities.codecs ?? []).find((c) => c.mimeType.toLowerCase() === OPUS);
    if (!opus) return;
    const input = this.mixer.addInput(`browser:${sourceId}`, 'opus', { payloadType: opus.preferredPayloadType });
    const source: BrowserSource = { sourceLegId: leg.id, sourceLabel: leg.label, consumer: undefined, input };
    this.#sources.set(sourceId, source);
    let consumer: ms.Consumer;
    try {
      consumer = await transport.consume({
        producerId: local.id,
        rtpCapabilities: { codecs: [{ ...opus, rtcpFeedback: [] }], headerExtensions: [] },
        appData: { roomMix: true, legId: leg.id },
      });
    } catch (err) {
      if (this.#sources.get(sourceId) === source) this.#drop(sourceId);
      if (!this.#closed && !local.closed) this.#log.warn('cannot consume a browser for the room mix', { err });
      return;
    }
    if (this.#closed || this.#sources.get(sourceId) !== source) {
      consumer.close();
      return;
    }
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    if (ssrc === undefined) {
      consumer.close();
      this.#drop(sourceId);
      return;
    }
    source.consumer = consumer;
    this.#bySsrc.set(ssrc, input);
    const gone = (): void => {
      if (this.#sources.get(sourceId) === source) this.#drop(sourceId);
    };
    consumer.on('producerclose', gone);
    consumer.on('transportclose', gone);
    this.#log.info('browser enters the room mix', { source: leg.label, ssrc });
  }

  /** The producer's leg left the room. */
  dropSource(sourceId: string): void {
    this.#drop(sourceId);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    stopTicking(this.mixer);
    for (const id of [...this.#sources.keys()]) this.#drop(id);
    this.mixer.close();
    this.#transport?.close();
    try {
      this.#socket.close();
    } catch {
      /* already closed */
    }
  }

  #drop(sourceId: string): void {
    const source = this.#sources.get(sourceId);
    if (!source) return;
    this.#sources.delete(sourceId);
    for (const [ssrc, input] of this.#bySsrc) if (input === source.input) this.#bySsrc.delete(ssrc);
    if (source.consumer && !source.consumer.closed) source.consumer.close();
    this.mixer.removeInput(source.input.id);
    if (!this.#closed) this.#log.info('browser leaves the room mix', { source: source.sourceLabel });
  }

  #onDatagram(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const tuple = this.#transport?.tuple;
    if (this.#closed || !tuple || rinfo.port !== tuple.localPort || rinfo.address !== tuple.localAddress) return;
    if (isRtcp(buf)) return;
    const header = readRtpHeader(buf);
    if (header) this.#bySsrc.get(header.ssrc)?.pushRtp(buf);
  }
}
