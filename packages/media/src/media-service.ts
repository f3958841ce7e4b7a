/**
 * Entry point of @conclave/media: a pool of mediasoup workers and the rooms on them.
 * Knows nothing of SIP: the focus passes SDP strings to legs and sends back what they return.
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { EnhancedEventEmitter } from '@conclave/events';
import { MediaClosedError } from './errors.ts';
import { Room, type RoomOptions, type TransportSettings } from './room.ts';
import { RouterRegistry, type WorkerUsage } from './router-registry.ts';
import { WorkerPool, type WorkerLogLevel } from './worker-pool.ts';
import { createSpeakerObservers, type SpeakerObservers } from './speaker-detector.ts';
import { MediaCounters } from './media-counters.ts';
import { liveGstPids } from './gst-process.ts';

/** Default MediaServiceOptions.maxTransportsPerWorker. */
export const DEFAULT_MAX_TRANSPORTS_PER_WORKER = 100;
/** Default MediaServiceOptions.iceConsentTimeout (seconds): Chromium sends a consent check every ~5 s. */
export const DEFAULT_ICE_CONSENT_TIMEOUT = 12;
/** Default MediaServiceOptions.plainRtpTimeout (seconds). */
export const DEFAULT_PLAIN_RTP_TIMEOUT = 15;

/** Live counts for /metrics (plain numbers, at the moment of the call). */
export interface MediaStats {
  /** mediasoup worker processes alive. */
  workers: number;
  /** Every router, transport (WebRTC, plain, pipe), producer and consumer (pipes included) the workers host. */
  routers: number;
  transports: number;
  producers: number;
  consumers: number;
  dataProducers: number;
  rooms: number;
  /** Legs of every open room. */
  legs: number;
  /** GStreamer child processes alive (plain RTP legs' transcoders and mixers). */
  mixerProcesses: number;
}

export interface MediaServiceOptions {
  /** Worker processes; default one per core. */
  workers?: number;
  /** Local IP the RTC sockets bind to. */
  listenIp: string;
  /** Public IP or hostname to advertise in ICE candidates (behind NAT). */
  announcedAddress?: string;
  rtcMinPort: number;
  rtcMaxPort: number;
  logger: Logger;
  /** Also offer ICE-TCP candidates (default true; UDP is preferred). */
  enableTcp?: boolean;
  /** mediasoup worker log level (worker lines go to mediasoup's debug logger). Default 'warn'. */
  workerLogLevel?: WorkerLogLevel;
  /**
   * A room places a new leg's transport on another worker (a router of the room there, producers piped
   * between the room's routers) once its own worker hosts this many WebRTC transports. Default 100.
   */
  maxTransportsPerWorker?: number;
  /**
   * Rooms emit 'activespeaker'. This needs the RFC 6464 audio level in the parties' RTP, so the SDP
   * of every leg then negotiates `a=extmap:<id> urn:ietf:params:rtp-hdrext:ssrc-audio-level` on the
   * party's audio line (the one departure from "fix B"), and consumer-only lines leave out router
   * extensions whose id that line uses (with Chromium's offers: the mid extension, id 1). Default false.
   */
  speakerDetection?: boolean;
  /**
   * Seconds without an ICE consent check (RFC 7675) before a browser leg is 'vanished'
   * ('ice-consent-expired'); mediasoup's WebRtcTransport iceConsentTimeout: 10 to 60, or 0 to disable. Default 12.
   */
  iceConsentTimeout?: number;
  /**
   * Seconds without RTP from a phone that should be sending (not held, not inactive) before its plain
   * leg is 'vanished' ('no-media'). Default 15. 0 disables.
   */
  plainRtpTimeout?: number;
}

export type MediaServiceEvents = {
  workerdied: [{ pid: number; error: Error }];
  workerreplaced: [{ oldPid: number; newPid: number }];
  closed: [];
};

export class MediaService extends EnhancedEventEmitter<MediaServiceEvents> {
  readonly #log: Logger;
  readonly #transportSettings: TransportSettings;
  readonly #rooms = new Set<Room>();
  readonly #speakerDetection: boolean;
  readonly #counters = new MediaCounters();
  #pool!: WorkerPool;
  #registry!: RouterRegistry;
  #closed = false;

  private constructor(log: Logger, transportSettings: TransportSettings, speakerDetection: boolean) {
    super(log);
    this.#log = log;
    this.#transportSettings = transportSettings;
    this.#speakerDetection = speakerDetection;
  }

  static async create(options: MediaServiceOptions): Promise<MediaService> {
    const { rtcMinPort, rtcMaxPort } = options;
    if (
      !Number.isInteger(rtcMinPort) ||
      !Number.isInteger(rtcMaxPort) ||
      rtcMinPort < 1024 ||
      rtcMaxPort > 65535 ||
      rtcMinPort > rtcMaxPort
    ) {
      throw new RangeError(`invalid RTC port range ${rtcMinPort}-${rtcMaxPort}`);
    }
    const log = options.logger.child('media');
    const portRange = { min: rtcMinPort, max: rtcMaxPort };
    const base = {
      ip: options.listenIp,
      ...(options.announcedAddress ? { announcedAddress: options.announcedAddress } : {}),
      portRange,
    };
    const listenInfos: ms.TransportListenInfo[] = [{ protocol: 'udp', ...base }];
    if (options.enableTcp !== false) listenInfos.push({ protocol: 'tcp', ...base });
    const maxTransportsPerWorker = options.maxTransportsPerWorker ?? DEFAULT_MAX_TRANSPORTS_PER_WORKER;
    if (!Number.isInteger(maxTransportsPerWorker) || maxTransportsPerWorker < 1) {
      throw new RangeError(`invalid maxTransportsPerWorker ${maxTransportsPerWorker}`);
    }
    const iceConsentTimeout = options.iceConsentTimeout ?? DEFAULT_ICE_CONSENT_TIMEOUT;
    const plainRtpTimeout = options.plainRtpTimeout ?? DEFAULT_PLAIN_RTP_TIMEOUT;
    // mediasoup accepts 10-60 s (0 disables) and would silently clamp anything else.
    if (
      !Number.isFinite(iceConsentTimeout) ||
      (iceConsentTimeout !== 0 && (iceConsentTimeout < 10 || iceConsentTimeout > 60))
    ) {
      throw new RangeError(`invalid iceConsentTimeout ${iceConsentTimeout} (0, or 10 to 60 seconds)`);
    }
    if (!Number.isFinite(plainRtpTimeout) || plainRtpTimeout < 0)
      throw new RangeError(`invalid plainRtpTimeout ${plainRtpTimeout}`);
    const service = new MediaService(
      log,
      {
        listenInfos,
        iceConsentTimeout: Math.round(iceConsentTimeout),
        plainRtpTimeoutMs: Math.round(plainRtpTimeout * 1000),
      },
      options.speakerDetection === true,
    );
    service.#pool = await WorkerPool.create({
      size: options.workers ?? os.cpus().length,
      log,
      ...(options.workerLogLevel ? { logLevel: options.workerLogLevel } : {}),
      events: {
        died: (pid, error) => service.safeEmit('workerdied', { pid, error }),
        replaced: (oldPid, newPid) => service.safeEmit('workerreplaced', { oldPid, newPid }),
        started: (worker) => service.#counters.watch(worker),
      },
    });
    service.#registry = new RouterRegistry({ pool: service.#pool, maxTransportsPerWorker, log });
    log.info('media service ready', {
      workers: service.#pool.pids.length,
      ports: `${rtcMinPort}-${rtcMaxPort}`,
      maxTransportsPerWorker,
    });
    return service;
  }

  get closed(): boolean {
    return this.#closed;
  }
  get rooms(): Room[] {
    return [...this.#rooms];
  }
  get workerPids(): number[] {
    return this.#pool.pids;
  }

  /** A room whose home router is on the least-loaded worker. */
  async createRoom(options: RoomOptions): Promise<Room> {
    if (this.#closed) throw new MediaClosedError('media service is closed');
    const holder = {};
    const home = await this.#registry.create(holder);
    if (!home) throw new Error('no mediasoup worker is available');
    let speakerObservers: SpeakerObservers | undefined;
    try {
      if (this.#speakerDetection) speakerObservers = await createSpeakerObservers(home.router);
    } catch (err) {
      home.release(holder);
      throw err;
    }
    if (this.#closed) {
      home.release(holder);
      throw new MediaClosedError('media service closed while creating a room');
    }
    const room = new Room({
      id: randomUUID(),
      label: options.label,
      home,
      registry: this.#registry,
      transportSettings: this.#transportSettings,
      ...(speakerObservers ? { speakerObservers } : {}),
      log: this.#log,
    });
    home.hold(room);
    home.release(holder);
    this.#rooms.add(room);
    room.once('closed', () => this.#rooms.delete(room));
    return room;
  }

  /** What every worker hosts (routers and their transports): for tests and admin pages, and to prove nothing leaked. */
  async getWorkerUsage(): Promise<WorkerUsage[]> {
    if (this.#closed) return [];
    return this.#registry.usage();
  }

  /** Live counts (for /metrics); closing a room brings every count back to what it was before. */
  stats(): MediaStats {
    const c = this.#counters.counts;
    let legs = 0;
    for (const room of this.#rooms) legs += room.legs.length;
    return {
      workers: this.#closed ? 0 : this.#pool.pids.length,
      routers: c.routers,
      transports: c.transports,
      producers: c.producers,
      consumers: c.consumers,
      dataProducers: c.dataProducers,
      rooms: this.#rooms.size,
      legs,
      mixerProcesses: liveGstPids().length,
    };
  }

  /** Closes every room and worker. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const room of [...this.#rooms]) room.closeBecause('service-closed');
    this.#pool.close();
    this.#log.info('media service closed');
    this.safeEmit('closed');
  }
}
