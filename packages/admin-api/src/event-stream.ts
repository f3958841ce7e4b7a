/**
 * The admin API's Server-Sent Events: every open stream first gets a `snapshot` of all
 * conferences, then `conference-created`, `conference-updated` (coalesced per conference) and
 * `conference-ended` as the registry and its conferences change, and keep-alive comments.
 *
 * One hub watches the registry for all streams; per-conference 'changed' events are coalesced to
 * at most one `conference-updated` per conference per `coalesceMs` (the first is sent at once, later
 * ones within the interval are merged into one sent when it elapses), since speaker changes can
 * arrive several times a second.
 */
import type { ServerResponse } from 'node:http';
import type { Conference, ConferenceRegistry } from '@conclave/conference';
import type { Logger } from '@conclave/log';
import { COMMON_HEADERS } from './errors.ts';
import { conferenceDetail, type ConferenceDetail } from './representation.ts';

export type AdminEventName = 'snapshot' | 'conference-created' | 'conference-updated' | 'conference-ended';

export interface AdminEventHubOptions {
  registry: ConferenceRegistry;
  logger: Logger;
  /** Minimum interval between two `conference-updated` of one conference, default 200 ms. */
  coalesceMs?: number;
  /** Interval of keep-alive comments (and of session checks), default 15 s. */
  keepAliveMs?: number;
  /** A client with more than this many bytes unsent is dropped, default 1 MiB. */
  maxBufferedBytes?: number;
  /** Cluster mode: the other nodes' conferences, added to every snapshot (cluster-events.ts). */
  remoteConferences?: () => ConferenceDetail[];
}

export interface EventStreamClient {
  /** Who watches (for logs). */
  user: string;
  /** The bearer token the stream was opened with, if any (logout ends its streams). */
  token: string | undefined;
  /** Whether the client's credentials are still good (checked at every keep-alive). */
  isAuthorized: () => boolean;
  /** Another node's relay: this node's own conferences only (no remote ones, no relayed events). */
  localOnly?: boolean;
}

interface OpenStream extends EventStreamClient {
  res: ServerResponse;
}

interface Watch {
  onChanged: () => void;
  timer: NodeJS.Timeout | undefined;
  /** A change arrived while the timer ran: send one update when it fires. */
  dirty: boolean;
}

export class AdminEventHub {
  readonly #registry: ConferenceRegistry;
  readonly #log: Logger;
  readonly #coalesceMs: number;
  readonly #keepAliveMs: number;
  readonly #maxBuffered: number;
  readonly #streams = new Set<OpenStream>();
  readonly #watches = new Map<Conference, Watch>();
  #keepAlive: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #remote: (() => ConferenceDetail[]) | undefined;

  constructor(options: AdminEventHubOptions) {
    this.#registry = options.registry;
    this.#log = options.logger;
    this.#coalesceMs = options.coalesceMs ?? 200;
    this.#keepAliveMs = options.keepAliveMs ?? 15_000;
    this.#maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
    this.#remote = options.remoteConferences;
    this.#registry.on('created', this.#onCreated);
    this.#registry.on('ended', this.#onEnded);
    for (const conference of this.#registry.list()) this.#watch(conference);
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  /** Turns the response into an event stream and sends the snapshot. */
  open(res: ServerResponse, client: EventStreamClient): void {
    if (this.#closed) throw new Error('the admin event hub is closed');
    const stream: OpenStream = { ...client, res };
    res.writeHead(200, {
      ...COMMON_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      // Reverse proxies (nginx) must not buffer the stream.
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    this.#streams.add(stream);
    res.on('close', () => {
      if (!this.#streams.delete(stream)) return;
      this.#log.debug('admin event stream closed', { user: stream.user, streams: this.#streams.size });
      if (this.#streams.size === 0) this.#stopKeepAlive();
    });
    this.#write(stream, 'retry: 3000\n\n');
    const conferences = this.#registry.list().map(conferenceDetail);
    if (this.#remote && !client.localOnly) conferences.push(...this.#remote());
    this.#write(stream, frame('snapshot', { conferences }));
    this.#startKeepAlive();
    this.#log.debug('admin event stream opened', { user: stream.user, streams: this.#streams.size });
  }

  /** An event of another node's conference (cluster-events.ts), to every stream but other nodes'. */
  relay(event: AdminEventName, data: unknown): void {
    if (this.#streams.size === 0) return;
    const text = frame(event, data);
    for (const stream of [...this.#streams]) if (!stream.localOnly) this.#write(stream, text);
  }

  /** Ends the streams opened with a token (logout). */
  closeStreamsOf(token: string): void {
    for (const stream of [...this.#streams]) if (stream.token === token) this.#end(stream);
  }

  /** Ends every stream and stops watching the registry. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of [...this.#streams]) this.#end(stream);
    this.#stopKeepAlive();
    this.#registry.off('created', this.#onCreated);
    this.#registry.off('ended', this.#onEnded);
    for (const conference of [...this.#watches.keys()]) this.#unwatch(conference);
  }

  // --- registry and conferences ----------------------------------------------------------------

  readonly #onCreated = (conference: Conference): void => {
    this.#watch(conference);
    this.#broadcast('conference-created', () => conferenceDetail(conference));
  };

  readonly #onEnded = (conference: Conference, reason: string | undefined): void => {
    // A pending coalesced update is moot: the conference is gone.
    this.#unwatch(conference);
    this.#broadcast('conference-ended', () => ({ id: conference.id, uri: conference.uri, reason: reason ?? null }));
  };

  #watch(conference: Conference): void {
    if (this.#watches.has(conference) || conference.ended) return;
    const watch: Watch = {
      timer: undefined,
      dirty: false,
      onChanged: () => {
        if (this.#streams.size === 0 || conference.ended) return;
        if (watch.timer) {
          watch.dirty = true;
          return;
        }
        this.#sendUpdate(conference);
        watch.timer = setTimeout(flush, this.#coalesceMs);
      },
    };
    const flush = () => {
      watch.timer = undefined;
      if (!watch.dirty || conference.ended) return;
      watch.dirty = false;
      this.#sendUpdate(conference);
      watch.timer = setTimeout(flush, this.#coalesceMs);
    };
    this.#watches.set(conference, watch);
    conference.on('changed', watch.onChanged);
  }

  #unwatch(conference: Conference): void {
    const watch = this.#watches.get(conference);
    if (!watch) return;
    if (watch.timer) clearTimeout(watch.timer);
    conference.off('changed', watch.onChanged);
    this.#watches.delete(conference);
  }

  #sendUpdate(conference: Conference): void {
    this.#broadcast('conference-updated', () => conferenceDetail(conference));
  }

  // --- streams ---------------------------------------------------------------------------------

  #broadcast(event: AdminEventName, data: () => unknown): void {
    if (this.#streams.size === 0) return;
    const text = frame(event, data());
    for (const stream of [...this.#streams]) this.#write(stream, text);
  }

  #write(stream: OpenStream, text: string): void {
    const { res } = stream;
    if (res.writableEnded || res.destroyed) return;
    res.write(text);
    if (res.writableLength > this.#maxBuffered) {
      this.#log.warn('admin event stream dropped: the client does not keep up', {
        user: stream.user,
        buffered: res.writableLength,
      });
      res.destroy();
    }
  }

  #end(stream: OpenStream): void {
    this.#streams.delete(stream);
    if (!stream.res.writableEnded) stream.res.end();
    if (this.#streams.size === 0) this.#stopKeepAlive();
  }

  #startKeepAlive(): void {
    if (this.#keepAlive) return;
    this.#keepAlive = setInterval(() => {
      for (const stream of [...this.#streams]) {
        if (!stream.isAuthorized()) {
          this.#log.info('admin event stream ended: the session expired or was revoked', { user: stream.user });
          this.#end(stream);
        } else {
          this.#write(stream, ': keep-alive\n\n');
        }
      }
    }, this.#keepAliveMs);
    this.#keepAlive.unref();
  }

  #stopKeepAlive(): void {
    if (this.#keepAlive) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }
}

/** One SSE event. JSON.stringify never emits a raw line break, so `data` is one line. */
function frame(event: AdminEventName, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
