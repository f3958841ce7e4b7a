/**
 * HTTP Digest computations as SIP uses them (RFC 3261 §22.4, RFC 7616, RFC 8760).
 * Pure functions: no state, no clock.
 */
import { createHash } from 'node:crypto';

export const DIGEST_ALGORITHMS = ['SHA-256', 'MD5'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

const HASH_OF: Record<DigestAlgorithm, string> = { 'SHA-256': 'sha256', MD5: 'md5' };

export function hashHex(algorithm: DigestAlgorithm, data: string): string {
  return createHash(HASH_OF[algorithm]).update(data, 'utf8').digest('hex');
}

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return (DIGEST_ALGORITHMS as readonly string[]).includes(value);
}

/** The parameters of a `Digest …` credentials or challenge header value, names lower-cased. */
export type DigestParams = Record<string, string>;

/**
 * Parses `Digest username="alice", realm="x", nc=00000001, …`. Quoted values may contain commas and
 * escaped quotes. Returns undefined when the scheme is not Digest or the syntax is broken.
 */
export function parseDigestParams(headerValue: string): DigestParams | undefined {
  const match = /^\s*Digest\s+/i.exec(headerValue);
  if (!match) return undefined;
  const params: DigestParams = {};
  let rest = headerValue.slice(match[0].length);
  const pair = /^\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*(?:,|$)/;
  while (rest.trim() !== '') {
    const m = pair.exec(rest);
    if (!m) return undefined;
    const name = m[1]!.toLowerCase();
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
    if (name in params) return undefined; // a repeated parameter is ambiguous: refuse it
    params[name] = value;
    rest = rest.slice(m[0].length);
  }
  return params;
}

export interface DigestResponseInput {
  algorithm: DigestAlgorithm;
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  /** qop=auth (RFC 7616); absent means the RFC 2069 compatibility form. */
  qop?: 'auth' | undefined;
  nc?: string | undefined;
  cnonce?: string | undefined;
}

/** The `response` value a client with the right password computes. */
export function computeDigestResponse(input: DigestResponseInput): string {
  const h = (s: string) => hashHex(input.algorithm, s);
  const ha1 = h(`${input.username}:${input.realm}:${input.password}`);
  const ha2 = h(`${input.method}:${input.uri}`);
  if (input.qop === 'auth') return h(`${ha1}:${input.nonce}:${input.nc ?? ''}:${input.cnonce ?? ''}:auth:${ha2}`);
  return h(`${ha1}:${input.nonce}:${ha2}`);
}
