/**
 * The SIP messages the server builds: its own answers (stateful and stateless), responses it makes up for
 * an app, the CANCEL of a client transaction, and the app's requests and responses in the shape they go
 * out in. Pure building: nothing is sent here.
 */
import {
  SipRequest,
  SipResponse,
  formatNameAddr,
  formatVia,
  parseCSeq,
  parseNameAddr,
  parseVia,
  reasonPhrase,
  tagOf,
  type NameAddr,
} from '@conclave/sip-message';
import {
  copyAppHeaders,
  copyVias,
  defaultContact,
  formatContact,
  localizeAddress,
  ourVia,
  safeTag,
  stampViaObject,
  withTag,
} from './header-policy.ts';
import { newBranch, newTag, type CSeqCounter, type CallIdGenerator } from './ids.ts';
import type { ServerTransaction } from './server-transaction.ts';
import type { Flow } from './transport/flow.ts';

/** Methods whose requests/responses carry a default Contact when the app gives none. */
export const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

/** The server's own answer on a server transaction (100 Trying, 487, 481, 503 …); gives it a To tag past 100. */
export function buildLocalResponse(
  st: ServerTransaction,
  status: number,
  reason: string | undefined,
  extra: Record<string, string>,
): Buffer {
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
  return out.toBuffer();
}

/**
 * A response without a transaction (malformed requests, overload). Undefined when it could not be routed
 * back (no or unparseable Via) or lacks a header it must echo; throws when such a header does not parse.
 */
export function buildStatelessResponse(
  req: SipRequest,
  flow: Flow,
  status: number,
  reason: string,
  extra: Record<string, string>,
): Buffer | undefined {
  const out = new SipResponse(status, reason);
  let vias = req.getAll('via');
  if (!vias.length) return undefined;
  try {
    // A response whose Via we cannot parse could not be routed back by anyone: drop instead.
    const parsed = vias.map((v) => parseVia(v));
    stampViaObject(parsed[0]!, flow);
    vias = [formatVia(parsed[0]!), ...vias.slice(1)];
  } catch {
    return undefined;
  }
  for (const v of vias) out.append('Via', v);
  const from = req.get('from');
  const to = req.get('to');
  const callId = req.get('call-id');
  const cseq = req.get('cseq');
  if (!from || !to || !callId || !cseq) return undefined;
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
  return out.toBuffer();
}

/** A response the server makes up for a request it sent (timeout 408, unreachable 503), as if from the network. */
export function madeUpResponse(req: SipRequest, status: number, reason: string): SipResponse {
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

/** CANCEL for an INVITE we sent (RFC 3261 §9.1), with the app's extra headers if it sent the CANCEL. */
export function buildCancel(invite: SipRequest, extra: SipRequest | undefined): SipRequest {
  const cancel = new SipRequest('CANCEL', invite.uri);
  cancel.append('Via', invite.getAll('via')[0]!);
  cancel.append('Max-Forwards', '70');
  cancel.append('From', invite.get('from')!);
  cancel.append('To', invite.get('to')!);
  cancel.append('Call-ID', invite.callId);
  cancel.append('CSeq', `${invite.cseq.seq} CANCEL`);
  for (const route of invite.getAll('route')) cancel.append('Route', route);
  if (extra) copyAppHeaders(extra, cancel);
  cancel.setBody(Buffer.alloc(0));
  cancel.sortHeaders();
  return cancel;
}

/** An app's new out-of-dialog request as it goes out on `flow`: our Via, a From tag, Call-ID and CSeq if missing. */
export function buildOutOfDialogRequest(
  req: SipRequest,
  flow: Flow,
  ids: { callIds: CallIdGenerator; cseq: CSeqCounter },
): SipRequest {
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
  out.append('Call-ID', req.get('call-id') ?? ids.callIds.next());
  const appCseq = req.get('cseq');
  const seq = appCseq && /^\s*\d+/.test(appCseq) ? Number(/\d+/.exec(appCseq)![0]) : ids.cseq.next();
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

/**
 * An app's in-dialog request as it goes out on `flow`: the dialog's request line, tags, CSeq and route set
 * (`base`, from Dialog.buildRequest) with the app's Contact, Max-Forwards, other headers and body.
 */
export function completeInDialogRequest(base: SipRequest, req: SipRequest, flow: Flow): SipRequest {
  const contacts = req.getAll('contact');
  if (contacts.length) for (const c of contacts) base.append('Contact', formatContact(localizeAddress(c, flow.local)));
  else if (req.method === 'INVITE') base.append('Contact', defaultContact(flow));
  if (req.get('max-forwards')) base.set('Max-Forwards', req.get('max-forwards')!);
  copyAppHeaders(req, base);
  base.setBody(req.body);
  base.sortHeaders();
  return base;
}

/**
 * The app's response to a request from the network, shaped as it goes out: the request's Via, From,
 * Call-ID and CSeq, a To tag (kept on the transaction), our Contact and the Record-Route set where a dialog
 * forms, and an RSeq for a reliable provisional (RFC 3262). `reliable` says it must be retransmitted until
 * PRACKed.
 */
export function buildAppResponse(st: ServerTransaction, res: SipResponse): { out: SipResponse; reliable: boolean } {
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
  return { out, reliable };
}
