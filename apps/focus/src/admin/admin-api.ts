/**
 * The focus's admin HTTP+JSON API: log in, watch the conferences (list, roster, Server-Sent
 * Events) and act on them (mute, unmute, kick, lock, unlock, end). It translates requests into
 * ConferenceControl calls and results into JSON; the focus does the SIP and media side.
 *
 * Mounted on the launcher's web server as a route handler: `handle()` answers everything under the
 * base path (default /api) and returns false for anything else. The routes are in routes.ts, the
 * contract in docs/admin-api.openapi.yaml.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConferenceError, type Conference } from '@conclave/conference';
import type { Logger } from '@conclave/log';
import type { Actor, AdminAuthenticator, ConferenceControl } from './control.ts';
import { AdminEventHub } from './event-stream.ts';
import { ApiError, apiErrorFromConference, readJsonBody, sendError, sendJson, sendNoContent } from './http-io.ts';
import { LoginThrottle, remoteKey, type LoginThrottleOptions } from './login-throttle.ts';
import { conferenceDetail, conferenceSummary } from './representation.ts';
import { matchRoute, type AdminOperation, type RouteAuth } from './routes.ts';
import { AdminSessions } from './sessions.ts';

export interface AdminApiOptions {
  control: ConferenceControl;
  auth: AdminAuthenticator;
  /** The focus's SIP domain: an admin acts as sip:<user>@<domain>. */
  domain: string;
  logger: Logger;
  /** Default '/api'. */
  basePath?: string;
  /** Lifetime of a login token, default 12 h. */
  sessionTtlMs?: number;
  /** Failed logins per remote address, default 5 per 60 s. */
  loginThrottle?: LoginThrottleOptions;
  /** Request bodies beyond this are refused with 413, default 16 KiB. */
  maxBodyBytes?: number;
  events?: { coalesceMs?: number; keepAliveMs?: number };
}

/** Who is calling, once authenticated. */
interface Principal {
  user: string;
  /** The bearer token (header or query), absent for HTTP Basic. */
  token: string | undefined;
  method: 'bearer' | 'basic';
}

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  /** Undefined only for the login route. */
  principal: Principal | undefined;
  remote: string;
}

type Handler = (ctx: RequestContext) => Promise<void> | void;

/** Same answer for an unknown user, a wrong password and a non-admin: nothing to enumerate. */
const BAD_CREDENTIALS = 'wrong user name or password, or not an admin';
const WWW_AUTHENTICATE = { 'WWW-Authenticate': 'Bearer realm="Conclave admin"' };
const MAX_USER_LENGTH = 256;
const MAX_PASSWORD_LENGTH = 1024;

export class AdminApi {
  readonly basePath: string;
  readonly #control: ConferenceControl;
  readonly #auth: AdminAuthenticator;
  readonly #domain: string;
  readonly #log: Logger;
  readonly #maxBody: number;
  readonly #sessions: AdminSessions;
  readonly #throttle: LoginThrottle;
  readonly #events: AdminEventHub;
  readonly #handlers: Record<AdminOperation, Handler>;
  #closed = false;

  constructor(options: AdminApiOptions) {
    const basePath = options.basePath ?? '/api';
    if (!/^\/[^?#]*[^/?#]$/.test(basePath))
      throw new Error(`admin API base path must start and not end with "/": ${JSON.stringify(basePath)}`);
    this.basePath = basePath;
    this.#control = options.control;
    this.#auth = options.auth;
    this.#domain = options.domain;
    this.#log = options.logger;
    this.#maxBody = options.maxBodyBytes ?? 16 * 1024;
    this.#sessions = new AdminSessions(options.sessionTtlMs === undefined ? {} : { ttlMs: options.sessionTtlMs });
    this.#throttle = new LoginThrottle(options.loginThrottle);
    this.#events = new AdminEventHub({ registry: options.control.registry, logger: this.#log, ...options.events });
    this.#handlers = {
      login: (ctx) => this.#login(ctx),
      sessionInfo: (ctx) => this.#sessionInfo(ctx),
      logout: (ctx) => this.#logout(ctx),
      listConferences: (ctx) => this.#listConferences(ctx),
      getConference: (ctx) => this.#getConference(ctx),
      muteParticipant: (ctx) => this.#participantAction(ctx, 'mute'),
      unmuteParticipant: (ctx) => this.#participantAction(ctx, 'unmute'),
      kickParticipant: (ctx) => this.#participantAction(ctx, 'kick'),
      lockConference: (ctx) => this.#conferenceAction(ctx, 'lock'),
      unlockConference: (ctx) => this.#conferenceAction(ctx, 'unlock'),
      endConference: (ctx) => this.#conferenceAction(ctx, 'end'),
      events: (ctx) => this.#openEvents(ctx),
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Open Server-Sent Events streams. */
  get eventStreamCount(): number {
    return this.#events.streamCount;
  }

  /**
   * Answers a request under the base path (true), or leaves it to the next handler (false).
   * Never rejects: every failure becomes a JSON error (or a dropped stream).
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path !== this.basePath && !path.startsWith(this.basePath + '/')) return false;
    try {
      if (this.#closed) throw new ApiError(503, 'unavailable', 'the admin API is shutting down');
      await this.#dispatch(req, res, path.slice(this.basePath.length), q < 0 ? '' : url.slice(q + 1));
    } catch (error) {
      this.#fail(req, res, error);
    }
    return true;
  }

  /** Ends the event streams and forgets the sessions; later requests get 503. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.close();
    this.#sessions.clear();
  }

  // --- dispatch ----------------------------------------------------------------------------------

  async #dispatch(req: IncomingMessage, res: ServerResponse, relativePath: string, query: string): Promise<void> {
    const segments = relativePath === '' ? [] : relativePath.slice(1).split('/').map(decodeSegment);
    const match = matchRoute(req.method ?? '', segments);
    if (match.kind === 'not-found') throw new ApiError(404, 'not-found', 'no such API endpoint');
    if (match.kind === 'method-not-allowed') {
      throw new ApiError(405, 'method-not-allowed', `use ${match.allow.join(' or ')}`, {
        Allow: match.allow.join(', '),
      });
    }
    const remote = remoteKey(req.socket.remoteAddress);
    const principal =
      match.route.auth === 'none' ? undefined : this.#authenticate(req, query, match.route.auth, remote);
    await this.#handlers[match.route.operation]({ req, res, params: match.params, principal, remote });
  }

  #fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    const apiError = error instanceof ApiError ? error : apiErrorFromConference(error);
    if (res.headersSent) {
      // Too late for a JSON error (an event stream): drop the connection.
      this.#log.warn('admin API request failed after the answer started', { method: req.method, error });
      res.destroy();
      return;
    }
    if (apiError) {
      sendError(res, apiError);
      return;
    }
    this.#log.error('admin API request failed', { method: req.method, path: (req.url ?? '').split('?', 1)[0], error });
    sendError(res, new ApiError(500, 'internal', 'the request failed inside the focus; see its log'));
  }

  // --- authentication ----------------------------------------------------------------------------

  #authenticate(req: IncomingMessage, query: string, auth: RouteAuth, remote: string): Principal {
    const header = req.headers.authorization;
    if (header === undefined) {
      if (auth === 'header-or-query') {
        const token = new URLSearchParams(query).get('token');
        if (token !== null) return this.#bearer(token);
      }
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

  #bearer(token: string): Principal {
    const session = this.#sessions.get(token);
    if (!session)
      throw new ApiError(401, 'unauthorized', 'the token is unknown or has expired; log in again', WWW_AUTHENTICATE);
    return { user: session.user, token, method: 'bearer' };
  }

  /** HTTP Basic (for curl): the same checks and throttling as a login. */
  #basic(encoded: string, remote: string): Principal {
    this.#checkThrottle(remote);
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
    return this.#auth.verify(user, password) === true;
  }

  #checkThrottle(remote: string): void {
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

  #loginFailed(user: string, remote: string, method: 'password' | 'basic'): void {
    this.#throttle.recordFailure(remote);
    this.#log.warn('admin login failed', { user: user.slice(0, 64), remote, method });
  }

  // --- session -----------------------------------------------------------------------------------

  async #login({ req, res, remote }: RequestContext): Promise<void> {
    this.#checkThrottle(remote);
    const body = await readJsonBody(req, { limit: this.#maxBody, required: true });
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ApiError(400, 'invalid-request', 'expected a JSON object { "user", "password" }');
    }
    const { user, password } = body as Record<string, unknown>;
    if (typeof user !== 'string' || typeof password !== 'string') {
      throw new ApiError(400, 'invalid-request', '"user" and "password" must be strings');
    }
    if (!this.#verify(user, password)) {
      this.#loginFailed(user, remote, 'password');
      throw new ApiError(401, 'unauthorized', BAD_CREDENTIALS);
    }
    this.#throttle.recordSuccess(remote);
    const session = this.#sessions.create(user);
    this.#log.info('admin logged in', { user, remote });
    sendJson(res, 200, {
      token: session.token,
      user: session.user,
      expiresAt: new Date(session.expiresAt).toISOString(),
    });
  }

  #sessionInfo({ res, principal }: RequestContext): void {
    const session = principal!.token === undefined ? undefined : this.#sessions.get(principal!.token);
    sendJson(res, 200, {
      user: principal!.user,
      method: principal!.method,
      expiresAt: session ? new Date(session.expiresAt).toISOString() : null,
    });
  }

  #logout({ res, principal, remote }: RequestContext): void {
    const token = principal!.token;
    if (token !== undefined) {
      this.#sessions.revoke(token);
      this.#events.closeStreamsOf(token);
      this.#log.info('admin logged out', { user: principal!.user, remote });
    }
    sendNoContent(res);
  }

  // --- conferences -------------------------------------------------------------------------------

  #listConferences({ res }: RequestContext): void {
    sendJson(res, 200, { conferences: this.#control.registry.list().map(conferenceSummary) });
  }

  #getConference({ res, params }: RequestContext): void {
    sendJson(res, 200, conferenceDetail(this.#conference(params)));
  }

  async #participantAction(
    { req, res, params, principal }: RequestContext,
    action: 'mute' | 'unmute' | 'kick',
  ): Promise<void> {
    await readJsonBody(req, { limit: this.#maxBody, required: false });
    const conference = this.#conference(params);
    const participantId = params['pid']!;
    if (!conference.participant(participantId)) {
      throw new ApiError(
        404,
        'participant-not-found',
        `no participant ${participantId} in conference ${conference.id}`,
      );
    }
    const actor = this.#actor(principal!);
    this.#log.info('admin action', { user: actor.user, action, conference: conference.id, participant: participantId });
    try {
      await this.#control[action](conference, participantId, actor);
    } catch (error) {
      // The participant left between the lookup and the action.
      if (error instanceof ConferenceError && error.code === 'not-found') {
        throw new ApiError(
          404,
          'participant-not-found',
          `no participant ${participantId} in conference ${conference.id}`,
        );
      }
      throw error;
    }
    sendNoContent(res);
  }

  async #conferenceAction(
    { req, res, params, principal }: RequestContext,
    action: 'lock' | 'unlock' | 'end',
  ): Promise<void> {
    await readJsonBody(req, { limit: this.#maxBody, required: false });
    const conference = this.#conference(params);
    const actor = this.#actor(principal!);
    this.#log.info('admin action', { user: actor.user, action, conference: conference.id });
    await this.#control[action](conference, actor);
    sendNoContent(res);
  }

  /** {id}: the conference id, or its (URL-encoded) URI. */
  #conference(params: Record<string, string>): Conference {
    const idOrUri = params['id']!;
    const conference = this.#control.registry.find(idOrUri);
    if (!conference || conference.ended) throw new ApiError(404, 'conference-not-found', `no conference ${idOrUri}`);
    return conference;
  }

  #actor(principal: Principal): Actor {
    return { user: principal.user, uri: `sip:${escapeSipUser(principal.user)}@${this.#domain}` };
  }

  // --- events ------------------------------------------------------------------------------------

  #openEvents({ res, principal, remote }: RequestContext): void {
    const { user, token } = principal!;
    this.#events.open(res, {
      user,
      token,
      isAuthorized: () => token === undefined || this.#sessions.get(token) !== undefined,
    });
    this.#log.info('admin watching events', { user, remote });
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, 'invalid-request', 'malformed percent-encoding in the path');
  }
}

/** RFC 3261 user part: unreserved and user-unreserved characters stay, the rest is %-escaped. */
function escapeSipUser(user: string): string {
  return Array.from(new TextEncoder().encode(user), (byte) => {
    const c = String.fromCharCode(byte);
    return /[A-Za-z0-9\-_.!~*'()&=+$,;?/]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}
