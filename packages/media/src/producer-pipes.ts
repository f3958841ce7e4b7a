/**
 * One room's producers made available on its other routers (mediasoup router.pipeToRouter()), cached
 * per (source producer, target router). A room spans several routers when it adopted a leg created
 * by another room, or when it outgrew one worker.
 *
 * A pipe producer closes with its source (mediasoup closes the pipe consumer, which closes the pipe
 * producer) or with either router; the cache forgets it then. The room closes pipes it no longer
 * needs (a leg moved away) with close()/prune().
 */
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';

interface Entry {
  promise: Promise<ms.Producer | undefined>;
  producer?: ms.Producer;
  cancelled: boolean;
}

export class ProducerPipes {
  readonly #log: Logger;
  /** source producer id → target router id → pipe. */
  readonly #entries = new Map<string, Map<string, Entry>>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /** The source's pipe producer on `routerId`, if it is ready. */
  ready(sourceId: string, routerId: string): ms.Producer | undefined {
    const p = this.#entries.get(sourceId)?.get(routerId)?.producer;
    return p && !p.closed ? p : undefined;
  }

  /** The source producer's stand-in on `to` (created once, then shared). Never rejects. */
  pipe(source: ms.Producer, from: ms.Router, to: ms.Router): Promise<ms.Producer | undefined> {
    let byRouter = this.#entries.get(source.id);
    const existing = byRouter?.get(to.id);
    if (existing) return existing.promise;
    if (!byRouter) {
      byRouter = new Map();
      this.#entries.set(source.id, byRouter);
    }
    const routers = byRouter;
    const forget = (): void => {
      if (routers.get(to.id) === entry) routers.delete(to.id);
      if (routers.size === 0 && this.#entries.get(source.id) === routers) this.#entries.delete(source.id);
    };
    const entry: Entry = {
      cancelled: false,
      // keepId: false, because both routers may live on the same worker (pipeToRouter refuses keepId then).
      promise: from.pipeToRouter({ producerId: source.id, router: to, keepId: false }).then(
        ({ pipeProducer }) => {
          if (!pipeProducer) return undefined;
          if (entry.cancelled || source.closed || to.closed) {
            pipeProducer.close();
            forget();
            return undefined;
          }
          entry.producer = pipeProducer;
          pipeProducer.observer.once('close', forget);
          this.#log.debug('producer piped', { producerId: source.id, to: to.id, pipeProducerId: pipeProducer.id });
          return pipeProducer;
        },
        (err: unknown) => {
          forget();
          if (!source.closed && !to.closed && !from.closed)
            this.#log.warn('cannot pipe producer to router', { producerId: source.id, to: to.id, err });
          return undefined;
        },
      ),
    };
    routers.set(to.id, entry);
    return entry.promise;
  }

  /** Ready pipe producers of a source, by router id. */
  readyFor(sourceId: string): Map<string, ms.Producer> {
    const out = new Map<string, ms.Producer>();
    for (const [routerId, e] of this.#entries.get(sourceId) ?? []) {
      if (e.producer && !e.producer.closed) out.set(routerId, e.producer);
    }
    return out;
  }

  /** Closes the pipes of a source (to one router, or all) that `keep` refuses. */
  prune(keep: (sourceId: string, routerId: string) => boolean): void {
    for (const [sourceId, byRouter] of [...this.#entries]) {
      for (const [routerId, e] of [...byRouter]) {
        if (keep(sourceId, routerId)) continue;
        e.cancelled = true;
        byRouter.delete(routerId);
        if (e.producer && !e.producer.closed) e.producer.close();
      }
      if (byRouter.size === 0) this.#entries.delete(sourceId);
    }
  }

  closeAll(): void {
    this.prune(() => false);
  }
}
