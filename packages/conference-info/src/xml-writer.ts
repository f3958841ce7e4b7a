/**
 * Escaping and sanitising for the serializer. Text from the network (display names, subjects) may
 * contain anything; what XML cannot carry is replaced, never thrown on.
 */

// Characters XML 1.0 cannot carry even as references (controls, lone surrogates, U+FFFE/U+FFFF).
const INVALID_XML_CHARS = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Replaces characters XML 1.0 cannot represent with U+FFFD. */
export function toXmlChars(value: string): string {
  return value.replace(INVALID_XML_CHARS, '\uFFFD');
}

export function escapeText(value: string): string {
  return toXmlChars(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    // A literal CR would be normalised away by the reader; a reference survives.
    .replace(/\r/g, '&#13;');
}

export function escapeAttribute(value: string): string {
  return toXmlChars(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // Literal whitespace in attributes is normalised to spaces by readers; references survive.
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

/**
 * Makes a value acceptable as xs:anyURI to strict validators (libxml2 parses anyURI as an RFC 3986
 * reference after escaping spaces and non-ASCII): stray '%' becomes %25, '[' ']' and any second '#'
 * are percent-encoded, and a scheme-less value cannot start with ':'. Well-formed SIP URIs pass
 * unchanged, except IPv6 literals whose brackets are encoded.
 */
export function sanitizeUri(value: string): string {
  let out = toXmlChars(value)
    .replace(/[\t\n\r]/g, ' ')
    .replace(/%(?![0-9A-Fa-f]{2})/g, '%25')
    .replace(/\[/g, '%5B')
    .replace(/\]/g, '%5D');
  const hash = out.indexOf('#');
  if (hash >= 0) out = out.slice(0, hash + 1) + out.slice(hash + 1).replace(/#/g, '%23');
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(out)) {
    // A relative reference: its first path segment may not contain ':'.
    const end = out.search(/[/?#]/);
    const head = end < 0 ? out : out.slice(0, end);
    out = head.replace(/:/g, '%3A') + (end < 0 ? '' : out.slice(end));
  }
  return out;
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
