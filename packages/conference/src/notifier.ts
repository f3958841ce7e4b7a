/**
 * Notifier side of the conference event package: per subscription, the first document is the full
 * state and each following one the partial difference from what that subscriber last received,
 * with version exactly one more each time (RFC 4575 "Constructing Coherent State").
 */

import {
  CONFERENCE_INFO_CONTENT_TYPE,
  diffConferenceInfo,
  MAX_UNSIGNED_INT,
  serialize,
  type ConferenceInfo,
  type SerializeOptions,
} from '@conclave/conference-info';
import type { Conference, ConferenceInfoOptions } from './conference.ts';
import { ConferenceError } from './errors.ts';
import { EnhancedEventEmitter } from '@conclave/events';

export interface NotificationDocument {
  version: number;
  /** 'full' for the first document, after resync() and when a change cannot be sent as partial. */
  state: ConferenceInfo['state'];
  info: ConferenceInfo;
  /** The NOTIFY body. */
  body: string;
  contentType: typeof CONFERENCE_INFO_CONTENT_TYPE;
}

export interface SubscriptionVersioningOptions {
  /** Version of the first document, default 0. */
  initialVersion?: number;
  /** Send full documents only (for subscribers known not to handle partial state). Default false. */
  fullOnly?: boolean;
  serialize?: SerializeOptions;
}

/** One subscription's document sequence. */
export class SubscriptionVersioning {
  readonly #initialVersion: number;
  readonly #fullOnly: boolean;
  readonly #serializeOptions: SerializeOptions;
  /** The full state the subscriber holds (what was last sent), undefined before the first document. */
  #sent: ConferenceInfo | undefined;
  #version: number | undefined;
  #forceFull = true;

  constructor(options: SubscriptionVersioningOptions = {}) {
    const initial = options.initialVersion ?? 0;
    if (!Number.isInteger(initial) || initial < 0 || initial > MAX_UNSIGNED_INT)
      throw new ConferenceError('invalid-argument', `bad initial version ${initial}`);
    this.#initialVersion = initial;
    this.#fullOnly = options.fullOnly ?? false;
    this.#serializeOptions = options.serialize ?? {};
  }

  /** Version of the last document produced, undefined before the first. */
  get version(): number | undefined {
    return this.#version;
  }

  /**
   * The document to send for the new full state: the full state the first time (and after
   * resync()), then the partial difference; undefined when the subscriber already has this state.
   */
  next(state: ConferenceInfo): NotificationDocument | undefined {
    if (this.#forceFull || this.#sent === undefined || this.#fullOnly) {
      if (!this.#forceFull && this.#sent !== undefined && diffConferenceInfo(this.#sent, state) === undefined)
        return undefined;
      return this.#emit(state, { ...state, state: 'full' });
    }
    const diff = diffConferenceInfo(this.#sent, state);
    return diff === undefined ? undefined : this.#emit(state, diff);
  }

  /** The full state, unconditionally (e.g. the NOTIFY answering a subscription refresh). */
  full(state: ConferenceInfo): NotificationDocument {
    return this.#emit(state, { ...state, state: 'full' });
  }

  /** The next call to next() produces a full document. */
  resync(): void {
    this.#forceFull = true;
  }

  #emit(state: ConferenceInfo, document: ConferenceInfo): NotificationDocument {
    const version = this.#version === undefined ? this.#initialVersion : this.#version + 1;
    if (version > MAX_UNSIGNED_INT)
      throw new ConferenceError(
        'invalid-state',
        'version counter exhausted: terminate the subscription and let the subscriber start a new one',
      );
    const info: ConferenceInfo = { ...document, version };
    const body = serialize(info, this.#serializeOptions);
    // Only after serialisation succeeded does the subscriber's state advance.
    this.#version = version;
    this.#sent = { ...state, state: 'full', version };
    this.#forceFull = false;
    return { version, state: info.state, info, body, contentType: CONFERENCE_INFO_CONTENT_TYPE };
  }
}

export interface NotifyEvent {
  subscriberId: string;
  document: NotificationDocument;
  /** True for the last document of a conference that ended: terminate the subscription after sending it. */
  final: boolean;
}

export type ConferenceNotifierEvents = {
  notify: [event: NotifyEvent];
};

/** Timer functions (the global ones by default; tests pass a manual scheduler). */
export interface NotifierTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ConferenceNotifierOptions extends SubscriptionVersioningOptions {
  /** Passed to Conference.toConferenceInfo (e.g. includeDeparted). */
  document?: Omit<ConferenceInfoOptions, 'version'>;
  /**
   * Minimum time between two NOTIFYs to one subscriber (RFC 4575 asks notifiers to
   * limit the rate). Changes inside the interval are coalesced into one partial document sent when
   * it elapses. Default 0: every change is sent at once. Subscribe, refresh and the final document
   * are never delayed.
   */
  minIntervalMs?: number;
  now?: () => number;
  timers?: NotifierTimers;
}

interface Subscription {
  versioning: SubscriptionVersioning;
  lastSentAt: number;
  timer: unknown;
}

/**
 * All subscriptions to one conference. On every conference change it computes the state once and
 * emits a `notify` event per subscriber whose view changed; the focus turns each into a NOTIFY.
 */
export class ConferenceNotifier extends EnhancedEventEmitter<ConferenceNotifierEvents> {
  readonly conference: Conference;
  readonly #options: ConferenceNotifierOptions;
  readonly #minInterval: number;
  readonly #now: () => number;
  readonly #timers: NotifierTimers;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #onChanged = (): void => this.#notifyAll();
  readonly #onEnded = (): void => this.#notifyFinal();
  #closed = false;

  constructor(conference: Conference, options: ConferenceNotifierOptions = {}) {
    super(() => {}); // a listener's exception is dropped: it must not stop the NOTIFYs to the others
    const minInterval = options.minIntervalMs ?? 0;
    if (!Number.isFinite(minInterval) || minInterval < 0)
      throw new ConferenceError('invalid-argument', `bad minimum interval ${minInterval}`);
    this.conference = conference;
    this.#options = options;
    this.#minInterval = minInterval;
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? {
      setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
      clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
    };
    conference.on('changed', this.#onChanged);
    conference.on('ended', this.#onEnded);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get size(): number {
    return this.#subscriptions.size;
  }

  has(subscriberId: string): boolean {
    return this.#subscriptions.has(subscriberId);
  }

  /** Adds a subscription and returns its first (full) document, to send in the initial NOTIFY. */
  subscribe(subscriberId: string): NotificationDocument {
    this.#assertOpen();
    if (this.#subscriptions.has(subscriberId))
      throw new ConferenceError('duplicate', `subscriber ${subscriberId} exists`, { conference: this.conference.id });
    const versioning = new SubscriptionVersioning(this.#options);
    const document = versioning.full(this.#state());
    this.#subscriptions.set(subscriberId, { versioning, lastSentAt: this.#now(), timer: undefined });
    return document;
  }

  /** A refreshing SUBSCRIBE: returns a full document with the next version. */
  refresh(subscriberId: string): NotificationDocument {
    this.#assertOpen();
    const subscription = this.#subscription(subscriberId);
    this.#cancelTimer(subscription);
    subscription.lastSentAt = this.#now();
    return subscription.versioning.full(this.#state());
  }

  /** Removes a subscription (unsubscribed, expired, or its NOTIFY failed). Returns false if unknown. */
  unsubscribe(subscriberId: string): boolean {
    const subscription = this.#subscriptions.get(subscriberId);
    if (!subscription) return false;
    this.#cancelTimer(subscription);
    return this.#subscriptions.delete(subscriberId);
  }

  /** Detaches from the conference, cancels pending notifications and drops all subscriptions. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.conference.off('changed', this.#onChanged);
    this.conference.off('ended', this.#onEnded);
    for (const subscription of this.#subscriptions.values()) this.#cancelTimer(subscription);
    this.#subscriptions.clear();
    this.removeAllListeners();
  }

  #state(): ConferenceInfo {
    return this.conference.toConferenceInfo({ ...this.#options.document });
  }

  #subscription(subscriberId: string): Subscription {
    const s = this.#subscriptions.get(subscriberId);
    if (!s) throw new ConferenceError('not-found', `no subscriber ${subscriberId}`, { conference: this.conference.id });
    return s;
  }

  #cancelTimer(subscription: Subscription): void {
    if (subscription.timer === undefined) return;
    this.#timers.clearTimeout(subscription.timer);
    subscription.timer = undefined;
  }

  #notifyAll(): void {
    if (this.#closed) return;
    let state: ConferenceInfo | undefined;
    const now = this.#now();
    for (const [subscriberId, subscription] of [...this.#subscriptions]) {
      if (subscription.timer !== undefined) continue; // a coalesced notification is already due
      const wait = subscription.lastSentAt + this.#minInterval - now;
      if (this.#minInterval > 0 && wait > 0) {
        subscription.timer = this.#timers.setTimeout(() => {
          subscription.timer = undefined;
          if (!this.#closed && this.#subscriptions.get(subscriberId) === subscription)
            this.#send(subscriberId, subscription, this.#state());
        }, wait);
        continue;
      }
      state ??= this.#state();
      this.#send(subscriberId, subscription, state);
    }
  }

  #send(subscriberId: string, subscription: Subscription, state: ConferenceInfo): void {
    const document = subscription.versioning.next(state);
    if (!document) return;
    subscription.lastSentAt = this.#now();
    this.safeEmit('notify', { subscriberId, document, final: false });
  }

  #notifyFinal(): void {
    if (this.#closed) return;
    const state = this.#state();
    for (const [subscriberId, subscription] of [...this.#subscriptions]) {
      this.#cancelTimer(subscription);
      this.safeEmit('notify', { subscriberId, document: subscription.versioning.full(state), final: true });
    }
    this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConferenceError('ended', 'the notifier is closed', { conference: this.conference.id });
  }
}
