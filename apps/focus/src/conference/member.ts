/**
 * A conference member as the focus sees it: one participant's SIP dialog (with the focus's Contact
 * carrying ;isfocus) and its WebRTC leg in the conference's media room. Offers and answers on the
 * dialog are serialized; re-offers are the focus's answer to the room changing.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '@conclave/log';
import { NegotiationStateError, type MediaLeg } from '@conclave/media';
import { mediaWarning } from '../call.ts';
import { dialogConnected, endDialog, isSipFailure, reply, type SrfDialog, type SrfRequest, type SrfResponse } from '../srf.ts';

type MemberEvents = {
  /** The participant hung up (BYE) or the dialog failed. */
  left: [why: 'bye' | 'failed'];
  held: [];
  resumed: [];
  /** An in-dialog REFER addressed to the focus (dial-out or removal). */
  refer: [req: SrfRequest, res: SrfResponse];
};

export interface MemberOptions {
  participantId: string;
  /** The participant's SIP URI (address of record). */
  aor: string;
  /** Local user name when the participant is one of ours. */
  user: string | undefined;
  dialog: SrfDialog;
  leg: MediaLeg;
  /** The focus's Contact for this conference: `<conference-uri>;isfocus`. */
  focusContact: string;
  domain: string;
  /** The dialog was just answered by the focus: no re-INVITE before the peer's ACK (RFC 3261 §14.1). */
  awaitAck?: boolean;
  logger: Logger;
}

const ACK_WAIT_MS = 5000;

export class Member extends EventEmitter<MemberEvents> {
  readonly participantId: string;
  readonly aor: string;
  readonly user: string | undefined;
  readonly leg: MediaLeg;
  readonly #dialog: SrfDialog;
  readonly #opts: MemberOptions;
  readonly #log: Logger;
  #queue: Promise<void> = Promise.resolve();
  #gone = false;

  constructor(options: MemberOptions) {
    super();
    this.#opts = options;
    this.participantId = options.participantId;
    this.aor = options.aor;
    this.user = options.user;
    this.leg = options.leg;
    this.#dialog = options.dialog;
    this.#log = options.logger.child({ callId: options.dialog.sip.callId, participant: options.aor });
    this.#dialog.on('destroy', () => this.#leave('bye'));
    this.#dialog.on('modify', (req: SrfRequest, res: SrfResponse) => this.#onReoffer(req, res));
    this.#dialog.on('refer', (req: SrfRequest, res: SrfResponse) => this.emit('refer', req, res));
    // The focus holds no subscription to its members: a NOTIFY from one (e.g. a stray conference-info
    // document) is refused and goes nowhere else.
    this.#dialog.on('notify', (req: SrfRequest, res: SrfResponse) => {
      this.#log.info('unexpected NOTIFY from a participant refused', { event: req.get('Event') });
      reply(res, 481, 'Subscription Does Not Exist');
    });
    this.leg.on('held', () => this.emit('held'));
    this.leg.on('resumed', () => this.emit('resumed'));
    if (options.awaitAck) {
      this.#queue = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ACK_WAIT_MS);
        this.#dialog.once('ack', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  get dialog(): SrfDialog {
    return this.#dialog;
  }

  get callId(): string {
    return this.#dialog.sip.callId;
  }

  get gone(): boolean {
    return this.#gone;
  }

  /** Re-offers the leg (the room changed: someone joined, left, or started video). */
  renegotiate(): void {
    this.#serialize(() => this.#reoffer(0));
  }

  /** Ends the member's call from the focus side. */
  hangup(reason: string): void {
    if (this.#gone) return;
    this.#log.info('focus ends participant call', { reason });
    endDialog(this.#dialog, reason);
    this.#leave('bye');
  }

  #onReoffer(req: SrfRequest, res: SrfResponse): void {
    this.#serialize(async () => {
      try {
        await this.leg.applyRemoteOffer(req.body);
        const answer = await this.leg.createLocalAnswer();
        reply(res, 200, undefined, { body: answer, headers: { 'Content-Type': 'application/sdp', Contact: this.#opts.focusContact } });
      } catch (err) {
        if (err instanceof NegotiationStateError) {
          reply(res, 491, 'Request Pending');
          return;
        }
        this.#log.warn('participant re-offer refused', { error: (err as Error).message });
        reply(res, 488, undefined, { headers: { Warning: mediaWarning(this.#opts.domain, err) } });
      }
    });
  }

  async #reoffer(attempt: number): Promise<void> {
    if (this.#gone || !dialogConnected(this.#dialog)) return;
    let offer: string;
    try {
      offer = await this.leg.createLocalOffer();
    } catch (err) {
      this.#log.warn('cannot build re-offer', { error: (err as Error).message });
      return;
    }
    try {
      const answer = await this.#dialog.modify(offer, { headers: { Contact: this.#opts.focusContact } } as unknown as { noAck: boolean });
      await this.leg.applyRemoteAnswer(answer);
    } catch (err) {
      await this.leg.rollbackLocalOffer().catch(() => undefined);
      if (isSipFailure(err) && err.status === 491 && attempt < 5) {
        // Glare: both sides offered at once. Back off a little and try again (RFC 3261 §14.1).
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
        return this.#reoffer(attempt + 1);
      }
      const status = isSipFailure(err) ? err.status : undefined;
      if (this.#gone || !dialogConnected(this.#dialog)) {
        this.#log.debug('re-offer dropped: the participant left meanwhile', { error: (err as Error).message });
        return;
      }
      this.#log.warn('focus re-offer failed', { status, error: (err as Error).message });
      if (status === 481 || status === 408) this.#leave('failed');
    }
  }

  #serialize(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task, task);
  }

  #leave(why: 'bye' | 'failed'): void {
    if (this.#gone) return;
    this.#gone = true;
    this.leg.close();
    this.emit('left', why);
  }
}
