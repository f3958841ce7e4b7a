import { SipParseError } from './errors.ts';
import { formatParams, getParam, parseParams, type Params } from './params.ts';
import { splitHeaderList } from './split.ts';

/**
 * A From/To/Contact/Route style value: `"Name" <uri>;tag=x` or `uri;tag=x`. The URI is kept as text
 * (parse it with parseSipUri when needed) so unusual schemes pass through untouched.
 */
export interface NameAddr {
  displayName?: string;
  uri: string;
  params: Params;
  /** True when the URI was written inside `<...>`. */
  bracketed: boolean;
}

export function parseNameAddr(text: string): NameAddr {
  const s = text.trim();
  if (s === '') throw new SipParseError('Bad address', 'empty value');
  let i = 0;
  let displayName: string | undefined;
  if (s[0] === '"') {
    i = 1;
    let name = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) {
        name += s[i + 1];
        i += 2;
        continue;
      }
      name += s[i];
      i++;
    }
    if (i >= s.length) throw new SipParseError('Bad address', `unterminated quoted display name in '${text}'`);
    i++;
    displayName = name;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '<') throw new SipParseError('Bad address', `display name without <uri> in '${text}'`);
  }
  const lt = s.indexOf('<', i);
  if (lt >= 0) {
    if (displayName === undefined) {
      const dn = s.slice(0, lt).trim();
      if (dn) {
        if (!/^[A-Za-z0-9\-.!%*_+`'~ \t\u0080-\uffff]+$/.test(dn))
          throw new SipParseError('Bad address', `bad display name in '${text}'`);
        displayName = dn;
      }
    }
    const gt = s.indexOf('>', lt);
    if (gt < 0) throw new SipParseError('Bad address', `missing '>' in '${text}'`);
    const uri = s.slice(lt + 1, gt).trim();
    if (uri === '') throw new SipParseError('Bad address', `empty <> in '${text}'`);
    let params: Params;
    try {
      params = parseParams(s.slice(gt + 1));
    } catch (err) {
      throw new SipParseError('Bad address', `${(err as Error).message} in '${text}'`);
    }
    const out: NameAddr = { uri, params, bracketed: true };
    if (displayName !== undefined) out.displayName = displayName;
    return out;
  }
  // addr-spec form: parameters after the URI belong to the header, and the URI cannot contain ';' '?' ','.
  const semi = s.indexOf(';');
  const uri = (semi < 0 ? s : s.slice(0, semi)).trim();
  if (/\s/.test(uri)) throw new SipParseError('Bad address', `whitespace in URI '${text}'`);
  let params: Params = [];
  if (semi >= 0) {
    try {
      params = parseParams(s.slice(semi));
    } catch (err) {
      throw new SipParseError('Bad address', `${(err as Error).message} in '${text}'`);
    }
  }
  return { uri, params, bracketed: false };
}

export function parseNameAddrList(text: string): NameAddr[] {
  return splitHeaderList(text).map(parseNameAddr);
}

function quoteDisplayName(name: string): string {
  return /^[A-Za-z0-9\-.!%*_+`'~]+(?: [A-Za-z0-9\-.!%*_+`'~]+)*$/.test(name)
    ? name
    : `"${name.replace(/(["\\])/g, '\\$1')}"`;
}

/** Always writes the `<uri>` form (as sofia does), so params are unambiguous. */
export function formatNameAddr(na: NameAddr): string {
  const dn = na.displayName !== undefined && na.displayName !== '' ? quoteDisplayName(na.displayName) + ' ' : '';
  return `${dn}<${na.uri}>${formatParams(na.params)}`;
}

export function tagOf(na: NameAddr): string | undefined {
  const t = getParam(na.params, 'tag');
  return t === null || t === undefined ? undefined : t;
}
