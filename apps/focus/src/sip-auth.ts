/**
 * Digest authentication of incoming requests (REGISTER, INVITE, SUBSCRIBE, REFER, MESSAGE …) as a
 * drachtio-srf middleware. The authenticated user name is attached to the request for the handlers;
 * a From identity that differs from the authenticated user is refused (no spoofing of callers).
 */
import { DigestAuthenticator } from '@conclave/sip-digest';
import type { Logger } from '@conclave/log';
import type { UserDirectory } from './directory.ts';
import { parseNameAddr } from './sip-uri.ts';
import { reply, type SrfMiddleware, type SrfRequest } from './srf.ts';

/** The user each request was authenticated as, kept beside the request (drachtio-srf passes one object to the middleware and the handler). */
const authenticated = new WeakMap<SrfRequest, string>();

export function authenticatedUser(req: SrfRequest): string | undefined {
  return authenticated.get(req);
}

export interface SipAuthOptions {
  realm: string;
  directory: UserDirectory;
  logger: Logger;
  /** Key of the nonce HMAC, the same on every node of a cluster; random per process by default. */
  nonceKey?: Buffer;
}

export function createSipAuth(options: SipAuthOptions): SrfMiddleware {
  const authenticator = new DigestAuthenticator({ realm: options.realm, nonceKey: options.nonceKey });
  const log = options.logger;
  return (req, res, next) => {
    const credentials = req.get('Authorization') || undefined;
    const result = authenticator.verify({ credentials, method: req.method, passwordOf: options.directory.passwordOf });
    const callLog = log.child({ callId: req.get('Call-ID'), method: req.method, from: req.source_address });
    if (result.ok) {
      const from = parseNameAddr(req.get('From'));
      if (!from || from.user !== result.username) {
        callLog.warn('refused: From does not match the authenticated user', {
          user: result.username,
          fromHeader: req.get('From'),
        });
        reply(res, 403, 'Forbidden - From does not match credentials');
        return;
      }
      authenticated.set(req, result.username);
      (next as () => void)();
      return;
    }
    const challenge = (stale: boolean) =>
      reply(res, 401, 'Unauthorized', {
        headers: {
          'WWW-Authenticate': authenticator.challenge({ stale, userAgent: req.get('User-Agent') || undefined }),
        },
      });
    switch (result.reason) {
      case 'missing':
        challenge(false);
        return;
      case 'stale-nonce':
      case 'bad-nonce':
      case 'replayed-nonce-count':
        callLog.info('re-challenging', { reason: result.reason, user: result.username });
        challenge(result.reason === 'stale-nonce');
        return;
      case 'malformed':
      case 'wrong-realm':
      case 'unsupported-algorithm':
        callLog.warn('bad credentials', { reason: result.reason, user: result.username });
        reply(res, 400, `Bad Request - ${result.reason.replace(/-/g, ' ')} in Authorization`);
        return;
      case 'unknown-user':
      case 'wrong-password':
        // Same answer for both, so the response does not reveal which user names exist.
        callLog.warn('authentication failed', { reason: result.reason, user: result.username });
        reply(res, 403, 'Forbidden - wrong user name or password');
        return;
    }
  };
}
