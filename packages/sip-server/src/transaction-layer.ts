import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from '@conclave/log';
import { viaBranch, type SipRequest } from '@conclave/sip-message';
import type { AppConnection } from './control/app-connection.ts';
import type { Limits } from './limits.ts';
import { buildCancel, buildLocalResponse, buildStatelessResponse } from './messages.ts';
import type { AgentStats } from './stats.ts';
import { ClientTransaction, ServerTransaction, type TransactionContext } from './transactions.ts';
import type { Flow } from './transport/flow.ts';

export interface TransactionLayerEvents {
  /** Timer B / F fired on a client transaction (already terminated): its requester gets a 408. */
  clientTimeout: [ct: ClientTransaction];
  /** The server itself answered an INVITE from the network with a final response (call detail records). */
  localFinalResponse: [st: ServerTransaction, bytes: Buffer, status: number];
}

/** The transaction part of the agent's stats. */
export type TransactionStats = Pick<
  AgentStats,
  'transactions' | 'serverTransactions' | 'clientTransactions' | 'pendingInvites' | 'pendingRequests' | 'pendingSources'
>;

/**
 * The transaction layer (RFC 3261 §17): the live client and server transactions by matching key and by
 * drachtio transaction id, the overload limits on new server transactions, and the answers the server gives
 * on its own. The transactions own their state machines and timers; this parent indexes them, forgets them
 * when they terminate and reports a client timeout as `clientTimeout`.
 */
export class TransactionLayer extends EnhancedEventEmitter<TransactionLayerEvents> {
  readonly #log: Logger;
  readonly #limits: Limits;
  readonly #ctx: TransactionContext;
  readonly #serverByKey = new Map<string, ServerTransaction>();
  readonly #serverById = new Map<string, ServerTransaction>();
  readonly #clientByKey = new Map<string, ClientTransaction>();
  readonly #clientById = new Map<string, ClientTransaction>();
  readonly #pendingBySource = new Map<string, number>();
  /** Server transactions without a final response yet, from every source. */
  #pendingTotal = 0;

  constructor(opts: { log: Logger; limits: Limits; context: TransactionContext }) {
    super();
    this.#log = opts.log;
    this.#limits = opts.limits;
    this.#ctx = opts.context;
  }

  get stats(): TransactionStats {
    let pendingInvites = 0;
    for (const st of this.#serverById.values()) {
      if (st.method === 'INVITE' && st.lastStatus < 200) pendingInvites++;
    }
    for (const ct of this.#clientById.values()) {
      if (ct.method === 'INVITE' && (ct.state === 'calling' || ct.state === 'proceeding')) pendingInvites++;
    }
    return {
      transactions: this.#serverById.size + this.#clientById.size,
      serverTransactions: this.#serverById.size,
      clientTransactions: this.#clientById.size,
      pendingInvites,
      pendingRequests: this.#pendingTotal,
      pendingSources: this.#pendingBySource.size,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Server transactions
  // ---------------------------------------------------------------------------------------------

  server(key: string): ServerTransaction | undefined {
    return this.#serverByKey.get(key);
  }

  serverById(id: string): ServerTransaction | undefined {
    return this.#serverById.get(id);
  }

  /** A snapshot: callers may end transactions while they iterate. */
  servers(): ServerTransaction[] {
    return [...this.#serverById.values()];
  }

  /**
   * Beyond the limits on concurrent server transactions (in all, tracked, or from this source)? Then the
   * request has been answered 503 statelessly and must not start a transaction.
   */
  refuseOverload(req: SipRequest, flow: Flow): boolean {
    const method = req.method;
    if (
      this.#pendingTotal >= this.#limits.maxServerTransactions ||
      this.#serverById.size >= this.#limits.maxTrackedServerTransactions
    ) {
      this.#log.warn('too many concurrent server transactions, rejecting', {
        pending: this.#pendingTotal,
        tracked: this.#serverById.size,
        limit: this.#limits.maxServerTransactions,
        method,
      });
      this.respondStateless(req, flow, 503, 'Service Unavailable', { 'Retry-After': '5' });
      return true;
    }
    const perSource = this.#limits.maxTransactionsPerSource;
    if (perSource > 0 && (this.#pendingBySource.get(flow.remote.host) ?? 0) >= perSource) {
      this.#log.warn('too many concurrent transactions from one source, rejecting', {
        source: flow.remote.host,
        limit: perSource,
        method,
      });
      this.respondStateless(req, flow, 503, 'Service Unavailable', { 'Retry-After': '5' });
      return true;
    }
    return false;
  }

  newServer(key: string, req: SipRequest, flow: Flow, app: AppConnection | undefined): ServerTransaction {
    const st = new ServerTransaction(key, req, flow, app, this.#ctx);
    this.#serverByKey.set(key, st);
    this.#serverById.set(st.id, st);
    this.#trackPending(st, 1);
    st.on('settled', () => this.#trackPending(st, -1));
    st.on('terminated', () => {
      if (this.#serverByKey.get(st.key) === st) this.#serverByKey.delete(st.key);
      this.#serverById.delete(st.id);
    });
    return st;
  }

  /** The server answers a request itself (100 Trying, 487, 481, 503...), unless it already has a final response. */
  respondLocally(st: ServerTransaction, status: number, reason?: string, extra: Record<string, string> = {}): void {
    if (st.lastStatus >= 200) return;
    const bytes = buildLocalResponse(st, status, reason, extra);
    st.sendResponse(bytes, status);
    if (status >= 200) this.emit('localFinalResponse', st, bytes, status);
  }

  /** A response without a transaction (malformed requests, overload): best effort. */
  respondStateless(
    req: SipRequest,
    flow: Flow,
    status: number,
    reason: string,
    extra: Record<string, string> = {},
  ): void {
    try {
      if (req.method === 'ACK') return;
      const bytes = buildStatelessResponse(req, flow, status, reason, extra);
      if (bytes) flow.send(bytes);
    } catch (err) {
      this.#log.debug('could not build stateless response', { err });
    }
  }

  /** Unanswered server transactions per source address (for the per-source limit). */
  #trackPending(st: ServerTransaction, delta: 1 | -1): void {
    const host = st.flow.remote.host;
    this.#pendingTotal = Math.max(0, this.#pendingTotal + delta);
    const n = (this.#pendingBySource.get(host) ?? 0) + delta;
    if (n <= 0) this.#pendingBySource.delete(host);
    else this.#pendingBySource.set(host, n);
  }

  // ---------------------------------------------------------------------------------------------
  // Client transactions
  // ---------------------------------------------------------------------------------------------

  client(key: string): ClientTransaction | undefined {
    return this.#clientByKey.get(key);
  }

  clientById(id: string): ClientTransaction | undefined {
    return this.#clientById.get(id);
  }

  /** A snapshot: callers may end transactions while they iterate. */
  clients(): ClientTransaction[] {
    return [...this.#clientById.values()];
  }

  /** Send a request on a new client transaction (for an app, the proxy, or the server itself). */
  startClient(
    req: SipRequest,
    bytes: Buffer,
    flow: Flow,
    app: AppConnection | undefined,
    dialogId: string | undefined,
  ): ClientTransaction {
    const branch = viaBranch(req.topVia!) ?? '';
    const ct = new ClientTransaction(
      { key: `${branch}|${req.method}`, request: req, bytes, flow, app, dialogId },
      this.#ctx,
    );
    this.#clientByKey.set(ct.key, ct);
    this.#clientById.set(ct.id, ct);
    ct.on('terminated', () => {
      if (this.#clientByKey.get(ct.key) === ct) this.#clientByKey.delete(ct.key);
      this.#clientById.delete(ct.id);
    });
    ct.on('timeout', () => this.emit('clientTimeout', ct));
    ct.start();
    return ct;
  }

  /**
   * CANCEL an INVITE client transaction (RFC 3261 §9.1): now if it had a provisional response, else once it
   * does. Returns the CANCEL's bytes (the app is told what was sent).
   */
  cancel(inv: ClientTransaction, extra?: SipRequest): Buffer {
    const r = inv.request;
    const cancel = buildCancel(r, extra);
    const bytes = cancel.toBuffer();
    const ctKey = `${viaBranch(r.topVia!) ?? ''}|CANCEL`;
    inv.cancelled = true;
    const send = () => {
      if (this.#clientByKey.has(ctKey)) return;
      this.startClient(cancel, bytes, inv.flow, undefined, undefined);
    };
    if (inv.provisionalReceived) send();
    else inv.pendingCancel = send;
    return bytes;
  }
}
