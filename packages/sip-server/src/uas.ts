import type { SipRequest, SipResponse, Via } from '@conclave/sip-message';
import type { AppConnection } from './control/app-connection.ts';
import { arrivedOnField, responseSentFields, unsolicitedFrame } from './control/wire-protocol.ts';
import { Dialog, dialogIdOf } from './dialog.ts';
import type { EngineContext } from './engine-context.ts';
import { serverKey } from './header-policy.ts';
import { newTag } from './ids.ts';
import { buildAppResponse } from './messages.ts';
import type { ServerTransaction } from './transactions.ts';
import { wireTransport, type Flow } from './transport/flow.ts';

/**
 * Requests that create a dialog when the app answers them 2xx (or with a provisional carrying a To tag):
 * INVITE, SUBSCRIBE, and REFER outside a dialog — its 2xx creates the implicit subscription the refer
 * NOTIFYs go in (RFC 3515 §2.4.4, RFC 6665 §4.2), exactly as a SUBSCRIBE's does.
 */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

/**
 * The server side of the apps' calls: requests from the network go to their app on a server transaction
 * (new ones with the address they arrived on, in-dialog ones with their dialog id), ACK and CANCEL are
 * matched to their INVITE, and the app's responses go out with the dialog they create. A 2xx nobody ACKs
 * ends in a BYE the server sends itself.
 */
export class Uas {
  readonly #ctx: EngineContext;

  constructor(ctx: EngineContext) {
    this.#ctx = ctx;
  }

  // ---------------------------------------------------------------------------------------------
  // Network → app: requests
  // ---------------------------------------------------------------------------------------------

  /** Give a new incoming request to its app: guard timers, then `sip|network|…` with the local address. */
  handOver(st: ServerTransaction, app: AppConnection): void {
    const { timers, log, txns, hub } = this.#ctx;
    const req = st.request;
    const flow = st.flow;
    st.app = app;
    if (st.method === 'INVITE') {
      st.guard(timers.inviteServerTimeout, () => {
        if (st.lastStatus < 200 && st.state !== 'terminated') {
          log.warn('app never answered INVITE, sending 408', { callId: req.get('call-id') });
          txns.respondLocally(st, 408);
        }
      });
    } else {
      // An app that never answers a non-INVITE request: drop the transaction after 64*T1.
      st.guard(64 * timers.T1 + timers.T4, () => {
        if (st.lastStatus < 200) st.terminate();
      });
    }
    const bytes = req.toBuffer();
    hub.fromNetwork(app, bytes, flow, st.id, '', arrivedOnField(flow.local));
    if (st.method === 'INVITE') hub.cdr('attempt', 'network', bytes);
  }

  /** A request with a To tag: to the app of its dialog, or 481 when there is none (or its app is gone). */
  inDialog(req: SipRequest, flow: Flow, key: string, toTag: string): void {
    const { dialogs, txns, timers, hub, log } = this.#ctx;
    const fromTag = req.fromTag ?? '';
    const d = dialogs.match(req.callId, toTag, fromTag);
    if (!d || d.app.closed) {
      if (d) d.close();
      log.info('in-dialog request for unknown dialog', { method: req.method, callId: req.callId });
      const st = txns.newServer(key, req, flow, undefined);
      txns.respondLocally(st, 481);
      return;
    }
    const st = txns.newServer(key, req, flow, d.app);
    st.dialogId = d.id;
    st.toTag = d.localTag;
    d.receivedRequest(req, flow);
    if (req.method === 'INVITE') txns.respondLocally(st, 100);
    if (req.method === 'PRACK') this.#prack(req, d);
    if (req.method !== 'INVITE') {
      st.guard(64 * timers.T1 + timers.T4, () => {
        if (st.lastStatus < 200) st.terminate();
      });
    }
    const bytes = req.toBuffer();
    hub.fromNetwork(d.app, bytes, flow, st.id, d.id);
    if (req.method === 'BYE') {
      if (d.method === 'INVITE') hub.cdr('stop', 'network', bytes, 'normal-release');
      // drachtio forgets the dialog as soon as a BYE arrives from the network.
      d.close();
    }
  }

  /** An ACK: transaction business for a non-2xx final response, else the dialog's (and the app's). */
  ack(req: SipRequest, flow: Flow, topVia: Via): void {
    const { txns, dialogs, hub, log } = this.#ctx;
    const st = txns.server(serverKey(req, topVia, 'INVITE', flow));
    if (st && st.lastStatus >= 300) {
      // ACK for a non-2xx final response: transaction business only (RFC 3261 §17.2.1).
      st.ackedNon2xx(flow.reliable);
      return;
    }
    const toTag = req.toTag;
    if (!toTag) return;
    const d = dialogs.match(req.callId, toTag, req.fromTag ?? '');
    if (!d) {
      log.debug('ACK for unknown dialog dropped', { callId: req.callId });
      return;
    }
    const invite = d.ackReceived(req, flow, log);
    if (!invite) return;
    hub.sendSip(d.app, 'network', req.toBuffer(), '', flow.remote, invite.id, d.id, '');
  }

  /** A CANCEL: 200 for it, 487 for its INVITE if still unanswered, and its app (or the proxy) is told. */
  cancel(req: SipRequest, flow: Flow, topVia: Via): void {
    const { txns, dialogs, proxy, hub } = this.#ctx;
    const inv = txns.server(serverKey(req, topVia, 'INVITE', flow));
    const key = serverKey(req, topVia, 'CANCEL', flow);
    const cst = txns.newServer(key, req, flow, undefined);
    if (!inv) {
      txns.respondLocally(cst, 481);
      return;
    }
    if (inv.lastStatus >= 200) {
      // Too late: the INVITE already has its final response; CANCEL has no effect.
      cst.toTag = inv.toTag;
      txns.respondLocally(cst, 200);
      return;
    }
    inv.toTag ??= newTag();
    cst.toTag = inv.toTag;
    txns.respondLocally(cst, 200);
    txns.respondLocally(inv, 487);
    const op = proxy.operationOf(inv);
    if (op) {
      proxy.cancelAll(op);
      proxy.done(op);
      return;
    }
    hub.cdr('stop', 'network', req.toBuffer(), 'call-canceled');
    const dialogId = dialogIdOf(req.callId, req.fromTag ?? '');
    const d = dialogs.get(dialogId);
    const reported = d && d.role === 'uas' ? dialogId : '';
    if (d && d.role === 'uas' && d.state === 'early') d.close();
    if (inv.app && !inv.app.closed) hub.fromNetwork(inv.app, req.toBuffer(), flow, inv.id, reported);
  }

  /** A PRACK for a reliable provisional we sent stops its retransmission. */
  #prack(req: SipRequest, d: Dialog): void {
    const rack = /^\s*(\d+)\s+(\d+)\s+(\S+)/.exec(req.get('rack') ?? '');
    if (!rack) return;
    for (const st of this.#ctx.txns.servers()) {
      if (st.request.callId === d.callId) st.prack(Number(rack[1]), Number(rack[2]));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // App → network: responses
  // ---------------------------------------------------------------------------------------------

  /** `sip|<txnId>` with a response: the app answers a request it was given. */
  appResponse(app: AppConnection, msgId: string, txnId: string, res: SipResponse): void {
    const { txns, dialogs, hub } = this.#ctx;
    const st = txns.serverById(txnId);
    if (!st) {
      app.refuse(msgId, 'unknown transaction id');
      return;
    }
    if (st.lastStatus >= 200) {
      app.refuse(msgId, 'final response already sent');
      return;
    }
    if (this.#ctx.proxy.operationOf(st)) {
      app.refuse(msgId, 'transaction is being proxied');
      return;
    }
    const req = st.request;
    const status = res.status;
    const flow = st.flow;
    const { out, reliable } = buildAppResponse(st, res);

    let dialog: Dialog | undefined;
    const isInitialDialogRequest = !st.dialogId && DIALOG_CREATING.has(st.method);
    // A REFER accepted with `Refer-Sub: false` has no implicit subscription, hence no dialog (RFC 4488 §4).
    const noSubscription = st.method === 'REFER' && /^\s*false\b/i.test(out.get('refer-sub') ?? '');
    if (isInitialDialogRequest && !noSubscription && status > 100 && status < 300) {
      dialog = this.#upsertDialog(st, out, status < 200 ? 'early' : 'confirmed');
    } else if (st.dialogId) {
      dialog = dialogs.get(st.dialogId);
    }
    const bytes = out.toBuffer();
    st.sendResponse(bytes, status);
    if (reliable) st.retransmitReliable(bytes);
    if (st.method === 'INVITE' && !st.dialogId && status >= 200) {
      if (status < 300) hub.cdr('start', 'application', bytes, 'uas');
      else hub.cdr('stop', 'application', bytes, 'call-rejected');
    }
    if (status >= 200 && status < 300 && st.method === 'INVITE' && dialog) dialog.awaitAck(st);
    if (isInitialDialogRequest && status >= 300) {
      const d = dialogs.get(dialogIdOf(req.callId, req.fromTag ?? ''));
      if (d && d.state === 'early' && d.role === 'uas') d.close();
      dialog = undefined;
    }
    const dialogId = dialog && !dialog.closed ? dialog.id : '';
    const transport = st.method === 'INVITE' ? wireTransport(flow.transport) : '';
    app.respond(msgId, ...responseSentFields(bytes, transport, flow.remote, st.id, dialogId));
    // The app accepted a subscription's final NOTIFY: the subscription dialog is over.
    if (dialog && st.method === 'NOTIFY' && status < 300 && dialog.endedBy(req)) dialog.close();
  }

  /** The dialog the app's response to an INVITE, SUBSCRIBE or REFER creates (early for a provisional). */
  #upsertDialog(st: ServerTransaction, out: SipResponse, state: 'early' | 'confirmed'): Dialog | undefined {
    if (!st.app) return undefined;
    const req = st.request;
    let d = this.#ctx.dialogs.get(dialogIdOf(req.callId, req.fromTag ?? ''));
    if (!d) {
      d = Dialog.forUas(st, st.app, out);
      this.#ctx.adoptDialog(d);
    }
    if (state === 'confirmed') d.state = 'confirmed';
    return d;
  }

  /** No ACK for our 2xx: hang up with a BYE and tell the app with an `unsolicited` message. */
  hangUpUnacknowledged(d: Dialog): void {
    const { log, dest, txns, hub } = this.#ctx;
    log.info('ACK timeout, sending BYE', { callId: d.callId });
    dest.withFlowFor(d, (flow) => {
      const bye = d.buildRequest('BYE', flow ?? d.flow);
      bye.set('Reason', 'SIP;cause=200;text="ACK timeout"');
      bye.setBody(Buffer.alloc(0));
      bye.sortHeaders();
      const bytes = bye.toBuffer();
      if (flow) {
        txns.startClient(bye, bytes, flow, undefined, d.id);
      }
      hub.cdr('stop', 'application', bytes, 'system-initiated-termination');
      const sentFlow = flow ?? d.flow;
      if (!d.app.closed) d.app.send(unsolicitedFrame(bytes, sentFlow, d.id));
      d.close();
    });
  }
}
