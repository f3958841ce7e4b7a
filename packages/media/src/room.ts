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
 *
 * A mediasoup worker dying does not end the room: the room rebuilds itself on a live worker (a new home
 * router if its own was there; for every leg whose transport was there a new transport, producers
 * re-created from the leg's last negotiated state, pipes re-made), keeps its Room and leg objects, emits
 * 'recovered' and then asks for a re-offer of every leg ('renegotiationneeded'): browsers get the new
 * ICE/DTLS parameters that way. Only when no worker can be started does it close with 'worker-died'.
 */
import { randomUUID } from 'node:crypto';
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { EnhancedEventEmitter, SerialQueue } from '@conclave/events';
import { MediaClosedError } from './errors.ts';
import { ProducerPipes } from './producer-pipes.ts';
import {
  LEVEL_INTERVAL_MS,
  SpeakerDetector,
  createSpeakerObservers,
  type SpeakerObservers,
} from './speaker-detector.ts';
import type { RouterLease, RouterRegistry } from './router-registry.ts';
import { WebRtcLeg, type WebRtcLegOptions } from './webrtc-leg.ts';
import { PlainRtpLeg, type PlainRtpLegOptions } from './plain-rtp-leg.ts';
import { checkGstreamer } from './gst-process.ts';
import { RoomAudio } from './room-audio.ts';
import {
  newPlainTransport,
  newTransport,
  newWebRtcTransport,
  placeTransport,
  plainListenSettings,
  type TransportSettings,
} from './room-transports.ts';
import type { LegTransport } from './negotiated-leg.ts';
import type {
  LegKind,
  LegRoomLink,
  LegStats,
  MediaLeg,
  MediaRoom,
  PlainRtpLegStats,
  RoomCloseReason,
  RoomEvents,
  RoomLeg,
} from './leg-types.ts';

// Compatible exports: these types moved to the leg contract (leg-types.ts).
export type { RoomCloseReason, RoomEvents } from './leg-types.ts';
export type { TransportSettings } from './room-transports.ts';

/** Rebuild passes after a worker crash before the room gives up (each pass follows another worker dying under the rebuild). */
const MAX_RECOVERY_ROUNDS = 5;

export interface RoomOptions {
  label: string;
}

export class Room extends EnhancedEventEmitter<RoomEvents> implements MediaRoom {
  readonly id: string;
  readonly label: string;
  #home: RouterLease;
  /** Routers this room opened on other workers when its own was full. */
  #overflow: RouterLease[] = [];
  readonly #registry: RouterRegistry;
  readonly #transportSettings: TransportSettings;
  readonly #audioLevels: boolean;
  readonly #log: Logger;
  readonly #legs = new Map<string, RoomLeg>();
  readonly #link: LegRoomLink;
  readonly #pipes: ProducerPipes;
  #speaker: SpeakerDetector<RoomLeg> | undefined;
  /** The mixer of the room's phones (while it has a plain leg): every browser's audio in once, a mix-minus per phone. */
  #audio: RoomAudio | undefined;
  #audioStarting: Promise<RoomAudio> | undefined;
  /** Feeds the phones' levels (measured by the mixer) to the speaker detector. */
  #levelTimer: ReturnType<typeof setInterval> | undefined;
  /** Transport placement, one at a time, so that concurrent joins count each other. */
  readonly #placement = new SerialQueue();
  /** The rebuild after a worker crash, while it runs (legs hold their re-offer requests meanwhile). */
  #recovery: Promise<void> | undefined;
  #recoverAgain = false;
  #recoveryStartedAt = 0;
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
    this.#speaker = params.speakerObservers ? this.#newSpeakerDetector(params.speakerObservers) : undefined;
    this.#watchHome(this.#home);
    const recovering = (): boolean => this.#recovery !== undefined;
    const roomMixer = (): RoomAudio['mixer'] | undefined => this.#audio?.mixer;
    this.#link = {
      room: this,
      // Every router of every worker is created with the same codecs: the capabilities never change.
      routerCapabilities: this.#home.router.rtpCapabilities,
      get recovering() {
        return recovering();
      },
      get roomMixer() {
        return roomMixer();
      },
      producerAdded: (leg, producer) => {
        // While recovering, the rebuild wires everyone to everyone once it is done.
        if (this.#recovery === undefined) this.#fanOut(leg, producer);
      },
      renegotiationNeeded: (leg) => {
        if (!this.#closed && this.#legs.get(leg.id) === leg) this.safeEmit('renegotiationneeded', leg);
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
        if (worker.died) this.#scheduleRecovery(worker.pid);
        else if (leg.routerLease === this.#home) this.#shutdown('service-closed');
        else leg.close('service-closed');
      },
      release: (leg, to) => this.#release(leg, to),
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
  get activeSpeaker(): MediaLeg | undefined {
    const leg = this.#speaker?.current;
    return leg && this.#legs.get(leg.id) === leg ? leg : undefined;
  }

  createWebRtcLeg(options: WebRtcLegOptions): Promise<WebRtcLeg> {
    return this.#join({
      kind: 'webrtc',
      label: options.label,
      newTransport: (lease, id) => newWebRtcTransport(this.#transportSettings, lease, id, options.label),
      newLeg: (id, lease, transport) =>
        new WebRtcLeg({
          id,
          options,
          transport,
          lease,
          link: this.#link,
          log: this.#log,
          audioLevels: this.#audioLevels,
        }),
    });
  }

  /**
   * A plain SIP phone's leg (RTP/AVP, G.711 or opus; see PlainRtpLeg): it hears a mix of every other
   * party and everyone hears it. Its PlainTransport is placed like a WebRtcTransport. Rejects with an
   * Error if GStreamer (gst-launch-1.0) cannot run.
   */
  async createPlainRtpLeg(options: PlainRtpLegOptions): Promise<PlainRtpLeg> {
    if (this.#closed) throw new MediaClosedError(`room '${this.label}' is closed`);
    await checkGstreamer();
    await this.#startAudio();
    const listen = plainListenSettings(this.#transportSettings);
    return this.#join({
      kind: 'plain',
      label: options.label,
      newTransport: (lease, id) => newPlainTransport(lease, id, options.label),
      newLeg: (id, lease, transport) =>
        PlainRtpLeg.create({
          id,
          options,
          transport,
          lease,
          link: this.#link,
          log: this.#log,
          listen,
          rtpTimeoutMs: this.#transportSettings.plainRtpTimeoutMs,
        }),
      logged: (leg) => ({ port: leg.localPort }),
    });
  }

  /**
   * The one way into a room: a transport where there is room for it (one placement at a time), the
   * leg on it, and every producer of the room offered to the leg before the leg is returned.
   */
  async #join<T extends LegTransport, L extends RoomLeg>(join: {
    kind: LegKind;
    label: string;
    newTransport: (lease: RouterLease, legId: string) => Promise<T>;
    newLeg: (legId: string, lease: RouterLease, transport: T) => L | Promise<L>;
    logged?: (leg: L) => Record<string, unknown>;
  }): Promise<L> {
    const label = join.label;
    if (this.#closed) throw new MediaClosedError(`room '${this.label}' is closed`);
    const id = randomUUID();
    if (this.#recovery) await this.#recovery;
    const { lease, transport } = await this.#placement.push(async () => {
      const lease = await this.#leaseForNewTransport();
      const transport = await join.newTransport(lease, id);
      return { lease, transport };
    });
    if (this.#closed) {
      transport.close();
      throw new MediaClosedError(`room '${this.label}' closed while creating leg '${label}'`);
    }
    let leg: L;
    try {
      leg = await join.newLeg(id, lease, transport);
    } catch (err) {
      transport.close();
      throw err;
    }
    if (this.#closed) {
      leg.close('room-closed');
      throw new MediaClosedError(`room '${this.label}' closed while creating leg '${label}'`);
    }
    const piping: Promise<void>[] = [];
    for (const other of this.#legs.values()) {
      for (const producer of other.producers) {
        const wait = this.#deliver(other, producer, leg);
        if (wait) piping.push(wait);
      }
    }
    this.#legs.set(id, leg);
    this.#log.info(join.kind === 'plain' ? 'plain leg created' : 'leg created', {
      leg: label,
      legs: this.#legs.size,
      pid: lease.worker.pid,
      ...join.logged?.(leg),
    });
    // The first offer of a leg on another router must already carry everyone.
    if (piping.length > 0) await Promise.all(piping);
    if (leg.closed) throw new MediaClosedError(`leg '${label}' closed while joining room '${this.label}'`);
    return leg;
  }

  /**
   * Moves a leg created by another room (e.g. a two-party call's) into this room, without touching
   * its transport: the browser keeps its PeerConnection (no ICE/DTLS restart). Afterwards the leg
   * consumes every producer of this room and this room's legs consume its producers; its old room
   * forgets it (their consumers of each other close, those m-lines go to port 0 or are reused).
   * Both rooms emit 'renegotiationneeded' for the legs whose SDP changes. Muted/held state stays.
   *
   * The move of ownership is synchronous: when this method returns its promise, the leg already
   * belongs to this room, so closing its old room (the call it came from ending) can no longer close
   * it. The promise resolves once every producer is wired (pipes between routers included).
   */
  adoptLeg(adopted: MediaLeg): Promise<void> {
    // Every MediaLeg is a WebRtcLeg or a PlainRtpLeg, both RoomLegs.
    const leg = adopted as RoomLeg;
    if (this.#closed) return Promise.reject(new MediaClosedError(`room '${this.label}' is closed`));
    if (leg.closed) return Promise.reject(new MediaClosedError(`cannot adopt closed leg '${leg.label}'`));
    if (leg.room === this) return Promise.resolve();
    const from = leg.room;
    leg.roomLink.release(leg, this);
    leg.moveTo(this.#link);
    this.#legs.set(leg.id, leg);
    // Producers on a shared router are consumed at once; those across routers wait for their pipes.
    const piping: Promise<void>[] = [];
    for (const other of this.#legs.values()) {
      if (other === leg) continue;
      for (const producer of other.producers) {
        const wait = this.#deliver(other, producer, leg);
        if (wait) piping.push(wait);
      }
      for (const producer of leg.producers) {
        const wait = this.#deliver(leg, producer, other);
        if (wait) piping.push(wait);
      }
    }
    if (leg.kind === 'plain') {
      // Its phone joins this room's mixer (made now if the room had no phone).
      const joining = this.#startAudio().then(
        () => leg.mixerChanged?.(),
        (err: unknown) => {
          // The leg is adopted all the same; it hears nothing until the room has a mixer.
          if (!this.#closed) this.#log.warn('cannot start the room mixer for an adopted phone', { err });
        },
      );
      piping.push(joining);
    }
    this.#log.info('leg adopted', { leg: leg.label, from: from.label, legs: this.#legs.size, pid: leg.workerPid });
    // Its transport died with a worker before the move: this room rebuilds it now.
    if (leg.routerLease.closed && leg.routerLease.worker.died) this.#scheduleRecovery(leg.routerLease.worker.pid);
    this.#syncSpeakers();
    return Promise.all(piping).then(() => {
      if (leg.closed)
        throw new MediaClosedError(`leg '${leg.label}' closed while being adopted by room '${this.label}'`);
    });
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
    if (this.#audio && source.kind === 'webrtc') void this.#feedAudio(source, producer);
    this.#syncSpeakers();
  }

  // ---------------------------------------------------------------------------------------------
  // The phones' mixer
  // ---------------------------------------------------------------------------------------------

  /** The room's mixer, made with its first phone: a loopback transport on the home router, every browser in. */
  #startAudio(): Promise<RoomAudio> {
    if (this.#audio) return Promise.resolve(this.#audio);
    this.#audioStarting ??= (async () => {
      const audio = await RoomAudio.create(this.#log);
      try {
        if (this.#recovery) await this.#recovery;
        await audio.attach(this.#home.router);
      } catch (err) {
        audio.close();
        throw err;
      }
      if (this.#closed) {
        audio.close();
        throw new MediaClosedError(`room '${this.label}' is closed`);
      }
      this.#audio = audio;
      this.#log.info('room mixer started');
      if (this.#speaker) {
        this.#levelTimer = setInterval(() => this.#reportPhoneLevels(), LEVEL_INTERVAL_MS);
        this.#levelTimer.unref();
      }
      this.#syncSpeakers();
      await this.#feedAllAudio();
      return audio;
    })().finally(() => {
      this.#audioStarting = undefined;
    });
    return this.#audioStarting;
  }

  /** Every browser's audio producer into the mixer (those already in are skipped). */
  async #feedAllAudio(): Promise<void> {
    const feeding: Promise<void>[] = [];
    for (const leg of this.#legs.values()) {
      if (leg.kind !== 'webrtc') continue;
      for (const producer of leg.producers) feeding.push(this.#feedAudio(leg, producer));
    }
    await Promise.all(feeding);
  }

  /** A browser's audio producer into the mixer, through a pipe to the home router if needed. */
  async #feedAudio(source: RoomLeg, producer: ms.Producer): Promise<void> {
    const audio = this.#audio;
    if (!audio || producer.closed || producer.kind !== 'audio') return;
    const from = source.routerLease.router;
    const home = this.#home.router;
    const local =
      from === home
        ? producer
        : (this.#pipes.ready(producer.id, home.id) ?? (await this.#pipes.pipe(producer, from, home)));
    if (!local || this.#closed || this.#audio !== audio || this.#legs.get(source.id) !== source) return;
    await audio.addSource(producer.id, local, source);
  }

  /** The mean level of every phone over the last interval, from its mixer input, for the speaker detector. */
  #reportPhoneLevels(): void {
    const audio = this.#audio;
    const speaker = this.#speaker;
    if (!audio || !speaker || this.#closed) return;
    const levels = new Map<string, number>();
    for (const leg of this.#legs.values()) {
      const input = leg.kind === 'plain' ? audio.mixer.inputs.get(leg.id) : undefined;
      if (input) levels.set(`mix:${leg.id}`, input.takeMeanLevel());
    }
    speaker.reportLevels(levels);
  }

  /** No phone is left: the mixer goes. */
  #stopAudioIfUnused(): void {
    if (!this.#audio || [...this.#legs.values()].some((l) => l.kind === 'plain')) return;
    clearInterval(this.#levelTimer);
    this.#levelTimer = undefined;
    this.#audio.close();
    this.#audio = undefined;
    this.#log.info('room mixer stopped: no phone left');
  }

  /**
   * Offers `producer` (of `source`) to `target`: directly when both transports share a router, else
   * through a pipe producer on the target's router. Returns a promise only when a pipe is being made.
   */
  #deliver(source: RoomLeg, producer: ms.Producer, target: RoomLeg): Promise<void> | undefined {
    // A phone consumes nothing: it hears the room through the room's mixer.
    if (producer.closed || target.closed || target.kind === 'plain') return undefined;
    const from = source.routerLease.router;
    const to = target.routerLease.router;
    const local = from === to ? producer : this.#pipes.ready(producer.id, to.id);
    if (local) {
      this.#want(target, local);
      return undefined;
    }
    return this.#pipes.pipe(producer, from, to).then((piped) => {
      // Membership may have changed while the pipe was made.
      if (!piped || this.#closed || this.#legs.get(target.id) !== target || this.#legs.get(source.id) !== source)
        return;
      this.#want(target, piped);
    });
  }

  #want(target: RoomLeg, producer: ms.Producer): void {
    producer.observer.once('close', () => target.forgetProducer(producer.id));
    target.wantProducer(producer);
  }

  /** A leg moved to another room: both sides stop consuming each other. */
  #release(leg: RoomLeg, to: MediaRoom): void {
    this.#legs.delete(leg.id);
    for (const producer of leg.producers) {
      this.#audio?.dropSource(producer.id);
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
    if (this.#speaker || this.#audio) routers.add(this.#home.router.id);
    this.#stopAudioIfUnused();
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
    const wanted = new Map<string, { producer: ms.Producer; who: RoomLeg }>();
    // Phones are measured by the room mixer (their producers carry no RFC 6464 level).
    const levelSources = new Map<string, RoomLeg>();
    for (const leg of this.#legs.values()) {
      if (leg.closed || leg.held || leg.heldByFocus || leg.mutedByFocus) continue;
      if (leg.kind === 'plain' && this.#audio) levelSources.set(`mix:${leg.id}`, leg);
      if (!leg.capabilities.speakerDetection) continue;
      for (const p of leg.producers) {
        if (p.kind !== 'audio') continue;
        const from = leg.routerLease.router;
        const local = from === home ? p : this.#pipes.ready(p.id, home.id);
        if (local) wanted.set(local.id, { producer: local, who: leg });
        else void this.#pipes.pipe(p, from, home).then((piped) => piped && this.#syncSpeakers());
      }
    }
    speaker.setLevelSources(levelSources);
    speaker.setProducers(wanted);
  }

  /** Where a new leg's transport goes: the home router unless its worker is full (maxTransportsPerWorker). */
  #leaseForNewTransport(): Promise<RouterLease> {
    return placeTransport({
      holder: this,
      registry: this.#registry,
      log: this.#log,
      home: () => this.#home,
      overflow: () => this.#overflow,
      addOverflow: (lease) => this.#overflow.push(lease),
      closed: () => this.#closed,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Surviving a worker crash
  // ---------------------------------------------------------------------------------------------

  #newSpeakerDetector(observers: SpeakerObservers): SpeakerDetector<RoomLeg> {
    return new SpeakerDetector<RoomLeg>(observers, this.#log, (leg) => {
      if (this.#closed) return;
      this.#log.debug('active speaker', { leg: leg?.label });
      this.safeEmit('activespeaker', leg);
    });
  }

  #watchHome(home: RouterLease): void {
    const worker = home.worker;
    home.router.on('workerclose', () => {
      if (worker.died) this.#scheduleRecovery(worker.pid);
      else if (home === this.#home) this.#shutdown('service-closed');
    });
  }

  /**
   * A worker hosting the home router or a leg's transport died. The rebuild starts on the next turn of
   * the event loop: mediasoup closes the routers before the worker emits 'died', and the pool must have
   * dropped the dead worker (and started its replacement) before the room picks one.
   */
  #scheduleRecovery(pid: number): void {
    if (this.#closed) return;
    if (this.#recovery) {
      this.#recoverAgain = true;
      return;
    }
    this.#recoveryStartedAt = Date.now();
    this.#log.error('workerdied: the mediasoup worker under this room died; rebuilding the room', {
      pid,
      legs: this.#legs.size,
    });
    const recovery = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#recover())
      .catch((err: unknown) => {
        if (this.#closed) return;
        this.#log.error('cannot rebuild the room after its worker died', { pid, err });
        this.#shutdown('worker-died');
      })
      .finally(() => {
        if (this.#recovery === recovery) this.#recovery = undefined;
      });
    this.#recovery = recovery;
  }

  async #recover(): Promise<void> {
    const rebuilt = new Set<RoomLeg>();
    for (let round = 1; ; round++) {
      this.#recoverAgain = false;
      try {
        await this.#rebuildRound(rebuilt);
      } catch (err) {
        if (this.#closed) return;
        // The worker we rebuilt on died too (every worker killed at once): its requests were aborted.
        // The pool notices the death on its own turn; then pick() waits for the replacements.
        if (round >= MAX_RECOVERY_ROUNDS) throw err;
        this.#log.warn('room rebuild interrupted; starting over', { round, err });
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      if (this.#closed) return;
      if (!this.#recoverAgain && !this.#home.closed) break;
    }
    // Everyone consumes everyone again (wantProducer ignores what a leg consumes already); pipes are re-made.
    const piping: Promise<void>[] = [];
    for (const target of this.#legs.values()) {
      for (const source of this.#legs.values()) {
        if (source === target) continue;
        for (const producer of source.producers) {
          const wait = this.#deliver(source, producer, target);
          if (wait) piping.push(wait);
        }
      }
    }
    await Promise.all(piping);
    if (this.#closed) return;
    const audio = this.#audio;
    if (audio) {
      // The mixer's transport died with the home router, or its browsers' producers were re-created.
      await audio.attach(this.#home.router);
      await this.#feedAllAudio();
      if (this.#closed) return;
    }
    const ms = Date.now() - this.#recoveryStartedAt;
    this.#recovery = undefined;
    this.#syncSpeakers();
    this.#log.info('room recovered from a worker crash', { legs: rebuilt.size, ms, pid: this.#home.worker.pid });
    this.safeEmit('recovered', { legs: rebuilt.size, ms });
    for (const leg of this.#legs.values()) leg.renegotiateIfNeeded();
  }

  /** One pass of a rebuild: a new home router if needed, a new transport for every leg on a dead worker. */
  async #rebuildRound(rebuilt: Set<RoomLeg>): Promise<void> {
    if (this.#home.closed) {
      const lease = await this.#registry.create(this);
      if (!lease) throw new Error('no mediasoup worker is available');
      if (this.#closed) {
        lease.release(this);
        return;
      }
      const old = this.#home;
      this.#home = lease;
      old.release(this);
      this.#watchHome(lease);
      if (this.#speaker) {
        this.#speaker.close();
        this.#speaker = undefined;
        const observers = await createSpeakerObservers(lease.router);
        if (this.#closed) return;
        this.#speaker = this.#newSpeakerDetector(observers);
      }
      this.#log.info('room has a new home router', { pid: lease.worker.pid });
    }
    this.#overflow = this.#overflow.filter((l) => !l.closed);
    const dead = [...this.#legs.values()].filter((l) => !l.closed && l.routerLease.closed);
    // Settle every leg before reporting a failure: the next round must not race this one's rebuilds.
    const results = await Promise.allSettled(
      dead.map(async (leg) => {
        const { lease, transport } = await this.#placement.push(async () => {
          const lease = await this.#leaseForNewTransport();
          const transport = await newTransport(this.#transportSettings, leg.kind, lease, leg.id, leg.label);
          return { lease, transport };
        });
        if (this.#closed || leg.closed) {
          transport.close();
          return;
        }
        try {
          await leg.rebuild(transport, lease);
          rebuilt.add(leg);
        } catch (err) {
          if (!leg.closed) throw err;
        }
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  #shutdown(reason: RoomCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    const legReason = reason === 'closed' ? 'room-closed' : reason;
    this.#speaker?.close();
    clearInterval(this.#levelTimer);
    this.#audio?.close();
    this.#audio = undefined;
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
