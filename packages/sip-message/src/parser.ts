import { SipParseError } from './errors.ts';
import { normalizeHeaderName } from './header-names.ts';
import { parseCSeq, SipRequest, SipResponse, type HeaderField, type SipMessage } from './message.ts';
import { parseNameAddr } from './name-addr.ts';
import { parseViaList } from './via.ts';

export interface ParseOptions {
  /**
   * The bytes came from a stream transport and were framed by Content-Length (SipStreamFramer):
   * the body is everything after the header section. For datagrams (default) the body is cut to
   * Content-Length and a Content-Length larger than the datagram is an error.
   */
  stream?: boolean;
  /** Upper bound on header fields; more is a parse error ("Too many headers"). Default 256. */
  maxHeaders?: number;
  /**
   * Skip the RFC 3261 §8.1.1 mandatory-header checks (Via, From, To, Call-ID, CSeq). For messages
   * that are templates rather than wire messages, e.g. what a drachtio app sends to its server.
   */
  lenient?: boolean;
}

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/** Index of the blank line ending the header section, and the length of that terminator. */
export function findHeaderEnd(buf: Buffer, from = 0): { index: number; sepLength: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n', from, 'latin1');
  const lf = buf.indexOf('\n\n', from, 'latin1');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { index: crlf, sepLength: 4 };
  if (lf >= 0) return { index: lf, sepLength: 2 };
  return undefined;
}

/** Parse one complete SIP message. Throws SipParseError (with `partial` when headers were readable). */
export function parseMessage(data: Buffer | string, options: ParseOptions = {}): SipMessage {
  let buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start > 0) buf = buf.subarray(start);
  if (buf.length === 0) throw new SipParseError('Empty message');
  const end = findHeaderEnd(buf);
  if (!end) throw new SipParseError('Incomplete message', 'no blank line after headers');
  const headText = buf.subarray(0, end.index).toString('utf8');
  const rest = buf.subarray(end.index + end.sepLength);

  const lines = headText.split(/\r?\n/);
  const startLine = lines[0]!;
  const msg = parseStartLine(startLine);

  const maxHeaders = options.maxHeaders ?? 256;
  const fields: HeaderField[] = [];
  // Keep the exact separators of folded lines in `raw`, so unmodified fields forward byte-exact.
  const rawLines = headText.split(/(?<=\r?\n)/);
  let current: { name: string; parts: string[]; raw: string } | undefined;
  const flush = () => {
    if (!current) return;
    const value = current.parts.join(' ').trim();
    fields.push({ name: current.name, value, raw: current.raw.replace(/\r?\n$/, '') });
    current = undefined;
  };
  for (let i = 1; i < rawLines.length; i++) {
    const rawLine = rawLines[i]!;
    const line = rawLine.replace(/\r?\n$/, '');
    if (line === '') continue;
    if (line[0] === ' ' || line[0] === '\t') {
      if (!current) throw new SipParseError('Bad header', 'continuation line without header');
      current.parts.push(line.trim());
      current.raw += rawLine;
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError('Bad header', `no colon in '${line.slice(0, 40)}'`);
    const name = line.slice(0, colon).replace(/[ \t]+$/, '');
    if (!TOKEN.test(name)) throw new SipParseError('Bad header', `bad header name '${name.slice(0, 40)}'`);
    current = { name, parts: [line.slice(colon + 1).trim()], raw: rawLine };
    if (fields.length + 1 > maxHeaders) throw new SipParseError('Too many headers');
  }
  flush();
  // A raw line that ended in "\r\n" is stored without it; the last line of the section has none anyway.
  for (const f of fields) if (f.raw !== undefined) f.raw = f.raw.replace(/\r?\n$/, '');
  msg.headers = fields;

  try {
    if (!options.lenient) validate(msg);
    msg.body = Buffer.from(bodyOf(msg, rest, options.stream === true));
  } catch (err) {
    if (err instanceof SipParseError) {
      err.partial = msg;
    }
    throw err;
  }
  return msg;
}

function parseStartLine(line: string): SipMessage {
  if (line.startsWith('SIP/')) {
    const m = /^SIP\/(\d+)\.(\d+) (\d{3})(?: (.*))?$/.exec(line);
    if (!m) throw new SipParseError('Bad status line', `'${line.slice(0, 80)}'`);
    if (m[1] !== '2' || m[2] !== '0') throw new SipParseError('Version Not Supported', `'${line.slice(0, 80)}'`);
    const status = Number(m[3]);
    if (status < 100 || status > 699) throw new SipParseError('Bad status line', `status ${status}`);
    return new SipResponse(status, m[4] ?? '');
  }
  const parts = line.split(' ');
  if (parts.length !== 3) throw new SipParseError('Bad request line', `'${line.slice(0, 80)}'`);
  const [method, uri, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) throw new SipParseError('Bad request line', `bad method '${method.slice(0, 40)}'`);
  if (uri === '' || !/^[A-Za-z][A-Za-z0-9+\-.]*:/.test(uri))
    throw new SipParseError('Bad Request-URI', `'${uri.slice(0, 80)}'`);
  const vm = /^SIP\/(\d+)\.(\d+)$/i.exec(version);
  if (!vm) throw new SipParseError('Bad request line', `bad version '${version.slice(0, 20)}'`);
  if (vm[1] !== '2' || vm[2] !== '0') throw new SipParseError('Version Not Supported', version);
  return new SipRequest(method, uri);
}

function single(msg: SipMessage, name: string): string {
  const norm = normalizeHeaderName(name);
  const values = msg.headers.filter((h) => normalizeHeaderName(h.name) === norm).map((h) => h.value);
  if (values.length === 0) throw new SipParseError(`Missing ${displayName(norm)}`);
  if (values.length > 1 && new Set(values).size > 1) throw new SipParseError(`Multiple ${displayName(norm)} headers`);
  return values[0]!;
}

function displayName(norm: string): string {
  return (
    (
      {
        'call-id': 'Call-ID',
        cseq: 'CSeq',
        from: 'From',
        to: 'To',
        via: 'Via',
        'content-length': 'Content-Length',
        'max-forwards': 'Max-Forwards',
      } as Record<string, string>
    )[norm] ?? norm
  );
}

function validate(msg: SipMessage): void {
  const callId = single(msg, 'call-id');
  if (callId === '' || /\s/.test(callId)) throw new SipParseError('Bad Call-ID', `'${callId}'`);
  const cseq = parseCSeq(single(msg, 'cseq'));
  if (msg.kind === 'request' && cseq.method !== msg.method)
    throw new SipParseError('CSeq method mismatch', `${cseq.method} vs ${msg.method}`);
  parseNameAddr(single(msg, 'from'));
  parseNameAddr(single(msg, 'to'));
  const vias = msg.getAll('via');
  if (vias.length === 0) throw new SipParseError('Missing Via');
  for (const h of msg.headers) if (normalizeHeaderName(h.name) === 'via') parseViaList(h.value);
  const mf = msg.get('max-forwards');
  if (mf !== undefined && !/^\d{1,10}$/.test(mf.trim())) throw new SipParseError('Bad Max-Forwards', `'${mf}'`);
  if (mf !== undefined && Number(mf) > 255) throw new SipParseError('Bad Max-Forwards', `'${mf}'`);
  const cls = msg.headers.filter((h) => normalizeHeaderName(h.name) === 'content-length').map((h) => h.value.trim());
  for (const cl of cls) if (!/^\d{1,10}$/.test(cl)) throw new SipParseError('Bad Content-Length', `'${cl}'`);
  if (new Set(cls.map(Number)).size > 1) throw new SipParseError('Multiple Content-Length headers');
}

function bodyOf(msg: SipMessage, rest: Buffer, stream: boolean): Buffer {
  const clText = msg.get('content-length');
  if (clText === undefined) return stream ? Buffer.alloc(0) : rest;
  const cl = Number(clText.trim());
  if (stream) return rest.subarray(0, cl);
  if (cl > rest.length)
    throw new SipParseError('Bad Content-Length', `Content-Length ${cl} exceeds ${rest.length} body bytes`);
  return rest.subarray(0, cl);
}
