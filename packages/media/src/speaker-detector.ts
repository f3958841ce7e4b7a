/**
 * The dominant speaker of one room, from two mediasoup observers on the room's home router fed with
 * the audio producers (or their pipe producers) of the legs that may speak:
 *
 * - an ActiveSpeakerObserver names the dominant producer (speech activity over several time scales);
 * - an AudioLevelObserver tells which producers are audible at all (average level above AUDIBLE_DBOV
 *   within the last AUDIBLE_WINDOW_MS).
 *
 * The observer's choice is taken when it is audible. It is not always: with nobody dominant (start,
 * or the dominant one was removed) mediasoup names the first producer it was given, even a silent
 * one, and its speech-activity measure is relative to each speaker's own floor, so a steady sound
 * never beats that choice (both measured with Chromium: the silent party was named, a steady tone at
 * -33 dBov never took over). Then the current speaker stays if audible, else the loudest audible
 * producer is named, else the current speaker stays (a pause is not a change of speaker).
 *
 * Listeners see at most one change per MIN_CHANGE_INTERVAL_MS (the last proposal wins). mediasoup
 * never reports "nobody": the detector reports `undefined` itself when the current speaker stops being
 * eligible (muted, held, left) and no audible producer takes over. A speaker who merely stops talking
 * stays the speaker until someone else talks.
 *
 * The observers read RFC 6464 ssrc-audio-level from the RTP, so this only works for legs that
 * negotiated that extension (MediaService option `speakerDetection`).
 *
 * Other sources (phones, whose levels the room mixer measures) are given as *level sources*: their mean
 * level is reported every LEVEL_INTERVAL_MS (reportLevels) and counts like an AudioLevelObserver volume.
 * The observer's dominant producer wins only while no level source is louder than it (the observer
 * cannot compare what it does not see).
 */
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { SerialQueue } from '@conclave/events';

export const MIN_CHANGE_INTERVAL_MS = 500;
/** ActiveSpeakerObserver re-evaluation period. */
export const DOMINANT_INTERVAL_MS = 300;
/** AudioLevelObserver period and threshold: quieter than this on average is not speech. */
export const LEVEL_INTERVAL_MS = 300;
export const AUDIBLE_DBOV = -60;
const AUDIBLE_WINDOW_MS = 1500;

export interface SpeakerObservers {
  dominant: ms.ActiveSpeakerObserver;
  levels: ms.AudioLevelObserver;
}

/** Creates both observers on a router. */
export async function createSpeakerObservers(router: ms.Router): Promise<SpeakerObservers> {
  const dominant = await router.createActiveSpeakerObserver({ interval: DOMINANT_INTERVAL_MS });
  try {
    const levels = await router.createAudioLevelObserver({
      maxEntries: 256,
      threshold: AUDIBLE_DBOV,
      interval: LEVEL_INTERVAL_MS,
    });
    return { dominant, levels };
  } catch (err) {
    dominant.close();
    throw err;
  }
}

export class SpeakerDetector<Who> {
  readonly #observers: SpeakerObservers;
  readonly #log: Logger;
  readonly #onChange: (who: Who | undefined) => void;
  readonly #queue = new SerialQueue();
  /** Producer ids (on the observers' router) currently added to both observers. */
  #observed = new Set<string>();
  /** What the observers should contain: producer id → producer and who speaks through it. */
  #wanted = new Map<string, { producer: ms.Producer; who: Who }>();
  /** Level sources outside the observers (reportLevels): source id → who speaks through it. */
  #levelSources = new Map<string, Who>();
  /** The producer mediasoup last named dominant. */
  #dominantId: string | undefined;
  /** Last time (and level) each producer was audible. */
  readonly #audible = new Map<string, { at: number; dbov: number }>();
  #candidate: Who | undefined;
  #emitted: Who | undefined;
  #lastEmitAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(observers: SpeakerObservers, log: Logger, onChange: (who: Who | undefined) => void) {
    this.#observers = observers;
    this.#log = log;
    this.#onChange = onChange;
    observers.dominant.on('dominantspeaker', ({ producer }) => {
      this.#dominantId = producer.id;
      this.#evaluate();
    });
    observers.levels.on('volumes', (volumes) => {
      const now = Date.now();
      for (const { producer, volume } of volumes) this.#audible.set(producer.id, { at: now, dbov: volume });
      this.#evaluate();
    });
  }

  /** The speaker last reported to listeners. */
  get current(): Who | undefined {
    return this.#emitted;
  }

  /** Sets the producers the observers must follow (local to their router). */
  setProducers(wanted: Map<string, { producer: ms.Producer; who: Who }>): void {
    if (this.#closed) return;
    this.#wanted = wanted;
    this.#forgetIneligible();
    void this.#queue.push(() => this.#apply());
  }

  /** Sets the level sources that may speak (source id → who); their levels come through reportLevels(). */
  setLevelSources(sources: Map<string, Who>): void {
    if (this.#closed) return;
    this.#levelSources = sources;
    this.#forgetIneligible();
  }

  /** Mean levels (dBov) of level sources over the last interval; quieter than AUDIBLE_DBOV is not speech. */
  reportLevels(levels: Map<string, number>): void {
    if (this.#closed) return;
    const now = Date.now();
    for (const [id, dbov] of levels)
      if (this.#levelSources.has(id) && dbov > AUDIBLE_DBOV) this.#audible.set(id, { at: now, dbov });
    this.#evaluate();
  }

  #forgetIneligible(): void {
    for (const id of [...this.#audible.keys()])
      if (!this.#wanted.has(id) && !this.#levelSources.has(id)) this.#audible.delete(id);
    const eligible = new Set([...this.#wanted.values()].map((w) => w.who));
    for (const who of this.#levelSources.values()) eligible.add(who);
    if (this.#candidate !== undefined && !eligible.has(this.#candidate)) this.#propose(undefined);
    this.#evaluate();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const observer of [this.#observers.dominant, this.#observers.levels]) if (!observer.closed) observer.close();
  }

  /** Picks the speaker (see the module comment) and proposes it if it changed. */
  #evaluate(): void {
    const now = Date.now();
    const audible = (id: string): number | undefined => {
      const a = this.#audible.get(id);
      return a && now - a.at <= AUDIBLE_WINDOW_MS ? a.dbov : undefined;
    };
    // A producer removed a moment ago may still be named by the observer: only wanted ones count.
    const dominant = this.#dominantId !== undefined ? this.#wanted.get(this.#dominantId) : undefined;
    const dominantDbov = dominant ? audible(this.#dominantId!) : undefined;
    let louderSource = false;
    if (dominantDbov !== undefined)
      for (const id of this.#levelSources.keys()) louderSource ||= (audible(id) ?? -Infinity) > dominantDbov;
    if (dominant && dominantDbov !== undefined && !louderSource) {
      if (dominant.who !== this.#candidate) this.#propose(dominant.who);
      return;
    }
    let loudest: { who: Who; dbov: number } | undefined;
    const candidates: [string, Who][] = [...[...this.#wanted].map(([id, w]): [string, Who] => [id, w.who])];
    for (const entry of this.#levelSources) candidates.push(entry);
    for (const [id, who] of candidates) {
      const dbov = audible(id);
      if (dbov === undefined) continue;
      if (who === this.#candidate) return; // the current speaker is still audible: keep it
      if (!loudest || dbov > loudest.dbov) loudest = { who, dbov };
    }
    if (loudest) this.#propose(loudest.who);
  }

  async #apply(): Promise<void> {
    const { dominant, levels } = this.#observers;
    for (const id of [...this.#observed]) {
      if (this.#wanted.has(id)) continue;
      this.#observed.delete(id);
      // A closed producer has left the observers already.
      await dominant.removeProducer({ producerId: id }).catch(() => undefined);
      await levels.removeProducer({ producerId: id }).catch(() => undefined);
    }
    for (const [id, { producer }] of this.#wanted) {
      if (this.#closed || dominant.closed || levels.closed) return;
      if (this.#observed.has(id) || producer.closed) continue;
      try {
        await dominant.addProducer({ producerId: id });
        await levels.addProducer({ producerId: id });
        this.#observed.add(id);
      } catch (err) {
        await dominant.removeProducer({ producerId: id }).catch(() => undefined);
        if (!producer.closed && !dominant.closed)
          this.#log.warn('cannot observe producer for speaker detection', { producerId: id, err });
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
