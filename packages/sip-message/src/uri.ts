import { SipParseError } from './errors.ts';
import { formatParams, parseParams, type ParamError, type Params } from './params.ts';

/** A parsed sip:/sips: URI (RFC 3261 §19.1). `user`/`password` are unescaped. */
export interface SipUri {
  scheme: 'sip' | 'sips';
  user?: string;
  password?: string;
  /** Host as written; IPv6 references keep their brackets (`[::1]`). */
  host: string;
  port?: number;
  params: Params;
  /** `?a=b&c=d` URI headers, values kept escaped. */
  headers: Array<[string, string]>;
}

const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?\.?$/;
const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const IPV6_REF = /^\[[0-9A-Fa-f:.]+\]$/;

function unescapePart(s: string, what: string): string {
  if (!s.includes('%')) return s;
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) throw new SipParseError('Bad URI', `bad escape in ${what}`);
  // decodeURIComponent fails on escaped bytes that are not UTF-8; fall back to latin1 byte decoding.
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}

/** Characters allowed unescaped in a user part (unreserved + user-unreserved). */
const USER_SAFE = /[A-Za-z0-9\-_.!~*'()&=+$,;?/]/;

function escapeUser(s: string): string {
  let out = '';
  for (const ch of s) {
    if (USER_SAFE.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function isValidHost(host: string): boolean {
  if (IPV6_REF.test(host)) return host.includes(':');
  if (IPV4.test(host)) return host.split('.').every((o) => Number(o) <= 255);
  return HOSTNAME.test(host);
}

/** Parse a host[:port] pair; throws SipParseError. */
export function parseHostPort(text: string): { host: string; port?: number } {
  let host: string;
  let rest: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) throw new SipParseError('Bad host', `unterminated IPv6 reference in '${text}'`);
    host = text.slice(0, end + 1);
    rest = text.slice(end + 1);
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    rest = colon < 0 ? '' : text.slice(colon);
  }
  if (!isValidHost(host)) throw new SipParseError('Bad host', `'${host}'`);
  if (rest === '') return { host };
  if (!/^:\d{1,5}$/.test(rest)) throw new SipParseError('Bad port', `'${rest}'`);
  const port = Number(rest.slice(1));
  if (port > 65535) throw new SipParseError('Bad port', `'${rest}'`);
  return { host, port };
}

export function parseSipUri(text: string): SipUri {
  const s = text.trim();
  const m = /^(sips?):/i.exec(s);
  if (!m) throw new SipParseError('Bad URI', `not a sip/sips URI: '${text}'`);
  const scheme = m[1]!.toLowerCase() as 'sip' | 'sips';
  let rest = s.slice(m[0].length);
  if (/\s/.test(rest)) throw new SipParseError('Bad URI', `whitespace in '${text}'`);
  const uri: SipUri = { scheme, host: '', params: [], headers: [] };
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    if (user === '') throw new SipParseError('Bad URI', `empty user part in '${text}'`);
    uri.user = unescapePart(user, 'user');
    if (colon >= 0) uri.password = unescapePart(userinfo.slice(colon + 1), 'password');
  }
  let hdrText = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    hdrText = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const semi = rest.indexOf(';');
  const hostport = semi < 0 ? rest : rest.slice(0, semi);
  const { host, port } = parseHostPort(hostport);
  uri.host = host;
  if (port !== undefined) uri.port = port;
  if (semi >= 0) {
    try {
      uri.params = parseParams(rest.slice(semi));
    } catch (err) {
      throw new SipParseError('Bad URI', `${(err as ParamError).message} in '${text}'`);
    }
  }
  if (hdrText) {
    for (const pair of hdrText.split('&')) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      uri.headers.push(eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)]);
    }
  }
  return uri;
}

/** Like parseSipUri but returns undefined instead of throwing. */
export function tryParseSipUri(text: string): SipUri | undefined {
  try {
    return parseSipUri(text);
  } catch {
    return undefined;
  }
}

export function formatSipUri(uri: SipUri): string {
  let s = `${uri.scheme}:`;
  if (uri.user !== undefined) {
    s += escapeUser(uri.user);
    if (uri.password !== undefined) s += ':' + escapeUser(uri.password);
    s += '@';
  }
  s += uri.host;
  if (uri.port !== undefined) s += `:${uri.port}`;
  s += formatParams(uri.params);
  if (uri.headers.length) s += '?' + uri.headers.map(([k, v]) => `${k}=${v}`).join('&');
  return s;
}

/** Default port for a URI given its transport (RFC 3263 without DNS: 5060, or 5061 for sips/tls). */
export function defaultPort(uri: SipUri): number {
  const t = String(uri.params.find(([n]) => n.toLowerCase() === 'transport')?.[1] ?? '').toLowerCase();
  if (uri.scheme === 'sips' || t === 'tls') return 5061;
  if (t === 'ws') return 80;
  if (t === 'wss') return 443;
  return 5060;
}
