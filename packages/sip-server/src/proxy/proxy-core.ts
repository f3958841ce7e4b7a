import type { Logger } from '@conclave/log';
import {
  SipRequest,
  SipResponse,
  canonicalHeaderName,
  normalizeHeaderName,
  splitHeaderList,
} from '@conclave/sip-message';
import { proxyProgressFields } from '../control/wire-protocol.ts';
import { SERVER_OWNED, ourVia, parseAppMessage, safeContacts } from '../header-policy.ts';
import { newBranch } from '../ids.ts';
import { madeUpResponse } from '../messages.ts';
import type { SipTimers } from '../timers.ts';
import type { ClientTransaction } from '../client-transaction.ts';
import type { ServerTransaction } from '../server-transaction.ts';
import type { Flow } from '../transport/flow.ts';
import type { AppConnection } from '../control/app-connection.ts';
import { ProxyOperation, betterResponse, type ProxyOptions } from './proxy-operation.ts';

/** Methods whose requests a Record-Routing proxy inserts itself into. */
const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

/** What the proxy core needs from the transaction layer it runs on. */
export interface ProxyHost {
  readonly log: Logger;
  readonly timers: SipTimers;
  setTimer(ms: number, fn: () => void): NodeJS.Timeout | undefined;
  withFlow(uri: string, preferred: Flow | undefined, cb: (flow: Flow | undefined) => void): void;
  startClient(
    req: SipRequest,
    bytes: Buffer,
    flow: Flow,
    app: AppConnection | undefined,
    dialogId: string | undefined,
  ): ClientTransaction;
  cancelClient(ct: ClientTransaction): Buffer;
}

/**
 * Stateful proxying (RFC 3261 §16): srf.proxyRequest's serial and parallel forking, redirects, timeouts,
 * best-response selection, and relaying in-dialog requests along our own Record-Route.
 */
export class ProxyCore {
  readonly #host: ProxyHost;
  /** Operations by the server transaction they answer (an app's request, or one we relay along our Record-Route). */
  readonly #byServer = new WeakMap<ServerTransaction, ProxyOperation>();
  /** Operations by their branches: responses to these go upstream, not to an app. */
  readonly #byBranch = new WeakMap<ClientTransaction, ProxyOperation>();

  constructor(host: ProxyHost) {
    this.#host = host;
  }

  /** The proxy operation a server transaction was handed to, if any. */
  operationOf(st: ServerTransaction): ProxyOperation | undefined {
    return this.#byServer.get(st);
  }

  /** The proxy operation a client transaction is a branch of, if any. */
  branchOf(ct: ClientTransaction): ProxyOperation | undefined {
    return this.#byBranch.get(ct);
  }

  /** Forward an ACK of a dialog we Record-Routed toward the next hop (statelessly). */
  relayAck(req: SipRequest, next: string): void {
    this.#host.withFlow(next, undefined, (out) => {
      if (!out) return;
      const ack = new SipRequest('ACK', req.uri);
      ack.headers = req.headers.map((h) => ({ ...h }));
      const mf = Number(req.get('max-forwards') ?? '70');
      ack.set('Max-Forwards', String(Math.max(0, (Number.isFinite(mf) ? mf : 70) - 1)));
      ack.prepend('Via', ourVia(out, newBranch()));
      ack.body = req.body;
      out.send(ack.toBuffer());
    });
  }

  /** Relay an in-dialog request of a dialog we Record-Routed (no app involved), on its server transaction. */
  relay(st: ServerTransaction, next: string): ProxyOperation {
    const op = new ProxyOperation(
      st,
      undefined,
      '',
      {
        recordRoute: false,
        fullResponse: false,
        followRedirects: false,
        simultaneous: false,
        provisionalTimeout: 0,
        finalTimeout: 0,
      },
      [],
    );
    this.#byServer.set(st, op);
    op.tried.add(next);
    this.launch(op, st.request.uri, next);
    return op;
  }

  /**
   * An app's `proxy` command on the server transaction of its request: fork it to the targets, with the
   * headers of the app's message (`body`) except those the server or the proxy owns.
   */
  start(
    st: ServerTransaction,
    app: AppConnection,
    msgId: string,
    opts: ProxyOptions,
    targets: string[],
    body: string,
  ): void {
    const op = new ProxyOperation(st, app, msgId, opts, targets);
    try {
      const template = parseAppMessage(body);
      for (const h of template.headers) {
        const norm = normalizeHeaderName(h.name);
        if (SERVER_OWNED.has(norm) || norm === 'record-route' || norm === 'content-type') continue;
        op.templateHeaders.push({ name: canonicalHeaderName(h.name), value: h.value });
      }
    } catch {
      // headers are optional
    }
    this.#byServer.set(st, op);
    app.log.debug('proxying request', {
      method: st.method,
      targets: targets.join(','),
      fork: opts.simultaneous ? 'simultaneous' : 'serial',
    });
    this.next(op);
  }

  next(op: ProxyOperation): void {
    if (op.finished) return;
    while (op.pending.length) {
      const target = op.pending.shift()!;
      if (op.tried.has(target)) continue;
      op.tried.add(target);
      this.launch(op, target, target);
      if (!op.opts.simultaneous) return;
    }
    if (op.branches.size === 0) this.#finish(op);
  }

  /** Send one branch: `requestUri` goes in the request line, `destination` decides where it is sent. */
  launch(op: ProxyOperation, requestUri: string, destination: string): void {
    this.#host.withFlow(destination, undefined, (flow) => {
      if (op.finished) return;
      if (!flow) {
        this.#host.log.info('proxy target unreachable', { target: destination });
        op.best ??= this.#local(op, 503, 'Service Unavailable');
        setImmediate(() => this.next(op));
        return;
      }
      const orig = op.st.request;
      const out = new SipRequest(orig.method, requestUri);
      out.headers = orig.headers.map((h) => ({ ...h }));
      const mf = Number(orig.get('max-forwards') ?? '70');
      out.set('Max-Forwards', String(Math.max(0, (Number.isFinite(mf) ? mf : 70) - 1)));
      for (const h of op.templateHeaders) out.set(h.name, h.value);
      if (op.opts.recordRoute && DIALOG_METHODS.has(orig.method)) {
        const t = flow.transport === 'udp' ? '' : `;transport=${flow.transport}`;
        out.prepend('Record-Route', `<sip:${flow.local.host}:${flow.local.port}${t};lr>`);
      }
      out.prepend('Via', ourVia(flow, newBranch()));
      out.body = orig.body;
      const bytes = out.toBuffer();
      const ct = this.#host.startClient(out, bytes, flow, undefined, undefined);
      this.#byBranch.set(ct, op);
      ct.target = requestUri;
      op.branches.add(ct);
      if (op.opts.provisionalTimeout > 0) {
        ct.proxyTimer(op.opts.provisionalTimeout, () => {
          if (!ct.provisionalReceived && op.branches.has(ct)) this.#branchFailed(op, ct, 'no provisional response');
        });
      }
      if (op.opts.finalTimeout > 0) {
        ct.proxyTimer(op.opts.finalTimeout, () => {
          if (op.branches.has(ct) && (ct.state === 'calling' || ct.state === 'proceeding' || ct.state === 'trying'))
            this.#branchFailed(op, ct, 'no final response');
        });
      }
    });
  }

  #branchFailed(op: ProxyOperation, ct: ClientTransaction, why: string): void {
    this.#host.log.info('proxy branch abandoned', { target: ct.target, why });
    op.branches.delete(ct);
    if (ct.method === 'INVITE' && (ct.state === 'calling' || ct.state === 'proceeding')) this.#host.cancelClient(ct);
    op.best ??= this.#local(op, 408, 'Request Timeout');
    this.next(op);
  }

  onResponse(ct: ClientTransaction, res: SipResponse, flow: Flow): void {
    const op = this.#byBranch.get(ct)!;
    const status = res.status;
    if (op.app && op.opts.fullResponse && !op.app.closed && !op.finished) {
      const bytes = res.toBuffer();
      op.app.respond(op.msgId, ...proxyProgressFields(bytes, flow, ct.id));
    }
    if (status === 100) return;
    const member = op.branches.has(ct);
    if (status >= 200 && status < 300) {
      if (op.st.method === 'INVITE' || !op.answered) {
        this.relayUpstream(op, res, false);
        op.answered = true;
      }
      op.branches.delete(ct);
      if (!op.finished) {
        if (op.st.method === 'INVITE') for (const other of op.branches) this.#host.cancelClient(other);
        op.branches.clear();
        this.done(op);
      }
      return;
    }
    if (!member || op.finished) return;
    if (status < 200) {
      this.relayUpstream(op, res, false);
      return;
    }
    op.branches.delete(ct);
    if (status >= 300 && status < 400 && op.opts.followRedirects) {
      for (const c of safeContacts(res)) if (!op.tried.has(c)) op.pending.push(c);
    } else if (betterResponse(op.best, res)) {
      op.best = res;
    }
    if (op.opts.simultaneous && op.pending.length === 0 && op.branches.size > 0) return;
    this.next(op);
  }

  /** Forward a downstream response to the upstream client: drop our Via, send on the server transaction. */
  relayUpstream(op: ProxyOperation, res: SipResponse, retransmission: boolean): void {
    const up = new SipResponse(res.status, res.reason);
    up.headers = res.headers.map((h) => ({ ...h }));
    const idx = up.headers.findIndex((h) => normalizeHeaderName(h.name) === 'via');
    if (idx >= 0) {
      const values = splitHeaderList(up.headers[idx]!.value).slice(1);
      if (values.length) up.headers[idx] = { name: up.headers[idx]!.name, value: values.join(', ') };
      else up.headers.splice(idx, 1);
    }
    up.body = res.body;
    const bytes = up.toBuffer();
    const st = op.st;
    if (retransmission || st.lastStatus >= 200) {
      // 2xx retransmissions and forked 2xx pass through statelessly.
      if (res.status >= 200 && res.status < 300) st.flow.send(bytes);
      return;
    }
    st.sendResponse(bytes, res.status);
    if (st.method === 'INVITE' && res.status >= 200 && res.status < 300) {
      // The ACK is end-to-end; keep the transaction only to absorb INVITE retransmissions.
      st.absorbRetransmissions();
    }
  }

  #finish(op: ProxyOperation): void {
    if (op.finished) return;
    if (!op.answered) {
      const best = op.best ?? this.#local(op, 408, 'Request Timeout');
      if (best.status === 503) {
        // RFC 3261 §16.7: a 503 is not passed upstream as such.
        best.status = 500;
        best.reason = 'Server Internal Error';
      }
      this.relayUpstream(op, best, false);
    }
    this.done(op);
  }

  /** A response the proxy makes up, shaped like a downstream one (a placeholder Via on top to be stripped). */
  #local(op: ProxyOperation, status: number, reason: string): SipResponse {
    const res = madeUpResponse(op.st.request, status, reason);
    res.prepend('Via', 'SIP/2.0/UDP 0.0.0.0;branch=z9hG4bKproxylocal');
    return res;
  }

  cancelAll(op: ProxyOperation): void {
    for (const ct of op.branches) if (ct.method === 'INVITE') this.#host.cancelClient(ct);
    op.branches.clear();
    op.pending.length = 0;
  }

  done(op: ProxyOperation): void {
    if (op.finished) return;
    op.finished = true;
    if (op.app && !op.app.closed) op.app.respond(op.msgId, 'OK', 'done');
  }
}
