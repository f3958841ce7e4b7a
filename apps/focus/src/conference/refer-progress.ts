/**
 * Reports the progress of a REFER the focus accepted (RFC 3515 §2.4.5): NOTIFYs with Event: refer and
 * a message/sipfrag body — 100 Trying first, then the final status, the last one with
 * Subscription-State: terminated. The implicit subscription lives in the dialog the REFER came on.
 */
import { SerialQueue } from '@conclave/events';
import type { Logger } from '@conclave/log';
import { reasonPhrase } from '@conclave/sip-message';
import { dialogConnected, forgetReferDialog, requestInDialog, type SrfDialog, type SrfRequest } from '../srf.ts';

export class ReferProgress {
  readonly #dialog: SrfDialog;
  readonly #log: Logger;
  readonly #event: string;
  #done = false;
  readonly #queue = new SerialQueue();
  readonly #ownsDialog: boolean;

  /**
   * `referRequest` is the REFER; its CSeq becomes the `id` of the refer event (RFC 3515 §2.4.6).
   * `ownsDialog`: the dialog exists only for this REFER's subscription (a REFER outside any dialog).
   */
  constructor(dialog: SrfDialog, referRequest: SrfRequest, logger: Logger, { ownsDialog = false } = {}) {
    this.#dialog = dialog;
    this.#ownsDialog = ownsDialog;
    this.#log = logger;
    const cseq = parseInt(referRequest.get('CSeq'), 10);
    this.#event = Number.isFinite(cseq) ? `refer;id=${cseq}` : 'refer';
  }

  get done(): boolean {
    return this.#done;
  }

  trying(): void {
    this.#notify(100, 'active;expires=60');
  }

  /** The final outcome (2xx success, anything else failure); ends the implicit subscription. */
  final(status: number, reason = reasonPhrase(status)): void {
    if (this.#done) return;
    this.#done = true;
    this.#notify(status, 'terminated;reason=noresource', reason);
    if (this.#ownsDialog) void this.#queue.push(() => Promise.resolve(forgetReferDialog(this.#dialog)));
  }

  #notify(status: number, state: string, reason = reasonPhrase(status)): void {
    void this.#queue.push(async () => {
      if (!dialogConnected(this.#dialog)) return;
      try {
        await requestInDialog(this.#dialog, {
          method: 'NOTIFY',
          headers: { Event: this.#event, 'Subscription-State': state, 'Content-Type': 'message/sipfrag;version=2.0' },
          body: `SIP/2.0 ${status} ${reason}\r\n`,
        });
      } catch (err) {
        this.#log.info('refer NOTIFY not delivered', { status, error: (err as Error).message });
      }
    });
  }
}
