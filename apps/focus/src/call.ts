/**
 * One two-party call through the focus, as a B2BUA whose media is anchored in mediasoup: the caller's
 * side (UAS dialog) and the callee's side (UAC dialog) are each a MediaDialog whose leg lives in one
 * media room, so the call can later become a conference by re-wiring inside the same router.
 *
 *   caller ──INVITE(offer A)──▶ focus ──INVITE(offer B from mediasoup)──▶ callee
 *          ◀──200(answer A)────       ◀──200(answer B)───────────────────
 *
 * A side can be handed over (a conference adopting that party): from then on the call neither ends
 * nor re-offers that side, whatever happens to the call.
 */
import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from '@conclave/log';
import { SdpNegotiationError, type MediaLeg, type MediaService, type Room } from '@conclave/media';
import { onDtmf, sendDtmf } from './dtmf.ts';
import { createLegForOffer, createLegForTarget } from './legs.ts';
import { MediaDialog } from './media-dialog.ts';
import type { CallTarget } from './user-locator.ts';
import {
  agreementFromAnswer,
  intervalAfter422,
  negotiateAsUas,
  uacRequestHeaders,
  type SessionTimerAgreement,
  type SessionTimerSettings,
} from './session-timer.ts';
import { mediaWarning } from './sip-status.ts';
import {
  allowsUpdate,
  dialogAnswer,
  dialogConnected,
  endDialog,
  isSipFailure,
  onRequestSent,
  reply,
  requestInDialog,
  type Srf,
  type SrfDialog,
  type SrfRequest,
  type SrfResponse,
} from './srf.ts';
import { quoteDisplayName } from './sip-uri.ts';

export { mediaWarning };

export interface CallParty {
  user: string;
  displayName: string;
  /** Address of record, e.g. sip:alice@127.0.0.1 */
  aor: string;
}

export type CallState = 'setting-up' | 'connected' | 'ended';

/** The caller's side (the UAS dialog towards the caller) or the callee's (the UAC dialog). */
export type CallSide = 'caller' | 'callee';

type CallEvents = {
  connected: [];
  ended: [reason: string];
  /** A REFER arrived on one side: the listener decides what it means and answers it (relayRefer() for a transfer). */
  refer: [side: CallSide, req: SrfRequest, res: SrfResponse];
};

export interface CallOptions {
  srf: Srf;
  media: MediaService;
  domain: string;
  caller: CallParty;
  callee: CallParty;
  target: CallTarget;
  sessionTimer: SessionTimerSettings;
  /** How long the callee may ring before the focus CANCELs and tells the caller "no answer". */
  ringTimeoutMs: number;
  logger: Logger;
}

const OTHER: Record<CallSide, CallSide> = { caller: 'callee', callee: 'caller' };

export class Call extends EnhancedEventEmitter<CallEvents> {
  readonly id: string;
  readonly caller: CallParty;
  readonly callee: CallParty;
  readonly startedAt = Date.now();
  #state: CallState = 'setting-up';
  readonly #opts: CallOptions;
  readonly #log: Logger;
  #room: Room | undefined;
  #legA: MediaLeg | undefined;
  #legB: MediaLeg | undefined;
  readonly #sides = new Map<CallSide, MediaDialog>();
  #uacRequest: SrfRequest | undefined;
  #cancelled = false;
  /** The callee rang for ringTimeoutMs without answering: its INVITE was CANCELled by the focus. */
  #noAnswer = false;
  /** Sides handed over to someone else (a conference) by release(). */
  readonly #released = new Set<CallSide>();

  constructor(callId: string, options: CallOptions) {
    super(options.logger);
    this.id = callId;
    this.caller = options.caller;
    this.callee = options.callee;
    this.#opts = options;
    this.#log = options.logger.child({ callId, caller: options.caller.user, callee: options.callee.user });
  }

  get state(): CallState {
    return this.#state;
  }

  get room(): Room | undefined {
    return this.#room;
  }

  /** The SIP dialog facing one side, while the call owns it. */
  dialogOf(side: CallSide): SrfDialog | undefined {
    return this.#released.has(side) ? undefined : this.#sides.get(side)?.dialog;
  }

  /** The party on the other side of `side`. */
  partyOpposite(side: CallSide): CallParty & { side: CallSide } {
    return side === 'caller' ? { ...this.callee, side: 'callee' } : { ...this.caller, side: 'caller' };
  }

  /** The call still owns that side and it is live: release() would succeed. */
  canRelease(side: CallSide): boolean {
    const md = this.#sides.get(side);
    return (
      this.#state === 'connected' &&
      md !== undefined &&
      !md.gone &&
      !this.#released.has(side) &&
      dialogConnected(md.dialog)
    );
  }

  /**
   * Hands one side (its media dialog and leg) to a new owner, e.g. a conference adopting that party.
   * Synchronous: when it returns, the call no longer ends, re-offers or listens to that side. The new
   * owner must move the leg out of the call's room in the same tick (Room.adoptLeg does).
   */
  release(side: CallSide, to: string, contact: string | undefined): MediaDialog | undefined {
    if (!this.canRelease(side)) return undefined;
    const md = this.#sides.get(side)!;
    this.#released.add(side);
    this.#log.info('call side handed over', { side, to });
    // A hold the call relayed to this party (its referrer held it) does not follow it into its new
    // owner: the leg's queue runs this before any offer the new owner makes.
    if (md.leg.heldByFocus)
      md.leg
        .setOnHoldByFocus(false)
        .catch((err: Error) => this.#log.warn('clearing the relayed hold failed', { side, error: err.message }));
    return md.handOver(to, contact);
  }

  /**
   * Relays a REFER to the other party (an ordinary transfer through the B2BUA), and that party's
   * progress NOTIFYs back to the referrer.
   */
  relayRefer(side: CallSide, req: SrfRequest, res: SrfResponse): void {
    const from = this.dialogOf(side);
    const toSide = this.#sides.get(OTHER[side]);
    const referTo = req.get('Refer-To');
    if (!referTo) {
      reply(res, 400, 'Bad Request - missing Refer-To');
      return;
    }
    if (!from || !toSide || this.#released.has(OTHER[side]) || !dialogConnected(toSide.dialog)) {
      reply(res, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    const to = toSide.dialog;
    const referrer = side === 'caller' ? this.caller : this.callee;
    // The referrer's implicit subscription is named after ITS REFER (RFC 3515 §2.4.6: Event: refer;id=<CSeq>),
    // not after the REFER the focus sent on the other leg.
    const referCSeq = parseInt(req.get('CSeq'), 10);
    const referEvent = Number.isFinite(referCSeq) ? `refer;id=${referCSeq}` : 'refer';
    toSide.removeAllListeners('notify');
    toSide.on('notify', (nreq, nres) => {
      reply(nres, 200);
      if (!/^refer/i.test(nreq.get('Event') ?? '') || !dialogConnected(from)) return;
      requestInDialog(from, {
        method: 'NOTIFY',
        headers: {
          Event: referEvent,
          'Subscription-State': nreq.get('Subscription-State') ?? 'active',
          'Content-Type': nreq.get('Content-Type') ?? 'message/sipfrag;version=2.0',
        },
        body: nreq.body,
      }).catch((err: Error) => this.#log.info('relayed refer NOTIFY failed', { error: err.message }));
    });
    requestInDialog(to, {
      method: 'REFER',
      headers: { 'Refer-To': referTo, 'Referred-By': req.get('Referred-By') ?? `<${referrer.aor}>` },
    }).then(
      (r) => reply(res, r.status, r.reason),
      (err: Error) => {
        this.#log.warn('REFER relay failed', { error: err.message });
        reply(res, isSipFailure(err) ? err.status : 500, isSipFailure(err) ? err.reason : 'Server Internal Error');
      },
    );
    this.#log.info('REFER relayed to the other party', { from: side, referTo });
  }

  /** Runs the call set-up for an authenticated INVITE; never throws (failures are answered and logged). */
  async start(req: SrfRequest, res: SrfResponse): Promise<void> {
    const { media, domain } = this.#opts;
    req.on('cancel', () => {
      this.#cancelled = true;
      this.#log.info('caller cancelled', { calleeInviteSent: Boolean(this.#uacRequest) });
      this.#uacRequest?.cancel(() => undefined);
      this.#end('cancelled');
    });
    const timerA = negotiateAsUas(req, this.#opts.sessionTimer);
    if (!timerA.ok) {
      this.#log.info('caller session interval too small', { sessionExpires: req.get('Session-Expires') });
      reply(res, 422, 'Session Interval Too Small', { headers: timerA.headers });
      this.#end('session interval too small');
      return;
    }
    let uac: SrfDialog | undefined;
    try {
      this.#room = await media.createRoom({ label: `call ${this.id}` });
      this.#legA = await createLegForOffer(this.#room, req.body, this.caller.user);
      try {
        await this.#legA.applyRemoteOffer(req.body);
      } catch (err) {
        if (!(err instanceof SdpNegotiationError)) throw err;
        this.#log.warn('caller SDP refused', { error: err.message });
        reply(res, 488, undefined, { headers: { Warning: mediaWarning(domain, err) } });
        this.#end('caller SDP refused');
        return;
      }
      // A browser callee is offered video when the caller offered it (its camera was on); a phone gets audio.
      this.#legB = await createLegForTarget(
        this.#room,
        this.#opts.target.media,
        this.callee.user,
        /^m=video [1-9]/m.test(req.body),
      );
      const offerB = await this.#legB.createLocalOffer();
      if (this.#cancelled) return;

      this.#log.info('calling callee', { contact: this.#opts.target.contact, via: this.#opts.target.proxy });
      const ringTimer = setTimeout(() => {
        this.#noAnswer = true;
        this.#log.info('callee did not answer in time, cancelling', { ringTimeoutMs: this.#opts.ringTimeoutMs });
        this.#uacRequest?.cancel(() => undefined);
      }, this.#opts.ringTimeoutMs);
      try {
        uac = await this.#inviteCallee(offerB, res);
      } catch (err) {
        if (this.#cancelled) return;
        if (this.#noAnswer) {
          reply(res, 480, 'Temporarily Unavailable - no answer');
          this.#end('no answer');
          return;
        }
        const status = isSipFailure(err) ? err.status : 500;
        const reason = isSipFailure(err) ? err.reason : undefined;
        this.#log.info('callee did not answer', {
          status,
          reason,
          error: isSipFailure(err) ? undefined : (err as Error).message,
        });
        // A timeout towards a registered contact means the user is not reachable there (any more); through
        // a proxy (the cluster edge), a 404 means its location lookup found no contact: offline, as here.
        if (status === 408 || status === 503 || (status === 404 && this.#opts.target.proxy))
          reply(res, 480, 'Temporarily Unavailable - user not reachable');
        else if (reason) reply(res, status, reason);
        else reply(res, status);
        this.#end(`callee answered ${status}`);
        return;
      } finally {
        clearTimeout(ringTimer);
      }
      if (this.#cancelled) {
        endDialog(uac);
        return;
      }
      try {
        await this.#legB.applyRemoteAnswer(uac.remote.sdp);
      } catch (err) {
        this.#log.warn('callee SDP refused', { error: (err as Error).message });
        endDialog(uac, 'media negotiation failed');
        reply(res, 488, undefined, { headers: { Warning: mediaWarning(domain, err) } });
        this.#end('callee SDP refused');
        return;
      }
      const answerA = await this.#legA.createLocalAnswer();
      const uas = await this.#opts.srf.createUAS(req, res, {
        localSdp: answerA,
        headers: { 'Content-Type': 'application/sdp', ...timerA.headers },
      });
      if (this.#state === 'ended') {
        // The callee hung up while we answered the caller.
        endDialog(uas);
        endDialog(uac);
        return;
      }
      this.#state = 'connected';
      this.#attach('caller', uas, this.#legA, 'uas', timerA.agreement, allowsUpdate(req), true);
      this.#attach(
        'callee',
        uac,
        this.#legB,
        'uac',
        agreementFromAnswer(dialogAnswer(uac)),
        allowsUpdate(dialogAnswer(uac)),
        false,
      );
      this.#log.info('call connected');
      this.safeEmit('connected');
    } catch (err) {
      this.#log.error('call set-up failed', { error: (err as Error).message });
      if (!res.finalResponseSent && !this.#cancelled) reply(res, 500, 'Server Internal Error - call set-up failed');
      endDialog(uac);
      this.#end('set-up failed');
    }
  }

  /** Ends the call from the focus side (shutdown, admin). */
  hangup(reason = 'ended by the focus'): void {
    if (this.#state === 'ended') return;
    this.#log.info('hanging up', { reason });
    this.#end(reason);
  }

  /** INVITE to the callee with session-timer headers; one retry after a 422 (RFC 4028 §7.3). */
  async #inviteCallee(offer: string, res: SrfResponse): Promise<SrfDialog> {
    const settings = this.#opts.sessionTimer;
    let interval = settings.expires;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#opts.srf.createUAC(
          this.#opts.target.contact,
          {
            localSdp: offer,
            ...(this.#opts.target.proxy ? { proxy: this.#opts.target.proxy } : {}),
            headers: {
              From: `${quoteDisplayName(this.caller.displayName)} <${this.caller.aor}>`,
              To: `<${this.callee.aor}>`,
              ...uacRequestHeaders(settings, interval),
            },
          },
          {
            cbRequest: onRequestSent((uacReq) => {
              this.#uacRequest = uacReq;
              if (this.#cancelled) uacReq.cancel(() => undefined);
            }),
            cbProvisional: (prov) => {
              if (!this.#cancelled && (prov.status === 180 || prov.status === 183) && !res.finalResponseSent) {
                reply(res, 180);
              }
            },
          },
        );
      } catch (err) {
        const retry =
          attempt === 0 && isSipFailure(err) && err.status === 422 && err.res
            ? intervalAfter422(err.res, settings)
            : undefined;
        if (retry === undefined || this.#cancelled) throw err;
        this.#log.info('callee wants a longer session interval', { minSE: retry });
        interval = retry;
      }
    }
  }

  #attach(
    side: CallSide,
    dialog: SrfDialog,
    leg: MediaLeg,
    role: 'uas' | 'uac',
    timer: SessionTimerAgreement | undefined,
    peerAllowsUpdate: boolean,
    awaitAck: boolean,
  ): void {
    const md = new MediaDialog({
      dialog,
      leg,
      role,
      owner: `call ${this.id}`,
      sessionTimer: timer,
      peerAllowsUpdate,
      awaitAck,
      domain: this.#opts.domain,
      logger: this.#log,
    });
    this.#sides.set(side, md);
    md.on('gone', (cause, detail) => {
      this.#log.info(`${side} gone`, { cause, detail });
      this.#end(cause === 'bye' ? `${side} hung up` : `${side} gone (${detail ?? cause})`);
    });
    md.on('refer', (req, res) => {
      if (this.listenerCount('refer') > 0) this.safeEmit('refer', side, req, res);
      else reply(res, 603, 'Decline');
    });
    // A B2BUA relays hold (RFC 3264 §8.4): the other party is re-offered sendonly, so its phone shows
    // the hold, and sendrecv again on resume.
    md.on('held', () => this.#relayHold(OTHER[side], true));
    md.on('resumed', () => this.#relayHold(OTHER[side], false));
    // Keys (SIP INFO or RFC 4733) go on to the other party in order, in its media when it can take
    // them there, else as INFO (dtmf.ts).
    onDtmf(
      md,
      (key) => {
        const other = this.#released.has(OTHER[side]) ? undefined : this.#sides.get(OTHER[side]);
        void sendDtmf(other, key, this.#log);
      },
      this.#log,
    );
  }

  #relayHold(toward: CallSide, held: boolean): void {
    const other = this.#sides.get(toward);
    if (!other || other.gone || this.#released.has(toward) || other.leg.heldByFocus === held) return;
    this.#log.info(held ? 'relaying hold' : 'relaying resume', { toward });
    other.leg
      .setOnHoldByFocus(held)
      .catch((err: Error) => this.#log.warn('hold relay failed', { toward, error: err.message }));
  }

  #end(reason: string): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    // Only the sides the call still owns: a side handed over to a conference lives on.
    for (const [side, md] of this.#sides) {
      if (!this.#released.has(side)) md.end(reason, 'ended');
    }
    this.#room?.close();
    this.#log.info('call ended', { reason, seconds: Math.round((Date.now() - this.startedAt) / 1000) });
    this.safeEmit('ended', reason);
  }
}
