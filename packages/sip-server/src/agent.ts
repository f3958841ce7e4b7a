import type { Logger } from '@conclave/log';
import { SipParseError, SipRequest, parseMessage, tryParseSipUri, type SipMessage } from '@conclave/sip-message';
import type { AppCommand, AppConnection } from './control/app-connection.ts';
import { AppHub } from './control/app-hub.ts';
import { hostportsOf, parseProxyCommand, parseSipCommand } from './control/wire-protocol.ts';
import { Destinations, type AgentTransports } from './destinations.ts';
import type { Dialog } from './dialog.ts';
import { DialogTable } from './dialogs.ts';
import type { EngineContext } from './engine-context.ts';
import { isStream, parseAppMessage, parseNameAddrSafe, serverKey, stampVia } from './header-policy.ts';
import { CSeqCounter, CallIdGenerator } from './ids.ts';
import type { Limits } from './limits.ts';
import { OutboundConnections, type OutboundRouter } from './outbound.ts';
import { ProxyCore } from './proxy/proxy-core.ts';
import type { AgentStats } from './stats.ts';
import { TimerSet, type SipTimers } from './timers.ts';
import { TransactionLayer } from './transaction-layer.ts';
import type { Flow, FlowTable } from './transport/flow.ts';
import { Uac } from './uac.ts';
import { Uas } from './uas.ts';

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
 * The agent routes: network messages to the transaction layer, the proxy, the UAS (requests for apps) or
 * the UAC (responses to the apps' requests); app commands to the UAC, the UAS or the proxy. It owns the
 * tables (transactions, dialogs, apps) and listens to what they report.
 */
export class Agent {
  readonly #log: Logger;
  readonly #flows: FlowTable;
  readonly #limits: Limits;
  readonly #opts: AgentOptions;
  readonly #timerSet = new TimerSet();
  readonly #dialogs = new DialogTable();
  readonly #txns: TransactionLayer;
  readonly #hub: AppHub;
  readonly #dest: Destinations;
  readonly #proxy: ProxyCore;
  readonly #uas: Uas;
  readonly #uac: Uac;
  readonly #outbound: OutboundConnections | undefined;
  readonly counters: Counters = { requestsIn: 0, responsesIn: 0, malformed: 0 };
  #closed = false;

  constructor(opts: AgentOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#flows = opts.flows;
    this.#limits = opts.limits;
    this.#txns = new TransactionLayer({
      log: opts.log,
      limits: opts.limits,
      context: { timerSet: this.#timerSet, timers: opts.timers, log: opts.log },
    });
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
      startClient: (req, bytes, flow, app, dialogId) => this.#txns.startClient(req, bytes, flow, app, dialogId),
      cancelClient: (ct) => this.#txns.cancel(ct),
    });
    this.#hub = new AppHub({
      secret: opts.secret,
      version: opts.version,
      hostports: () => hostportsOf(opts.transports),
    });
    const ctx: EngineContext = {
      log: opts.log,
      timers: opts.timers,
      timerSet: this.#timerSet,
      hub: this.#hub,
      txns: this.#txns,
      dialogs: this.#dialogs,
      dest: this.#dest,
      proxy: this.#proxy,
      adoptDialog: (d) => this.#adoptDialog(d),
      isClosed: () => this.#closed,
    };
    this.#uas = new Uas(ctx);
    this.#uac = new Uac(ctx, { callIds: new CallIdGenerator(), cseq: new CSeqCounter() });
    this.#outbound = opts.outbound
      ? new OutboundConnections(ctx, opts.outbound, (st, app) => this.#uas.handOver(st, app))
      : undefined;

    this.#txns.on('clientTimeout', (ct) => this.#uac.failed(ct, 408, 'Request Timeout'));
    this.#txns.on('localFinalResponse', (st, bytes, status) => {
      if (st.method === 'INVITE' && !st.dialogId && status >= 300 && status !== 487 && st.app)
        this.#hub.cdr('stop', 'application', bytes, 'call-rejected');
    });
    this.#hub.on('authenticated', (app) => this.#onAppAuthenticated(app));
    this.#hub.on('closed', (app) => this.#onAppClosed(app));
    this.#hub.on('command', (app, cmd) =>
      cmd.type === 'proxy' ? this.#onAppProxy(app, cmd) : this.#onAppSip(app, cmd),
    );
  }

  /** Live state sizes, for /metrics and leak checks. */
  get stats(): AgentStats {
    let proxyOperations = 0;
    for (const st of this.#txns.servers()) {
      const op = this.#proxy.operationOf(st);
      if (op && !op.finished) proxyOperations++;
    }
    return {
      ...this.#txns.stats,
      proxyOperations,
      dialogs: this.#dialogs.size,
      apps: this.#hub.size,
      timers: this.#timerSet.size,
    };
  }

  /** A connection (TCP/TLS/WS) closed: INVITEs sent over it can never be answered. */
  flowClosed(flow: Flow): void {
    this.#uac.flowClosed(flow);
  }

  close(): void {
    this.#closed = true;
    this.#timerSet.close();
    this.#hub.close();
  }

  /** A new dialog: index it, end what runs in it when it closes, hang up when its 2xx is never ACKed. */
  #adoptDialog(d: Dialog): void {
    this.#dialogs.add(d);
    d.on('closed', () => this.#uac.dialogEnded(d));
    d.on('ackTimeout', () => this.#uas.hangUpUnacknowledged(d));
  }

  // ---------------------------------------------------------------------------------------------
  // App connections and commands
  // ---------------------------------------------------------------------------------------------

  attachApp(app: AppConnection): void {
    this.#hub.attach(app);
  }

  #onAppAuthenticated(app: AppConnection): void {
    this.#opts.onAppConnected?.(app);
    this.#outbound?.authenticated(app);
  }

  #onAppClosed(app: AppConnection): void {
    this.#outbound?.closed(app);
    // Pending incoming requests the app will never answer: fail them now rather than leak them.
    for (const st of this.#txns.servers()) {
      if (st.app === app && st.lastStatus < 200 && st.method !== 'ACK') {
        this.#txns.respondLocally(st, 503, undefined, { 'Retry-After': '5' });
      }
    }
    for (const d of this.#dialogs.ownedBy(app)) d.close();
    if (app.authenticated) {
      app.log.info('app disconnected');
      this.#opts.onAppDisconnected?.(app);
    }
  }

  /** `proxy|<txnId>|remainInDialog|fullResponse|followRedirects|simultaneous/serial|provTimeout|finalTimeout|dest...` */
  #onAppProxy(app: AppConnection, cmd: AppCommand): void {
    const { txnId, opts, targets } = parseProxyCommand(cmd.args);
    const st = this.#txns.serverById(txnId);
    if (!st || st.app !== app) {
      app.refuse(cmd.msgId, 'unknown transaction id');
      return;
    }
    if (st.lastStatus >= 200 || this.#proxy.operationOf(st)) {
      app.refuse(cmd.msgId, 'transaction already answered or proxied');
      return;
    }
    if (!targets.length) {
      app.refuse(cmd.msgId, 'no destination');
      return;
    }
    this.#proxy.start(st, app, cmd.msgId, opts, targets, cmd.body);
  }

  /** `sip|<txnId>|<dialogId>|<proxy>` + a SIP message: a response, a CANCEL, or a request in or out of a dialog. */
  #onAppSip(app: AppConnection, cmd: AppCommand): void {
    const { txnId, dialogId, proxy } = parseSipCommand(cmd.args);
    let msg: SipMessage;
    try {
      msg = parseAppMessage(cmd.body);
    } catch (err) {
      app.log.warn('app sent an unparseable SIP message', { err: (err as Error).message });
      app.refuse(cmd.msgId, `unable to parse sip message: ${(err as Error).message}`);
      return;
    }
    if (msg.kind === 'response') {
      this.#uas.appResponse(app, cmd.msgId, txnId, msg);
      return;
    }
    if (msg.method === 'CANCEL' && txnId) {
      this.#uac.cancel(app, cmd.msgId, txnId, msg);
      return;
    }
    if (dialogId) {
      this.#uac.requestInDialog(app, cmd.msgId, dialogId, msg);
      return;
    }
    this.#uac.requestOutOfDialog(app, cmd.msgId, msg, proxy);
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
      if (partial instanceof SipRequest) this.#txns.respondStateless(partial, flow, 513, 'Message Too Large');
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
        this.#txns.respondStateless(err.partial, flow, 400, err.reason);
      }
      return;
    }
    if (msg.kind === 'request') {
      this.counters.requestsIn++;
      this.#onNetworkRequest(msg, flow);
    } else {
      this.counters.responsesIn++;
      this.#uac.response(msg, flow);
    }
  }

  #onNetworkRequest(req: SipRequest, flow: Flow): void {
    stampVia(req, flow);
    if (flow.reliable) this.#learnAliases(req, flow);
    const method = req.method;
    const topVia = req.topVia!;
    const mf = req.get('max-forwards');
    if (mf !== undefined && Number(mf) === 0 && method !== 'ACK') {
      this.#txns.respondStateless(req, flow, 483, 'Too Many Hops');
      return;
    }
    if (this.#dest.popOwnRoutes(req) && !this.#isLocalTarget(req)) {
      // A request along a dialog we Record-Routed, for someone else: the proxy relays it.
      const key = serverKey(req, topVia, method, flow);
      const existing = method !== 'ACK' ? this.#txns.server(key) : undefined;
      if (existing) {
        if (existing.lastResponse) existing.flow.send(existing.lastResponse);
        return;
      }
      if (method === 'CANCEL') {
        this.#uas.cancel(req, flow, topVia);
        return;
      }
      this.#relay(req, flow, key);
      return;
    }
    if (method === 'ACK') {
      this.#uas.ack(req, flow, topVia);
      return;
    }
    const key = serverKey(req, topVia, method, flow);
    const existing = this.#txns.server(key);
    if (existing) {
      // Retransmission: repeat the last response, never bother the app again.
      if (existing.lastResponse) existing.flow.send(existing.lastResponse);
      return;
    }
    if (method === 'CANCEL') {
      this.#uas.cancel(req, flow, topVia);
      return;
    }
    const toTag = req.toTag;
    if (toTag) {
      this.#uas.inDialog(req, flow, key, toTag);
      return;
    }
    if (this.#txns.refuseOverload(req, flow)) return;
    if (this.#outbound?.route(req, flow, key)) return;
    const app = this.#hub.pick(method.toLowerCase());
    if (!app) {
      this.#log.info(`no connected app for incoming ${method}`, { callId: req.get('call-id') });
      const st = this.#txns.newServer(key, req, flow, undefined);
      this.#txns.respondLocally(st, 503);
      return;
    }
    const st = this.#txns.newServer(key, req, flow, app);
    if (method === 'INVITE') this.#txns.respondLocally(st, 100);
    this.#uas.handOver(st, app);
  }

  /** After popping our Routes: is the request for us (a dialog we are in, or addressed to us)? */
  #isLocalTarget(req: SipRequest): boolean {
    if (req.getAll('route').length) return false;
    const toTag = req.toTag;
    if (toTag && this.#dialogs.match(req.callId, toTag, req.fromTag ?? '')) return true;
    const uri = tryParseSipUri(req.uri);
    return !uri || this.#dest.isOurAddress(uri.host, uri.port);
  }

  /** Connections a UA announced itself over (Contact, Via) are reused to reach it. */
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

  /** Relay an in-dialog request of a dialog we Record-Routed (no app involved). */
  #relay(req: SipRequest, flow: Flow, key: string): void {
    const routes = req.getAll('route');
    const next = routes.length ? (parseNameAddrSafe(routes[0]!)?.uri ?? req.uri) : req.uri;
    if (req.method === 'ACK') {
      this.#proxy.relayAck(req, next);
      return;
    }
    const st = this.#txns.newServer(key, req, flow, undefined);
    if (req.method === 'INVITE') this.#txns.respondLocally(st, 100);
    this.#proxy.relay(st, next);
  }
}
