/**
 * Router lifetime and placement. A room owns a "home" router, but a leg can outlive its room on
 * that router (a two-party call adopted into a conference keeps its transport: no ICE/DTLS restart),
 * and a large room may spread its legs over several workers. So a router is not closed with its room:
 * it closes when nobody holds it (the rooms using it as home/overflow router) AND no WebRtcTransport
 * lives on it any more. Pipe transports do not count: they only exist for the legs.
 */
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { ROUTER_MEDIA_CODECS } from './codecs.ts';
import type { WorkerPool } from './worker-pool.ts';

export class RouterLease {
  readonly router: ms.Router;
  readonly worker: ms.Worker;
  readonly #holders = new Set<object>();
  readonly #transports = new Set<ms.Transport>();
  readonly #log: Logger;

  constructor(router: ms.Router, worker: ms.Worker, log: Logger) {
    this.router = router;
    this.worker = worker;
    this.#log = log;
  }

  get closed(): boolean {
    return this.router.closed;
  }
  /** Legs' transports (WebRtcTransports, and the PlainTransports of plain RTP legs) currently on this router. */
  get transportCount(): number {
    return this.#transports.size;
  }

  hold(holder: object): void {
    this.#holders.add(holder);
  }

  /** Drops a hold; the router closes if this was the last holder and no transport remains. */
  release(holder: object): void {
    this.#holders.delete(holder);
    this.#maybeClose();
  }

  /** Counts a leg's transport until it closes (the router lives at least as long). */
  addTransport(transport: ms.Transport): void {
    if (transport.closed) return;
    this.#transports.add(transport);
    transport.observer.once('close', () => {
      this.#transports.delete(transport);
      this.#maybeClose();
    });
  }

  #maybeClose(): void {
    if (this.#holders.size > 0 || this.#transports.size > 0 || this.router.closed) return;
    this.#log.debug('router released', { routerId: this.router.id, pid: this.worker.pid });
    try {
      this.router.close();
    } catch (err) {
      this.#log.warn('router close failed', { routerId: this.router.id, err });
    }
  }
}

export interface WorkerUsage {
  pid: number;
  /** Router ids the worker process itself reports (worker.dump()). */
  routerIds: string[];
  /**
   * Our routers on this worker, with the transports the router reports (WebRTC, plain and pipe);
   * webRtcTransports counts the legs' transports (plain RTP legs' PlainTransports included).
   */
  routers: { id: string; transportIds: string[]; webRtcTransports: number }[];
}

export class RouterRegistry {
  readonly maxTransportsPerWorker: number;
  readonly #pool: WorkerPool;
  readonly #log: Logger;
  readonly #leases = new Set<RouterLease>();

  constructor(params: { pool: WorkerPool; maxTransportsPerWorker: number; log: Logger }) {
    this.#pool = params.pool;
    this.maxTransportsPerWorker = params.maxTransportsPerWorker;
    this.#log = params.log;
  }

  /** WebRtcTransports on a worker, over all routers (every room). */
  transportsOn(worker: ms.Worker): number {
    let n = 0;
    for (const lease of this.#leases) if (lease.worker === worker) n += lease.transportCount;
    return n;
  }

  hasRoomOn(worker: ms.Worker): boolean {
    return this.transportsOn(worker) < this.maxTransportsPerWorker;
  }

  /**
   * A new router held by `holder`, on the least-loaded worker that passes `accept` (any worker when
   * omitted). Resolves undefined when no worker passes.
   */
  async create(holder: object, accept?: (worker: ms.Worker) => boolean): Promise<RouterLease | undefined> {
    const picked = await this.#pool.pick(accept);
    if (!picked) return undefined;
    const { worker, host } = picked;
    const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
    const lease = new RouterLease(router, worker, this.#log);
    lease.hold(holder);
    this.#leases.add(lease);
    const unhost = host({ load: () => 1 + lease.transportCount });
    router.observer.once('close', () => {
      unhost();
      this.#leases.delete(lease);
    });
    return lease;
  }

  /** What every live worker hosts (tests, admin): proves that nothing leaked. */
  async usage(): Promise<WorkerUsage[]> {
    return Promise.all(
      this.#pool.workers.map(async (worker) => {
        const dump = await worker.dump();
        const routers = await Promise.all(
          [...this.#leases]
            .filter((l) => l.worker === worker && !l.router.closed)
            .map(async (l) => {
              const r = await l.router.dump().catch(() => ({ transportIds: [] as string[] }));
              return { id: l.router.id, transportIds: r.transportIds, webRtcTransports: l.transportCount };
            }),
        );
        return { pid: worker.pid, routerIds: dump.routerIds, routers };
      }),
    );
  }
}
