import type { Logger } from '@conclave/log';
import type { SipRequest } from '@conclave/sip-message';
import type { AppConnection } from './control/app-connection.ts';
import { EnhancedEventEmitter } from '@conclave/events';
import { newUuid } from './ids.ts';
import type { SipTimers, TimerSet } from './timers.ts';
import type { Flow } from './transport/flow.ts';

export type ClientTransactionState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export interface ClientTransactionEvents {
  /** Timer B / F fired without a (final) response; the transaction is already terminated. */
  timeout: [];
  /** The transaction ended: the parent forgets it. */
  terminated: [];
}

/** The timer services a transaction runs on (one TimerSet per agent, so close() stops everything). */
export interface TransactionContext {
  timerSet: TimerSet;
  timers: SipTimers;
  log: Logger;
}

/**
 * RFC 3261 §17.1 client transaction (INVITE: calling → proceeding → accepted (RFC 6026) / completed; non-INVITE:
 * trying → proceeding → completed), for a request an app, the proxy or the server itself sent. It owns its
 * retransmission and timeout timers; the agent reads its state and is told of `timeout` and `terminated`.
 */
export class ClientTransaction extends EnhancedEventEmitter<ClientTransactionEvents> {
  readonly id = newUuid();
  readonly key: string;
  readonly request: SipRequest;
  readonly bytes: Buffer;
  readonly method: string;
  readonly flow: Flow;
  /** Undefined for server-originated requests (the BYE after an ACK timeout). */
  readonly app: AppConnection | undefined;
  /** Dialog the request was sent in, for the dialog id field of forwarded responses. */
  readonly dialogId: string | undefined;
  #state: ClientTransactionState;
  provisionalReceived = false;
  /** To tags of 2xx responses already forwarded (absorb retransmissions, pass new forks). */
  readonly acceptedTags = new Set<string>();
  /** Transaction-level ACK for a non-2xx final response, re-sent on retransmissions. */
  ackBytes: Buffer | undefined;
  /** A CANCEL waiting for the first provisional response (RFC 3261 §9.1). */
  pendingCancel: (() => void) | undefined;
  cancelled = false;
  /** Where the branch was sent (proxy result reporting). */
  target = '';
  readonly #ctx: TransactionContext;
  /** RFC 3261 timers, cleared on every state change. */
  #timers: Array<NodeJS.Timeout | undefined> = [];
  /** Proxy provisional/final timeouts: separate from the RFC 3261 timers, which state changes clear. */
  #proxyTimers: Array<NodeJS.Timeout | undefined> = [];

  constructor(
    init: {
      key: string;
      request: SipRequest;
      bytes: Buffer;
      flow: Flow;
      app: AppConnection | undefined;
      dialogId: string | undefined;
    },
    ctx: TransactionContext,
  ) {
    super();
    this.key = init.key;
    this.request = init.request;
    this.bytes = init.bytes;
    this.method = init.request.method;
    this.flow = init.flow;
    this.app = init.app;
    this.dialogId = init.dialogId;
    this.#state = this.method === 'INVITE' ? 'calling' : 'trying';
    this.#ctx = ctx;
  }

  get state(): ClientTransactionState {
    return this.#state;
  }

  /** Still waiting for a final response (INVITE: no provisional either)? */
  get #awaitingFinal(): boolean {
    return this.method === 'INVITE'
      ? this.#state === 'calling'
      : this.#state === 'trying' || this.#state === 'proceeding';
  }

  /** An INVITE still waiting for its final response (calling or proceeding). */
  get unanswered(): boolean {
    return this.method === 'INVITE' && (this.#state === 'calling' || this.#state === 'proceeding');
  }

  /** Send the request and arm Timer A/E (unreliable flows) and Timer B/F. */
  start(): void {
    const { timers, log } = this.#ctx;
    const flow = this.flow;
    if (!flow.send(this.bytes)) {
      log.info('transport failure sending request', {
        method: this.method,
        to: `${flow.remote.host}:${flow.remote.port}`,
      });
    }
    if (!flow.reliable) {
      let interval = timers.T1;
      const retransmit = () => {
        if (!this.#awaitingFinal) return;
        this.flow.send(this.bytes);
        interval = this.method === 'INVITE' ? interval * 2 : Math.min(interval * 2, timers.T2);
        if (this.method !== 'INVITE' && this.#state === 'proceeding') interval = timers.T2;
        this.#timer(interval, retransmit);
      };
      this.#timer(interval, retransmit);
    }
    // Timer B / F: no (final) response in 64*T1 → the parent answers for the network (408).
    this.#timer(64 * timers.T1, () => {
      if (!this.#awaitingFinal) return;
      log.info('request timed out', { method: this.method, callId: this.request.get('call-id') });
      this.terminate();
      this.emit('timeout');
    });
  }

  /** A provisional response: an INVITE stops retransmitting (calling → proceeding); a non-INVITE slows down. */
  proceeding(): void {
    if (this.method === 'INVITE') {
      if (this.#state !== 'calling') return;
      this.#state = 'proceeding';
      this.#clearTimers();
      return;
    }
    if (this.#state === 'trying') this.#state = 'proceeding';
  }

  /** INVITE 2xx (RFC 6026 Accepted): absorb retransmissions and forks for 64*T1 (Timer M). */
  accept(): void {
    this.#clearTimers();
    this.#state = 'accepted';
    this.#timer(64 * this.#ctx.timers.T1, () => this.terminate());
  }

  /** INVITE 3xx-6xx: send the transaction-level ACK, re-sent on retransmissions until Timer D. */
  reject(ackBytes: Buffer): void {
    this.#clearTimers();
    this.#state = 'completed';
    this.ackBytes = ackBytes;
    this.flow.send(ackBytes);
    this.#timer(this.flow.reliable ? 0 : 64 * this.#ctx.timers.T1, () => this.terminate());
  }

  /** Non-INVITE final response (or CANCEL's): Timer K. */
  complete(): void {
    this.#clearTimers();
    this.#state = 'completed';
    this.#timer(this.flow.reliable ? 0 : this.#ctx.timers.T4, () => this.terminate());
  }

  /** A proxy branch timeout (provisional / final), kept across state changes until termination. */
  proxyTimer(ms: number, fn: () => void): void {
    this.#proxyTimers.push(this.#ctx.timerSet.set(ms, fn));
  }

  terminate(): void {
    this.#clearTimers();
    for (const h of this.#proxyTimers) this.#ctx.timerSet.clear(h);
    this.#proxyTimers = [];
    this.#state = 'terminated';
    this.emit('terminated');
  }

  #timer(ms: number, fn: () => void): void {
    this.#timers.push(this.#ctx.timerSet.set(ms, fn));
  }

  #clearTimers(): void {
    for (const h of this.#timers) this.#ctx.timerSet.clear(h);
    this.#timers = [];
  }
}
