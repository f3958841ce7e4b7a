/**
 * A room is one mediasoup router and the legs in it. It wires every leg to every other leg
 * (all-to-all): each producer a leg creates is offered to every other leg, which consumes it on its
 * next offer or answer. A 1:1 call and a conference are the same thing with two or more legs.
 */
import { randomUUID } from 'node:crypto';
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { TypedEmitter } from './typed-emitter.ts';
import { MediaClosedError } from './errors.ts';
import { WebRtcLeg, type LegRoomLink, type LegStats, type WebRtcLegOptions } from './webrtc-leg.ts';

export type RoomCloseReason = 'closed' | 'worker-died' | 'service-closed';

export type RoomEvents = {
  /** The leg must be re-offered (participants joined or left): leg.createLocalOffer() + applyRemoteAnswer(). */
  renegotiationneeded: [WebRtcLeg];
  legclosed: [WebRtcLeg];
  closed: [RoomCloseReason];
};

export interface RoomOptions {
  label: string;
}

/** @internal How the service tells a room to build transports. */
export interface TransportSettings {
  listenInfos: ms.TransportListenInfo[];
  initialAvailableOutgoingBitrate?: number;
}

export class Room extends TypedEmitter<RoomEvents> {
  readonly id: string;
  readonly label: string;
  readonly #router: ms.Router;
  readonly #worker: ms.Worker;
  readonly #transportSettings: TransportSettings;
  readonly #log: Logger;
  readonly #legs = new Map<string, WebRtcLeg>();
  readonly #link: LegRoomLink;
  #closed = false;

  /** @internal Use MediaService.createRoom(). */
  constructor(params: { id: string; label: string; router: ms.Router; worker: ms.Worker; transportSettings: TransportSettings; log: Logger }) {
    const log = params.log.child({ room: params.label, roomId: params.id });
    super(log);
    this.id = params.id;
    this.label = params.label;
    this.#router = params.router;
    this.#worker = params.worker;
    this.#transportSettings = params.transportSettings;
    this.#log = log;
    this.#router.on('workerclose', () => this.#shutdown(this.#worker.died ? 'worker-died' : 'service-closed'));
    this.#link = {
      routerCapabilities: this.#router.rtpCapabilities,
      producerAdded: (leg, producer) => this.#fanOut(leg, producer),
      renegotiationNeeded: (leg) => {
        if (!this.#closed) this.safeEmit('renegotiationneeded', leg);
      },
      legClosed: (leg) => {
        if (this.#legs.delete(leg.id) && !this.#closed) this.safeEmit('legclosed', leg);
      },
    };
  }

  get closed(): boolean {
    return this.#closed;
  }
  get legs(): WebRtcLeg[] {
    return [...this.#legs.values()];
  }
  /** PID of the mediasoup worker hosting this room's router. */
  get workerPid(): number {
    return this.#worker.pid;
  }

  async createWebRtcLeg(options: WebRtcLegOptions): Promise<WebRtcLeg> {
    if (this.#closed) throw new MediaClosedError(`room '${this.label}' is closed`);
    const id = randomUUID();
    const transport = await this.#router.createWebRtcTransport({
      listenInfos: this.#transportSettings.listenInfos,
      ...(this.#transportSettings.initialAvailableOutgoingBitrate !== undefined
        ? { initialAvailableOutgoingBitrate: this.#transportSettings.initialAvailableOutgoingBitrate }
        : {}),
      appData: { legId: id, label: options.label },
    });
    if (this.#closed) {
      transport.close();
      throw new MediaClosedError(`room '${this.label}' closed while creating leg '${options.label}'`);
    }
    const leg = new WebRtcLeg({ id, options, transport, link: this.#link, log: this.#log });
    for (const other of this.#legs.values()) {
      for (const producer of other.producers) leg.wantProducer(producer);
    }
    this.#legs.set(id, leg);
    this.#log.info('leg created', { leg: options.label, legs: this.#legs.size });
    return leg;
  }

  /** Per-leg counters (see WebRtcLeg.getStats), for tests and admin pages. */
  async getStats(): Promise<LegStats[]> {
    return Promise.all(this.legs.filter((l) => !l.closed).map((l) => l.getStats()));
  }

  /** Closes every leg and the router. Idempotent. */
  close(): void {
    this.#shutdown('closed');
  }

  /** @internal */
  closeBecause(reason: RoomCloseReason): void {
    this.#shutdown(reason);
  }

  #fanOut(source: WebRtcLeg, producer: ms.Producer): void {
    producer.observer.once('close', () => {
      for (const leg of this.#legs.values()) leg.forgetProducer(producer.id);
    });
    for (const leg of this.#legs.values()) {
      if (leg !== source) leg.wantProducer(producer);
    }
  }

  #shutdown(reason: RoomCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    const legReason = reason === 'closed' ? 'room-closed' : reason;
    for (const leg of [...this.#legs.values()]) leg.close(legReason);
    this.#legs.clear();
    try {
      if (!this.#router.closed) this.#router.close();
    } catch (err) {
      this.#log.warn('router close failed', { err });
    }
    const log = reason === 'worker-died' ? this.#log.error.bind(this.#log) : this.#log.info.bind(this.#log);
    log('room closed', { reason });
    this.safeEmit('closed', reason);
  }
}
