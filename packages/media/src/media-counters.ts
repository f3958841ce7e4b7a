/**
 * Live counts of what the mediasoup workers host, kept from mediasoup's observer events (every
 * router, transport — WebRTC, plain and pipe —, producer, consumer and data producer, pipes included).
 * Every 'new…' is matched by the object's observer 'close', which mediasoup also emits when a worker
 * dies, so the counts return to their baseline once everything is closed: that is what /metrics shows
 * and what the leak tests check.
 */
import type * as ms from 'mediasoup/types';

export interface MediasoupCounts {
  workers: number;
  routers: number;
  transports: number;
  producers: number;
  consumers: number;
  dataProducers: number;
}

export class MediaCounters {
  readonly #counts: MediasoupCounts = {
    workers: 0,
    routers: 0,
    transports: 0,
    producers: 0,
    consumers: 0,
    dataProducers: 0,
  };

  get counts(): MediasoupCounts {
    return { ...this.#counts };
  }

  watch(worker: ms.Worker): void {
    this.#track('workers', worker.observer);
    worker.observer.on('newrouter', (router) => {
      this.#track('routers', router.observer);
      router.observer.on('newtransport', (transport) => {
        this.#track('transports', transport.observer);
        transport.observer.on('newproducer', (p: ms.Producer) => this.#track('producers', p.observer));
        transport.observer.on('newconsumer', (c: ms.Consumer) => this.#track('consumers', c.observer));
        transport.observer.on('newdataproducer', (d: ms.DataProducer) => this.#track('dataProducers', d.observer));
      });
    });
  }

  #track(kind: keyof MediasoupCounts, observer: { once(event: 'close', listener: () => void): unknown }): void {
    this.#counts[kind] += 1;
    observer.once('close', () => {
      this.#counts[kind] -= 1;
    });
  }
}
