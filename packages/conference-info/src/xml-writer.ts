/**
 * Escaping and sanitising for the serializer. Text from the network (display names, subjects) may
 * contain anything; what XML cannot carry is replaced, never thrown on.
 */

// Characters XML 1.0 cannot carry even as references (controls, lone surrogates, U+FFFE/U+FFFF).
const INVALID_XML_CHARS = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

const DATE_TIME_RE =
  /^-?([1-9]\d{4,}|\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-](0\d|1[0-3]):[0-5]\d|[+-]14:00)?$/;

/** xs:dateTime lexical form (e.g. `new Date().toISOString()`), with a real calendar day. */
export function isDateTime(value: string): boolean {
  const m = DATE_TIME_RE.exec(value);
  if (!m) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (year === 0) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  return day <= days;
}

/** Replaces characters XML 1.0 cannot represent with U+FFFD. */
export function toXmlChars(value: string): string {
  return value.replace(INVALID_XML_CHARS, '\uFFFD');
}

export function escapeText(value: string): string {
  return (
    toXmlChars(value)
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      // A literal CR would be normalised away by the reader; a reference survives.
      .replace(/\r/g, '&#13;')
  );
}

export function escapeAttribute(value: string): string {
  return (
    toXmlChars(value)
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // Literal whitespace in attributes is normalised to spaces by readers; references survive.
      .replace(/\t/g, '&#9;')
      .replace(/\n/g, '&#10;')
      .replace(/\r/g, '&#13;')
  );
}

// RFC 3986 URI-reference, as libxml2 checks xs:anyURI (after replacing controls, non-ASCII, space and
// <>"{}|\^` with '_', which it tolerates).
const PCT = '%[0-9A-Fa-f]{2}';
const PCHAR = `(?:[A-Za-z0-9\\-._~!$&'()*+,;=:@]|${PCT})`;
const REG_NAME = `(?:[A-Za-z0-9\\-._~!$&'()*+,;=]|${PCT})*`;
const USERINFO = `(?:[A-Za-z0-9\\-._~!$&'()*+,;=:]|${PCT})*`;
const IP_LITERAL = "\\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\\.[A-Za-z0-9\\-._~!$&'()*+,;=:]+)\\]";
// libxml2 wants at least one port digit after a colon (RFC 3986 allows none).
const AUTHORITY = `(?:${USERINFO}@)?(?:${IP_LITERAL}|${REG_NAME})(?::[0-9]{1,8})?`;
const TAIL = `(?:\\?(?:${PCHAR}|[/?])*)?(?:#(?:${PCHAR}|[/?])*)?`;
const HIER = `(?://${AUTHORITY}(?:/${PCHAR}*)*|/(?:${PCHAR}+(?:/${PCHAR}*)*)?|${PCHAR}+(?:/${PCHAR}*)*|)`;
const NOSCHEME_SEGMENT = `(?:[A-Za-z0-9\\-._~!$&'()*+,;=@]|${PCT})+`;
const RELATIVE = `(?://${AUTHORITY}(?:/${PCHAR}*)*|/(?:${PCHAR}+(?:/${PCHAR}*)*)?|${NOSCHEME_SEGMENT}(?:/${PCHAR}*)*|)`;
const URI_REFERENCE_RE = new RegExp(`^(?:[A-Za-z][A-Za-z0-9+.-]*:${HIER}|${RELATIVE})${TAIL}$`);
// Controls (\p{Cc}: U+0000-001F, U+007F-009F), everything beyond ASCII, and the excluded ASCII characters.
const TOLERATED_RE = /[\p{Cc}\u007f-\u{10ffff} <>"{}|\\^`]/gu;

function isAcceptedUri(value: string): boolean {
  return URI_REFERENCE_RE.test(value.replace(TOLERATED_RE, '_'));
}

/**
 * Makes a value acceptable as xs:anyURI to strict validators (libxml2 parses anyURI as an RFC 3986
 * reference). Well-formed URIs pass unchanged. Otherwise: stray '%' becomes %25, '[' ']' and any
 * second '#' are percent-encoded (so IPv6 SIP URIs become sip:a@%5B::1%5D), and if that is not
 * enough every delimiter after the scheme is percent-encoded.
 */
export function sanitizeUri(value: string): string {
  // xs:anyURI collapses whitespace before anything else looks at it.
  const clean = toXmlChars(value)
    .replace(/[\t\n\r ]+/g, ' ')
    .trim();
  if (isAcceptedUri(clean)) return clean;
  let out = clean
    .replace(/%(?![0-9A-Fa-f]{2})/g, '%25')
    .replace(/\[/g, '%5B')
    .replace(/\]/g, '%5D');
  const hash = out.indexOf('#');
  if (hash >= 0) out = out.slice(0, hash + 1) + out.slice(hash + 1).replace(/#/g, '%23');
  if (isAcceptedUri(out)) return out;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(out)?.[0] ?? '';
  const keep = scheme ? /[A-Za-z0-9\-._~!$&'()*+,;=:@%]/ : /[A-Za-z0-9\-._~!$&'()*+,;=@%]/;
  let rest = '';
  for (const ch of out.slice(scheme.length)) {
    if (keep.test(ch) || ch.replace(TOLERATED_RE, '_') === '_') rest += ch;
    else
      rest += [...new TextEncoder().encode(ch)]
        .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
        .join('');
  }
  return scheme + rest;
}

/** Accumulates an indented document. Leaf elements are written on one line (no added whitespace in text). */
export class XmlWriter {
  readonly #parts: string[] = [];
  readonly #pretty: boolean;
  #depth = 0;

  constructor(pretty: boolean) {
    this.#pretty = pretty;
  }

  #indent(): string {
    return this.#pretty ? '\n' + '  '.repeat(this.#depth) : '';
  }

  open(name: string, attributes: Record<string, string | undefined> = {}): void {
    this.#parts.push(`${this.#indent()}<${name}${formatAttributes(attributes)}>`);
    this.#depth++;
  }

  close(name: string): void {
    this.#depth--;
    this.#parts.push(`${this.#indent()}</${name}>`);
  }

  empty(name: string, attributes: Record<string, string | undefined> = {}): void {
    this.#parts.push(`${this.#indent()}<${name}${formatAttributes(attributes)}/>`);
  }

  /** `<name>text</name>`; skipped when value is undefined. */
  leaf(name: string, value: string | undefined): void {
    if (value === undefined) return;
    this.#parts.push(`${this.#indent()}<${name}>${escapeText(value)}</${name}>`);
  }

  toString(): string {
    return this.#parts.join('').replace(/^\n/, '');
  }
}

function formatAttributes(attributes: Record<string, string | undefined>): string {
  let out = '';
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) out += ` ${name}="${escapeAttribute(value)}"`;
  }
  return out;
}
