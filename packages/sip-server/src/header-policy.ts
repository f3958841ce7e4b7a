/**
 * Header policy: how the server shapes what it sends (Via with rport/received, default Contact,
 * `localhost` replacement, which app headers pass through) — matching drachtio-server's output.
 */
import {
  SipRequest,
  type SipResponse,
  canonicalHeaderName,
  formatNameAddr,
  formatSipUri,
  formatVia,
  getParam,
  normalizeHeaderName,
  parseMessage,
  parseNameAddr,
  parseSipUri,
  parseVia,
  setParam,
  splitHeaderList,
  tagOf,
  viaBranch,
  viaSentBy,
  type NameAddr,
  type SipMessage,
  type Via,
} from '@conclave/sip-message';
import type { Flow, HostPort } from './transport/flow.ts';
import { viaTransport } from './transport/flow.ts';

/** Headers the server always builds itself in what it sends. */
export const SERVER_OWNED = new Set([
  'via',
  'from',
  'to',
  'call-id',
  'cseq',
  'content-length',
  'max-forwards',
  'contact',
  'route',
]);

export function isStream(flow: Flow): boolean {
  return flow.transport === 'tcp' || flow.transport === 'tls';
}

/** Parse what an app sent: srf writes lower-case header names and computes Content-Length itself. */
export function parseAppMessage(text: string): SipMessage {
  const buf = Buffer.from(text, 'utf8');
  const msg = parseMessage(buf, { stream: true, maxHeaders: 1024, lenient: true });
  // The frame delimits the message: take every byte after the blank line as the body.
  const sep = buf.indexOf('\r\n\r\n');
  if (sep >= 0) msg.body = Buffer.from(buf.subarray(sep + 4));
  return msg;
}

export function serverKey(req: SipRequest, via: Via, method: string, flow: Flow): string {
  const branch = viaBranch(via);
  const m = method === 'ACK' ? 'INVITE' : method;
  // A retransmission never changes transport, so the transport is part of the key: the same bytes over
  // another transport are another request (RFC 4475's messages, replayed over UDP, TCP and WS).
  if (branch && branch.startsWith('z9hG4bK')) return `${branch}|${viaSentBy(via)}|${flow.transport}|${m}`;
  // RFC 2543 peers: fall back to the identifying fields of the request (RFC 3261 §17.2.3). The top Via's
  // sent-by is often a bare host name shared by unrelated senders, so where the request really came from is
  // part of the key: the same message over another transport or connection is a new request, not a
  // retransmission to be answered on the first one's flow (RFC 4475 §3.4.1 "inv2543").
  const source = `${flow.transport}:${flow.remote.host}:${flow.remote.port}`;
  return `legacy|${req.get('call-id')}|${req.fromTag ?? ''}|${req.cseq.seq}|${viaSentBy(via)}|${source}|${m}`;
}

/** RFC 3261 §18.2.1 + RFC 3581: note where the request really came from in its top Via. */
export function stampViaObject(via: Via, flow: Flow): void {
  const rport = getParam(via.params, 'rport');
  const remoteHost = flow.remote.host;
  const hostBare = via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
  if (rport !== undefined) {
    setParam(via.params, 'rport', String(flow.remote.port));
    if (hostBare !== remoteHost) setParam(via.params, 'received', remoteHost);
    return;
  }
  if (hostBare !== remoteHost) setParam(via.params, 'received', remoteHost);
  // Connection-oriented flows always carry the port (sofia does this for WebSocket clients).
  if (flow.reliable) setParam(via.params, 'rport', String(flow.remote.port));
}

export function stampVia(req: SipRequest, flow: Flow): void {
  const idx = req.headers.findIndex((h) => normalizeHeaderName(h.name) === 'via');
  if (idx < 0) return;
  const field = req.headers[idx]!;
  const values = splitHeaderList(field.value);
  const via = parseVia(values[0]!);
  stampViaObject(via, flow);
  values[0] = formatVia(via);
  req.headers[idx] = { name: field.name, value: values.join(', ') };
}

export function ourVia(flow: Flow, branch: string): string {
  const rport = flow.transport === 'ws' || flow.transport === 'wss' ? '' : ';rport';
  return `SIP/2.0/${viaTransport(flow.transport)} ${flow.local.host}:${flow.local.port}${rport};branch=${branch}`;
}

export function defaultContact(flow: Flow): string {
  const t = flow.transport === 'udp' ? '' : `;transport=${flow.transport}`;
  return `<sip:${flow.local.host}:${flow.local.port}${t}>`;
}

/** drachtio replaces `localhost` in app-supplied From/Contact with its own address. */
export function localizeAddress(value: string, local: HostPort): string {
  if (!/@localhost\b|sips?:localhost\b/i.test(value)) return value;
  try {
    const na = parseNameAddr(value);
    const uri = parseSipUri(na.uri);
    if (uri.host.toLowerCase() !== 'localhost') return value;
    uri.host = local.host;
    uri.port ??= local.port;
    return formatNameAddr({ ...na, uri: formatSipUri(uri) });
  } catch {
    return value;
  }
}

export function formatContact(value: string): string {
  if (value.trim() === '*') return '*';
  try {
    return formatNameAddr(parseNameAddr(value));
  } catch {
    return value;
  }
}

export function safeContacts(msg: SipMessage): string[] {
  try {
    return msg.contacts.map((c) => c.uri);
  } catch {
    return [];
  }
}

export function parseNameAddrSafe(value: string): NameAddr | undefined {
  try {
    return parseNameAddr(value);
  } catch {
    return undefined;
  }
}

export function firstContactUri(msg: SipMessage): string | undefined {
  try {
    return msg.contacts[0]?.uri;
  } catch {
    return undefined;
  }
}

export function safeTag(value: string): string | undefined {
  try {
    return tagOf(parseNameAddr(value));
  } catch {
    return undefined;
  }
}

export function withTag(value: string, tag: string | undefined): string {
  if (!tag || safeTag(value)) return value;
  return `${value};tag=${tag}`;
}

export function copyVias(from: SipRequest, to: SipResponse): void {
  for (const h of from.headers) if (normalizeHeaderName(h.name) === 'via') to.append('Via', h.value);
}

/**
 * Everything the app set except what the server owns, with canonical header names. Like drachtio, a
 * body that is plainly SDP gets `Content-Type: application/sdp` when the app gave no type.
 */
export function copyAppHeaders(from: SipMessage, to: SipMessage): void {
  for (const h of from.headers) {
    const norm = normalizeHeaderName(h.name);
    if (SERVER_OWNED.has(norm) || norm === 'record-route') continue;
    to.append(canonicalHeaderName(h.name), h.value);
  }
  if (from.body.length && !from.has('content-type') && from.body.subarray(0, 4).toString('latin1') === 'v=0\r') {
    to.append('Content-Type', 'application/sdp');
  }
}

/** ACK for a non-2xx final response (RFC 3261 §17.1.1.3). */
export function buildNon2xxAck(req: SipRequest, res: SipResponse): SipRequest {
  const ack = new SipRequest('ACK', req.uri);
  ack.append('Via', req.getAll('via')[0]!);
  ack.append('Max-Forwards', '70');
  ack.append('From', req.get('from')!);
  ack.append('To', res.get('to') ?? req.get('to')!);
  ack.append('Call-ID', req.callId);
  ack.append('CSeq', `${req.cseq.seq} ACK`);
  for (const r of req.getAll('route')) ack.append('Route', r);
  ack.setBody(Buffer.alloc(0));
  ack.sortHeaders();
  return ack;
}
