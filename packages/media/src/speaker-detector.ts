/**
 * The dominant speaker of one room: a mediasoup ActiveSpeakerObserver on the room's home router, fed
 * with the audio producers (or their pipe producers) of the legs that may speak, and a throttle so
 * that listeners see at most one change per MIN_CHANGE_INTERVAL_MS.
 *
 * The observer reads RFC 6464 ssrc-audio-level from the RTP, so it only works for legs that
 * negotiated that extension (MediaService option `speakerDetection`).
 *
 * mediasoup never reports "nobody": once someone was dominant, the observer only names another
 * producer. So the detector itself reports `undefined` when the current speaker stops being eligible
 * (muted, held, left) and no other producer is observed.
 */
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { SerialQueue } from './serial-queue.ts';

export const MIN_CHANGE_INTERVAL_MS = 500;

export class SpeakerDetector<Who> {
  readonly #observer: ms.ActiveSpeakerObserver;
  readonly #log: Logger;
  readonly #onChange: (who: Who | undefined) => void;
  readonly #queue = new SerialQueue();
  /** Producer ids (on the observer's router) currently added to the observer → who speaks through them. */
  #observed = new Map<string, Who>();
  /** What the observer should contain. */
  #wanted = new Map<string, { producer: ms.Producer; who: Who }>();
  #candidate: Who | undefined;
  #emitted: Who | undefined;
  #lastEmitAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(observer: ms.ActiveSpeakerObserver, log: Logger, onChange: (who: Who | undefined) => void) {
    this.#observer = observer;
    this.#log = log;
    this.#onChange = onChange;
    observer.on('dominantspeaker', ({ producer }) => {
      const who = this.#wanted.get(producer.id)?.who;
      // A producer removed a moment ago may still be named: ignore it.
      if (who === undefined) return;
      this.#propose(who);
    });
  }

  /** The speaker last reported to listeners. */
  get current(): Who | undefined {
    return this.#emitted;
  }

  /** Sets the producers the observer must follow (local to its router). */
  setProducers(wanted: Map<string, { producer: ms.Producer; who: Who }>): void {
    if (this.#closed) return;
    this.#wanted = wanted;
    const eligible = new Set([...wanted.values()].map((w) => w.who));
    if (this.#candidate !== undefined && !eligible.has(this.#candidate)) this.#propose(undefined);
    void this.#queue.push(() => this.#apply());
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#observer.closed) this.#observer.close();
  }

  async #apply(): Promise<void> {
    if (this.#closed || this.#observer.closed) return;
    for (const id of [...this.#observed.keys()]) {
      if (this.#wanted.has(id)) continue;
      this.#observed.delete(id);
      await this.#observer.removeProducer({ producerId: id }).catch(() => undefined); // closed producers are gone already
    }
    for (const [id, { producer, who }] of this.#wanted) {
      if (this.#observed.has(id) || producer.closed) continue;
      try {
        await this.#observer.addProducer({ producerId: id });
        this.#observed.set(id, who);
      } catch (err) {
        if (!producer.closed && !this.#observer.closed) this.#log.warn('cannot observe producer for speaker detection', { producerId: id, err });
      }
    }
  }

  #propose(who: Who | undefined): void {
    this.#candidate = who;
    if (this.#timer || this.#closed) return;
    const wait = this.#lastEmitAt + MIN_CHANGE_INTERVAL_MS - Date.now();
    if (wait <= 0) this.#flush();
    else this.#timer = setTimeout(() => this.#flush(), wait);
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#closed || this.#candidate === this.#emitted) return;
    this.#emitted = this.#candidate;
    this.#lastEmitAt = Date.now();
    this.#onChange(this.#emitted);
  }
}
