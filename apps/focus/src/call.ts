/**
 * One two-party call through the focus, as a B2BUA whose media is anchored in mediasoup: the caller's
 * leg (UAS dialog) and the callee's leg (UAC dialog) each end on a WebRTC leg of one media room, so the
 * call can later become a conference by re-wiring inside the same router.
 *
 *   caller ──INVITE(offer A)──▶ focus ──INVITE(offer B from mediasoup)──▶ callee
 *          ◀──200(answer A)────       ◀──200(answer B)───────────────────
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '@conclave/log';
import { SdpNegotiationError, type MediaLeg, type MediaService, type Room } from '@conclave/media';
import { createLegForOffer, createLegForTarget } from './legs.ts';
import type { Binding } from './registrar.ts';
import { dialogConnected, endDialog, isSipFailure, reply, type Srf, type SrfDialog, type SrfRequest, type SrfResponse } from './srf.ts';
import { quoteDisplayName } from './sip-uri.ts';

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
  /**
   * A REFER arrived on one side. With no listener the call relays it to the other party (a transfer);
   * a listener takes over and must answer it, calling relayRefer() itself if it declines.
   */
  refer: [side: CallSide, req: SrfRequest, res: SrfResponse];
};

export interface CallOptions {
  srf: Srf;
  media: MediaService;
  domain: string;
  caller: CallParty;
  callee: CallParty;
  target: Binding;
  logger: Logger;
}

/** What the focus tells a caller whose SDP it cannot bridge (RFC 3261 §20.43 Warning, code 399). */
export function mediaWarning(domain: string, err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return `399 ${domain} "${text.replace(/["\\\r\n]/g, ' ')}"`;
}

export class Call extends EventEmitter<CallEvents> {
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
  #uas: SrfDialog | undefined;
  #uac: SrfDialog | undefined;
  #uacRequest: SrfRequest | undefined;
  #cancelled = false;
  /** Sides handed over to someone else (a conference) by release(). */
  readonly #released = new Set<CallSide>();
  /** Renegotiations of one dialog must not overlap (a re-INVITE in progress answers 491 otherwise). */
  #queue: Promise<void> = Promise.resolve();

  constructor(callId: string, options: CallOptions) {
    super();
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

  /** The dialogs of the call once connected: callerDialog faces the caller, calleeDialog the callee. */
  get dialogs(): { callerDialog: SrfDialog | undefined; calleeDialog: SrfDialog | undefined } {
    return { callerDialog: this.#uas, calleeDialog: this.#uac };
  }

  dialogOf(side: CallSide): SrfDialog | undefined {
    return side === 'caller' ? this.#uas : this.#uac;
  }

  legOf(side: CallSide): MediaLeg | undefined {
    return side === 'caller' ? this.#legA : this.#legB;
  }

  /** The party on the other side of `side`. */
  partyOpposite(side: CallSide): CallParty & { side: CallSide } {
    return side === 'caller' ? { ...this.callee, side: 'callee' } : { ...this.caller, side: 'caller' };
  }

  /**
   * Hands one side's dialog and media leg to a new owner (the conference focus moving that party into
   * a conference). The call forgets them: ending the call no longer touches them.
   */
  release(side: CallSide): { dialog: SrfDialog; leg: MediaLeg } | undefined {
    const dialog = this.dialogOf(side);
    const leg = this.legOf(side);
    if (this.#state !== 'connected' || !dialog || !leg || this.#released.has(side) || !dialogConnected(dialog)) return undefined;
    this.#released.add(side);
    dialog.removeAllListeners('destroy');
    dialog.removeAllListeners('modify');
    dialog.removeAllListeners('refer');
    dialog.removeAllListeners('notify');
    this.#log.info('call side handed over', { side });
    return { dialog, leg };
  }

  /**
   * Relays a REFER to the other party (an ordinary transfer through the B2BUA), and that party's
   * progress NOTIFYs back to the referrer.
   */
  relayRefer(side: CallSide, req: SrfRequest, res: SrfResponse): void {
    const from = this.dialogOf(side);
    const to = this.dialogOf(side === 'caller' ? 'callee' : 'caller');
    const referTo = req.get('Refer-To');
    if (!referTo) {
      reply(res, 400, 'Bad Request - missing Refer-To');
      return;
    }
    if (!from || !to || !dialogConnected(to) || this.#released.has(side === 'caller' ? 'callee' : 'caller')) {
      reply(res, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    const referrer = side === 'caller' ? this.caller : this.callee;
    // The referrer's implicit subscription is named after ITS REFER (RFC 3515 §2.4.6: Event: refer;id=<CSeq>),
    // not after the REFER the focus sent on the other leg.
    const referCSeq = parseInt(req.get('CSeq'), 10);
    const referEvent = Number.isFinite(referCSeq) ? `refer;id=${referCSeq}` : 'refer';
    to.removeAllListeners('notify');
    to.on('notify', (nreq: SrfRequest, nres: SrfResponse) => {
      reply(nres, 200);
      if (!/^refer/i.test(nreq.get('Event') ?? '') || !dialogConnected(from)) return;
      from
        .request({
          method: 'NOTIFY',
          headers: { Event: referEvent, 'Subscription-State': nreq.get('Subscription-State') ?? 'active', 'Content-Type': nreq.get('Content-Type') ?? 'message/sipfrag;version=2.0' },
          body: nreq.body,
        } as unknown as SrfRequest)
        .catch((err: Error) => this.#log.info('relayed refer NOTIFY failed', { error: err.message }));
    });
    to.request({
      method: 'REFER',
      headers: { 'Refer-To': referTo, 'Referred-By': req.get('Referred-By') ?? `<${referrer.aor}>` },
    } as unknown as SrfRequest).then(
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
    const { srf, media, domain } = this.#opts;
    req.on('cancel', () => {
      this.#cancelled = true;
      this.#log.info('caller cancelled', { calleeInviteSent: Boolean(this.#uacRequest) });
      this.#uacRequest?.cancel(() => undefined);
      this.#end('cancelled');
    });
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
      this.#legB = await createLegForTarget(this.#room, this.#opts.target.media, this.callee.user, /^m=video [1-9]/m.test(req.body));
      const offerB = await this.#legB.createLocalOffer();
      if (this.#cancelled) return;

      this.#log.info('calling callee', { contact: this.#opts.target.contact });
      let uac: SrfDialog;
      try {
        uac = await srf.createUAC(
          this.#opts.target.contact,
          {
            localSdp: offerB,
            headers: {
              From: `${quoteDisplayName(this.caller.displayName)} <${this.caller.aor}>`,
              To: `<${this.callee.aor}>`,
            },
          },
          {
            // drachtio-srf calls cbRequest(err, req) although its typings say (req).
            cbRequest: ((_err: unknown, uacReq: SrfRequest | undefined) => {
              if (!uacReq) return;
              this.#uacRequest = uacReq;
              if (this.#cancelled) uacReq.cancel(() => undefined);
            }) as unknown as (req: SrfRequest) => void,
            cbProvisional: (prov) => {
              if (!this.#cancelled && (prov.status === 180 || prov.status === 183) && !res.finalResponseSent) {
                reply(res, 180);
              }
            },
          },
        );
      } catch (err) {
        if (this.#cancelled) return;
        const status = isSipFailure(err) ? err.status : 500;
        const reason = isSipFailure(err) ? err.reason : undefined;
        this.#log.info('callee did not answer', { status, reason, error: isSipFailure(err) ? undefined : (err as Error).message });
        // A timeout towards a registered contact means the user is not reachable there (any more).
        if (status === 408 || status === 503) reply(res, 480, 'Temporarily Unavailable - user not reachable');
        else if (reason) reply(res, status, reason);
        else reply(res, status);
        this.#end(`callee answered ${status}`);
        return;
      }
      this.#uac = uac;
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
      this.#uas = await srf.createUAS(req, res, { localSdp: answerA, headers: { 'Content-Type': 'application/sdp' } });
      this.#state = 'connected';
      this.#log.info('call connected');
      this.emit('connected');
      this.#wireDialogs();
    } catch (err) {
      this.#log.error('call set-up failed', { error: (err as Error).message });
      if (!res.finalResponseSent && !this.#cancelled) reply(res, 500, 'Server Internal Error - call set-up failed');
      endDialog(this.#uac);
      this.#end('set-up failed');
    }
  }

  /** Ends the call from the focus side (shutdown, admin). */
  hangup(reason = 'ended by the focus'): void {
    if (this.#state === 'ended') return;
    this.#log.info('hanging up', { reason });
    if (!this.#released.has('caller')) endDialog(this.#uas, reason);
    if (!this.#released.has('callee')) endDialog(this.#uac, reason);
    this.#end(reason);
  }

  #wireDialogs(): void {
    const uas = this.#uas!;
    const uac = this.#uac!;
    uas.on('destroy', () => {
      this.#log.info('caller hung up');
      if (!this.#released.has('callee')) endDialog(uac);
      this.#end('caller hung up');
    });
    uac.on('destroy', () => {
      this.#log.info('callee hung up');
      if (!this.#released.has('caller')) endDialog(uas);
      this.#end('callee hung up');
    });
    const onRefer = (side: CallSide) => (req: SrfRequest, res: SrfResponse) => {
      if (this.listenerCount('refer') > 0) this.emit('refer', side, req, res);
      else this.relayRefer(side, req, res);
    };
    uas.on('refer', onRefer('caller'));
    uac.on('refer', onRefer('callee'));
    uas.on('modify', (req, res) => this.#onReoffer(this.#legA!, req, res));
    uac.on('modify', (req, res) => this.#onReoffer(this.#legB!, req, res));
    this.#room!.on('renegotiationneeded', (leg: MediaLeg) => {
      const dialog = leg === this.#legA && !this.#released.has('caller') ? uas : leg === this.#legB && !this.#released.has('callee') ? uac : undefined;
      if (dialog) this.#serialize(() => this.#reoffer(leg, dialog));
    });
  }

  /** A re-INVITE from a party (hold, resume, new media): answer from mediasoup's side. */
  #onReoffer(leg: MediaLeg, req: SrfRequest, res: SrfResponse): void {
    this.#serialize(async () => {
      try {
        await leg.applyRemoteOffer(req.body);
        const answer = await leg.createLocalAnswer();
        reply(res, 200, undefined, { body: answer, headers: { 'Content-Type': 'application/sdp' } });
      } catch (err) {
        this.#log.warn('re-offer refused', { leg: leg.label, error: (err as Error).message });
        reply(res, 488, undefined, { headers: { Warning: mediaWarning(this.#opts.domain, err) } });
      }
    });
  }

  /** The focus re-offers a leg when what it should receive changed (someone joined, left, held). */
  async #reoffer(leg: MediaLeg, dialog: SrfDialog): Promise<void> {
    if (this.#state !== 'connected') return;
    try {
      const offer = await leg.createLocalOffer();
      const answer = await dialog.modify(offer);
      await leg.applyRemoteAnswer(answer);
    } catch (err) {
      await leg.rollbackLocalOffer().catch(() => undefined);
      // A party that just hung up (or was moved into a conference) answers 481: nothing to worry about.
      if (this.#state !== 'connected' || !dialogConnected(dialog)) {
        this.#log.debug('re-offer dropped: the dialog ended meanwhile', { leg: leg.label });
        return;
      }
      this.#log.warn('focus re-offer failed', { leg: leg.label, error: (err as Error).message });
    }
  }

  #serialize(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task, task);
  }

  #end(reason: string): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#room?.close();
    this.#log.info('call ended', { reason, seconds: Math.round((Date.now() - this.startedAt) / 1000) });
    this.emit('ended', reason);
  }
}
