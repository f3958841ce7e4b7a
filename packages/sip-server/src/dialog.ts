import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from '@conclave/log';
import { SipRequest, type SipResponse } from '@conclave/sip-message';
import type { AppConnection } from './control/app-connection.ts';
import { firstContactUri, ourVia } from './header-policy.ts';
import { newBranch } from './ids.ts';
import type { ClientTransaction, ServerTransaction } from './transactions.ts';
import type { Flow } from './transport/flow.ts';

/** Requests from the network that refresh the remote target (RFC 3261 §12.2.2, RFC 3311, RFC 6665). */
const TARGET_REFRESH = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

export interface DialogEvents {
  /** UAS: no ACK came for our 2xx within 64*T1; the dialog is still open, the parent hangs up. */
  ackTimeout: [];
  /** The dialog ended: the parent forgets it and ends what still runs in it. */
  closed: [];
}

export function dialogIdOf(callId: string, fromTag: string): string {
  return `${callId};from-tag=${fromTag}`;
}

/**
 * Server-side dialog state (RFC 3261 §12) for a dialog an app is in. The server keeps it so that
 * in-dialog requests from the network reach the right app with the dialog id, and so that the app's
 * in-dialog requests (`sip:placeholder`) get the right Request-URI, tags, CSeq and route set. It owns the
 * wait for the ACK of its 2xx (UAS) and the last ACK it sent (UAC), and reports `ackTimeout` and `closed`.
 */
export class Dialog extends EnhancedEventEmitter<DialogEvents> {
  /** drachtio dialog id: `<Call-ID>;from-tag=<From tag of the dialog-creating request>`. */
  readonly id: string;
  readonly role: 'uas' | 'uac';
  /**
   * Method that created the dialog: INVITE, SUBSCRIBE, or REFER (one from outside a dialog; a REFER in an
   * INVITE dialog keeps its subscription in that dialog).
   */
  readonly method: string;
  readonly callId: string;
  readonly localTag: string;
  /** Changed only through DialogTable.setRemoteTag (it indexes dialogs by tags). */
  remoteTag: string;
  /** Full From/To header values for requests we send: local is our side (with our tag). */
  localHeader: string;
  remoteHeader: string;
  remoteTarget: string;
  routeSet: string[];
  localSeq: number;
  remoteSeq: number;
  state: 'early' | 'confirmed' = 'early';
  flow: Flow;
  readonly app: AppConnection;
  /** UAC: CSeq and final status of the most recent INVITE we sent in this dialog. */
  lastInviteSeq = 0;
  lastInviteStatus = 0;
  /** UAS: the INVITE server transaction whose 2xx waits for an ACK. */
  #pendingAck: ServerTransaction | undefined;
  /** UAC: the last ACK sent, re-sent when the peer retransmits its 2xx. */
  #lastAck: { seq: number; bytes: Buffer; flow: Flow } | undefined;
  #closed = false;

  constructor(init: {
    id: string;
    role: 'uas' | 'uac';
    method: string;
    callId: string;
    localTag: string;
    remoteTag: string;
    localHeader: string;
    remoteHeader: string;
    remoteTarget: string;
    routeSet: string[];
    localSeq: number;
    remoteSeq: number;
    flow: Flow;
    app: AppConnection;
  }) {
    super();
    this.id = init.id;
    this.role = init.role;
    this.method = init.method;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localHeader = init.localHeader;
    this.remoteHeader = init.remoteHeader;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.flow = init.flow;
    this.app = init.app;
  }

  /** The dialog an app's INVITE or SUBSCRIBE creates with a response carrying a To tag (RFC 3261 §12.1.2). */
  static forUac(ct: ClientTransaction, app: AppConnection, res: SipResponse): Dialog {
    const req = ct.request;
    const localTag = req.fromTag ?? '';
    return new Dialog({
      id: dialogIdOf(req.callId, localTag),
      role: 'uac',
      method: ct.method,
      callId: req.callId,
      localTag,
      remoteTag: res.toTag ?? '',
      localHeader: req.get('from') ?? '',
      remoteHeader: res.get('to') ?? '',
      remoteTarget: firstContactUri(res) ?? req.uri,
      routeSet: res.getAll('record-route').reverse(),
      localSeq: req.cseq.seq,
      remoteSeq: 0,
      flow: ct.flow,
      app,
    });
  }

  /** The dialog our response `out` to an INVITE, SUBSCRIBE or REFER from the network creates (RFC 3261 §12.1.1). */
  static forUas(st: ServerTransaction, app: AppConnection, out: SipResponse): Dialog {
    const req = st.request;
    const remoteTag = req.fromTag ?? '';
    return new Dialog({
      id: dialogIdOf(req.callId, remoteTag),
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
      app,
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** UAS: the INVITE transaction whose 2xx still waits for its ACK. */
  get pendingAck(): ServerTransaction | undefined {
    return this.#pendingAck;
  }

  /** Keep a connection-oriented flow while it lasts; otherwise follow where the peer last spoke from. */
  useFlow(flow: Flow): void {
    if (this.flow.closed || !this.flow.reliable) this.flow = flow;
  }

  /** A request from the network in this dialog: remote CSeq, target refresh, flow. */
  receivedRequest(req: SipRequest, flow: Flow): void {
    const seq = req.cseq.seq;
    if (seq > this.remoteSeq) this.remoteSeq = seq;
    if (TARGET_REFRESH.has(req.method)) {
      const contact = firstContactUri(req);
      if (contact) this.remoteTarget = contact;
    }
    this.useFlow(flow);
  }

  /** UAS: our 2xx to INVITE went out on `st`: it retransmits until the ACK, `ackTimeout` at 64*T1. */
  awaitAck(st: ServerTransaction): void {
    this.#pendingAck = st;
    st.on('ackTimeout', () => {
      if (this.#pendingAck === st) this.#pendingAck = undefined;
      if (!this.#closed) this.emit('ackTimeout');
    });
    st.startAcceptedTimers();
  }

  /**
   * UAS: an ACK from the network. Returns the INVITE transaction whose 2xx it acknowledges (the dialog is
   * confirmed), or undefined for a copy or a stale ACK.
   */
  ackReceived(req: SipRequest, flow: Flow, log: Logger): ServerTransaction | undefined {
    const pending = this.#pendingAck;
    if (!pending || pending.acked) return undefined;
    if (pending.request.cseq.seq !== req.cseq.seq) {
      // JsSIP (3.13.8) draws its first CSeq from 0..9999 and treats 0 as unset: the ACK of an INVITE with
      // CSeq 0 gets a new random CSeq. Such an ACK is still the one for this 2xx; any other mismatch is stale.
      if (pending.request.cseq.seq !== 0) return undefined;
      log.info('ACK with a CSeq unlike its INVITE (0) accepted', { callId: req.callId, cseq: req.cseq.seq });
    }
    this.#pendingAck = undefined;
    this.state = 'confirmed';
    // Keep absorbing INVITE retransmissions for the rest of Timer L.
    pending.absorbRetransmissions();
    this.useFlow(flow);
    return pending;
  }

  /** UAC: the final response to an INVITE we sent in (or to create) this dialog. */
  inviteAnswered(seq: number, status: number): void {
    this.lastInviteSeq = seq;
    this.lastInviteStatus = status;
  }

  /** UAC: the app's ACK for our latest INVITE went out; kept to answer 2xx retransmissions. */
  ackSent(bytes: Buffer, flow: Flow): void {
    this.#lastAck = { seq: this.lastInviteSeq, bytes, flow };
    this.state = 'confirmed';
  }

  /** UAC: the peer retransmitted its 2xx (it lost our ACK): send the ACK again. */
  resendAck(seq: number): void {
    if (this.#lastAck && this.#lastAck.seq === seq) this.#lastAck.flow.send(this.#lastAck.bytes);
  }

  /** Request-line, Via, Max-Forwards, From, To, Call-ID, CSeq and Route for a request we send in the dialog. */
  buildRequest(method: string, flow: Flow): SipRequest {
    const out = new SipRequest(method, this.remoteTarget);
    out.append('Via', ourVia(flow, newBranch()));
    out.append('Max-Forwards', '70');
    out.append('From', this.localHeader);
    out.append('To', this.remoteHeader);
    out.append('Call-ID', this.callId);
    const seq = method === 'ACK' ? this.lastInviteSeq : ++this.localSeq;
    out.append('CSeq', `${seq} ${method}`);
    for (const r of this.routeSet) out.append('Route', r);
    return out;
  }

  /**
   * A request that ends the dialog once answered: BYE, or the final NOTIFY (Subscription-State: terminated)
   * of a subscription dialog — one a SUBSCRIBE or an out-of-dialog REFER created (RFC 6665 §4.1.3).
   */
  endedBy(req: SipRequest): boolean {
    if (req.method === 'BYE') return true;
    return (
      req.method === 'NOTIFY' &&
      (this.method === 'SUBSCRIBE' || this.method === 'REFER') &&
      /terminated/i.test(req.get('subscription-state') ?? '')
    );
  }

  /**
   * The dialog is over: the parent forgets it (and ends requests still pending in it); a 2xx still waiting
   * for its ACK stops being retransmitted.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('closed');
    const st = this.#pendingAck;
    if (st) {
      this.#pendingAck = undefined;
      if (!st.acked) st.absorbRetransmissions();
    }
  }
}
