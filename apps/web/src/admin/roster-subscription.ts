/**
 * RosterSubscription: the live roster of one conference from the RFC 4575 "conference" event
 * package, read with the softphone's ConferenceInfoReader (full state first, then partial states).
 *
 *   version gap  -> re-SUBSCRIBE inside the dialog (the focus answers a refresh with a full state)
 *                   with a fresh reader; the last coherent roster stays on screen meanwhile;
 *   terminated   -> subscribe again after 2, 4, 8… s while the owner keeps us (the owner closes us
 *                   when the conference ends or leaves the list); after 4 attempts in a row that
 *                   never got a NOTIFY it gives up and says why;
 *   close()      -> unSUBSCRIBE (Expires: 0).
 */
import type { Subscriber } from 'jssip/lib/Subscriber';
import type { IncomingRequest } from 'jssip/lib/SIPMessage';
import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from '../phone/log.ts';
import type { ConferenceInfoReader, ConferenceInfoReaderFactory, ConferenceRoster } from '../phone/roster.ts';
import type { ConferenceSubscriber } from './admin-sip.ts';

/** data-subscription of admin-roster. */
export type RosterSubscriptionState = 'pending' | 'active' | 'retrying' | 'failed' | 'closed';

export interface RosterSubscriptionSnapshot {
  readonly state: RosterSubscriptionState;
  /** The last coherent roster (null until the first full state). */
  readonly roster: ConferenceRoster | null;
  /** Why there is no (fresh) roster, in words. */
  readonly error: string | null;
}

export type RosterSubscriptionEvents = { change: [] };

const RETRY_MS = [2000, 4000, 8000, 15_000];
const MAX_FAILURES = 4;

/** Subscriber termination codes (JsSIP's Subscriber.C) -> words. */
function terminationText(code: number, reason: string | undefined): string {
  switch (code) {
    case 0:
      return 'the conference focus did not answer the subscription';
    case 1:
      return 'the connection to the SIP server was lost';
    case 2:
      return 'the conference focus refused the subscription';
    case 3:
      return 'the conference focus answered the subscription without a Contact';
    case 4:
      return 'the SIP server refused the admin credentials';
    case 6:
      return `the conference focus ended the subscription${reason ? ` (${reason})` : ''}`;
    case 7:
      return 'the conference focus sent an unexpected NOTIFY';
    default:
      return `the subscription ended (code ${code}${reason ? `, ${reason}` : ''})`;
  }
}

export class RosterSubscription {
  readonly uri: string;
  readonly events = new EnhancedEventEmitter<RosterSubscriptionEvents>();
  #agent: ConferenceSubscriber;
  #readerFactory: ConferenceInfoReaderFactory;
  #log: Logger;
  #subscriber: Subscriber | null = null;
  #reader: ConferenceInfoReader | null = null;
  /** A refresh was sent after a version gap; a full state is awaited. */
  #refreshing = false;
  #state: RosterSubscriptionState = 'pending';
  #roster: ConferenceRoster | null = null;
  #error: string | null = null;
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #snapshot: RosterSubscriptionSnapshot | null = null;

  constructor(uri: string, agent: ConferenceSubscriber, readerFactory: ConferenceInfoReaderFactory, log: Logger) {
    this.uri = uri;
    this.#agent = agent;
    this.#readerFactory = readerFactory;
    this.#log = log.child({ conference: uri });
  }

  get snapshot(): RosterSubscriptionSnapshot {
    this.#snapshot ??= Object.freeze({ state: this.#state, roster: this.#roster, error: this.#error });
    return this.#snapshot;
  }

  get closed(): boolean {
    return this.#closed;
  }

  start(): void {
    if (this.#closed || this.#subscriber) return;
    this.#subscribe();
  }

  /**
   * Drops the current subscription without waiting for it and subscribes again (after the SIP
   * transport came back: the old dialog's flow is gone). The last roster stays until a new one.
   */
  restart(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#drop();
    this.#failures = 0;
    this.#subscribe();
  }

  /** Unsubscribes. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#drop();
    this.#state = 'closed';
    this.#changed();
    this.events.removeAllListeners();
  }

  /** Forgets the current subscriber and ends it (Expires: 0; also stops JsSIP's refresh timer). */
  #drop(): void {
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    this.#reader = null;
    this.#refreshing = false;
    if (!subscriber) return;
    try {
      // JsSIP sends nothing for a subscription that is already terminated, and throws before the first SUBSCRIBE.
      subscriber.terminate();
    } catch (error) {
      this.#log.debug('unsubscribe failed', { error: String(error) });
    }
  }

  #subscribe(): void {
    let subscriber: Subscriber;
    try {
      subscriber = this.#agent.subscribe(this.uri);
    } catch (error) {
      this.#failed(`the subscription could not be sent (${error instanceof Error ? error.message : String(error)})`);
      return;
    }
    this.#subscriber = subscriber;
    this.#reader = this.#readerFactory();
    this.#refreshing = false;
    this.#state = 'pending';
    this.#changed();
    const current = (): boolean => this.#subscriber === subscriber && !this.#closed;
    subscriber.on('active', () => {
      if (!current()) return;
      this.#state = 'active';
      this.#changed();
    });
    subscriber.on('notify', (_final: boolean, _request: IncomingRequest, body: string | undefined) => {
      if (!current() || !body || !this.#reader) return;
      this.#read(subscriber, body);
    });
    subscriber.on('terminated', (code: number, reason: string | undefined) => {
      if (!current()) return;
      this.#subscriber = null;
      this.#reader = null;
      this.#log.info('conference subscription terminated', { code, reason });
      this.#failed(terminationText(code, reason));
    });
    subscriber.subscribe();
  }

  #read(subscriber: Subscriber, body: string): void {
    try {
      const update = this.#reader!.apply(body);
      if (update.roster) {
        this.#roster = update.roster;
        this.#refreshing = false;
        this.#failures = 0;
        this.#error = null;
        if (this.#state === 'pending' || this.#state === 'retrying') this.#state = 'active';
      }
      if (update.resubscribe && !this.#refreshing) {
        this.#log.info('version gap in conference-info: refreshing the subscription');
        this.#refreshing = true;
        // The refresh's full state must replace whatever this reader holds: start from nothing.
        this.#reader = this.#readerFactory();
        subscriber.subscribe();
      }
    } catch (error) {
      this.#log.warn('unreadable conference-info', { error: String(error) });
      this.#error = `a roster update was not understood (${error instanceof Error ? error.message : String(error)})`;
    }
    this.#changed();
  }

  #failed(why: string): void {
    if (this.#closed) return;
    this.#failures += 1;
    this.#error = why;
    if (this.#failures >= MAX_FAILURES) {
      this.#state = 'failed';
      this.#changed();
      return;
    }
    this.#state = 'retrying';
    const delay = RETRY_MS[Math.min(this.#failures, RETRY_MS.length) - 1] ?? 15_000;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (!this.#closed && !this.#subscriber) this.#subscribe();
    }, delay);
    this.#changed();
  }

  #changed(): void {
    this.#snapshot = null;
    this.events.safeEmit('change');
  }
}
