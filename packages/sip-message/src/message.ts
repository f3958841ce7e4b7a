import { SipParseError } from './errors.ts';
import { canonicalHeaderName, headerRank, isListHeader, normalizeHeaderName } from './header-names.ts';
import { parseNameAddr, tagOf, type NameAddr } from './name-addr.ts';
import { splitHeaderList } from './split.ts';
import { parseViaList, type Via } from './via.ts';

/**
 * One header line. `name` is spelled as received (or as set); `value` is unfolded and trimmed.
 * `raw` is the exact original line (without CRLF) and is used when serialising an unmodified field,
 * so a message can be forwarded byte-for-byte except where it was deliberately changed.
 */
export interface HeaderField {
  name: string;
  value: string;
  raw?: string;
}

export interface CSeq {
  seq: number;
  method: string;
}

const CRLF = '\r\n';

abstract class SipMessageBase {
  headers: HeaderField[] = [];
  body: Buffer = Buffer.alloc(0);
  version = 'SIP/2.0';

  abstract startLine(): string;

  /** First value of a header (whole line value, not split). */
  get(name: string): string | undefined {
    const norm = normalizeHeaderName(name);
    for (const h of this.headers) if (normalizeHeaderName(h.name) === norm) return h.value;
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** All values of a header; list headers (Via, Contact, Route...) are split into their elements. */
  getAll(name: string): string[] {
    const norm = normalizeHeaderName(name);
    const list = isListHeader(norm);
    const out: string[] = [];
    for (const h of this.headers) {
      if (normalizeHeaderName(h.name) !== norm) continue;
      if (list) out.push(...splitHeaderList(h.value));
      else out.push(h.value);
    }
    return out;
  }

  /** Replace every instance of a header by a single field (placed where the first one was). */
  set(name: string, value: string): this {
    const norm = normalizeHeaderName(name);
    const idx = this.headers.findIndex((h) => normalizeHeaderName(h.name) === norm);
    this.remove(name);
    const field = { name: canonicalHeaderName(name), value };
    if (idx < 0) this.headers.push(field);
    else this.headers.splice(Math.min(idx, this.headers.length), 0, field);
    return this;
  }

  append(name: string, value: string): this {
    this.headers.push({ name: canonicalHeaderName(name), value });
    return this;
  }

  prepend(name: string, value: string): this {
    this.headers.unshift({ name: canonicalHeaderName(name), value });
    return this;
  }

  remove(name: string): this {
    const norm = normalizeHeaderName(name);
    this.headers = this.headers.filter((h) => normalizeHeaderName(h.name) !== norm);
    return this;
  }

  get callId(): string {
    const v = this.get('call-id');
    if (v === undefined) throw new SipParseError('Missing Call-ID');
    return v;
  }

  get cseq(): CSeq {
    const v = this.get('cseq');
    if (v === undefined) throw new SipParseError('Missing CSeq');
    return parseCSeq(v);
  }

  get from(): NameAddr {
    const v = this.get('from');
    if (v === undefined) throw new SipParseError('Missing From');
    return parseNameAddr(v);
  }

  get to(): NameAddr {
    const v = this.get('to');
    if (v === undefined) throw new SipParseError('Missing To');
    return parseNameAddr(v);
  }

  get fromTag(): string | undefined {
    return tagOf(this.from);
  }

  get toTag(): string | undefined {
    return tagOf(this.to);
  }

  get vias(): Via[] {
    const out: Via[] = [];
    for (const h of this.headers) if (normalizeHeaderName(h.name) === 'via') out.push(...parseViaList(h.value));
    return out;
  }

  get topVia(): Via | undefined {
    for (const h of this.headers) if (normalizeHeaderName(h.name) === 'via') return parseViaList(h.value)[0];
    return undefined;
  }

  get contacts(): NameAddr[] {
    const out: NameAddr[] = [];
    for (const v of this.getAll('contact')) if (v !== '*') out.push(parseNameAddr(v));
    return out;
  }

  /** Set the body and the matching Content-Length (bytes). Content-Type is set when given. */
  setBody(body: Buffer | string, contentType?: string): this {
    this.body = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    if (contentType !== undefined) this.set('content-type', contentType);
    this.set('content-length', String(this.body.length));
    return this;
  }

  /** Reorder headers the way sofia-sip serialises them: known headers by rank, unknown last. */
  sortHeaders(): this {
    const indexed = this.headers.map((h, i) => ({ h, i, r: headerRank(h.name) }));
    indexed.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r - b.r));
    this.headers = indexed.map((x) => x.h);
    return this;
  }

  headerText(): string {
    let s = this.startLine() + CRLF;
    for (const h of this.headers) s += (h.raw ?? `${h.name}: ${h.value}`) + CRLF;
    return s + CRLF;
  }

  toBuffer(): Buffer {
    const head = Buffer.from(this.headerText(), 'utf8');
    return this.body.length ? Buffer.concat([head, this.body]) : head;
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

export class SipRequest extends SipMessageBase {
  readonly kind = 'request' as const;
  method: string;
  uri: string;

  constructor(method: string, uri: string) {
    super();
    this.method = method;
    this.uri = uri;
  }

  startLine(): string {
    return `${this.method} ${this.uri} ${this.version}`;
  }
}

export class SipResponse extends SipMessageBase {
  readonly kind = 'response' as const;
  status: number;
  reason: string;

  constructor(status: number, reason: string) {
    super();
    this.status = status;
    this.reason = reason;
  }

  startLine(): string {
    return `${this.version} ${this.status} ${this.reason}`;
  }
}

export type SipMessage = SipRequest | SipResponse;

export function parseCSeq(value: string): CSeq {
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)\s*$/.exec(value);
  if (!m) throw new SipParseError('Bad CSeq', `'${value}'`);
  const seq = Number(m[1]);
  if (seq > 0x7fffffff) throw new SipParseError('Bad CSeq', `sequence number too large '${m[1]}'`);
  return { seq, method: m[2]! };
}

/** Standard reason phrases for responses the server generates. */
export const REASON_PHRASES: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  199: 'Early Dialog Terminated',
  200: 'OK',
  202: 'Accepted',
  204: 'No Notification',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  305: 'Use Proxy',
  380: 'Alternative Service',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  412: 'Conditional Request Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  421: 'Extension Required',
  422: 'Session Interval Too Small',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  485: 'Ambiguous',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  493: 'Undecipherable',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 200 ? 'Session Progress' : status < 300 ? 'OK' : 'Unknown');
}
