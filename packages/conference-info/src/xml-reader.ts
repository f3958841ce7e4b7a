/**
 * A small, strict, namespace-aware XML 1.0 reader for untrusted NOTIFY bodies.
 *
 * Why not a general parser: conference-info needs elements, attributes, text and namespaces only,
 * and the body comes from the network. So this reader:
 * - refuses any DOCTYPE (no entity can be declared, so none can be expanded: no "billion laughs",
 *   no external entity fetches);
 * - knows only the five predefined entities and character references;
 * - is iterative (no recursion: deep nesting cannot overflow the stack) and linear in the input;
 * - enforces limits on input length, depth, element count and attributes per element.
 * It runs unchanged in Node and in browsers (no Node APIs).
 */

import { ConferenceInfoParseError } from './errors.ts';

export const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';
export const XMLNS_NAMESPACE = 'http://www.w3.org/2000/xmlns/';

export interface XmlAttribute {
  /** '' when unprefixed (unprefixed attributes are in no namespace). */
  readonly namespace: string;
  readonly localName: string;
  readonly value: string;
}

export interface XmlElement {
  /** '' when the element is in no namespace. */
  readonly namespace: string;
  readonly localName: string;
  readonly attributes: readonly XmlAttribute[];
  readonly children: readonly XmlElement[];
  /** The element's own character data (text and CDATA children, concatenated, comments removed). */
  readonly text: string;
}

export interface XmlReadLimits {
  /** Maximum input length in UTF-16 code units. */
  maxLength: number;
  /** Maximum element nesting (the root is depth 1). */
  maxDepth: number;
  /** Maximum number of elements in the document. */
  maxElements: number;
  /** Maximum attributes (including namespace declarations) on one element. */
  maxAttributes: number;
}

export const DEFAULT_XML_READ_LIMITS: Readonly<XmlReadLimits> = {
  maxLength: 1024 * 1024,
  maxDepth: 32,
  maxElements: 50_000,
  maxAttributes: 64,
};

interface MutableElement {
  namespace: string;
  localName: string;
  attributes: XmlAttribute[];
  children: MutableElement[];
  text: string;
}

interface Frame {
  element: MutableElement;
  qname: string;
  /** Namespace bindings in scope for this element (inherits the parent's map when nothing is declared). */
  scope: ReadonlyMap<string, string>;
}

// XML 1.0 (5th edition) Name productions.
const NAME_START =
  ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
// The combining marks (U+0300-036F) first: after another character the class would read as one combined glyph.
const NAME_CHAR = '\\u0300-\\u036F' + NAME_START + '\\-.0-9\\u00B7\\u203F-\\u2040';
const NAME_RE = new RegExp(`[${NAME_START}][${NAME_CHAR}]*`, 'uy');
const NCNAME_RE = /^[^:]+$/;
// Characters outside XML 1.0's Char production (controls, lone surrogates, U+FFFE/U+FFFF).
const INVALID_CHAR_RE = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const WHITESPACE_RE = /^[ \t\r\n]*$/;

const PREDEFINED_ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

const INITIAL_SCOPE: ReadonlyMap<string, string> = new Map([
  ['xml', XML_NAMESPACE],
  ['xmlns', XMLNS_NAMESPACE],
]);

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

function isValidCodePoint(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/** Reads a document; throws ConferenceInfoParseError (never anything else) when it is refused. */
export function readXml(source: string, limits: Readonly<XmlReadLimits> = DEFAULT_XML_READ_LIMITS): XmlElement {
  return new XmlReader(source, limits).read();
}

class XmlReader {
  readonly #src: string;
  readonly #limits: Readonly<XmlReadLimits>;
  #pos = 0;
  #elementCount = 0;

  constructor(source: string, limits: Readonly<XmlReadLimits>) {
    this.#src = source;
    this.#limits = limits;
  }

  #fail(code: ConferenceInfoParseError['code'], detail: string, at: number = this.#pos): never {
    throw new ConferenceInfoParseError(code, detail, at);
  }

  read(): XmlElement {
    const src = this.#src;
    if (src.length > this.#limits.maxLength) {
      this.#fail('too-large', `document is ${src.length} characters, limit ${this.#limits.maxLength}`, 0);
    }
    const bad = INVALID_CHAR_RE.exec(src);
    if (bad)
      this.#fail(
        'malformed',
        `character U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`,
        bad.index,
      );
    if (src.charCodeAt(0) === 0xfeff) this.#pos = 1;
    this.#readXmlDeclaration();
    this.#skipMisc(true);
    if (this.#src[this.#pos] !== '<')
      this.#fail('malformed', this.#pos >= src.length ? 'no root element' : 'content before the root element');
    const root = this.#readElement();
    this.#skipMisc(false);
    if (this.#pos < src.length) this.#fail('malformed', 'content after the root element');
    return root;
  }

  #readXmlDeclaration(): void {
    const src = this.#src;
    if (!src.startsWith('<?xml', this.#pos)) return;
    const after = src.charCodeAt(this.#pos + 5);
    if (!isSpace(after) && src[this.#pos + 5] !== '?') return; // a PI named xml-something: handled as a PI (and refused there)
    const end = src.indexOf('?>', this.#pos);
    if (end < 0) this.#fail('malformed', 'unterminated XML declaration');
    const decl = src.slice(this.#pos + 5, end);
    const version = /^\s+version\s*=\s*(["'])(1\.[0-9]+)\1/.exec(decl);
    if (!version) this.#fail('malformed', 'XML declaration without a valid version');
    const encoding = /\sencoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._-]*)\1/.exec(decl);
    if (encoding && !/^utf-?8$/i.test(encoding[2] ?? '')) {
      // A JS string is already decoded; a declaration naming another encoding means the sender and we disagree.
      this.#fail('bad-encoding', `declared encoding ${encoding[2]} is not UTF-8`);
    }
    this.#pos = end + 2;
  }

  /** Whitespace, comments and processing instructions; DOCTYPE is refused. */
  #skipMisc(prolog: boolean): void {
    const src = this.#src;
    for (;;) {
      while (this.#pos < src.length && isSpace(src.charCodeAt(this.#pos))) this.#pos++;
      if (src.startsWith('<!--', this.#pos)) this.#skipComment();
      else if (src.startsWith('<?', this.#pos)) this.#skipProcessingInstruction();
      else if (src.startsWith('<!', this.#pos)) {
        if (src.startsWith('<!DOCTYPE', this.#pos))
          this.#fail('doctype-forbidden', 'DOCTYPE declarations are not accepted');
        this.#fail('malformed', prolog ? 'unexpected markup declaration' : 'markup declaration after the root element');
      } else return;
    }
  }

  #skipComment(): void {
    const end = this.#src.indexOf('-->', this.#pos + 4);
    if (end < 0) this.#fail('malformed', 'unterminated comment');
    this.#pos = end + 3;
  }

  #skipProcessingInstruction(): void {
    const start = this.#pos;
    this.#pos += 2;
    const target = this.#readName();
    if (target.toLowerCase() === 'xml')
      this.#fail('malformed', 'XML declaration not at the start of the document', start);
    const end = this.#src.indexOf('?>', this.#pos);
    if (end < 0) this.#fail('malformed', 'unterminated processing instruction', start);
    this.#pos = end + 2;
  }

  #readName(): string {
    NAME_RE.lastIndex = this.#pos;
    const m = NAME_RE.exec(this.#src);
    if (!m) this.#fail('malformed', 'expected a name');
    if (m[0].length > 1024) this.#fail('malformed', 'name too long');
    this.#pos += m[0].length;
    return m[0];
  }

  #skipSpaces(): boolean {
    const start = this.#pos;
    while (this.#pos < this.#src.length && isSpace(this.#src.charCodeAt(this.#pos))) this.#pos++;
    return this.#pos > start;
  }

  /** Expands references in text or an attribute value; only predefined entities and char refs exist. */
  #decode(raw: string, offset: number): string {
    if (raw.indexOf('&') < 0) return raw;
    let out = '';
    let last = 0;
    let amp = raw.indexOf('&');
    while (amp >= 0) {
      const semi = raw.indexOf(';', amp + 1);
      if (semi < 0 || semi - amp > 12) this.#fail('malformed', 'unterminated reference', offset + amp);
      const ref = raw.slice(amp + 1, semi);
      let value: string;
      if (ref.startsWith('#')) {
        const digits = ref.startsWith('#x') ? ref.slice(2) : ref.slice(1);
        const ok = ref.startsWith('#x') ? /^[0-9A-Fa-f]{1,8}$/.test(digits) : /^[0-9]{1,10}$/.test(digits);
        const cp = ok ? parseInt(digits, ref.startsWith('#x') ? 16 : 10) : NaN;
        if (!ok || !isValidCodePoint(cp)) this.#fail('malformed', `invalid character reference &${ref};`, offset + amp);
        value = String.fromCodePoint(cp);
      } else {
        const predefined = Object.hasOwn(PREDEFINED_ENTITIES, ref) ? PREDEFINED_ENTITIES[ref] : undefined;
        if (predefined === undefined)
          this.#fail('undefined-entity', `reference to undeclared entity &${ref.slice(0, 32)};`, offset + amp);
        value = predefined;
      }
      out += raw.slice(last, amp) + value;
      last = semi + 1;
      amp = raw.indexOf('&', last);
    }
    return out + raw.slice(last);
  }

  #countElement(depth: number, at: number): void {
    if (++this.#elementCount > this.#limits.maxElements)
      this.#fail('too-many-nodes', `more than ${this.#limits.maxElements} elements`, at);
    if (depth > this.#limits.maxDepth) this.#fail('too-deep', `elements nest deeper than ${this.#limits.maxDepth}`, at);
  }

  /** Reads the start tag at #pos; returns the frame and whether the element was empty (`/>`). */
  #readStartTag(parentScope: ReadonlyMap<string, string>, depth: number): { frame: Frame; empty: boolean } {
    const src = this.#src;
    const tagStart = this.#pos;
    this.#countElement(depth, tagStart);
    this.#pos++; // '<'
    const qname = this.#readName();
    const rawAttributes: { qname: string; value: string; at: number }[] = [];
    let empty = false;
    for (;;) {
      const spaced = this.#skipSpaces();
      const c = src[this.#pos];
      if (c === '>') {
        this.#pos++;
        break;
      }
      if (c === '/' && src[this.#pos + 1] === '>') {
        this.#pos += 2;
        empty = true;
        break;
      }
      if (c === undefined) this.#fail('malformed', `unterminated start tag <${qname}>`, tagStart);
      if (!spaced) this.#fail('malformed', 'attributes must be separated by whitespace');
      const at = this.#pos;
      const name = this.#readName();
      this.#skipSpaces();
      if (src[this.#pos] !== '=') this.#fail('malformed', `attribute ${name} has no value`);
      this.#pos++;
      this.#skipSpaces();
      const quote = src[this.#pos];
      if (quote !== '"' && quote !== "'") this.#fail('malformed', `attribute ${name} value is not quoted`);
      const close = src.indexOf(quote, this.#pos + 1);
      if (close < 0) this.#fail('malformed', `unterminated value of attribute ${name}`);
      const raw = src.slice(this.#pos + 1, close);
      const lt = raw.indexOf('<');
      if (lt >= 0) this.#fail('malformed', `'<' in the value of attribute ${name}`, this.#pos + 1 + lt);
      // Attribute-value normalisation (XML 1.0 section 3.3.3): literal whitespace becomes a space.
      const value = this.#decode(raw.replace(/\r\n|[\t\n\r]/g, ' '), this.#pos + 1);
      this.#pos = close + 1;
      if (rawAttributes.length >= this.#limits.maxAttributes)
        this.#fail('too-many-nodes', `more than ${this.#limits.maxAttributes} attributes on <${qname}>`, at);
      rawAttributes.push({ qname: name, value, at });
    }

    // Namespace declarations first, then resolve the element and attribute names against them.
    let scope = parentScope;
    for (const a of rawAttributes) {
      let prefix: string | undefined;
      if (a.qname === 'xmlns') prefix = '';
      else if (a.qname.startsWith('xmlns:')) prefix = a.qname.slice(6);
      if (prefix === undefined) continue;
      if (prefix === 'xmlns' || (prefix === 'xml' && a.value !== XML_NAMESPACE))
        this.#fail('malformed', `reserved prefix ${prefix} cannot be declared`, a.at);
      if (prefix !== '' && a.value === '')
        this.#fail('malformed', `prefix ${prefix} cannot be undeclared in XML 1.0`, a.at);
      if (prefix !== '' && !NCNAME_RE.test(prefix)) this.#fail('malformed', `bad namespace prefix ${prefix}`, a.at);
      if (scope === parentScope) scope = new Map(parentScope);
      (scope as Map<string, string>).set(prefix, a.value);
    }
    const element: MutableElement = {
      ...this.#resolve(qname, scope, true, tagStart),
      attributes: [],
      children: [],
      text: '',
    };
    const seen = new Set<string>();
    for (const a of rawAttributes) {
      if (a.qname === 'xmlns' || a.qname.startsWith('xmlns:')) {
        if (seen.has(`decl ${a.qname}`)) this.#fail('malformed', `duplicate namespace declaration ${a.qname}`, a.at);
        seen.add(`decl ${a.qname}`);
        continue;
      }
      const resolved = this.#resolve(a.qname, scope, false, a.at);
      const key = `${resolved.namespace} ${resolved.localName}`;
      if (seen.has(key)) this.#fail('malformed', `duplicate attribute ${a.qname}`, a.at);
      seen.add(key);
      element.attributes.push({ ...resolved, value: a.value });
    }
    return { frame: { element, qname, scope }, empty };
  }

  #resolve(
    qname: string,
    scope: ReadonlyMap<string, string>,
    isElement: boolean,
    at: number,
  ): { namespace: string; localName: string } {
    const colon = qname.indexOf(':');
    if (colon < 0) return { namespace: isElement ? (scope.get('') ?? '') : '', localName: qname };
    const prefix = qname.slice(0, colon);
    const localName = qname.slice(colon + 1);
    if (prefix === '' || localName === '' || localName.includes(':'))
      this.#fail('malformed', `bad qualified name ${qname}`, at);
    const namespace = scope.get(prefix);
    if (namespace === undefined || namespace === '') this.#fail('malformed', `unbound namespace prefix ${prefix}`, at);
    return { namespace, localName };
  }

  #readElement(): MutableElement {
    const src = this.#src;
    const first = this.#readStartTag(INITIAL_SCOPE, 1);
    if (first.empty) return first.frame.element;
    const stack: Frame[] = [first.frame];
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) this.#fail('internal', 'element stack underflow');
      const lt = src.indexOf('<', this.#pos);
      if (lt < 0) this.#fail('malformed', `unclosed element <${top.qname}>`);
      if (lt > this.#pos) {
        const raw = src.slice(this.#pos, lt);
        const cdataEnd = raw.indexOf(']]>');
        if (cdataEnd >= 0) this.#fail('malformed', "']]>' in character data", this.#pos + cdataEnd);
        top.element.text += this.#decode(raw.replace(/\r\n?/g, '\n'), this.#pos);
      }
      this.#pos = lt;
      if (src.startsWith('</', lt)) {
        this.#pos += 2;
        const name = this.#readName();
        this.#skipSpaces();
        if (src[this.#pos] !== '>') this.#fail('malformed', `bad end tag </${name}`);
        this.#pos++;
        if (name !== top.qname) this.#fail('malformed', `end tag </${name}> does not match <${top.qname}>`, lt);
        stack.pop();
        const parent = stack[stack.length - 1];
        if (!parent) return top.element;
        parent.element.children.push(top.element);
      } else if (src.startsWith('<!--', lt)) {
        this.#skipComment();
      } else if (src.startsWith('<![CDATA[', lt)) {
        const end = src.indexOf(']]>', lt + 9);
        if (end < 0) this.#fail('malformed', 'unterminated CDATA section');
        top.element.text += src.slice(lt + 9, end).replace(/\r\n?/g, '\n');
        this.#pos = end + 3;
      } else if (src.startsWith('<?', lt)) {
        this.#skipProcessingInstruction();
      } else if (src.startsWith('<!', lt)) {
        if (src.startsWith('<!DOCTYPE', lt)) this.#fail('doctype-forbidden', 'DOCTYPE declarations are not accepted');
        this.#fail('malformed', 'unexpected markup declaration');
      } else {
        const next = this.#readStartTag(top.scope, stack.length + 1);
        if (next.empty) top.element.children.push(next.frame.element);
        else stack.push(next.frame);
      }
    }
  }
}

/** True when the string is XML whitespace only (used to ignore indentation text). */
export function isXmlWhitespace(text: string): boolean {
  return WHITESPACE_RE.test(text);
}
