/**
 * Admin sessions: random bearer tokens kept in memory (a restart logs everyone out, which is fine
 * for a focus that also loses its conferences on restart).
 */
import { randomBytes } from 'node:crypto';

export interface AdminSession {
  token: string;
  user: string;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface AdminSessionsOptions {
  /** Lifetime of a token, default 12 h. */
  ttlMs?: number;
  /** Sessions kept at most; the oldest is dropped beyond (a runaway login loop cannot fill memory). */
  maxSessions?: number;
  now?: () => number;
}

export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export class AdminSessions {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  /** Insertion order is creation order, so the first entry is the oldest. */
  readonly #byToken = new Map<string, AdminSession>();

  constructor(options: AdminSessionsOptions = {}) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    this.#max = options.maxSessions ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#byToken.size;
  }

  /** A fresh session with a 256-bit token. */
  create(user: string): AdminSession {
    this.#sweep();
    while (this.#byToken.size >= this.#max) {
      const oldest = this.#byToken.keys().next().value;
      if (oldest === undefined) break;
      this.#byToken.delete(oldest);
    }
    const now = this.#now();
    const session: AdminSession = {
      token: randomBytes(32).toString('base64url'),
      user,
      createdAt: now,
      expiresAt: now + this.#ttlMs,
    };
    this.#byToken.set(session.token, session);
    return session;
  }

  /** The live session of a token, or undefined (unknown, expired or revoked). */
  get(token: string): AdminSession | undefined {
    const session = this.#byToken.get(token);
    if (!session) return undefined;
    if (session.expiresAt <= this.#now()) {
      this.#byToken.delete(token);
      return undefined;
    }
    return session;
  }

  /** Logs a token out. Returns false when it was not live. */
  revoke(token: string): boolean {
    return this.#byToken.delete(token);
  }

  clear(): void {
    this.#byToken.clear();
  }

  #sweep(): void {
    const now = this.#now();
    for (const [token, session] of this.#byToken) if (session.expiresAt <= now) this.#byToken.delete(token);
  }
}
