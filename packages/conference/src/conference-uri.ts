/**
 * Conference URIs and identifiers. Tokens come from crypto.getRandomValues (Web Crypto: Node and
 * browsers) and are written in lowercase RFC 4648 base32, which is safe in a SIP user part, in a
 * URL path and in a log line.
 */

import { ConferenceError } from './errors.ts';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** `bytes` random bytes as unpadded lowercase base32 (16 bytes → 26 characters, 128 bits). */
export function randomToken(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 1024)
    throw new ConferenceError('invalid-argument', `bad token size ${bytes}`);
  const data = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(data);
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

export interface ConferenceUriOptions {
  /** 'sip' (default) or 'sips'. */
  scheme?: 'sip' | 'sips';
  /** User-part prefix, default 'conf-'. */
  prefix?: string;
  /** Random bytes in the token, at least 16 (128 bits, the default). */
  randomBytes?: number;
}

// host (name, IPv4 or [IPv6]) with an optional port.
const HOSTPORT_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const PREFIX_RE = /^[A-Za-z0-9\-_.!~*'()]*$/;

/** A fresh, unguessable conference URI: `sip:conf-<26 base32 chars>@<domain>`. */
export function generateConferenceUri(domain: string, options: ConferenceUriOptions = {}): string {
  if (!HOSTPORT_RE.test(domain))
    throw new ConferenceError('invalid-argument', `bad conference domain ${JSON.stringify(domain)}`);
  const prefix = options.prefix ?? 'conf-';
  if (!PREFIX_RE.test(prefix))
    throw new ConferenceError('invalid-argument', `bad conference URI prefix ${JSON.stringify(prefix)}`);
  const bytes = options.randomBytes ?? 16;
  if (bytes < 16) throw new ConferenceError('invalid-argument', 'conference URIs need at least 128 random bits');
  return `${options.scheme ?? 'sip'}:${prefix}${randomToken(bytes)}@${domain}`;
}

/** An opaque identifier such as `cf_3mz6...` (80 random bits by default). */
export function randomId(prefix: string, bytes = 10): string {
  return `${prefix}${randomToken(bytes)}`;
}

/**
 * The lookup key of a SIP/SIPS URI: `user@host[:port]` with the host lowercased, the user part kept
 * as is (it is case-sensitive), parameters and headers removed, and sip/sips treated alike.
 * Accepts a name-addr (`"Room" <sip:...>`). Returns undefined for anything that is not a SIP URI.
 */
export function conferenceUriKey(uri: string): string | undefined {
  let value = uri.trim();
  const lt = value.indexOf('<');
  if (lt >= 0) {
    const gt = value.indexOf('>', lt);
    if (gt < 0) return undefined;
    value = value.slice(lt + 1, gt).trim();
  }
  const m = /^sips?:([^;?]*)/i.exec(value);
  if (!m || m[1] === undefined || m[1] === '') return undefined;
  const rest = m[1];
  const at = rest.lastIndexOf('@');
  const user = at >= 0 ? rest.slice(0, at) : '';
  const host = (at >= 0 ? rest.slice(at + 1) : rest).toLowerCase();
  if (host === '' || (at >= 0 && user === '')) return undefined;
  let decodedUser = user;
  try {
    decodedUser = decodeURIComponent(user);
  } catch {
    // keep the user part as written when it has a bad escape
  }
  return `${decodedUser}@${host}`;
}
