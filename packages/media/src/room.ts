/**
 * A room is a set of legs wired all-to-all: each producer a leg creates is offered to every other
 * leg, which consumes it on its next offer or answer. A 1:1 call and a conference are the same thing
 * with two or more legs.
 *
 * A room has a home router (on the least-loaded worker). Its legs' transports usually live there,
 * but not always: a leg adopted from another room keeps its transport on that room's router (no
 * ICE/DTLS restart), and a room whose worker is full places new transports on another worker
 * (`maxTransportsPerWorker`). A producer is consumed directly on its own router and through a pipe
 * producer (router.pipeToRouter) on every other router of the room.
 */
import { randomUUID } from 'node:crypto';
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { TypedEmitter } from './typed-emitter.ts';
import { MediaClosedError } from './errors.ts';
import { SerialQueue } from './serial-queue.ts';
import { ProducerPipes } from './producer-pipes.ts';
import { SpeakerDetector, type SpeakerObservers } from './speaker-detector.ts';
import type { RouterLease, RouterRegistry } from './router-registry.ts';
import { WebRtcLeg, type LegRoomLink, type LegStats, type WebRtcLegOptions } from './webrtc-leg.ts';
import { PlainRtpLeg, type PlainListenSettings, type PlainRtpLegOptions, type PlainRtpLegStats } from './plain-rtp-leg.ts';
import { checkGstreamer } from './gst-process.ts';
import type { MediaLeg, RoomLeg } from './leg.ts';

export type RoomCloseReason = 'closed' | 'worker-died' | 'service-closed';

export type RoomEvents = {
  /** The leg must be re-offered (participants joined or left): leg.createLocalOffer() + applyRemoteAnswer(). */
  renegotiationneeded: [WebRtcLeg];
  legclosed: [MediaLeg];
  /** Another room adopted the leg (room.adoptLeg); it is no longer in this room's `legs`. */
  legmoved: [MediaLeg, Room];
  /**
   * The dominant speaker changed (at most ~2 changes per second); undefined when nobody may speak.
   * Muted and held legs are never named. Needs the MediaService option `speakerDetection`.
   * Plain RTP legs (phones) are never named: their audio carries no RFC 6464 level.
   */
  activespeaker: [WebRtcLeg | undefined];
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
  readonly #home: RouterLease;
  /** Routers this room opened on other workers when its own was full. */
  readonly #overflow: RouterLease[] = [];
  readonly #registry: RouterRegistry;
  readonly #transportSettings: TransportSettings;
  readonly #audioLevels: boolean;
  readonly #log: Logger;
  readonly #legs = new Map<string, RoomLeg>();
  readonly #link: LegRoomLink;
  readonly #pipes: ProducerPipes;
  readonly #speaker: SpeakerDetector<WebRtcLeg> | undefined;
  /** Transport placement, one at a time, so that concurrent joins count each other. */
  readonly #placement = new SerialQueue();
  #closed = false;

  /** @internal Use MediaService.createRoom(). */
  constructor(params: {
    id: string;
    label: string;
    home: RouterLease;
    registry: RouterRegistry;
    transportSettings: TransportSettings;
    speakerObservers?: SpeakerObservers;
    log: Logger;
  }) {
    const log = params.log.child({ room: params.label, roomId: params.id });
    super(log);
    this.id = params.id;
    this.label = params.label;
    this.#home = params.home;
    this.#registry = params.registry;
    this.#transportSettings = params.transportSettings;
    this.#log = log;
    this.#pipes = new ProducerPipes(log);
    this.#audioLevels = params.speakerObservers !== undefined;
    this.#speaker = params.speakerObservers
      ? new SpeakerDetector<WebRtcLeg>(params.speakerObservers, log, (leg) => {
          if (this.#closed) return;
          this.#log.debug('active speaker', { leg: leg?.label });
          this.safeEmit('activespeaker', leg);
        })
      : undefined;
    const worker = this.#home.worker;
    this.#home.router.on('workerclose', () => this.#shutdown(worker.died ? 'worker-died' : 'service-closed'));
    this.#link = {
      room: this,
      routerCapabilities: this.#home.router.rtpCapabilities,
      producerAdded: (leg, producer) => this.#fanOut(leg, producer),
      renegotiationNeeded: (leg) => {
        // Plain RTP legs never need it (their SDP does not change with the room).
        if (leg instanceof WebRtcLeg && !this.#closed && this.#legs.get(leg.id) === leg) this.safeEmit('renegotiationneeded', leg);
      },
      legClosed: (leg) => {
        if (this.#legs.get(leg.id) !== leg) return;
        this.#legs.delete(leg.id);
        if (this.#closed) return;
        this.#afterDeparture();
        this.safeEmit('legclosed', leg);
      },
      activityChanged: () => this.#syncSpeakers(),
      routerClosed: (leg) => {
        const worker = leg.routerLease.worker;
        const reason = worker.died ? 'worker-died' : 'service-closed';
        // The home router going means the room goes (as before adoption existed); another router only takes its legs.
        if (leg.routerLease === this.#home) this.#shutdown(reason);
        else leg.close(reason);
      },
    };
  }

  get closed(): boolean {
    return this.#closed;
  }
  get legs(): MediaLeg[] {
    return [...this.#legs.values()];
  }
  /** PID of the mediasoup worker hosting this room's home router. */
  get workerPid(): number {
    return this.#home.worker.pid;
  }
  /** PIDs of every worker hosting a transport of this room's legs (the home worker first). */
  get workerPids(): number[] {
    const pids = new Set([this.#home.worker.pid]);
    for (const leg of this.#legs.values()) pids.add(leg.workerPid);
    return [...pids];
  }
  /** The last speaker reported by 'activespeaker'. */
  get activeSpeaker(): WebRtcLeg | undefined {
    const leg = this.#speaker?.current;
    return leg && this.#legs.get(leg.id) === leg ? leg : undefined;
  }

  async createWebRtcLeg(options: WebRtcLegOptions): Promise<WebRtcLeg> {
    if (this.#closed) throw new MediaClosedError(`room '${this.label}' is closed`);
    const id = randomUUID();
    const { lease, transport } = await this.#placement.push(async () => {
      const lease = await this.#leaseForNewTransport();
      const transport = await lease.router.createWebRtcTransport({
        listenInfos: this.#transportSettings.listenInfos,
        ...(this.#transportSettings.initialAvailableOutgoingBitrate !== undefined
          ? { initialAvailableOutgoingBitrate: this.#transportSettings.initialAvailableOutgoingBitrate }
          : {}),
        appData: { legId: id, label: options.label },
      });
      lease.addTransport(transport);
      return { lease, transport };
    });
    if (this.#closed) {
      transport.close();
      throw new MediaClosedError(`room '${this.label}' closed while creating leg '${options.label}'`);
    }
    const leg = new WebRtcLeg({ id, options, transport, lease, link: this.#link, log: this.#log, audioLevels: this.#audioLevels });
    const piping: Promise<void>[] = [];
    for (const other of this.#legs.values()) {
      for (const producer of other.producers) {
        const wait = this.#deliver(other, producer, leg);
        if (wait) piping.push(wait);
      }
    }
    this.#legs.set(id, leg);
    this.#log.info('leg created', { leg: options.label, legs: this.#legs.size, pid: lease.worker.pid });
    // The first offer of a leg on another router must already carry everyone.
    if (piping.length > 0) await Promise.all(piping);
    if (leg.closed) throw new MediaClosedError(`leg '${options.label}' closed while joining room '${this.label}'`);
    return leg;
  }

  /**
   * A plain SIP phone's leg (RTP/AVP, G.711 or opus; see PlainRtpLeg): it hears a mix of every other
   * party and everyone hears it. Its PlainTransport is placed like a WebRtcTransport. Rejects with an
   * Error if GStreamer (gst-launch-1.0) cannot run.
   */
  async createPlainRtpLeg(options: PlainRtpLegOptions): Promise<PlainRtpLeg> {
    if (this.#closed) throw new MediaClosedError(`room '${this.label}' is closed`);
    await checkGstreamer();
    const listen = this.#plainListenSettings();
    const id = randomUUID();
    const { lease, transport } = await this.#placement.push(async () => {
      const lease = await this.#leaseForNewTransport();
      // Loopback only: it talks to this process's relay, never to the phone.
      const transport = await lease.router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
        rtcpMux: true,
        comedia: false,
        appData: { legId: id, label: options.label },
      });
      lease.addTransport(transport);
      return { lease, transport };
    });
    if (this.#closed) {
      transport.close();
      throw new MediaClosedError(`room '${this.label}' closed while creating leg '${options.label}'`);
    }
    let leg: PlainRtpLeg;
    try {
      leg = await PlainRtpLeg.create({ id, options, transport, lease, link: this.#link, log: this.#log, listen });
    } catch (err) {
      transport.close();
      throw err;
    }
    if (this.#closed) {
      leg.close('room-closed');
      throw new MediaClosedError(`room '${this.label}' closed while creating leg '${options.label}'`);
    }
    const piping: Promise<void>[] = [];
    for (const other of this.#legs.values()) {
      for (const producer of other.producers) {
        const wait = this.#deliver(other, producer, leg);
        if (wait) piping.push(wait);
      }
    }
    this.#legs.set(id, leg);
    this.#log.info('plain leg created', { leg: options.label, legs: this.#legs.size, pid: lease.worker.pid, port: leg.localPort });
    if (piping.length > 0) await Promise.all(piping);
    if (leg.closed) throw new MediaClosedError(`leg '${options.label}' closed while joining room '${this.label}'`);
    return leg;
  }

  /**
   * Moves a leg created by another room (e.g. a two-party call's) into this room, without touching
   * its transport: the browser keeps its PeerConnection (no ICE/DTLS restart). Afterwards the leg
   * consumes every producer of this room and this room's legs consume its producers; its old room
   * forgets it (their consumers of each other close, those m-lines go to port 0 or are reused).
   * Both rooms emit 'renegotiationneeded' for the legs whose SDP changes. Muted/held state stays.
   * Resolves once every producer is wired (pipes between routers included).
   */
  async adoptLeg(adopted: MediaLeg): Promise<void> {
    // Every MediaLeg is a WebRtcLeg or a PlainRtpLeg, both RoomLegs.
    const leg = adopted as RoomLeg;
    if (this.#closed) throw new MediaClosedError(`room '${this.label}' is closed`);
    if (leg.closed) throw new MediaClosedError(`cannot adopt closed leg '${leg.label}'`);
    if (leg.room === this) return;
    // Pipes first: the switch below is then immediate, so the party is never out of both rooms for long.
    await Promise.all(this.#warmPipes(leg));
    if (this.#closed) throw new MediaClosedError(`room '${this.label}' closed while adopting leg '${leg.label}'`);
    if (leg.closed) throw new MediaClosedError(`leg '${leg.label}' closed while being adopted by room '${this.label}'`);
    if (leg.room === this) return;
    const from = leg.room;
    from.#release(leg, this);
    leg.moveTo(this.#link);
    const piping: Promise<void>[] = [];
    for (const other of this.#legs.values()) {
      for (const producer of other.producers) {
        const wait = this.#deliver(other, producer, leg);
        if (wait) piping.push(wait);
      }
      for (const producer of leg.producers) {
        const wait = this.#deliver(leg, producer, other);
        if (wait) piping.push(wait);
      }
    }
    this.#legs.set(leg.id, leg);
    this.#log.info('leg adopted', { leg: leg.label, from: from.label, legs: this.#legs.size, pid: leg.workerPid });
    this.#syncSpeakers();
    if (piping.length > 0) await Promise.all(piping);
  }

  /** Per-leg counters (see WebRtcLeg.getStats), for tests and admin pages. */
  async getStats(): Promise<(LegStats | PlainRtpLegStats)[]> {
    return Promise.all(this.legs.filter((l) => !l.closed).map((l) => l.getStats()));
  }

  /** Closes every leg and gives the routers up (a router closes once no transport is left on it). Idempotent. */
  close(): void {
    this.#shutdown('closed');
  }

  /** @internal */
  closeBecause(reason: RoomCloseReason): void {
    this.#shutdown(reason);
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring
  // ---------------------------------------------------------------------------------------------

  #fanOut(source: RoomLeg, producer: ms.Producer): void {
    if (this.#closed) return;
    for (const leg of this.#legs.values()) {
      if (leg !== source) void this.#deliver(source, producer, leg);
    }
    this.#syncSpeakers();
  }

  /**
   * Offers `producer` (of `source`) to `target`: directly when both transports share a router, else
   * through a pipe producer on the target's router. Returns a promise only when a pipe is being made.
   */
  #deliver(source: RoomLeg, producer: ms.Producer, target: RoomLeg): Promise<void> | undefined {
    if (producer.closed || target.closed) return undefined;
    const from = source.routerLease.router;
    const to = target.routerLease.router;
    const local = from === to ? producer : this.#pipes.ready(producer.id, to.id);
    if (local) {
      this.#want(target, local);
      return undefined;
    }
    return this.#pipes.pipe(producer, from, to).then((piped) => {
      // Membership may have changed while the pipe was made.
      if (!piped || this.#closed || this.#legs.get(target.id) !== target || this.#legs.get(source.id) !== source) return;
      this.#want(target, piped);
    });
  }

  #want(target: RoomLeg, producer: ms.Producer): void {
    producer.observer.once('close', () => target.forgetProducer(producer.id));
    target.wantProducer(producer);
  }

  /** Starts the pipes an adoption needs, both ways, before the leg switches rooms. */
  #warmPipes(leg: RoomLeg): Promise<unknown>[] {
    const waits: Promise<unknown>[] = [];
    const legRouter = leg.routerLease.router;
    for (const other of this.#legs.values()) {
      const otherRouter = other.routerLease.router;
      if (otherRouter === legRouter) continue;
      for (const p of other.producers) waits.push(this.#pipes.pipe(p, otherRouter, legRouter));
      for (const p of leg.producers) waits.push(this.#pipes.pipe(p, legRouter, otherRouter));
    }
    return waits;
  }

  /** A leg moved to another room: both sides stop consuming each other. */
  #release(leg: RoomLeg, to: Room): void {
    this.#legs.delete(leg.id);
    for (const producer of leg.producers) {
      const piped = this.#pipes.readyFor(producer.id);
      for (const other of this.#legs.values()) {
        other.dropProducer(producer.id);
        const pipe = piped.get(other.routerLease.router.id);
        if (pipe) other.dropProducer(pipe.id);
      }
    }
    this.#afterDeparture();
    this.#log.info('leg moved to another room', { leg: leg.label, to: to.label, legs: this.#legs.size });
    this.safeEmit('legmoved', leg, to);
  }

  /** After a leg left: close the pipes nobody needs any more, and recount the speakers. */
  #afterDeparture(): void {
    const sources = new Map<string, RoomLeg>();
    const routers = new Set<string>();
    for (const leg of this.#legs.values()) {
      routers.add(leg.routerLease.router.id);
      for (const p of leg.producers) sources.set(p.id, leg);
    }
    if (this.#speaker) routers.add(this.#home.router.id);
    this.#pipes.prune((sourceId, routerId) => {
      const source = sources.get(sourceId);
      return source !== undefined && routers.has(routerId) && source.routerLease.router.id !== routerId;
    });
    this.#syncSpeakers();
  }

  /** Tells the speaker detector which audio producers may speak: those of legs neither muted nor held. */
  #syncSpeakers(): void {
    const speaker = this.#speaker;
    if (!speaker || this.#closed) return;
    const home = this.#home.router;
    const wanted = new Map<string, { producer: ms.Producer; who: WebRtcLeg }>();
    for (const leg of this.#legs.values()) {
      if (!(leg instanceof WebRtcLeg) || leg.closed || leg.held || leg.mutedByFocus) continue;
      for (const p of leg.producers) {
        if (p.kind !== 'audio') continue;
        const from = leg.routerLease.router;
        const local = from === home ? p : this.#pipes.ready(p.id, home.id);
        if (local) wanted.set(local.id, { producer: local, who: leg });
        else void this.#pipes.pipe(p, from, home).then((piped) => piped && this.#syncSpeakers());
      }
    }
    speaker.setProducers(wanted);
  }

  /** Where phones reach plain RTP legs: the UDP listen info of the service (IP, announced address, RTC range). */
  #plainListenSettings(): PlainListenSettings {
    const info = this.#transportSettings.listenInfos.find((l) => l.protocol === 'udp') ?? this.#transportSettings.listenInfos[0];
    if (!info?.portRange) throw new Error('the media service has no UDP port range for plain RTP legs');
    return {
      ip: info.ip,
      ...(info.announcedAddress ? { announcedAddress: info.announcedAddress } : {}),
      minPort: info.portRange.min,
      maxPort: info.portRange.max,
    };
  }

  /** Where a new leg's transport goes: the home router unless its worker is full (maxTransportsPerWorker). */
  async #leaseForNewTransport(): Promise<RouterLease> {
    const registry = this.#registry;
    if (registry.hasRoomOn(this.#home.worker)) return this.#home;
    const open = this.#overflow.filter((l) => !l.closed);
    const withRoom = open.filter((l) => registry.hasRoomOn(l.worker));
    withRoom.sort((a, b) => registry.transportsOn(a.worker) - registry.transportsOn(b.worker));
    if (withRoom[0]) return withRoom[0];
    const used = new Set([this.#home.worker, ...open.map((l) => l.worker)]);
    const lease = await registry.create(this, (w) => !used.has(w) && registry.hasRoomOn(w));
    if (lease) {
      if (this.#closed) {
        lease.release(this);
        throw new MediaClosedError(`room '${this.label}' is closed`);
      }
      this.#overflow.push(lease);
      this.#log.info('room spans another worker', { pid: lease.worker.pid, max: registry.maxTransportsPerWorker });
      return lease;
    }
    // Every worker is full: overload the least busy router of the room rather than refuse the call.
    const all = [this.#home, ...open];
    all.sort((a, b) => registry.transportsOn(a.worker) - registry.transportsOn(b.worker));
    this.#log.warn('every worker hosts maxTransportsPerWorker transports; overloading one', {
      max: registry.maxTransportsPerWorker,
      pid: all[0]!.worker.pid,
    });
    return all[0]!;
  }

  #shutdown(reason: RoomCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    const legReason = reason === 'closed' ? 'room-closed' : reason;
    this.#speaker?.close();
    for (const leg of [...this.#legs.values()]) leg.close(legReason);
    this.#legs.clear();
    this.#pipes.closeAll();
    // Routers close once no transport is left on them: a leg that moved to another room keeps its own.
    for (const lease of [this.#home, ...this.#overflow]) lease.release(this);
    const log = reason === 'worker-died' ? this.#log.error.bind(this.#log) : this.#log.info.bind(this.#log);
    log('room closed', { reason });
    this.safeEmit('closed', reason);
  }
}
