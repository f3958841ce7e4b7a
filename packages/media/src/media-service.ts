/**
 * Entry point of @conclave/media: a pool of mediasoup workers and the rooms on them.
 * Knows nothing of SIP: the focus passes SDP strings to legs and sends back what they return.
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { TypedEmitter } from './typed-emitter.ts';
import { MediaClosedError } from './errors.ts';
import { ROUTER_MEDIA_CODECS } from './codecs.ts';
import { Room, type RoomOptions, type TransportSettings } from './room.ts';
import { WorkerPool, type WorkerLogLevel } from './worker-pool.ts';

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
}

export type MediaServiceEvents = {
  workerdied: [{ pid: number; error: Error }];
  workerreplaced: [{ oldPid: number; newPid: number }];
  closed: [];
};

export class MediaService extends TypedEmitter<MediaServiceEvents> {
  readonly #log: Logger;
  readonly #transportSettings: TransportSettings;
  readonly #rooms = new Set<Room>();
  #pool!: WorkerPool;
  #closed = false;

  private constructor(log: Logger, transportSettings: TransportSettings) {
    super(log);
    this.#log = log;
    this.#transportSettings = transportSettings;
  }

  static async create(options: MediaServiceOptions): Promise<MediaService> {
    const { rtcMinPort, rtcMaxPort } = options;
    if (!Number.isInteger(rtcMinPort) || !Number.isInteger(rtcMaxPort) || rtcMinPort < 1024 || rtcMaxPort > 65535 || rtcMinPort > rtcMaxPort) {
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
    const service = new MediaService(log, { listenInfos });
    service.#pool = await WorkerPool.create({
      size: options.workers ?? os.cpus().length,
      log,
      ...(options.workerLogLevel ? { logLevel: options.workerLogLevel } : {}),
      events: {
        died: (pid, error) => service.safeEmit('workerdied', { pid, error }),
        replaced: (oldPid, newPid) => service.safeEmit('workerreplaced', { oldPid, newPid }),
      },
    });
    log.info('media service ready', { workers: service.#pool.pids.length, ports: `${rtcMinPort}-${rtcMaxPort}` });
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

  /** One router on the least-loaded worker. */
  async createRoom(options: RoomOptions): Promise<Room> {
    if (this.#closed) throw new MediaClosedError('media service is closed');
    const { worker, host } = await this.#pool.pick();
    const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
    const room = new Room({
      id: randomUUID(),
      label: options.label,
      router,
      worker,
      transportSettings: this.#transportSettings,
      log: this.#log,
    });
    const unhost = host({ load: () => 1 + room.legs.length });
    this.#rooms.add(room);
    room.once('closed', () => {
      unhost();
      this.#rooms.delete(room);
    });
    return room;
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
