import net from 'node:net';
import type { SipRequest } from '@conclave/sip-message';
import { AppConnection } from './control/app-connection.ts';
import type { EngineContext } from './engine-context.ts';
import type { ServerTransaction } from './transactions.ts';
import type { Flow, HostPort } from './transport/flow.ts';

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

/**
 * Outbound mode: the router names where an app listens for a new request; the server connects there and
 * hands the request over once the app authenticated (480 to the caller when it does not).
 */
export class OutboundConnections {
  readonly #ctx: EngineContext;
  readonly #router: OutboundRouter;
  readonly #handOver: (st: ServerTransaction, app: AppConnection) => void;
  /** Outbound connections not yet authenticated, with the request waiting for them. */
  readonly #pending = new Map<AppConnection, ServerTransaction>();

  constructor(
    ctx: EngineContext,
    router: OutboundRouter,
    handOver: (st: ServerTransaction, app: AppConnection) => void,
  ) {
    this.#ctx = ctx;
    this.#router = router;
    this.#handOver = handOver;
  }

  /** Ask the router; true when it took the request (a connection to an app is on its way). */
  route(req: SipRequest, flow: Flow, key: string): boolean {
    const { log, txns, timers, timerSet, hub } = this.#ctx;
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
      decision = this.#router(info);
    } catch (err) {
      log.warn('outbound router threw; routing normally', { err });
      return false;
    }
    if (!decision) return false;
    const st = txns.newServer(key, req, flow, undefined);
    if (req.method === 'INVITE') txns.respondLocally(st, 100);
    const connect = (target: HostPort | undefined) => {
      if (this.#ctx.isClosed() || st.lastStatus >= 200) return;
      if (!target) {
        txns.respondLocally(st, 480);
        return;
      }
      const socket = net.connect({ host: target.host, port: target.port });
      const app = new AppConnection(socket, log.child('outbound'));
      app.outbound = true;
      hub.attach(app);
      this.#pending.set(app, st);
      // The app must authenticate promptly, or the caller gets 480 as with drachtio.
      timerSet.set(Math.max(2000, 8 * timers.T1), () => {
        if (this.#pending.get(app) === st) app.destroy();
      });
    };
    if (decision instanceof Promise) {
      decision.then(connect, (err: unknown) => {
        log.warn('outbound router failed', { err });
        connect(undefined);
      });
    } else {
      connect(decision);
    }
    return true;
  }

  /** An app authenticated: if it is one we connected to, it gets its request now. */
  authenticated(app: AppConnection): void {
    const waiting = this.#pending.get(app);
    if (!waiting) return;
    this.#pending.delete(app);
    this.#handOver(waiting, app);
  }

  /** An app's connection closed: if it never took its request, the caller gets 480. */
  closed(app: AppConnection): void {
    const waiting = this.#pending.get(app);
    if (!waiting) return;
    this.#pending.delete(app);
    this.#ctx.log.info('outbound connection to app failed, answering 480', { remote: app.remote });
    this.#ctx.txns.respondLocally(waiting, 480);
  }
}
