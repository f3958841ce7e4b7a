/**
 * Server side of SIP digest authentication: builds challenges (WWW-Authenticate / Proxy-Authenticate
 * values) and verifies credentials.
 *
 * Nonces are stateless (timestamp + random + HMAC over both with a per-process key), so any number of
 * challenges cost no memory; only nonces that have been *used* are remembered, to refuse replayed
 * nonce-counts, and they are forgotten when they expire.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { computeDigestResponse, isDigestAlgorithm, parseDigestParams, type DigestAlgorithm } from './digest.ts';

export interface DigestAuthenticatorOptions {
  realm: string;
  /** Challenge order, most preferred first (RFC 8760 §2.4). Default: SHA-256, then MD5. */
  algorithms?: DigestAlgorithm[];
  /**
   * User-Agent substrings of clients that only implement MD5 and give up when the first challenge
   * is anything else (JsSIP 3.x, baresip 1.0 do). They are challenged with MD5; everyone else with the preferred algorithm.
   */
  md5OnlyUserAgents?: string[];
  /** How long a nonce is accepted; after that the client is re-challenged with stale=true. */
  nonceLifetimeMs?: number;
  /** Key for the nonce HMAC; random per process by default. */
  nonceKey?: Buffer;
  now?: () => number;
}

export interface DigestVerifyRequest {
  /** The Authorization / Proxy-Authorization header value, if any. */
  credentials: string | undefined;
  method: string;
  /** Looks up a user's password; undefined for an unknown user. */
  passwordOf: (username: string) => string | undefined;
}

export type DigestFailureReason =
  | 'missing'
  | 'malformed'
  | 'wrong-realm'
  | 'unsupported-algorithm'
  | 'bad-nonce'
  | 'stale-nonce'
  | 'replayed-nonce-count'
  | 'unknown-user'
  | 'wrong-password';

export type DigestVerifyResult =
  | { ok: true; username: string; algorithm: DigestAlgorithm }
  | { ok: false; reason: DigestFailureReason; username?: string | undefined };

export class DigestAuthenticator {
  readonly realm: string;
  readonly #algorithms: DigestAlgorithm[];
  readonly #md5OnlyUserAgents: string[];
  readonly #lifetimeMs: number;
  readonly #key: Buffer;
  readonly #now: () => number;
  /** nonce → highest nonce-count seen, for nonces that have been used. */
  readonly #usedNonces = new Map<string, { nc: number; expiresAt: number }>();

  constructor(options: DigestAuthenticatorOptions) {
    this.realm = options.realm;
    this.#algorithms = options.algorithms ?? ['SHA-256', 'MD5'];
    this.#md5OnlyUserAgents = options.md5OnlyUserAgents ?? ['JsSIP', 'baresip'];
    this.#lifetimeMs = options.nonceLifetimeMs ?? 5 * 60_000;
    this.#key = options.nonceKey ?? randomBytes(32);
    this.#now = options.now ?? Date.now;
  }

  /**
   * One challenge header value. One, not a list: drachtio-srf folds repeated header values into a
   * single comma-joined line, which clients such as JsSIP cannot read as two challenges. The algorithm
   * is the most preferred one, or MD5 for user agents known to implement nothing else.
   */
  challenge(options: { stale?: boolean; userAgent?: string | undefined } = {}): string {
    return this.challengeFor(this.algorithmFor(options.userAgent), options.stale ?? false);
  }

  algorithmFor(userAgent: string | undefined): DigestAlgorithm {
    const md5Only = userAgent !== undefined && this.#md5OnlyUserAgents.some((ua) => userAgent.includes(ua));
    return md5Only && this.#algorithms.includes('MD5') ? 'MD5' : this.#algorithms[0]!;
  }

  challengeFor(algorithm: DigestAlgorithm, stale = false): string {
    return (
      `Digest realm="${this.realm}", nonce="${this.#newNonce()}", algorithm=${algorithm}, qop="auth"` +
      (stale ? ', stale=true' : '')
    );
  }

  verify(request: DigestVerifyRequest): DigestVerifyResult {
    if (!request.credentials) return { ok: false, reason: 'missing' };
    // Credentials in a scheme we do not know are no credentials at all: the client gets a challenge it can
    // answer, not a 400 (RFC 3261 §22.4, RFC 4475 §3.3.7 "regaut01").
    if (!/^\s*Digest(?:\s|$)/i.test(request.credentials)) return { ok: false, reason: 'missing' };
    const p = parseDigestParams(request.credentials);
    if (!p || !p['username'] || !p['nonce'] || !p['uri'] || !p['response']) return { ok: false, reason: 'malformed' };
    const username = p['username'];
    if (p['realm'] !== this.realm) return { ok: false, reason: 'wrong-realm', username };
    const algorithm = p['algorithm'] ?? 'MD5';
    if (!isDigestAlgorithm(algorithm)) return { ok: false, reason: 'unsupported-algorithm', username };
    const nonceState = this.#checkNonce(p['nonce']);
    if (nonceState === 'bad') return { ok: false, reason: 'bad-nonce', username };
    const qop = p['qop'];
    if (qop !== undefined && qop !== 'auth') return { ok: false, reason: 'malformed', username };
    const password = request.passwordOf(username);
    if (password === undefined) return { ok: false, reason: 'unknown-user', username };
    const expected = computeDigestResponse({
      algorithm,
      username,
      realm: this.realm,
      password,
      method: request.method,
      uri: p['uri'],
      nonce: p['nonce'],
      qop,
      nc: p['nc'],
      cnonce: p['cnonce'],
    });
    if (!safeEqual(expected, p['response'].toLowerCase())) return { ok: false, reason: 'wrong-password', username };
    // Only a correct response can be stale: the client knows the password and just retries (RFC 7616 §3.3).
    if (nonceState === 'stale') return { ok: false, reason: 'stale-nonce', username };
    if (qop === 'auth' && !this.#acceptNonceCount(p['nonce'], p['nc']))
      return { ok: false, reason: 'replayed-nonce-count', username };
    return { ok: true, username, algorithm };
  }

  #newNonce(): string {
    const issued = this.#now().toString(36);
    const salt = randomBytes(9).toString('base64url');
    return `${issued}.${salt}.${this.#sign(`${issued}.${salt}`)}`;
  }

  #sign(data: string): string {
    return createHmac('sha256', this.#key).update(data).digest('base64url').slice(0, 22);
  }

  #checkNonce(nonce: string): 'fresh' | 'stale' | 'bad' {
    const parts = nonce.split('.');
    if (parts.length !== 3) return 'bad';
    const [issued, salt, mac] = parts as [string, string, string];
    if (!safeEqual(this.#sign(`${issued}.${salt}`), mac)) return 'bad';
    const issuedAt = parseInt(issued, 36);
    if (!Number.isFinite(issuedAt)) return 'bad';
    return this.#now() - issuedAt > this.#lifetimeMs ? 'stale' : 'fresh';
  }

  /** nc must grow for each use of a nonce (RFC 7616 §3.4); a repeated one is a replay. */
  #acceptNonceCount(nonce: string, ncHex: string | undefined): boolean {
    const nc = ncHex && /^[0-9a-fA-F]{8}$/.test(ncHex) ? parseInt(ncHex, 16) : NaN;
    if (!Number.isFinite(nc)) return false;
    const now = this.#now();
    this.#forgetExpired(now);
    const seen = this.#usedNonces.get(nonce);
    if (seen && nc <= seen.nc) return false;
    this.#usedNonces.set(nonce, { nc, expiresAt: now + this.#lifetimeMs });
    return true;
  }

  #forgetExpired(now: number): void {
    if (this.#usedNonces.size < 1024) return;
    for (const [nonce, state] of this.#usedNonces) if (state.expiresAt < now) this.#usedNonces.delete(nonce);
  }
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
