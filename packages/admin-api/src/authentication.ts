/**
 * Who may use the admin API: logins (bearer tokens from AdminSessions), HTTP Basic, and the login
 * throttle both go through. Every refusal is an ApiError (401, 429) with the headers to send;
 * nothing here knows about Fastify.
 */
import type { Logger } from '@conclave/log';
import type { AdminAuthenticator } from './control.ts';
import { ApiError } from './errors.ts';
import { LoginThrottle, type LoginThrottleOptions } from './login-throttle.ts';
import { AdminSessions, type AdminSession } from './sessions.ts';

/** Who is calling, once authenticated. */
export interface Principal {
  user: string;
  /** The bearer token (header or query), absent for HTTP Basic. */
  token: string | undefined;
  /** `node`: a request another node of the cluster forwarded for this admin (cluster.ts). */
  method: 'bearer' | 'basic' | 'node';
}

export interface AdminAuthenticationOptions {
  auth: AdminAuthenticator;
  logger: Logger;
  /** Lifetime of a login token, default 12 h. */
  sessionTtlMs?: number | undefined;
  /** Failed logins per remote address, default 5 per 60 s. */
  loginThrottle?: LoginThrottleOptions | undefined;
}

/** Same answer for an unknown user, a wrong password and a non-admin: nothing to enumerate. */
const BAD_CREDENTIALS = 'wrong user name or password, or not an admin';
const WWW_AUTHENTICATE = { 'WWW-Authenticate': 'Bearer realm="Conclave admin"' };
const MAX_USER_LENGTH = 256;
const MAX_PASSWORD_LENGTH = 1024;

export class AdminAuthentication {
  readonly #auth: AdminAuthenticator;
  readonly #log: Logger;
  readonly #sessions: AdminSessions;
  readonly #throttle: LoginThrottle;

  constructor(options: AdminAuthenticationOptions) {
    this.#auth = options.auth;
    this.#log = options.logger;
    this.#sessions = new AdminSessions(options.sessionTtlMs === undefined ? {} : { ttlMs: options.sessionTtlMs });
    this.#throttle = new LoginThrottle(options.loginThrottle);
  }

  /**
   * The caller of a request, from its Authorization header (Bearer or Basic), or else from a
   * `?token=` (`queryToken`, only where the route accepts one). Throws 401 or 429.
   */
  authenticate(header: string | undefined, queryToken: string | undefined, remote: string): Principal {
    if (header === undefined) {
      if (queryToken !== undefined) return this.#bearer(queryToken);
      throw new ApiError(
        401,
        'unauthorized',
        'log in first: POST /session, then send "Authorization: Bearer <token>"',
        WWW_AUTHENTICATE,
      );
    }
    const m = /^(\S+)\s+(\S+)\s*$/.exec(header.trim());
    const scheme = m?.[1]!.toLowerCase();
    if (scheme === 'bearer') return this.#bearer(m![2]!);
    if (scheme === 'basic') return this.#basic(m![2]!, remote);
    throw new ApiError(401, 'unauthorized', 'use "Authorization: Bearer <token>" or HTTP Basic', WWW_AUTHENTICATE);
  }

  /** A login with user name and password: a new session, or 401 (429 is checkThrottle's, before). */
  login(user: string, password: string, remote: string): AdminSession {
    if (!this.#verify(user, password)) {
      this.#loginFailed(user, remote, 'password');
      throw new ApiError(401, 'unauthorized', BAD_CREDENTIALS);
    }
    this.#throttle.recordSuccess(remote);
    const session = this.#sessions.create(user);
    this.#log.info('admin logged in', { user, remote });
    return session;
  }

  /** Refuses (429 + Retry-After) an address with too many recent failed logins. */
  checkThrottle(remote: string): void {
    const waitMs = this.#throttle.retryAfterMs(remote);
    if (waitMs === 0) return;
    const seconds = Math.ceil(waitMs / 1000);
    if (this.#throttle.reportRefusal(remote)) {
      this.#log.warn('admin logins refused: too many failures from this address', { remote, retryAfter: seconds });
    }
    throw new ApiError(429, 'too-many-requests', `too many failed logins; try again in ${seconds} s`, {
      'Retry-After': String(seconds),
    });
  }

  /** The live session of a token (undefined once expired or revoked). */
  session(token: string): AdminSession | undefined {
    return this.#sessions.get(token);
  }

  revoke(token: string): void {
    this.#sessions.revoke(token);
  }

  /** Forgets every session. */
  clear(): void {
    this.#sessions.clear();
  }

  #bearer(token: string): Principal {
    const session = this.#sessions.get(token);
    if (!session)
      throw new ApiError(401, 'unauthorized', 'the token is unknown or has expired; log in again', WWW_AUTHENTICATE);
    return { user: session.user, token, method: 'bearer' };
  }

  /** HTTP Basic (for curl): the same checks and throttling as a login. */
  #basic(encoded: string, remote: string): Principal {
    this.checkThrottle(remote);
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    if (colon < 0 || !this.#verify(user, password)) {
      this.#loginFailed(user, remote, 'basic');
      throw new ApiError(401, 'unauthorized', BAD_CREDENTIALS, WWW_AUTHENTICATE);
    }
    this.#throttle.recordSuccess(remote);
    return { user, token: undefined, method: 'basic' };
  }

  #verify(user: string, password: string): boolean {
    if (user === '' || user.length > MAX_USER_LENGTH || password.length > MAX_PASSWORD_LENGTH) return false;
    return this.#auth.verify(user, password);
  }

  #loginFailed(user: string, remote: string, method: 'password' | 'basic'): void {
    this.#throttle.recordFailure(remote);
    this.#log.warn('admin login failed', { user: user.slice(0, 64), remote, method });
  }
}
