import type { SipRequest } from '@conclave/sip-message';
import type { TransactionContext } from './client-transaction.ts';
import type { AppConnection } from './control/app-connection.ts';
import { EnhancedEventEmitter } from '@conclave/events';
import { newUuid } from './ids.ts';
import type { Flow } from './transport/flow.ts';

export type ServerTransactionState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export interface ServerTransactionEvents {
  /** It stopped waiting for a final response (answered, or ended unanswered): the overload count drops. */
  settled: [];
  /** No ACK for our 2xx within 64*T1; the transaction is already terminated. */
  ackTimeout: [];
  /** The transaction ended: the parent forgets it. */
  terminated: [];
}

/**
 * RFC 3261 §17.2 server transaction, with RFC 6026's Accepted state for INVITE 2xx. It owns its timers:
 * response retransmission (Timer G and the 2xx retransmission), Timers H/I/J/L, reliable provisional
 * retransmission until PRACK (RFC 3262), and guards the agent arms on it (app never answers).
 */
export class ServerTransaction extends EnhancedEventEmitter<ServerTransactionEvents> {
  readonly id = newUuid();
  readonly key: string;
  readonly request: SipRequest;
  readonly method: string;
  readonly flow: Flow;
  /** The app handling the request; set late when it is routed over an outbound connection. */
  app: AppConnection | undefined;
  #state: ServerTransactionState = 'proceeding';
  toTag: string | undefined;
  lastResponse: Buffer | undefined;
  lastStatus = 0;
  /** Dialog the request was received in (in-dialog requests). */
  dialogId: string | undefined;
  /** Set once the ACK for a 2xx was forwarded; later copies are absorbed. */
  acked = false;
  /** RFC 3262: last RSeq used for reliable provisional responses. */
  rseq = 0;
  readonly #ctx: TransactionContext;
  #timers: Array<NodeJS.Timeout | undefined> = [];
  /** The reliable provisional awaiting PRACK, with its retransmission timers. */
  #awaitingPrack: { rseq: number; timers: Array<NodeJS.Timeout | undefined> } | undefined;

  constructor(key: string, request: SipRequest, flow: Flow, app: AppConnection | undefined, ctx: TransactionContext) {
    super();
    this.key = key;
    this.request = request;
    this.method = request.method;
    this.flow = flow;
    this.app = app;
    this.#ctx = ctx;
  }

  get state(): ServerTransactionState {
    return this.#state;
  }

  /** Run `fn` after `ms` unless the transaction changes state first (guards: the app never answers). */
  guard(ms: number, fn: () => void): void {
    this.#timer(ms, fn);
  }

  /** Send a response on the transaction; a final one starts Timer G/H (INVITE 3xx-6xx) or J (non-INVITE). */
  sendResponse(bytes: Buffer, status: number): void {
    const { timers, log } = this.#ctx;
    this.flow.send(bytes);
    const settles = status >= 200 && this.lastStatus < 200 && this.#state !== 'terminated';
    this.lastResponse = bytes;
    this.lastStatus = status;
    if (settles) this.emit('settled');
    if (status < 200) return;
    this.#clearTimers();
    const T1 = timers.T1;
    if (this.method === 'INVITE') {
      if (status < 300) {
        this.#state = 'accepted';
        return; // 2xx timers are started by the caller (they need the dialog)
      }
      this.#state = 'completed';
      if (!this.flow.reliable) {
        let interval = T1;
        const retransmit = () => {
          if (this.#state !== 'completed') return;
          this.flow.send(bytes);
          interval = Math.min(interval * 2, timers.T2);
          this.#timer(interval, retransmit);
        };
        this.#timer(interval, retransmit);
      }
      this.#timer(64 * T1, () => {
        if (this.#state === 'completed')
          log.debug('no ACK for final response (Timer H)', { callId: this.request.get('call-id') });
        this.terminate();
      });
      return;
    }
    this.#state = 'completed';
    this.#timer(this.flow.reliable ? 0 : 64 * T1, () => this.terminate());
  }

  /** 2xx to INVITE: retransmit until ACK (T1 doubling, capped at T2); `ackTimeout` at 64*T1. */
  startAcceptedTimers(): void {
    const { timers } = this.#ctx;
    const bytes = this.lastResponse!;
    if (!this.flow.reliable) {
      let interval = timers.T1;
      const retransmit = () => {
        if (this.acked || this.#state !== 'accepted') return;
        this.flow.send(bytes);
        interval = Math.min(interval * 2, timers.T2);
        this.#timer(interval, retransmit);
      };
      this.#timer(interval, retransmit);
    }
    this.#timer(64 * timers.T1, () => {
      if (this.acked) return;
      this.#clearTimers();
      this.terminate();
      this.emit('ackTimeout');
    });
  }

  /** The ACK for a non-2xx final response (RFC 3261 §17.2.1): Confirmed, then Timer I. */
  ackedNon2xx(reliable: boolean): void {
    if (this.#state !== 'completed') return;
    this.#state = 'confirmed';
    this.#clearTimers();
    this.#timer(reliable ? 0 : this.#ctx.timers.T4, () => this.terminate());
  }

  /** The 2xx needs no more retransmission (ACKed, passed end to end, or its dialog is gone): absorb INVITE copies for Timer L. */
  absorbRetransmissions(): void {
    this.acked = true;
    this.#clearTimers();
    this.#timer(64 * this.#ctx.timers.T1, () => this.terminate());
  }

  /** RFC 3262: retransmit a reliable provisional (T1 doubling) until PRACKed, a final response, or 64*T1. */
  retransmitReliable(bytes: Buffer): void {
    if (this.#awaitingPrack) this.#clear(this.#awaitingPrack.timers);
    const pending = { rseq: this.rseq, timers: [] as Array<NodeJS.Timeout | undefined> };
    this.#awaitingPrack = pending;
    if (this.flow.reliable) return;
    const { timerSet, timers } = this.#ctx;
    let interval = timers.T1;
    const started = Date.now();
    const again = () => {
      if (this.#awaitingPrack !== pending || this.lastStatus >= 200) return;
      if (Date.now() - started >= 64 * timers.T1) return;
      this.flow.send(bytes);
      interval *= 2;
      pending.timers.push(timerSet.set(interval, again));
    };
    pending.timers.push(timerSet.set(interval, again));
  }

  /** A PRACK (RAck: rseq cseq method) for our reliable provisional: stop retransmitting it. */
  prack(rseq: number, cseq: number): void {
    if (this.method !== 'INVITE' || !this.#awaitingPrack || this.#awaitingPrack.rseq !== rseq) return;
    if (this.request.cseq.seq !== cseq) return;
    this.#clear(this.#awaitingPrack.timers);
    this.#awaitingPrack = undefined;
  }

  terminate(): void {
    this.#clearTimers();
    if (this.#awaitingPrack) this.#clear(this.#awaitingPrack.timers);
    if (this.#state === 'terminated') return;
    if (this.lastStatus < 200) this.emit('settled');
    this.#state = 'terminated';
    this.emit('terminated');
  }

  #timer(ms: number, fn: () => void): void {
    this.#timers.push(this.#ctx.timerSet.set(ms, fn));
  }

  #clearTimers(): void {
    this.#clear(this.#timers);
    this.#timers = [];
  }

  #clear(list: Array<NodeJS.Timeout | undefined>): void {
    for (const h of list) this.#ctx.timerSet.clear(h);
    list.length = 0;
  }
}
