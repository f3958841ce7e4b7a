import net from 'node:net';
import type { Logger } from '@conclave/log';
import {
  SipParseError,
  SipRequest,
  SipResponse,
  canonicalHeaderName,
  formatNameAddr,
  formatVia,
  normalizeHeaderName,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  parseVia,
  reasonPhrase,
  tagOf,
  tryParseSipUri,
  viaBranch,
  type NameAddr,
  type SipMessage,
  type Via,
} from '@conclave/sip-message';
import { AppConnection, type AppCommand } from './control/app-connection.ts';
import { AppHub } from './control/app-hub.ts';
import {
  hostportsOf,
  parseProxyCommand,
  parseSipCommand,
  requestSentFields,
  responseSentFields,
  unsolicitedFrame,
} from './control/wire-protocol.ts';
import { Destinations } from './destinations.ts';
import { Dialog, DialogTable, dialogIdOf } from './dialogs.ts';
import {
  SERVER_OWNED,
  buildNon2xxAck,
  copyAppHeaders,
  copyVias,
  defaultContact,
  firstContactUri,
  formatContact,
  isStream,
  localizeAddress,
  ourVia,
  parseAppMessage,
  parseNameAddrSafe,
  safeTag,
  serverKey,
  stampVia,
  stampViaObject,
  withTag,
} from './header-policy.ts';
import { ProxyCore } from './proxy/proxy-core.ts';
import { ProxyOperation } from './proxy/proxy-operation.ts';
import { CSeqCounter, CallIdGenerator, newBranch, newTag, newUuid } from './ids.ts';
import type { Limits } from './limits.ts';
import type { AgentStats } from './stats.ts';
import { TimerSet, type SipTimers } from './timers.ts';
import { ClientTransaction, type TransactionContext } from './client-transaction.ts';
import { ServerTransaction } from './server-transaction.ts';
import { wireTransport, type Flow, type FlowTable, type HostPort } from './transport/flow.ts';
import type { StreamTransport } from './transport/tcp.ts';
import type { UdpTransport } from './transport/udp.ts';

/** Methods whose requests/responses carry a default Contact when the app gives none. */
const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

export interface AgentTransports {
  udp?: UdpTransport;
  tcp?: StreamTransport;
  tls?: StreamTransport;
  ws?: { local: HostPort };
  wss?: { local: HostPort };
}

/** What an outbound router sees of a new incoming request. */
export interface OutboundRequestInfo {
  method: string;
  uri: string;
  from: string;
  to: string;
  callId: string;
  source: HostPort;
}

/**
 * Outbound connection mode (apps using `srf.listen`): for a new out-of-dialog request, return where an
 * app listens to have the server connect there and hand the request over; undefined = route as usual.
 */
export type OutboundRouter = (info: OutboundRequestInfo) => HostPort | undefined | Promise<HostPort | undefined>;

export interface AgentOptions {
  log: Logger;
  timers: SipTimers;
  flows: FlowTable;
  transports: AgentTransports;
  limits: Limits;
  secret: string;
  version: string;
  outbound?: OutboundRouter;
  /** Called when an app authenticates / its connection closes. */
  onAppConnected?: (app: AppConnection) => void;
  onAppDisconnected?: (app: AppConnection) => void;
}

interface Counters {
  requestsIn: number;
  responsesIn: number;
  malformed: number;
}

/**
 * The SIP engine: transaction and dialog layer between the network (UDP/TCP/WS flows) and the
 * drachtio-srf apps on the control port, speaking the drachtio wire protocol as drachtio-server does.
 */
export class Agent {
  readonly #log: Logger;
  readonly #timers: SipTimers;
  readonly #flows: FlowTable;
  readonly #transports: AgentTransports;
  readonly #limits: Limits;
  readonly #opts: AgentOptions;
  readonly #timerSet = new TimerSet();
  readonly #dialogs = new DialogTable();
  readonly #serverByKey = new Map<string, ServerTransaction>();
  readonly #serverById = new Map<string, ServerTransaction>();
  readonly #clientByKey = new Map<string, ClientTransaction>();
  readonly #clientById = new Map<string, ClientTransaction>();
  /** Dialog ids of app INVITEs that failed, so the app's ACK for them is recognised and absorbed. */
  readonly #failedInvites = new Map<string, number>();
  readonly #pendingBySource = new Map<string, number>();
  /** Server transactions without a final response yet, from every source. */
  #pendingTotal = 0;
  /** Outbound connections not yet authenticated, with the request waiting for them. */
  readonly #outboundPending = new Map<AppConnection, ServerTransaction>();
  readonly #hub: AppHub;
  readonly #dest: Destinations;
  readonly #proxy: ProxyCore;
  readonly #txnContext: TransactionContext;
  readonly #callIds = new CallIdGenerator();
  readonly #cseq = new CSeqCounter();
  readonly counters: Counters = { requestsIn: 0, responsesIn: 0, malformed: 0 };
  #closed = false;

  constructor(opts: AgentOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#timers = opts.timers;
    this.#flows = opts.flows;
    this.#transports = opts.transports;
    this.#limits = opts.limits;
    this.#txnContext = { timerSet: this.#timerSet, timers: opts.timers, log: opts.log };
    this.#dest = new Destinations({
      log: opts.log,
      flows: opts.flows,
      transports: opts.transports,
      isClosed: () => this.#closed,
    });
    this.#proxy = new ProxyCore({
      log: opts.log,
      timers: opts.timers,
      setTimer: (ms, fn) => this.#timerSet.set(ms, fn),
      withFlow: (uri, preferred, cb) => this.#dest.withFlow(uri, preferred, cb),
      startClient: (req, bytes, flow, app, dialogId) => this.#startClient(req, bytes, flow, app, dialogId),
      cancelClient: (ct) => this.#cancelClient(ct),
      sendResponseOnTxn: (st, bytes, status) => this.#sendResponseOnTxn(st, bytes, status),
      localResponse: (req, status, reason) => this.#localResponse(req, status, reason),
    });
    this.#hub = new AppHub({
      secret: opts.secret,
      version: opts.version,
      hostports: () => hostportsOf(this.#transports),
    });
    this.#hub.on('authenticated', (app) => this.#onAppAuthenticated(app));
    this.#hub.on('closed', (app) => this.#onAppClosed(app));
    this.#hub.on('command', (app, cmd) =>
      cmd.type === 'proxy' ? this.#onAppProxy(app, cmd) : this.#onAppSip(app, cmd),
    );
  }

  /** Live state sizes, for /metrics and leak checks. */
  get stats(): AgentStats {
    let pendingInvites = 0;
    let proxyOperations = 0;
    for (const st of this.#serverById.values()) {
      if (st.method === 'INVITE' && st.lastStatus < 200) pendingInvites++;
      if (st.proxy && !st.proxy.finished) proxyOperations++;
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
      dialogs: this.#dialogs.size,
      proxyOperations,
      apps: this.#hub.size,
      timers: this.#timerSet.size,
    };
  }

  /**
   * A connection (TCP/TLS/WS) closed: an INVITE sent over it can never be answered, so its
   * transaction ends now with a 503 to the app (RFC 3261 §8.1.3.1 treats a transport error like a
   * 503) instead of waiting for a response that cannot come. Non-INVITEs end by Timer F anyway.
   */
  flowClosed(flow: Flow): void {
    for (const ct of [...this.#clientById.values()]) {
      if (ct.flow === flow && ct.unanswered)
        this.#abandonClient(ct, 503, 'Service Unavailable', 'its connection closed');
    }
  }

  close(): void {
    this.#closed = true;
    this.#timerSet.close();
    this.#hub.close();
  }

  // ---------------------------------------------------------------------------------------------
  // App connections
  // ---------------------------------------------------------------------------------------------

  attachApp(app: AppConnection): void {
    this.#hub.attach(app);
  }

  #onAppAuthenticated(app: AppConnection): void {
    this.#opts.onAppConnected?.(app);
    const waiting = this.#outboundPending.get(app);
    if (waiting) {
      this.#outboundPending.delete(app);
      this.#handOver(waiting, app);
    }
  }

  #onAppClosed(app: AppConnection): void {
    const waiting = this.#outboundPending.get(app);
    if (waiting) {
      this.#outboundPending.delete(app);
      this.#log.info('outbound connection to app failed, answering 480', { remote: app.remote });
      this.#respondLocally(waiting, 480);
    }
    // Pending incoming requests the app will never answer: fail them now rather than leak them.
    for (const st of [...this.#serverById.values()]) {
      if (st.app === app && st.lastStatus < 200 && st.method !== 'ACK') {
        this.#respondLocally(st, 503, undefined, { 'Retry-After': '5' });
      }
    }
    for (const d of this.#dialogs.ownedBy(app)) this.#removeDialog(d);
    if (app.authenticated) {
      app.log.info('app disconnected');
      this.#opts.onAppDisconnected?.(app);
    }
  }

  /** `proxy|<txnId>|remainInDialog|fullResponse|followRedirects|simultaneous/serial|provTimeout|finalTimeout|dest...` */
  #onAppProxy(app: AppConnection, cmd: AppCommand): void {
    const { txnId, opts, targets } = parseProxyCommand(cmd.args);
    const st = this.#serverById.get(txnId);
    if (!st || st.app !== app) {
      app.respond(cmd.msgId, 'NOK', 'unknown transaction id');
      return;
    }
    if (st.lastStatus >= 200 || st.proxy) {
      app.respond(cmd.msgId, 'NOK', 'transaction already answered or proxied');
      return;
    }
    if (!targets.length) {
      app.respond(cmd.msgId, 'NOK', 'no destination');
      return;
    }
    const op = new ProxyOperation(st, app, cmd.msgId, opts, targets);
    try {
      const template = parseAppMessage(cmd.body);
      for (const h of template.headers) {
        const norm = normalizeHeaderName(h.name);
        if (SERVER_OWNED.has(norm) || norm === 'record-route' || norm === 'content-type') continue;
        op.templateHeaders.push({ name: canonicalHeaderName(h.name), value: h.value });
      }
    } catch {
      // headers are optional
    }
    st.proxy = op;
    app.log.debug('proxying request', {
      method: st.method,
      targets: targets.join(','),
      fork: opts.simultaneous ? 'simultaneous' : 'serial',
    });
    this.#proxy.next(op);
  }

  #onAppSip(app: AppConnection, cmd: AppCommand): void {
    const { txnId, dialogId, proxy } = parseSipCommand(cmd.args);
    let msg: SipMessage;
    try {
      msg = parseAppMessage(cmd.body);
    } catch (err) {
      app.log.warn('app sent an unparseable SIP message', { err: (err as Error).message });
      app.respond(cmd.msgId, 'NOK', `unable to parse sip message: ${(err as Error).message}`);
      return;
    }
    if (msg.kind === 'response') {
      this.#appResponse(app, cmd.msgId, txnId, msg);
      return;
    }
    if (msg.method === 'CANCEL' && txnId) {
      this.#appCancel(app, cmd.msgId, txnId, msg);
      return;
    }
    if (dialogId) {
      this.#appRequestInDialog(app, cmd.msgId, dialogId, msg);
      return;
    }
    this.#appRequestOutOfDialog(app, cmd.msgId, msg, proxy);
  }

  // ---------------------------------------------------------------------------------------------
  // Network → agent
  // ---------------------------------------------------------------------------------------------

  /** Entry point for every SIP message a transport received. Never throws. */
  receive(data: Buffer, flow: Flow): void {
    if (this.#closed) return;
    try {
      this.#receive(data, flow);
    } catch (err) {
      this.#log.error('internal error handling SIP message', {
        err,
        from: `${flow.remote.host}:${flow.remote.port}`,
        stack: (err as Error).stack,
      });
    }
  }

  #receive(data: Buffer, flow: Flow): void {
    const from = `${flow.transport}:${flow.remote.host}:${flow.remote.port}`;
    if (data.length > this.#limits.maxMessageSize) {
      this.counters.malformed++;
      this.#log.warn('SIP message too large, answering 513', {
        from,
        bytes: data.length,
        limit: this.#limits.maxMessageSize,
      });
      let partial: unknown;
      try {
        partial = parseMessage(data, { stream: isStream(flow) });
      } catch (err) {
        partial = err instanceof SipParseError ? err.partial : undefined;
      }
      if (partial instanceof SipRequest) this.#respondStateless(partial, flow, 513, 'Message Too Large');
      return;
    }
    let msg: SipMessage;
    try {
      msg = parseMessage(data, { stream: isStream(flow), maxHeaders: this.#limits.maxHeaders });
    } catch (err) {
      this.counters.malformed++;
      if (!(err instanceof SipParseError)) throw err;
      this.#log.info('malformed SIP message', { from, reason: err.reason, detail: err.message });
      if (err.partial instanceof SipRequest && err.partial.method !== 'ACK') {
        this.#respondStateless(err.partial, flow, 400, err.reason);
      }
      return;
    }
    if (msg.kind === 'request') {
      this.counters.requestsIn++;
      this.#onNetworkRequest(msg, flow);
    } else {
      this.counters.responsesIn++;
      this.#onNetworkResponse(msg, flow);
    }
  }

  #onNetworkRequest(req: SipRequest, flow: Flow): void {
    stampVia(req, flow);
    if (flow.reliable) this.#learnAliases(req, flow);
    const method = req.method;
    const topVia = req.topVia!;
    const mf = req.get('max-forwards');
    if (mf !== undefined && Number(mf) === 0 && method !== 'ACK') {
      this.#respondStateless(req, flow, 483, 'Too Many Hops');
      return;
    }
    if (this.#dest.popOwnRoutes(req) && !this.#isLocalTarget(req)) {
      const key = serverKey(req, topVia, method, flow);
      if (method !== 'ACK' && this.#serverByKey.has(key)) {
        const existing = this.#serverByKey.get(key)!;
        if (existing.lastResponse) existing.flow.send(existing.lastResponse);
        return;
      }
      if (method === 'CANCEL') {
        this.#onNetworkCancel(req, flow, topVia);
        return;
      }
      this.#relay(req, flow, key);
      return;
    }
    if (method === 'ACK') {
      this.#onNetworkAck(req, flow, topVia);
      return;
    }
    const key = serverKey(req, topVia, method, flow);
    const existing = this.#serverByKey.get(key);
    if (existing) {
      // Retransmission: repeat the last response, never bother the app again.
      if (existing.lastResponse) existing.flow.send(existing.lastResponse);
      return;
    }
    if (method === 'CANCEL') {
      this.#onNetworkCancel(req, flow, topVia);
      return;
    }
    const toTag = req.toTag;
    if (toTag) {
      this.#onNetworkInDialog(req, flow, key, toTag);
      return;
    }
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
      this.#respondStateless(req, flow, 503, 'Service Unavailable', { 'Retry-After': '5' });
      return;
    }
    const perSource = this.#limits.maxTransactionsPerSource;
    if (perSource > 0 && this.#countFromSource(flow.remote.host) >= perSource) {
      this.#log.warn('too many concurrent transactions from one source, rejecting', {
        source: flow.remote.host,
        limit: perSource,
        method,
      });
      this.#respondStateless(req, flow, 503, 'Service Unavailable', { 'Retry-After': '5' });
      return;
    }
    if (this.#opts.outbound && this.#routeOutbound(req, flow, key)) return;
    const app = this.#hub.pick(method.toLowerCase());
    if (!app) {
      this.#log.info(`no connected app for incoming ${method}`, { callId: req.get('call-id') });
      const st = this.#newServerTxn(key, req, flow, undefined);
      this.#respondLocally(st, 503);
      return;
    }
    const st = this.#newServerTxn(key, req, flow, app);
    if (method === 'INVITE') this.#respondLocally(st, 100);
    this.#handOver(st, app);
  }

  /** Give a new incoming request to its app: guard timers, then `sip|network|…` with the local address. */
  #handOver(st: ServerTransaction, app: AppConnection): void {
    const req = st.request;
    const flow = st.flow;
    st.app = app;
    if (st.method === 'INVITE') {
      st.guard(this.#timers.inviteServerTimeout, () => {
        if (st.lastStatus < 200 && st.state !== 'terminated') {
          this.#log.warn('app never answered INVITE, sending 408', { callId: req.get('call-id') });
          this.#respondLocally(st, 408);
        }
      });
    } else {
      // An app that never answers a non-INVITE request: drop the transaction after 64*T1.
      st.guard(64 * this.#timers.T1 + this.#timers.T4, () => {
        if (st.lastStatus < 200) st.terminate();
      });
    }
    const local = flow.local;
    const bytes = req.toBuffer();
    this.#sendToApp(
      app,
      'network',
      bytes,
      wireTransport(flow.transport),
      flow.remote,
      st.id,
      '',
      `${local.host}|${local.port}|`,
    );
    if (st.method === 'INVITE') this.#cdr('attempt', 'network', bytes);
  }

  /** Outbound mode: ask the router; if it names an app, connect there and hand the request over once authenticated. */
  #routeOutbound(req: SipRequest, flow: Flow, key: string): boolean {
    const info: OutboundRequestInfo = {
      method: req.method,
      uri: req.uri,
      from: req.get('from') ?? '',
      to: req.get('to') ?? '',
      callId: req.get('call-id') ?? '',
      source: flow.remote,
    };
    let decision: ReturnType<OutboundRouter>;
    try {
      decision = this.#opts.outbound!(info);
    } catch (err) {
      this.#log.warn('outbound router threw; routing normally', { err });
      return false;
    }
    if (!decision) return false;
    const st = this.#newServerTxn(key, req, flow, undefined);
    if (req.method === 'INVITE') this.#respondLocally(st, 100);
    const connect = (target: HostPort | undefined) => {
      if (this.#closed || st.lastStatus >= 200) return;
      if (!target) {
        this.#respondLocally(st, 480);
        return;
      }
      const socket = net.connect({ host: target.host, port: target.port });
      const app = new AppConnection(socket, this.#log.child('outbound'));
      app.outbound = true;
      this.attachApp(app);
      this.#outboundPending.set(app, st);
      // The app must authenticate promptly, or the caller gets 480 as with drachtio.
      this.#timerSet.set(Math.max(2000, 8 * this.#timers.T1), () => {
        if (this.#outboundPending.get(app) === st) app.destroy();
      });
    };
    if (decision instanceof Promise) {
      decision.then(connect, (err: unknown) => {
        this.#log.warn('outbound router failed', { err });
        connect(undefined);
      });
    } else {
      connect(decision);
    }
    return true;
  }

  /** After popping our Routes: is the request for us (a dialog we are in, or addressed to us)? */
  #isLocalTarget(req: SipRequest): boolean {
    if (req.getAll('route').length) return false;
    const toTag = req.toTag;
    if (toTag && this.#dialogs.match(req.callId, toTag, req.fromTag ?? '')) return true;
    const uri = tryParseSipUri(req.uri);
    return !uri || this.#dest.isOurAddress(uri.host, uri.port);
  }

  #countFromSource(host: string): number {
    return this.#pendingBySource.get(host) ?? 0;
  }

  /** Unanswered server transactions per source address (for the per-source limit). */
  #trackPending(st: ServerTransaction, delta: 1 | -1): void {
    const host = st.flow.remote.host;
    this.#pendingTotal = Math.max(0, this.#pendingTotal + delta);
    const n = (this.#pendingBySource.get(host) ?? 0) + delta;
    if (n <= 0) this.#pendingBySource.delete(host);
    else this.#pendingBySource.set(host, n);
  }

  #onNetworkInDialog(req: SipRequest, flow: Flow, key: string, toTag: string): void {
    const fromTag = req.fromTag ?? '';
    const d = this.#dialogs.match(req.callId, toTag, fromTag);
    if (!d || d.app.closed) {
      if (d) this.#removeDialog(d);
      this.#log.info('in-dialog request for unknown dialog', { method: req.method, callId: req.callId });
      const st = this.#newServerTxn(key, req, flow, undefined);
      this.#respondLocally(st, 481);
      return;
    }
    const st = this.#newServerTxn(key, req, flow, d.app);
    st.dialogId = d.id;
    st.toTag = d.localTag;
    const seq = req.cseq.seq;
    if (seq > d.remoteSeq) d.remoteSeq = seq;
    if (['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER'].includes(req.method)) {
      const contact = firstContactUri(req);
      if (contact) d.remoteTarget = contact;
    }
    if (d.flow.closed || !d.flow.reliable) d.flow = flow;
    if (req.method === 'INVITE') this.#respondLocally(st, 100);
    if (req.method === 'PRACK') this.#onPrack(req, d);
    if (req.method !== 'INVITE') {
      st.guard(64 * this.#timers.T1 + this.#timers.T4, () => {
        if (st.lastStatus < 200) st.terminate();
      });
    }
    const bytes = req.toBuffer();
    this.#sendToApp(d.app, 'network', bytes, wireTransport(flow.transport), flow.remote, st.id, d.id, '');
    if (req.method === 'BYE') {
      if (d.method === 'INVITE') this.#cdr('stop', 'network', bytes, 'normal-release');
      // drachtio forgets the dialog as soon as a BYE arrives from the network.
      this.#removeDialog(d);
    }
  }

  #onNetworkAck(req: SipRequest, flow: Flow, topVia: Via): void {
    const inviteKey = serverKey(req, topVia, 'INVITE', flow);
    const st = this.#serverByKey.get(inviteKey);
    if (st && st.lastStatus >= 300) {
      // ACK for a non-2xx final response: transaction business only (RFC 3261 §17.2.1).
      st.ackedNon2xx(flow.reliable);
      return;
    }
    const toTag = req.toTag;
    if (!toTag) return;
    const d = this.#dialogs.match(req.callId, toTag, req.fromTag ?? '');
    if (!d) {
      this.#log.debug('ACK for unknown dialog dropped', { callId: req.callId });
      return;
    }
    const pending = d.pendingAck;
    if (!pending || pending.acked) return;
    if (pending.request.cseq.seq !== req.cseq.seq) {
      // JsSIP (3.13.8) draws its first CSeq from 0..9999 and treats 0 as unset: the ACK of an INVITE with
      // CSeq 0 gets a new random CSeq. Such an ACK is still the one for this 2xx; any other mismatch is stale.
      if (pending.request.cseq.seq !== 0) return;
      this.#log.info('ACK with a CSeq unlike its INVITE (0) accepted', { callId: req.callId, cseq: req.cseq.seq });
    }
    d.pendingAck = undefined;
    d.state = 'confirmed';
    // Keep absorbing INVITE retransmissions for the rest of Timer L.
    pending.absorbRetransmissions();
    if (d.flow.closed || !d.flow.reliable) d.flow = flow;
    this.#sendToApp(d.app, 'network', req.toBuffer(), '', flow.remote, pending.id, d.id, '');
  }

  #onNetworkCancel(req: SipRequest, flow: Flow, topVia: Via): void {
    const inv = this.#serverByKey.get(serverKey(req, topVia, 'INVITE', flow));
    const key = serverKey(req, topVia, 'CANCEL', flow);
    const cst = this.#newServerTxn(key, req, flow, undefined);
    if (!inv) {
      this.#respondLocally(cst, 481);
      return;
    }
    if (inv.lastStatus >= 200) {
      // Too late: the INVITE already has its final response; CANCEL has no effect.
      cst.toTag = inv.toTag;
      this.#respondLocally(cst, 200);
      return;
    }
    inv.toTag ??= newTag();
    cst.toTag = inv.toTag;
    this.#respondLocally(cst, 200);
    this.#respondLocally(inv, 487);
    if (inv.proxy) {
      this.#proxy.cancelAll(inv.proxy);
      this.#proxy.done(inv.proxy);
      return;
    }
    this.#cdr('stop', 'network', req.toBuffer(), 'call-canceled');
    const dialogId = dialogIdOf(req.callId, req.fromTag ?? '');
    const d = this.#dialogs.get(dialogId);
    const reported = d && d.role === 'uas' ? dialogId : '';
    if (d && d.role === 'uas' && d.state === 'early') this.#removeDialog(d);
    if (inv.app && !inv.app.closed) {
      this.#sendToApp(
        inv.app,
        'network',
        req.toBuffer(),
        wireTransport(flow.transport),
        flow.remote,
        inv.id,
        reported,
        '',
      );
    }
  }

  #onNetworkResponse(res: SipResponse, flow: Flow): void {
    const via = res.topVia!;
    const branch = viaBranch(via) ?? '';
    let method: string;
    try {
      method = res.cseq.method;
    } catch {
      return;
    }
    const ct = this.#clientByKey.get(`${branch}|${method}`);
    if (!ct) {
      if (method === 'INVITE' && res.status >= 200 && res.status < 300) this.#stray2xx(res);
      else
        this.#log.debug('response matches no transaction, dropped', {
          status: res.status,
          method,
          callId: res.get('call-id'),
        });
      return;
    }
    if (ct.method === 'CANCEL') {
      if (res.status >= 200) ct.complete();
      return;
    }
    const status = res.status;
    if (ct.method === 'INVITE') this.#inviteResponse(ct, res, flow, status);
    else this.#nonInviteResponse(ct, res, flow, status);
  }

  #inviteResponse(ct: ClientTransaction, res: SipResponse, flow: Flow, status: number): void {
    const initial = !ct.dialogId;
    const dialogId = ct.dialogId ?? dialogIdOf(ct.request.callId, ct.request.fromTag ?? '');
    if (status < 200) {
      if (ct.state !== 'calling' && ct.state !== 'proceeding') return;
      ct.proceeding();
      ct.provisionalReceived = true;
      if (ct.pendingCancel) {
        const send = ct.pendingCancel;
        ct.pendingCancel = undefined;
        send();
      }
      if (initial && status > 100 && res.toTag) this.#upsertUacDialog(ct, res, 'early');
      this.#forwardResponse(ct, res, flow, dialogId);
      return;
    }
    if (status < 300) {
      const tag = res.toTag ?? '';
      if (ct.state === 'accepted' && ct.acceptedTags.has(tag)) {
        // A proxy passes 2xx retransmissions upstream (RFC 6026); a UA re-sends its ACK.
        if (ct.proxy) this.#proxy.relayUpstream(ct.proxy, res, true);
        else this.#stray2xx(res);
        return;
      }
      if (ct.state === 'calling' || ct.state === 'proceeding') ct.accept();
      if (ct.state !== 'accepted') return;
      ct.acceptedTags.add(tag);
      ct.pendingCancel = undefined;
      if (initial && ct.app) {
        this.#upsertUacDialog(ct, res, 'confirmed');
        this.#cdr('start', 'network', res.toBuffer(), 'uac');
      }
      const d = this.#dialogs.get(dialogId);
      if (d) {
        d.lastInviteSeq = ct.request.cseq.seq;
        d.lastInviteStatus = status;
        if (!initial) {
          const contact = firstContactUri(res);
          if (contact) d.remoteTarget = contact;
        }
      }
      this.#forwardResponse(ct, res, flow, dialogId);
      return;
    }
    // 3xx-6xx: the server ACKs at transaction level and the app's ACK (if any) is absorbed.
    if (ct.state === 'completed') {
      if (ct.ackBytes) ct.flow.send(ct.ackBytes);
      return;
    }
    if (ct.state !== 'calling' && ct.state !== 'proceeding') return;
    ct.reject(buildNon2xxAck(ct.request, res).toBuffer());
    const d = this.#dialogs.get(dialogId);
    if (d) {
      d.lastInviteSeq = ct.request.cseq.seq;
      d.lastInviteStatus = status;
    }
    if (initial && ct.app) {
      if (d && d.role === 'uac' && d.state === 'early') this.#removeDialog(d);
      this.#rememberFailedInvite(dialogId);
      this.#cdr('stop', 'network', res.toBuffer(), ct.cancelled && status === 487 ? 'call-canceled' : 'call-rejected');
    }
    this.#forwardResponse(ct, res, flow, dialogId);
  }

  #nonInviteResponse(ct: ClientTransaction, res: SipResponse, flow: Flow, status: number): void {
    if (ct.state === 'completed' || ct.state === 'terminated') return;
    let dialogId = ct.dialogId ?? '';
    if (!ct.dialogId && ct.method === 'SUBSCRIBE') dialogId = dialogIdOf(ct.request.callId, ct.request.fromTag ?? '');
    if (status < 200) {
      ct.proceeding();
      this.#forwardResponse(ct, res, flow, dialogId);
      return;
    }
    ct.complete();
    if (!ct.dialogId && ct.method === 'SUBSCRIBE' && status < 300 && res.toTag)
      this.#upsertUacDialog(ct, res, 'confirmed');
    this.#forwardResponse(ct, res, flow, dialogId);
    const d = ct.dialogId ? this.#dialogs.get(ct.dialogId) : undefined;
    if (d && ct.method === 'BYE') this.#removeDialog(d);
    if (
      d &&
      ct.method === 'NOTIFY' &&
      d.method === 'SUBSCRIBE' &&
      status < 300 &&
      /terminated/i.test(ct.request.get('subscription-state') ?? '')
    ) {
      this.#removeDialog(d);
    }
  }

  /** A 2xx retransmission outside its transaction: re-send the ACK if the app already sent one. */
  #stray2xx(res: SipResponse): void {
    const fromTag = res.fromTag;
    if (!fromTag) return;
    const d = this.#dialogs.get(dialogIdOf(res.get('call-id') ?? '', fromTag));
    if (!d || !d.lastAck) return;
    if (d.lastAck.seq === res.cseq.seq) d.lastAck.flow.send(d.lastAck.bytes);
  }

  #forwardResponse(ct: ClientTransaction, res: SipResponse, flow: Flow, dialogId: string): void {
    if (ct.proxy) {
      this.#proxy.onResponse(ct, res, flow);
      return;
    }
    if (!ct.app || ct.app.closed) return;
    this.#sendToApp(ct.app, 'network', res.toBuffer(), wireTransport(flow.transport), flow.remote, ct.id, dialogId, '');
  }

  #upsertUacDialog(ct: ClientTransaction, res: SipResponse, state: 'early' | 'confirmed'): void {
    if (!ct.app) return;
    const req = ct.request;
    const localTag = req.fromTag ?? '';
    const remoteTag = res.toTag ?? '';
    const id = dialogIdOf(req.callId, localTag);
    let d = this.#dialogs.get(id);
    const target = firstContactUri(res);
    if (!d) {
      d = new Dialog({
        id,
        role: 'uac',
        method: ct.method,
        callId: req.callId,
        localTag,
        remoteTag,
        localHeader: req.get('from') ?? '',
        remoteHeader: res.get('to') ?? '',
        remoteTarget: target ?? req.uri,
        routeSet: res.getAll('record-route').reverse(),
        localSeq: req.cseq.seq,
        remoteSeq: 0,
        flow: ct.flow,
        app: ct.app,
      });
      this.#dialogs.add(d);
    } else {
      if (d.remoteTag !== remoteTag) this.#dialogs.setRemoteTag(d, remoteTag);
      d.remoteHeader = res.get('to') ?? d.remoteHeader;
      if (target) d.remoteTarget = target;
      if (state === 'confirmed') d.routeSet = res.getAll('record-route').reverse();
    }
    d.lastInviteSeq = req.cseq.seq;
    if (state === 'confirmed') d.state = 'confirmed';
  }

  #learnAliases(req: SipRequest, flow: Flow): void {
    try {
      for (const c of req.contacts) {
        const u = tryParseSipUri(c.uri);
        if (u) this.#flows.alias(flow, u.host, u.port);
      }
    } catch {
      // a bad Contact is the app's problem, not routing's
    }
    const v = req.topVia;
    if (v) this.#flows.alias(flow, v.host, v.port);
  }

  // ---------------------------------------------------------------------------------------------
  // App → network: responses
  // ---------------------------------------------------------------------------------------------

  #appResponse(app: AppConnection, msgId: string, txnId: string, res: SipResponse): void {
    const st = this.#serverById.get(txnId);
    if (!st) {
      app.respond(msgId, 'NOK', 'unknown transaction id');
      return;
    }
    if (st.lastStatus >= 200) {
      app.respond(msgId, 'NOK', 'final response already sent');
      return;
    }
    if (st.proxy) {
      app.respond(msgId, 'NOK', 'transaction is being proxied');
      return;
    }
    const req = st.request;
    const status = res.status;
    const appTo = res.get('to');
    const appToTag = appTo ? safeTag(appTo) : undefined;
    if (status > 100) st.toTag ??= appToTag ?? req.toTag ?? newTag();
    const out = new SipResponse(status, res.reason || reasonPhrase(status));
    copyVias(req, out);
    out.append('From', req.get('from')!);
    out.append('To', withTag(req.get('to')!, status > 100 ? st.toTag : undefined));
    out.append('Call-ID', req.get('call-id')!);
    out.append('CSeq', req.get('cseq')!);
    const flow = st.flow;
    const reliable =
      st.method === 'INVITE' && status > 100 && status < 200 && /\b100rel\b/i.test(res.getAll('require').join(','));
    const contactValues = res.getAll('contact');
    if (contactValues.length) {
      for (const c of contactValues) out.append('Contact', localizeAddress(c, flow.local));
    } else if (DIALOG_METHODS.has(st.method) && ((status >= 200 && status < 300) || reliable)) {
      // A reliable provisional establishes an early dialog the peer sends PRACK in (RFC 3262 §4, RFC 3261
      // §12.1.1): it needs our Contact as its remote target. drachtio adds it too (nta_reliable_treply).
      out.append('Contact', defaultContact(flow));
    }
    // Dialog-forming responses echo the Record-Route set (RFC 3261 §12.1.1).
    if (DIALOG_METHODS.has(st.method) && status > 100 && status < 300 && !st.dialogId) {
      for (const rr of req.getAll('record-route')) out.append('Record-Route', rr);
    }
    copyAppHeaders(res, out);
    if (reliable) {
      // RFC 3262: number the reliable provisional (unless the app did) and retransmit it until PRACKed.
      const appRseq = Number(res.get('rseq'));
      st.rseq =
        Number.isInteger(appRseq) && appRseq > 0
          ? appRseq
          : st.rseq
            ? st.rseq + 1
            : 1 + Math.floor(Math.random() * 0x7fff);
      out.set('RSeq', String(st.rseq));
    }
    out.setBody(res.body);
    out.sortHeaders();

    let dialog: Dialog | undefined;
    const isInitialDialogRequest = !st.dialogId && (st.method === 'INVITE' || st.method === 'SUBSCRIBE');
    if (isInitialDialogRequest && status > 100 && status < 300) {
      dialog = this.#upsertUasDialog(st, out, status < 200 ? 'early' : 'confirmed');
    } else if (st.dialogId) {
      dialog = this.#dialogs.get(st.dialogId);
    }
    const bytes = out.toBuffer();
    this.#sendResponseOnTxn(st, bytes, status);
    if (reliable) st.retransmitReliable(bytes);
    if (st.method === 'INVITE' && !st.dialogId && status >= 200) {
      if (status < 300) this.#cdr('start', 'application', bytes, 'uas');
      else this.#cdr('stop', 'application', bytes, 'call-rejected');
    }
    if (status >= 200 && status < 300 && st.method === 'INVITE' && dialog) {
      dialog.pendingAck = st;
      this.#start2xxTimers(st, dialog);
    }
    if (isInitialDialogRequest && status >= 300) {
      const d = this.#dialogs.get(dialogIdOf(req.callId, req.fromTag ?? ''));
      if (d && d.state === 'early' && d.role === 'uas') this.#removeDialog(d);
      dialog = undefined;
    }
    const dialogId = dialog && this.#dialogs.get(dialog.id) === dialog ? dialog.id : '';
    const transport = st.method === 'INVITE' ? wireTransport(flow.transport) : '';
    app.respond(msgId, ...responseSentFields(bytes, transport, flow.remote, st.id, dialogId));
    if (
      dialog &&
      st.method === 'NOTIFY' &&
      dialog.method === 'SUBSCRIBE' &&
      status < 300 &&
      /terminated/i.test(req.get('subscription-state') ?? '')
    ) {
      this.#removeDialog(dialog);
    }
  }

  /** A PRACK for a reliable provisional we sent stops its retransmission. */
  #onPrack(req: SipRequest, d: Dialog): void {
    const rack = /^\s*(\d+)\s+(\d+)\s+(\S+)/.exec(req.get('rack') ?? '');
    if (!rack) return;
    for (const st of this.#serverById.values()) {
      if (st.request.callId === d.callId) st.prack(Number(rack[1]), Number(rack[2]));
    }
  }

  #upsertUasDialog(st: ServerTransaction, out: SipResponse, state: 'early' | 'confirmed'): Dialog | undefined {
    if (!st.app) return undefined;
    const req = st.request;
    const remoteTag = req.fromTag ?? '';
    const id = dialogIdOf(req.callId, remoteTag);
    let d = this.#dialogs.get(id);
    if (!d) {
      d = new Dialog({
        id,
        role: 'uas',
        method: st.method,
        callId: req.callId,
        localTag: st.toTag!,
        remoteTag,
        localHeader: out.get('to')!,
        remoteHeader: req.get('from')!,
        remoteTarget: firstContactUri(req) ?? req.uri,
        routeSet: req.getAll('record-route'),
        localSeq: req.cseq.seq,
        remoteSeq: req.cseq.seq,
        flow: st.flow,
        app: st.app,
      });
      this.#dialogs.add(d);
    }
    if (state === 'confirmed') d.state = 'confirmed';
    return d;
  }

  #sendResponseOnTxn(st: ServerTransaction, bytes: Buffer, status: number): void {
    st.sendResponse(bytes, status);
  }

  /** 2xx to INVITE: retransmitted by the transaction until ACK; BYE on timeout (64*T1). */
  #start2xxTimers(st: ServerTransaction, d: Dialog): void {
    st.on('ackTimeout', () => {
      if (d.pendingAck === st) d.pendingAck = undefined;
      if (this.#dialogs.get(d.id) === d) this.#ackTimeout(d);
    });
    st.startAcceptedTimers();
  }

  /** No ACK for our 2xx: hang up with a BYE and tell the app with an `unsolicited` message. */
  #ackTimeout(d: Dialog): void {
    this.#log.info('ACK timeout, sending BYE', { callId: d.callId });
    this.#dest.withFlowFor(d, (flow) => {
      const bye = this.#buildInDialogRequest(d, 'BYE', d.remoteTarget, flow ?? d.flow);
      bye.set('Reason', 'SIP;cause=200;text="ACK timeout"');
      bye.setBody(Buffer.alloc(0));
      bye.sortHeaders();
      const bytes = bye.toBuffer();
      if (flow) {
        this.#startClient(bye, bytes, flow, undefined, d.id);
      }
      this.#cdr('stop', 'application', bytes, 'system-initiated-termination');
      const sentFlow = flow ?? d.flow;
      if (!d.app.closed) d.app.send(unsolicitedFrame(bytes, sentFlow, d.id));
      this.#removeDialog(d);
    });
  }

  /** The server answers a request itself (100 Trying, 487, 481, 503...). */
  #respondLocally(st: ServerTransaction, status: number, reason?: string, extra: Record<string, string> = {}): void {
    if (st.lastStatus >= 200) return;
    const req = st.request;
    const out = new SipResponse(status, reason ?? reasonPhrase(status));
    copyVias(req, out);
    out.append('From', req.get('from') ?? '');
    if (status > 100) st.toTag ??= req.toTag ?? newTag();
    out.append('To', withTag(req.get('to') ?? '', status > 100 ? st.toTag : undefined));
    out.append('Call-ID', req.get('call-id') ?? '');
    out.append('CSeq', req.get('cseq') ?? '');
    for (const [k, v] of Object.entries(extra)) out.append(k, v);
    out.setBody(Buffer.alloc(0));
    out.sortHeaders();
    const bytes = out.toBuffer();
    this.#sendResponseOnTxn(st, bytes, status);
    if (st.method === 'INVITE' && !st.dialogId && status >= 300 && status !== 487 && st.app)
      this.#cdr('stop', 'application', bytes, 'call-rejected');
  }

  /** A response without a transaction (malformed requests, overload): best effort. */
  #respondStateless(
    req: SipRequest,
    flow: Flow,
    status: number,
    reason: string,
    extra: Record<string, string> = {},
  ): void {
    try {
      if (req.method === 'ACK') return;
      const out = new SipResponse(status, reason);
      let vias = req.getAll('via');
      if (!vias.length) return;
      try {
        // A response whose Via we cannot parse could not be routed back by anyone: drop instead.
        const parsed = vias.map((v) => parseVia(v));
        stampViaObject(parsed[0]!, flow);
        vias = [formatVia(parsed[0]!), ...vias.slice(1)];
      } catch {
        return;
      }
      for (const v of vias) out.append('Via', v);
      const from = req.get('from');
      const to = req.get('to');
      const callId = req.get('call-id');
      const cseq = req.get('cseq');
      if (!from || !to || !callId || !cseq) return;
      // Echoing a header nobody can parse helps no one; such requests are dropped (and logged by the caller).
      parseNameAddr(from);
      parseNameAddr(to);
      parseCSeq(cseq);
      out.append('From', from);
      out.append('To', safeTag(to) ? to : `${to};tag=${newTag()}`);
      out.append('Call-ID', callId);
      out.append('CSeq', cseq);
      for (const [k, v] of Object.entries(extra)) out.append(k, v);
      out.setBody(Buffer.alloc(0));
      out.sortHeaders();
      flow.send(out.toBuffer());
    } catch (err) {
      this.#log.debug('could not build stateless response', { err });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // App → network: requests
  // ---------------------------------------------------------------------------------------------

  #appRequestOutOfDialog(app: AppConnection, msgId: string, req: SipRequest, proxy: string): void {
    if (req.method === 'ACK') {
      // An ACK with no dialog: the INVITE failed and the server already ACKed it.
      app.respond(msgId, 'NOK', 'ACK for non-success final response is automatically generated by server');
      return;
    }
    if (/^sips?:placeholder$/i.test(req.uri)) {
      app.respond(msgId, 'NOK', 'request-uri sip:placeholder requires a dialog id');
      return;
    }
    const routes = req.getAll('route');
    const target = proxy || (routes.length ? parseNameAddrSafe(routes[0]!)?.uri : undefined) || req.uri;
    this.#dest.withFlow(target, undefined, (flow) => {
      const sendFlow = flow ?? this.#dest.fallbackFlow();
      if (!sendFlow) {
        app.respond(msgId, 'NOK', 'no transport available');
        return;
      }
      const out = this.#buildOutOfDialogRequest(req, sendFlow);
      const bytes = out.toBuffer();
      if (!flow) {
        // Unreachable target: report it as sofia would, with a locally generated 503.
        const ctId = newUuid();
        this.#echoRequest(app, msgId, bytes, sendFlow, ctId);
        setImmediate(() =>
          this.#deliverLocalResponse(app, out, sendFlow, ctId, this.#dialogIdForNew(out), 503, 'Service Unavailable'),
        );
        this.#log.info('no route to request target', { target, method: req.method });
        return;
      }
      const ct = this.#startClient(out, bytes, flow, app, undefined);
      this.#echoRequest(app, msgId, bytes, flow, ct.id);
      if (out.method === 'INVITE') this.#cdr('attempt', 'application', bytes);
    });
  }

  #dialogIdForNew(req: SipRequest): string {
    return req.method === 'INVITE' || req.method === 'SUBSCRIBE' ? dialogIdOf(req.callId, req.fromTag ?? '') : '';
  }

  #buildOutOfDialogRequest(req: SipRequest, flow: Flow): SipRequest {
    const local = flow.local;
    const out = new SipRequest(req.method, req.uri);
    out.append('Via', ourVia(flow, newBranch()));
    out.append('Max-Forwards', req.get('max-forwards') ?? '70');
    const appFrom = req.get('from');
    let from: NameAddr = appFrom
      ? parseNameAddr(localizeAddress(appFrom, local))
      : { uri: `sip:${local.host}:${local.port}`, params: [], bracketed: true };
    if (!tagOf(from)) from = { ...from, params: [...from.params, ['tag', newTag()]] };
    out.append('From', formatNameAddr(from));
    const appTo = req.get('to');
    out.append('To', appTo ? formatNameAddr(parseNameAddr(appTo)) : `<${req.uri}>`);
    out.append('Call-ID', req.get('call-id') ?? this.#callIds.next());
    const appCseq = req.get('cseq');
    const seq = appCseq && /^\s*\d+/.test(appCseq) ? Number(/\d+/.exec(appCseq)![0]) : this.#cseq.next();
    out.append('CSeq', `${seq} ${req.method}`);
    const contacts = req.getAll('contact');
    if (contacts.length) for (const c of contacts) out.append('Contact', formatContact(localizeAddress(c, local)));
    else if (DIALOG_METHODS.has(req.method)) out.append('Contact', defaultContact(flow));
    for (const r of req.getAll('route')) out.append('Route', r);
    copyAppHeaders(req, out);
    out.setBody(req.body);
    out.sortHeaders();
    return out;
  }

  #appRequestInDialog(app: AppConnection, msgId: string, dialogId: string, req: SipRequest): void {
    const d = this.#dialogs.get(dialogId);
    if (!d) {
      if (req.method === 'ACK') {
        app.respond(msgId, 'NOK', 'ACK for non-success final response is automatically generated by server');
        return;
      }
      app.respond(msgId, 'NOK', 'unable to find dialog for dialog id provided');
      return;
    }
    if (req.method === 'ACK' && d.lastInviteStatus >= 300) {
      app.respond(msgId, 'NOK', 'ACK for non-success final response is automatically generated by server');
      return;
    }
    this.#dest.withFlowFor(d, (flow) => {
      if (this.#dialogs.get(d.id) !== d) {
        app.respond(msgId, 'NOK', 'unable to find dialog for dialog id provided');
        return;
      }
      const sendFlow = flow ?? d.flow;
      const out = this.#buildInDialogRequest(d, req.method, d.remoteTarget, sendFlow);
      const contacts = req.getAll('contact');
      if (contacts.length)
        for (const c of contacts) out.append('Contact', formatContact(localizeAddress(c, sendFlow.local)));
      else if (req.method === 'INVITE') out.append('Contact', defaultContact(sendFlow));
      if (req.get('max-forwards')) out.set('Max-Forwards', req.get('max-forwards')!);
      copyAppHeaders(req, out);
      out.setBody(req.body);
      out.sortHeaders();
      const bytes = out.toBuffer();
      if (req.method === 'ACK') {
        if (flow) flow.send(bytes);
        d.lastAck = { seq: d.lastInviteSeq, bytes, flow: sendFlow };
        d.state = 'confirmed';
        this.#echoRequest(app, msgId, bytes, sendFlow, newUuid());
        return;
      }
      if (!flow) {
        const ctId = newUuid();
        this.#echoRequest(app, msgId, bytes, sendFlow, ctId);
        setImmediate(() => {
          this.#deliverLocalResponse(app, out, sendFlow, ctId, d.id, 503, 'Service Unavailable');
          // The app ended the dialog (BYE, or the final NOTIFY of a subscription) and the peer is
          // unreachable: the dialog is over all the same, or it would stay in the table for ever.
          if (this.#dialogs.get(d.id) === d && endsDialog(d, out)) this.#removeDialog(d);
        });
        this.#log.info('in-dialog request target unreachable', { method: req.method, callId: d.callId });
        return;
      }
      if (req.method === 'INVITE') d.lastInviteSeq = out.cseq.seq;
      const ct = this.#startClient(out, bytes, flow, app, d.id);
      this.#echoRequest(app, msgId, bytes, flow, ct.id);
      if (out.method === 'BYE' && d.method === 'INVITE') this.#cdr('stop', 'application', bytes, 'normal-release');
    });
  }

  /** Request-line, Via, Max-Forwards, From, To, Call-ID, CSeq and Route for a request in a dialog. */
  #buildInDialogRequest(d: Dialog, method: string, requestUri: string, flow: Flow): SipRequest {
    const out = new SipRequest(method, requestUri);
    out.append('Via', ourVia(flow, newBranch()));
    out.append('Max-Forwards', '70');
    out.append('From', d.localHeader);
    out.append('To', d.remoteHeader);
    out.append('Call-ID', d.callId);
    const seq = method === 'ACK' ? d.lastInviteSeq : ++d.localSeq;
    out.append('CSeq', `${seq} ${method}`);
    for (const r of d.routeSet) out.append('Route', r);
    return out;
  }

  #appCancel(app: AppConnection, msgId: string, inviteTxnId: string, req: SipRequest): void {
    const inv = this.#clientById.get(inviteTxnId);
    if (!inv || inv.method !== 'INVITE' || (inv.state !== 'calling' && inv.state !== 'proceeding')) {
      app.respond(msgId, 'NOK', 'unknown transaction id or transaction already completed');
      return;
    }
    const bytes = this.#cancelClient(inv, req);
    this.#echoRequest(app, msgId, bytes, inv.flow, newUuid());
  }

  /** CANCEL an INVITE client transaction (RFC 3261 §9.1): now if it had a provisional, else once it does. */
  #cancelClient(inv: ClientTransaction, extra?: SipRequest): Buffer {
    const r = inv.request;
    const cancel = new SipRequest('CANCEL', r.uri);
    cancel.append('Via', r.getAll('via')[0]!);
    cancel.append('Max-Forwards', '70');
    cancel.append('From', r.get('from')!);
    cancel.append('To', r.get('to')!);
    cancel.append('Call-ID', r.callId);
    cancel.append('CSeq', `${r.cseq.seq} CANCEL`);
    for (const route of r.getAll('route')) cancel.append('Route', route);
    if (extra) copyAppHeaders(extra, cancel);
    cancel.setBody(Buffer.alloc(0));
    cancel.sortHeaders();
    const bytes = cancel.toBuffer();
    const ctKey = `${viaBranch(r.topVia!) ?? ''}|CANCEL`;
    inv.cancelled = true;
    const send = () => {
      if (this.#clientByKey.has(ctKey)) return;
      this.#startClient(cancel, bytes, inv.flow, undefined, undefined);
    };
    if (inv.provisionalReceived) send();
    else inv.pendingCancel = send;
    return bytes;
  }

  #echoRequest(app: AppConnection, msgId: string, bytes: Buffer, flow: Flow, txnId: string): void {
    app.respond(msgId, ...requestSentFields(bytes, flow, txnId));
  }

  /** A response the server makes up for an app request (timeout 408, unreachable 503). */
  #deliverLocalResponse(
    app: AppConnection,
    req: SipRequest,
    flow: Flow,
    txnId: string,
    dialogId: string,
    status: number,
    reason: string,
  ): void {
    if (app.closed) return;
    const res = this.#localResponse(req, status, reason);
    this.#sendToApp(app, 'network', res.toBuffer(), wireTransport(flow.transport), flow.remote, txnId, dialogId, '');
  }

  #localResponse(req: SipRequest, status: number, reason: string): SipResponse {
    const res = new SipResponse(status, reason);
    for (const v of req.getAll('via')) res.append('Via', v);
    res.append('From', req.get('from') ?? '');
    res.append('To', req.get('to') ?? '');
    res.append('Call-ID', req.get('call-id') ?? '');
    res.append('CSeq', req.get('cseq') ?? '');
    res.setBody(Buffer.alloc(0));
    res.sortHeaders();
    return res;
  }

  #startClient(
    req: SipRequest,
    bytes: Buffer,
    flow: Flow,
    app: AppConnection | undefined,
    dialogId: string | undefined,
  ): ClientTransaction {
    const branch = viaBranch(req.topVia!) ?? '';
    const ct = new ClientTransaction(
      { key: `${branch}|${req.method}`, request: req, bytes, flow, app, dialogId },
      this.#txnContext,
    );
    this.#clientByKey.set(ct.key, ct);
    this.#clientById.set(ct.id, ct);
    ct.on('terminated', () => {
      if (this.#clientByKey.get(ct.key) === ct) this.#clientByKey.delete(ct.key);
      this.#clientById.delete(ct.id);
    });
    ct.on('timeout', () => this.#clientTimedOut(ct));
    ct.start();
    return ct;
  }

  /** Timer B / F: the app (or the proxy) gets a 408 as if from the network. */
  #clientTimedOut(ct: ClientTransaction): void {
    this.#clientFailed(ct, 408, 'Request Timeout');
  }

  /**
   * A client transaction ended without a response from the network (timeout, connection closed, dialog
   * gone): the app or the proxy gets a response made up here, and the dialog state follows — an initial
   * INVITE's early dialog is forgotten, a BYE's dialog is over.
   */
  #clientFailed(ct: ClientTransaction, status: number, reason: string): void {
    const req = ct.request;
    const flow = ct.flow;
    if (ct.proxy) {
      // Shaped like a downstream response (our Via on top) so the proxy path can treat it as one.
      this.#proxy.onResponse(ct, this.#localResponse(req, status, reason), flow);
      return;
    }
    if (ct.app && ct.method !== 'CANCEL') {
      const dialogId = ct.dialogId ?? this.#dialogIdForNew(req);
      if (ct.method === 'INVITE' && !ct.dialogId) {
        const d = this.#dialogs.get(dialogId);
        if (d && d.state === 'early') this.#removeDialog(d);
        this.#rememberFailedInvite(dialogId);
      }
      this.#deliverLocalResponse(ct.app, req, flow, ct.id, dialogId, status, reason);
    }
    if (ct.dialogId) {
      const d = this.#dialogs.get(ct.dialogId);
      if (d && endsDialog(d, ct.request)) this.#removeDialog(d);
    }
  }

  /** End an INVITE client transaction that cannot be answered any more; its app gets `status` as if from the network. */
  #abandonClient(ct: ClientTransaction, status: number, reason: string, why: string): void {
    this.#log.info(`INVITE abandoned: ${why}`, { callId: ct.request.callId, status });
    ct.terminate();
    this.#clientFailed(ct, status, reason);
  }

  #rememberFailedInvite(dialogId: string): void {
    this.#failedInvites.set(dialogId, Date.now());
    this.#timerSet.set(64 * this.#timers.T1, () => this.#failedInvites.delete(dialogId));
  }

  /** Relay an in-dialog request of a dialog we Record-Routed (no app involved). */
  #relay(req: SipRequest, flow: Flow, key: string): void {
    const routes = req.getAll('route');
    const next = routes.length ? (parseNameAddrSafe(routes[0]!)?.uri ?? req.uri) : req.uri;
    if (req.method === 'ACK') {
      this.#proxy.relayAck(req, next);
      return;
    }
    const st = this.#newServerTxn(key, req, flow, undefined);
    if (req.method === 'INVITE') this.#respondLocally(st, 100);
    this.#proxy.relay(st, next);
  }

  // ---------------------------------------------------------------------------------------------
  // Bookkeeping
  // ---------------------------------------------------------------------------------------------

  #newServerTxn(key: string, req: SipRequest, flow: Flow, app: AppConnection | undefined): ServerTransaction {
    const st = new ServerTransaction(key, req, flow, app, this.#txnContext);
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

  #removeDialog(d: Dialog): void {
    this.#dialogs.remove(d);
    // RFC 3261 §15.1.2: the peer should answer pending requests 487 once the dialog ends, but not every
    // UA does (a page ending its call leaves a re-INVITE at 100 Trying): end them here.
    for (const ct of [...this.#clientById.values()]) {
      if (ct.dialogId === d.id && ct.unanswered) this.#abandonClient(ct, 487, 'Request Terminated', 'its dialog ended');
    }
    if (d.pendingAck) {
      const st = d.pendingAck;
      d.pendingAck = undefined;
      if (!st.acked) st.absorbRetransmissions();
    }
  }

  #cdr(type: 'attempt' | 'start' | 'stop', source: 'network' | 'application', bytes: Buffer, extra?: string): void {
    this.#hub.cdr(type, source, bytes, extra);
  }

  #sendToApp(
    app: AppConnection,
    source: string,
    bytes: Buffer,
    transport: string,
    remote: HostPort,
    txnId: string,
    dialogId: string,
    extra: string,
  ): void {
    this.#hub.sendSip(app, source, bytes, transport, remote, txnId, dialogId, extra);
  }
}

/** A request the app sends that ends its dialog whatever the answer: BYE, or a subscription's final NOTIFY. */
function endsDialog(d: { method: string }, req: SipRequest): boolean {
  if (req.method === 'BYE') return true;
  return req.method === 'NOTIFY' && d.method === 'SUBSCRIBE' && /terminated/i.test(req.get('subscription-state') ?? '');
}
