/**
 * A media dialog: one SIP dialog the focus holds with a party, bound to that party's media leg. It
 * answers the party's offers (re-INVITE, UPDATE) from the leg, sends the focus's re-offers whenever the
 * leg asks for one or an owner needs one (serialised, glare back-off), keeps the RFC 4028 session timer, and decides when the party is gone: BYE, a
 * re-offer answered 481/408, an expired session, or media that vanished. Then it closes its leg.
 *
 * Ownership: a media dialog has exactly one owner at a time — a two-party Call, or a conference's
 * Member — and reports only to it. `handOver()` moves it to a new owner in one synchronous step: the
 * old owner's listeners are dropped, so nothing the old owner does afterwards (its call ending, its
 * room closing) can touch this dialog or its leg.
 */
import { EnhancedEventEmitter, SerialQueue } from '@conclave/events';
import type { Logger } from '@conclave/log';
import { NegotiationStateError, type MediaLeg } from '@conclave/media';
import { mediaWarning } from './sip-status.ts';
import { SessionTimer, refreshHeaders, type SessionTimerAgreement } from './session-timer.ts';
import {
  dialogConnected,
  endDialog,
  isSipFailure,
  reinviteDialog,
  reply,
  requestInDialog,
  type SrfDialog,
  type SrfRequest,
  type SrfResponse,
} from './srf.ts';

/** Why a party is gone, as the roster and the logs say it. */
export type GoneCause = 'bye' | 'failed' | 'session-expired' | 'media-vanished' | 'media-closed' | 'ended';

export type MediaDialogEvents = {
  /** The party is gone (the dialog ended or was ended); the leg is closed. Emitted once. */
  gone: [cause: GoneCause, detail: string | undefined];
  held: [];
  resumed: [];
  /** An in-dialog REFER: the owner must answer it. */
  refer: [req: SrfRequest, res: SrfResponse];
  /** An in-dialog NOTIFY (e.g. progress of a REFER the focus relayed): the owner must answer it. */
  notify: [req: SrfRequest, res: SrfResponse];
};

export interface MediaDialogOptions {
  dialog: SrfDialog;
  leg: MediaLeg;
  /** The focus's role in this dialog: 'uas' when the party called the focus, 'uac' when the focus called. */
  role: 'uas' | 'uac';
  /** Who owns it first (for logs): e.g. 'call', 'conference'. */
  owner: string;
  /** The session timer negotiated at set-up, if any. */
  sessionTimer?: SessionTimerAgreement | undefined;
  /** The peer accepts UPDATE (its Allow said so): refreshes then go without SDP. */
  peerAllowsUpdate?: boolean;
  /** Contact header for the focus's answers and re-offers (a conference's `<uri>;isfocus`). */
  contact?: string | undefined;
  /** The focus just answered the dialog: no re-offer before the peer's ACK (RFC 3261 §14.1). */
  awaitAck?: boolean;
  domain: string;
  logger: Logger;
}

/** The outcome of one re-offer. */
export type ReofferResult = 'answered' | 'gone' | 'failed';

const ACK_WAIT_MS = 5000;
const GLARE_RETRIES = 5;
/** Back-off before retrying a re-offer the party answered 491 (RFC 3261 §14.1 asks 0–2 s of the non-owner of the Call-ID). */
const GLARE_BACKOFF_MS = { min: 100, max: 1000 };

/** One attempt's outcome: 'glare' is retried by reoffer(), never returned from it. */
type OfferOutcome = ReofferResult | 'glare';

export class MediaDialog extends EnhancedEventEmitter<MediaDialogEvents> {
  readonly dialog: SrfDialog;
  readonly leg: MediaLeg;
  readonly role: 'uas' | 'uac';
  readonly #domain: string;
  readonly #log: Logger;
  readonly #timer: SessionTimer | undefined;
  readonly #peerAllowsUpdate: boolean;
  #owner: string;
  #contact: string | undefined;
  #queue = new SerialQueue();
  #gone = false;
  /** A re-offer queued but not started: later requests join it. */
  #waitingReoffer: Promise<ReofferResult> | undefined;
  /** The re-offer on the wire now (sent since the last hand-over). */
  #inFlight: Promise<ReofferResult> | undefined;
  /** The first re-offer that went out since the last hand-over (it carried the current Contact). */
  #sinceHandOver: Promise<ReofferResult> | undefined;
  #forceNext = false;

  constructor(options: MediaDialogOptions) {
    super(options.logger);
    this.dialog = options.dialog;
    this.leg = options.leg;
    this.role = options.role;
    this.#owner = options.owner;
    this.#contact = options.contact;
    this.#domain = options.domain;
    this.#peerAllowsUpdate = options.peerAllowsUpdate ?? false;
    this.#log = options.logger.child({ callId: options.dialog.sip.callId, leg: options.leg.label });
    const dialog = this.dialog;
    dialog.on('destroy', () => this.#goneWith('bye', undefined));
    dialog.on('modify', (req: SrfRequest, res: SrfResponse) => this.#onOffer(req, res));
    dialog.on('update', (req: SrfRequest, res: SrfResponse) => this.#onUpdate(req, res));
    dialog.on('refer', (req: SrfRequest, res: SrfResponse) => {
      if (this.listenerCount('refer') > 0) this.safeEmit('refer', req, res);
      else reply(res, 603, 'Decline');
    });
    dialog.on('notify', (req: SrfRequest, res: SrfResponse) => {
      if (this.listenerCount('notify') > 0) this.safeEmit('notify', req, res);
      else {
        this.#log.info('unexpected NOTIFY refused', { event: req.get('Event') });
        reply(res, 481, 'Subscription Does Not Exist');
      }
    });
    // The leg asks for a re-offer when its SDP would change (a party joined or left, a hold relayed, the
    // room rebuilt), whoever owns the dialog by then; it may have asked already while the call was set up.
    this.leg.on('renegotiationneeded', () => {
      if (!this.#gone) void this.reoffer();
    });
    this.leg.on('held', () => this.safeEmit('held'));
    this.leg.on('resumed', () => this.safeEmit('resumed'));
    this.leg.on('closed', (reason) => {
      if (!this.#gone) this.end(`media closed (${reason})`, 'media-closed');
    });
    this.leg.on('vanished', (reason) => {
      if (this.#gone) return;
      this.#log.warn('party vanished: its media stopped', { reason });
      this.end(`media stopped: ${reason}`, 'media-vanished');
    });
    if (options.sessionTimer) {
      const agreement = options.sessionTimer;
      this.#timer = new SessionTimer(
        agreement,
        { refresh: () => this.#refreshSession(), expired: (why) => this.end(why, 'session-expired') },
        this.#log,
      );
    }
    if (options.awaitAck) {
      this.#queue = new SerialQueue(
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ACK_WAIT_MS);
          this.dialog.once('ack', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
      );
    }
    if (this.leg.needsRenegotiation) void this.reoffer();
  }

  get callId(): string {
    return this.dialog.sip.callId;
  }

  get owner(): string {
    return this.#owner;
  }

  get gone(): boolean {
    return this.#gone;
  }

  get contact(): string | undefined {
    return this.#contact;
  }

  get sessionTimer(): SessionTimerAgreement | undefined {
    return this.#timer?.agreement;
  }

  /**
   * Gives the dialog to a new owner: every listener of the old owner is dropped at once; the new
   * owner attaches its own. `contact` becomes the Contact of later answers and re-offers.
   */
  handOver(to: string, contact: string | undefined): this {
    this.#log.info('media dialog handed over', { from: this.#owner, to });
    this.removeAllListeners();
    this.#owner = to;
    this.#contact = contact;
    this.#inFlight = undefined;
    this.#sinceHandOver = undefined;
    return this;
  }

  /**
   * Resolves once a re-offer sent since the last hand-over — so carrying the new owner's Contact — was
   * answered (or with why not). One already sent for the media's own needs counts; else one is sent.
   */
  confirmHandOver(): Promise<ReofferResult> {
    const first = this.#sinceHandOver;
    if (!first) return this.reoffer({ force: true });
    return first.then((result) => (result === 'failed' ? this.reoffer({ force: true }) : result));
  }

  /**
   * Queues a re-offer. Resolves with its outcome; never rejects. Unless `force`d (a new Contact must
   * reach the party), it is skipped when the leg no longer needs one by the time it runs, and requests
   * made while one is still waiting in the queue share it.
   */
  reoffer(options: { force?: boolean } = {}): Promise<ReofferResult> {
    // A re-offer already on the wire since the last hand-over carries the current Contact too.
    if (options.force && this.#inFlight && !this.#waitingReoffer) return this.#inFlight;
    if (options.force) this.#forceNext = true;
    if (this.#waitingReoffer) return this.#waitingReoffer;
    const run: Promise<ReofferResult> = (async () => {
      let force = false;
      let result = await this.#serialize(async (): Promise<OfferOutcome> => {
        this.#waitingReoffer = undefined;
        force = this.#forceNext;
        this.#forceNext = false;
        if (!force && !this.leg.needsRenegotiation) return 'answered';
        this.#inFlight = run;
        this.#sinceHandOver ??= run;
        return this.#offerOnce();
      });
      // A retry is skipped, like the first attempt, once nothing is left to offer (the party's own offer may have settled it).
      const offerAgain = (): Promise<OfferOutcome> =>
        this.#serialize(async () => (!force && !this.leg.needsRenegotiation ? 'answered' : this.#offerOnce()));
      for (let attempt = 1; result === 'glare'; attempt++) {
        if (this.#gone) return 'gone';
        if (attempt > GLARE_RETRIES) {
          this.#log.warn('focus re-offer failed: glare every time', { attempts: attempt });
          return 'failed';
        }
        // Glare (RFC 3261 §14.1): back off a random while *outside* the queue, so that the party's own
        // offer — queued behind ours, the reason for the 491 — is answered first; then offer again.
        await new Promise((r) =>
          setTimeout(r, GLARE_BACKOFF_MS.min + Math.random() * (GLARE_BACKOFF_MS.max - GLARE_BACKOFF_MS.min)),
        );
        result = await offerAgain();
      }
      return result;
    })().finally(() => {
      if (this.#inFlight === run) this.#inFlight = undefined;
    });
    this.#waitingReoffer = run;
    return run;
  }

  /** Ends the dialog from the focus side (BYE with a Reason) and closes the leg. Idempotent. */
  end(reason: string, cause: GoneCause = 'ended'): void {
    if (this.#gone) return;
    this.#log.info('focus ends the dialog', { reason, cause, owner: this.#owner });
    endDialog(this.dialog, reason);
    this.#goneWith(cause, reason);
  }

  #onOffer(req: SrfRequest, res: SrfResponse): void {
    void this.#serialize(async () => {
      try {
        await this.leg.applyRemoteOffer(req.body);
        const answer = await this.leg.createLocalAnswer();
        reply(res, 200, undefined, {
          body: answer,
          headers: { 'Content-Type': 'application/sdp', ...this.#answerHeaders() },
        });
        this.#timer?.refreshed();
      } catch (err) {
        if (err instanceof NegotiationStateError) {
          reply(res, 491, 'Request Pending');
          return;
        }
        this.#log.warn('party offer refused', { error: (err as Error).message });
        reply(res, 488, undefined, { headers: { Warning: mediaWarning(this.#domain, err) } });
      }
    });
  }

  /** UPDATE without a body is a session refresh; with one, an offer like a re-INVITE's. */
  #onUpdate(req: SrfRequest, res: SrfResponse): void {
    if (req.body && req.body.trim() !== '') {
      this.#onOffer(req, res);
      return;
    }
    reply(res, 200, undefined, { headers: this.#answerHeaders() });
    this.#timer?.refreshed();
  }

  #answerHeaders(): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.#contact) h['Contact'] = this.#contact;
    const timer = this.#timer?.agreement;
    if (timer) {
      Object.assign(h, refreshHeaders(timer, this.role));
      if (timer.peerSupports) h['Require'] = 'timer';
    }
    return h;
  }

  #requestHeaders(): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.#contact) h['Contact'] = this.#contact;
    const timer = this.#timer?.agreement;
    if (timer) Object.assign(h, refreshHeaders(timer, this.role));
    return h;
  }

  /** One offer/answer exchange; runs inside the queue. 'glare': the party answered 491, our offer is rolled back. */
  async #offerOnce(): Promise<OfferOutcome> {
    if (this.#gone || !dialogConnected(this.dialog)) return 'gone';
    let offer: string;
    try {
      offer = await this.leg.createLocalOffer();
    } catch (err) {
      if (this.leg.closed) return 'gone';
      this.#log.warn('cannot build re-offer', { error: (err as Error).message });
      return 'failed';
    }
    try {
      const answer = await reinviteDialog(this.dialog, offer, this.#requestHeaders());
      await this.leg.applyRemoteAnswer(answer);
      this.#timer?.refreshed();
      return 'answered';
    } catch (err) {
      await this.leg.rollbackLocalOffer().catch(() => undefined);
      const status = isSipFailure(err) ? err.status : undefined;
      if (this.#gone || !dialogConnected(this.dialog)) {
        this.#log.debug('re-offer dropped: the party left meanwhile', { error: (err as Error).message });
        return 'gone';
      }
      if (status === 491) {
        this.#log.info("re-offer crossed the party's own offer (491): will retry");
        return 'glare';
      }
      this.#log.warn('focus re-offer failed', { status, error: (err as Error).message });
      if (status === 481 || status === 408) {
        this.end(`re-offer answered ${status}`, 'failed');
        return 'gone';
      }
      return 'failed';
    }
  }

  /**
   * The focus refreshes the session (RFC 4028 §10): UPDATE without SDP when the peer allows it, else a
   * re-offer. Only 408, 481 or no answer end the session (§10); other failures keep it.
   */
  async #refreshSession(): Promise<void> {
    if (this.#gone) throw new Error('dialog gone');
    if (this.#peerAllowsUpdate) {
      try {
        await requestInDialog(this.dialog, { method: 'UPDATE', headers: this.#requestHeaders() });
        return;
      } catch (err) {
        const status = isSipFailure(err) ? err.status : undefined;
        if (status === undefined || status === 408 || status === 481) throw err;
        return;
      }
    }
    const result = await this.reoffer({ force: true });
    if (result === 'gone') throw new Error('the party is gone');
  }

  #serialize<T>(task: () => Promise<T>): Promise<T> {
    return this.#queue.push(task);
  }

  #goneWith(cause: GoneCause, detail: string | undefined): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#timer?.close();
    this.leg.close();
    this.#log.info('party gone', { cause, detail, owner: this.#owner });
    this.safeEmit('gone', cause, detail);
  }
}
