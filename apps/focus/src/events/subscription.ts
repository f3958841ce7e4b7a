/**
 * One subscription of the focus acting as notifier (RFC 6665): the dialog a SUBSCRIBE created, its
 * expiry, refreshes, and the NOTIFYs sent on it. Knows nothing of what the documents say: the owner
 * passes a function that renders the document for a given per-subscription version.
 */
import { EnhancedEventEmitter, SerialQueue } from '@conclave/events';
import type { Logger } from '@conclave/log';
import {
  onSubscriptionRequests,
  reply,
  requestInDialog,
  type SrfDialog,
  type SrfRequest,
  type SrfResponse,
} from '../srf.ts';

/** Renders the body of a NOTIFY. */
export type DocumentRenderer = () => string;

export type TerminationReason = 'timeout' | 'noresource' | 'deactivated' | 'rejected' | 'unsubscribed' | 'failed';

export interface SubscriptionOptions {
  dialog: SrfDialog;
  event: string;
  contentType: string;
  /** Authenticated user name of the subscriber. */
  subscriber: string;
  expiresSeconds: number;
  minExpires: number;
  maxExpires: number;
  /** The full state, for the first NOTIFY and every refresh. */
  fullState: DocumentRenderer;
  logger: Logger;
}

type SubscriptionEvents = { terminated: [reason: TerminationReason] };

export class Subscription extends EnhancedEventEmitter<SubscriptionEvents> {
  readonly subscriber: string;
  readonly event: string;
  readonly #opts: SubscriptionOptions;
  readonly #dialog: SrfDialog;
  readonly #log: Logger;
  #sent = 0;
  #expiresAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #terminated = false;
  #ended = false;
  /** NOTIFYs go out one at a time so versions arrive in order even over UDP. */
  readonly #queue = new SerialQueue();

  constructor(options: SubscriptionOptions) {
    super(options.logger);
    this.#opts = options;
    this.#dialog = options.dialog;
    this.subscriber = options.subscriber;
    this.event = options.event;
    this.#log = options.logger.child({
      callId: options.dialog.sip.callId,
      subscriber: options.subscriber,
      event: options.event,
    });
    this.#arm(options.expiresSeconds);
    onSubscriptionRequests(this.#dialog, {
      subscribe: (req, res) => this.#onRefresh(req, res),
      unsubscribe: () => this.terminate('unsubscribed'),
    });
    this.#dialog.on('destroy', () => this.#finish('unsubscribed'));
    this.notify(options.fullState);
  }

  get terminated(): boolean {
    return this.#terminated;
  }

  /** How many NOTIFYs this subscription has sent. */
  get notifications(): number {
    return this.#sent;
  }

  get callId(): string {
    return this.#dialog.sip.callId;
  }

  /** Queues a NOTIFY; the body is rendered when its turn comes. */
  notify(render: DocumentRenderer): void {
    if (this.#terminated) return;
    this.#send(render, 'active');
  }

  /** Ends the subscription with a final NOTIFY (full state) carrying Subscription-State terminated. */
  terminate(reason: TerminationReason): void {
    if (this.#terminated) return;
    this.#terminated = true;
    clearTimeout(this.#timer);
    this.#send(this.#opts.fullState, 'terminated', reason === 'unsubscribed' ? undefined : reason);
    void this.#queue.push(() => this.#finish(reason));
  }

  #send(render: DocumentRenderer, state: 'active' | 'terminated', reason?: string): void {
    void this.#queue.push(async () => {
      const n = ++this.#sent;
      const remaining = Math.max(0, Math.round((this.#expiresAt - Date.now()) / 1000));
      const subscriptionState =
        state === 'active' ? `active;expires=${remaining}` : `terminated${reason ? `;reason=${reason}` : ''}`;
      try {
        const res = await requestInDialog(this.#dialog, {
          method: 'NOTIFY',
          headers: {
            Event: this.event,
            'Subscription-State': subscriptionState,
            'Content-Type': this.#opts.contentType,
          },
          body: render(),
        });
        if (res.status === 481 || res.status === 408 || res.status >= 500) {
          this.#log.info('subscriber gone; ending subscription', { status: res.status });
          this.#abandon(state);
        }
      } catch (err) {
        this.#log.warn('NOTIFY failed', { notification: n, error: (err as Error).message });
        this.#abandon(state);
      }
    });
  }

  #onRefresh(req: SrfRequest, res: SrfResponse): void {
    const requested = req.has('Expires') ? parseInt(req.get('Expires'), 10) : this.#opts.maxExpires;
    if (!Number.isFinite(requested) || requested < 0) {
      reply(res, 400, 'Bad Request - invalid Expires');
      return;
    }
    if (requested > 0 && requested < this.#opts.minExpires) {
      reply(res, 423, 'Interval Too Brief', { headers: { 'Min-Expires': String(this.#opts.minExpires) } });
      return;
    }
    const granted = Math.min(requested, this.#opts.maxExpires);
    this.#arm(granted);
    reply(res, 200, undefined, { headers: { Expires: String(granted) } });
    this.#log.debug('subscription refreshed', { expires: granted });
    this.notify(this.#opts.fullState);
  }

  #arm(seconds: number): void {
    clearTimeout(this.#timer);
    this.#expiresAt = Date.now() + seconds * 1000;
    this.#timer = setTimeout(() => this.terminate('timeout'), seconds * 1000);
    this.#timer.unref();
  }

  /**
   * The subscriber is unreachable: the subscription ends, and a final NOTIFY (terminated) still goes
   * out, best effort, so the SIP server forgets the dialog too (RFC 6665 §4.2.2).
   */
  #abandon(failedState: 'active' | 'terminated'): void {
    if (failedState === 'active' && !this.#terminated) {
      this.#terminated = true;
      clearTimeout(this.#timer);
      requestInDialog(this.#dialog, {
        method: 'NOTIFY',
        headers: {
          Event: this.event,
          'Subscription-State': 'terminated;reason=deactivated',
          'Content-Type': this.#opts.contentType,
        },
        body: this.#opts.fullState(),
      }).catch(() => undefined);
    }
    this.#finish('failed');
  }

  #finish(reason: TerminationReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#terminated = true;
    clearTimeout(this.#timer);
    this.#log.info('subscription ended', { reason, notifications: this.#sent });
    this.safeEmit('terminated', reason);
  }
}
