/**
 * ConferenceFeed: the admin API's Server-Sent Events (GET /events?token=) with typed events.
 *
 * The browser's EventSource reconnects by itself only after some failures and never after an
 * HTTP error answer (a revoked token gets 401 and the source just closes), so the feed handles
 * every error the same way: close the source, wait (1, 2, 4, 8, then 15 s), ask GET /session
 * whether the token is still good, and open a new source. A 401 there ends the feed
 * ('unauthorized'); a fresh connection starts with a full snapshot, so nothing is lost.
 */
import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from '../phone/log.ts';
import {
  parseConference,
  parseConferenceEnded,
  parseSnapshot,
  type ApiConference,
  type ApiConferenceEnded,
} from './api-types.ts';
import type { FeedState } from './admin-words.ts';

export interface FeedStatus {
  readonly state: FeedState;
  /** When the next attempt starts (epoch ms), while reconnecting. */
  readonly retryAt: number | null;
  /** Failed attempts in a row. */
  readonly attempts: number;
}

export type FeedEvents = {
  snapshot: [conferences: ApiConference[]];
  created: [conference: ApiConference];
  updated: [conference: ApiConference];
  ended: [ended: ApiConferenceEnded];
  status: [status: FeedStatus];
  /** The token is no longer accepted: the feed has stopped. */
  unauthorized: [];
};

/** What the feed needs to know between two attempts. */
export type SessionCheck = () => Promise<'ok' | 'unauthorized' | 'unreachable'>;

export interface ConferenceFeedOptions {
  /** URL of the stream (with ?token=). */
  readonly url: () => string;
  readonly checkSession: SessionCheck;
  readonly log: Logger;
  readonly createEventSource?: (url: string) => EventSource;
  /** Reconnect delays in ms; the last one repeats. */
  readonly backoffMs?: readonly number[];
}

const DEFAULT_BACKOFF_MS = [1000, 2000, 4000, 8000, 15_000];

export class ConferenceFeed {
  readonly events = new EnhancedEventEmitter<FeedEvents>();
  #opts: ConferenceFeedOptions;
  #log: Logger;
  #source: EventSource | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #status: FeedStatus = { state: 'closed', retryAt: null, attempts: 0 };
  #closed = false;
  #started = false;

  constructor(options: ConferenceFeedOptions) {
    this.#opts = options;
    this.#log = options.log.child({ feed: 'admin-events' });
  }

  get status(): FeedStatus {
    return this.#status;
  }

  get closed(): boolean {
    return this.#closed;
  }

  start(): void {
    if (this.#closed) throw new Error('ConferenceFeed: start() after close()');
    if (this.#started) return;
    this.#started = true;
    this.#setStatus({ state: 'connecting', retryAt: null, attempts: 0 });
    this.#open();
  }

  /** Stops for good (logout). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#source?.close();
    this.#source = null;
    this.#setStatus({ state: 'closed', retryAt: null, attempts: 0 });
    this.events.removeAllListeners();
  }

  #open(): void {
    if (this.#closed) return;
    let source: EventSource;
    try {
      const create = this.#opts.createEventSource ?? ((url: string) => new EventSource(url));
      source = create(this.#opts.url());
    } catch (error) {
      this.#log.warn('event stream could not be opened', { error: String(error) });
      this.#retry();
      return;
    }
    this.#source = source;
    const current = (): boolean => this.#source === source && !this.#closed;
    const on = (name: string, handle: (data: unknown) => void): void => {
      source.addEventListener(name, (event) => {
        if (!current()) return;
        let data: unknown;
        try {
          data = JSON.parse((event as MessageEvent<string>).data);
        } catch {
          this.#log.warn('event with unreadable data ignored', { event: name });
          return;
        }
        handle(data);
      });
    };
    on('snapshot', (data) => {
      const conferences = parseSnapshot(data);
      if (!conferences) {
        this.#log.warn('snapshot event without a conference list ignored');
        return;
      }
      this.#setStatus({ state: 'live', retryAt: null, attempts: 0 });
      this.events.safeEmit('snapshot', conferences);
    });
    on('conference-created', (data) => {
      const conference = parseConference(data);
      if (conference) this.events.safeEmit('created', conference);
    });
    on('conference-updated', (data) => {
      const conference = parseConference(data);
      if (conference) this.events.safeEmit('updated', conference);
    });
    on('conference-ended', (data) => {
      const ended = parseConferenceEnded(data);
      if (ended) this.events.safeEmit('ended', ended);
    });
    source.addEventListener('error', () => {
      if (!current()) return;
      this.#log.info('event stream lost', { readyState: source.readyState });
      source.close();
      this.#source = null;
      this.#retry();
    });
  }

  #retry(): void {
    if (this.#closed) return;
    const backoff = this.#opts.backoffMs ?? DEFAULT_BACKOFF_MS;
    const attempts = this.#status.attempts + 1;
    const delay = backoff[Math.min(attempts, backoff.length) - 1] ?? 15_000;
    this.#setStatus({ state: 'reconnecting', retryAt: Date.now() + delay, attempts });
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#reconnect(), delay);
  }

  async #reconnect(): Promise<void> {
    if (this.#closed) return;
    const session = await this.#opts.checkSession().catch(() => 'unreachable' as const);
    if (this.#closed) return;
    if (session === 'unauthorized') {
      this.#log.info('event stream: the token is no longer accepted');
      this.events.safeEmit('unauthorized');
      return;
    }
    if (session === 'unreachable') {
      this.#retry();
      return;
    }
    this.#setStatus({ ...this.#status, state: 'reconnecting', retryAt: null });
    this.#open();
  }

  #setStatus(status: FeedStatus): void {
    this.#status = status;
    this.events.safeEmit('status', status);
  }
}
