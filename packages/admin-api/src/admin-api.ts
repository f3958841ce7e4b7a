/**
 * The admin HTTP+JSON API: log in, watch the conferences (list, roster, Server-Sent Events) and act
 * on them (mute, unmute, kick, lock, unlock, end). It translates requests into ConferenceControl
 * calls and results into JSON; the focus does the SIP and media side.
 *
 * A Fastify instance that never listens: the launcher's web server hands it the requests under the
 * base path (default /api) through `handle()`. Fastify routes, validates requests against the route
 * schemas (routes.ts, schemas.ts) and serializes responses; the same schemas make the OpenAPI
 * document served at `<base>/openapi.json` (and written to docs/admin-api.openapi.yaml).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type onRequestHookHandler,
} from 'fastify';
import fastifySwagger from '@fastify/swagger';
import { ConferenceError, type Conference } from '@conclave/conference';
import type { Logger } from '@conclave/log';
import { AdminAuthentication, type Principal } from './authentication.ts';
import { ClusterEventRelay } from './cluster-events.ts';
import { NODE_ADMIN_HEADER, NODE_KEY_HEADER, claimIdOfUri, type AdminCluster, type ClusterPeer } from './cluster.ts';
import type { Actor, AdminAuthenticator, ConferenceControl } from './control.ts';
import { ApiError, COMMON_HEADERS, apiErrorFromConference } from './errors.ts';
import { AdminEventHub } from './event-stream.ts';
import { remoteKey, type LoginThrottleOptions } from './login-throttle.ts';
import { OPENAPI_PATH, openApiOptions } from './openapi.ts';
import { conferenceDetail, conferenceSummary, type ConferenceSummary } from './representation.ts';
import {
  ADMIN_ROUTES,
  ADMIN_ROUTE_SPECS,
  allowedMethods,
  fastifyPath,
  type AdminOperation,
  type RouteAuth,
} from './routes.ts';
import { SHARED_SCHEMAS } from './schemas.ts';

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
  /**
   * Cluster mode: list the conferences of every node, forward requests for conferences hosted
   * elsewhere (cluster.ts). Absent: this node's conferences only (the single-machine product).
   */
  cluster?: AdminCluster | undefined;
}

/** The routes that act on or show conferences: the ones a node may forward to another. */
const CLUSTER_OPERATIONS: ReadonlySet<AdminOperation> = new Set([
  'listConferences',
  'getConference',
  'muteParticipant',
  'unmuteParticipant',
  'kickParticipant',
  'lockConference',
  'unlockConference',
  'endConference',
  'events',
]);

interface Params {
  id: string;
  pid: string;
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => unknown;

/** Conference URIs with parameters, URL-encoded, are long; Fastify's default limit is 100. */
const MAX_PARAM_LENGTH = 4096;
/** application/json and any application/*+json, parameters (charset) ignored. */
const JSON_CONTENT_TYPE = /^application\/(?:[\w!#$%&'*.^`|~-]+\+)?json(?:\s*;|\s*$)/i;

export class AdminApi {
  readonly basePath: string;
  readonly #control: ConferenceControl;
  readonly #domain: string;
  readonly #log: Logger;
  readonly #authentication: AdminAuthentication;
  readonly #events: AdminEventHub;
  readonly #app: FastifyInstance;
  readonly #ready: Promise<void>;
  readonly #maxBody: number;
  readonly #cluster: AdminCluster | undefined;
  readonly #relay: ClusterEventRelay | undefined;
  /** Requests another node forwarded: answered here, never forwarded again. */
  readonly #forwarded = new WeakSet<FastifyRequest>();
  /** Set by the authentication hook; absent only for the login route. */
  readonly #principals = new WeakMap<FastifyRequest, Principal>();
  readonly #handlers: Record<AdminOperation, Handler>;
  #closed = false;

  constructor(options: AdminApiOptions) {
    const basePath = options.basePath ?? '/api';
    if (!/^\/[^?#]*[^/?#]$/.test(basePath))
      throw new Error(`admin API base path must start and not end with "/": ${JSON.stringify(basePath)}`);
    this.basePath = basePath;
    this.#control = options.control;
    this.#domain = options.domain;
    this.#log = options.logger;
    this.#cluster = options.cluster;
    this.#authentication = new AdminAuthentication({
      auth: options.auth,
      logger: this.#log,
      sessionTtlMs: options.sessionTtlMs,
      loginThrottle: options.loginThrottle,
    });
    const relay = options.cluster
      ? new ClusterEventRelay({ cluster: options.cluster, basePath, logger: this.#log })
      : undefined;
    this.#relay = relay;
    this.#events = new AdminEventHub({
      registry: options.control.registry,
      logger: this.#log,
      ...options.events,
      ...(relay ? { remoteConferences: () => relay.conferences() } : {}),
    });
    relay?.start(this.#events);
    this.#handlers = {
      login: (request, reply) => this.#login(request, reply),
      sessionInfo: (request, reply) => this.#sessionInfo(request, reply),
      logout: (request, reply) => this.#logout(request, reply),
      listConferences: (request, reply) => this.#listConferences(request, reply),
      getConference: (request, reply) => this.#getConference(request, reply),
      muteParticipant: (request, reply) => this.#participantAction(request, reply, 'mute'),
      unmuteParticipant: (request, reply) => this.#participantAction(request, reply, 'unmute'),
      kickParticipant: (request, reply) => this.#participantAction(request, reply, 'kick'),
      lockConference: (request, reply) => this.#conferenceAction(request, reply, 'lock'),
      unlockConference: (request, reply) => this.#conferenceAction(request, reply, 'unlock'),
      endConference: (request, reply) => this.#conferenceAction(request, reply, 'end'),
      events: (request, reply) => this.#openEvents(request, reply),
    };
    this.#maxBody = options.maxBodyBytes ?? 16 * 1024;
    const app = this.#build();
    this.#app = app;
    this.#ready = (async () => {
      await app.ready();
    })();
    // handle() awaits it and answers 500 if it failed; this only keeps the rejection from being unhandled.
    this.#ready.catch((error: unknown) => this.#log.error('admin API failed to start', { error }));
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
      await this.#ready;
    } catch {
      writeRawError(res, new ApiError(500, 'internal', 'the admin API failed to start; see the log'));
      return true;
    }
    this.#app.routing(req, res);
    return true;
  }

  /** The OpenAPI document (as served at `<base>/openapi.json`). */
  async openApiDocument(): Promise<Record<string, unknown>> {
    await this.#ready;
    return this.#app.swagger() as unknown as Record<string, unknown>;
  }

  /** Ends the event streams and forgets the sessions; later requests get 503. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#relay?.close();
    this.#events.close();
    this.#authentication.clear();
  }

  // --- the Fastify instance ----------------------------------------------------------------------

  #build(): FastifyInstance {
    const app = Fastify({
      logger: false,
      bodyLimit: this.#maxBody,
      routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
      // HEAD is not an API method: it gets 405 like any other.
      exposeHeadRoutes: false,
      ajv: {
        // Validate, do not repair: {"user": 1} is a bad request, not the user "1".
        customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false },
      },
      // A malformed percent-escape in the path, or a path parameter beyond MAX_PARAM_LENGTH.
      frameworkErrors: (error, request, reply) => {
        const message =
          error.code === 'FST_ERR_BAD_URL' ? 'malformed percent-encoding in the path' : 'the path is too long';
        sendError(reply, new ApiError(400, 'invalid-request', message));
      },
    });
    for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
    void app.register(fastifySwagger, openApiOptions(this.basePath, ADMIN_ROUTE_SPECS));

    // Bodies: JSON only (415 for anything else), at most bodyLimit (413). An empty or blank body
    // is no body: the schema decides whether the route needs one.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(JSON_CONTENT_TYPE, { parseAs: 'string' }, (_request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') {
        done(null, undefined);
        return;
      }
      try {
        done(null, JSON.parse(text));
      } catch {
        done(new ApiError(400, 'invalid-json', 'the body is not valid JSON'), undefined);
      }
    });

    app.addHook(
      'onRequest',
      guard((_request, reply) => {
        void reply.headers(COMMON_HEADERS);
        if (this.#closed) throw new ApiError(503, 'unavailable', 'the admin API is shutting down');
      }),
    );
    app.setErrorHandler((error, request, reply) => this.#fail(error, request, reply));
    app.setNotFoundHandler((request) => {
      const path = request.url.split('?', 1)[0]!.slice(this.basePath.length);
      const allow = allowedMethods(path, [...ADMIN_ROUTES, { method: 'GET', path: OPENAPI_PATH }]);
      if (allow.length === 0) throw new ApiError(404, 'not-found', 'no such API endpoint');
      throw new ApiError(405, 'method-not-allowed', `use ${allow.join(' or ')}`, { Allow: allow.join(', ') });
    });

    // Routes in a plugin, so that they are added after @fastify/swagger is there to record them.
    void app.register((routes, _options, done) => {
      for (const route of ADMIN_ROUTE_SPECS) {
        const auth = route.auth;
        routes.route({
          method: route.method,
          url: this.basePath + fastifyPath(route.path),
          schema: route.schema,
          onRequest: guard((request) => {
            if (auth === 'none') this.#authentication.checkThrottle(remoteOf(request));
            else if (CLUSTER_OPERATIONS.has(route.operation) && this.#fromNode(request)) return;
            else this.#principals.set(request, this.#authenticate(request, auth));
          }),
          handler: this.#handlers[route.operation],
        });
      }
      // The document itself: public (it is no secret), not listed in itself.
      routes.get(this.basePath + OPENAPI_PATH, { schema: { hide: true } }, () => app.swagger());
      done();
    });
    return app;
  }

  #fail(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const apiError = toApiError(error, this.#maxBody);
    if (reply.raw.headersSent) {
      // Too late for a JSON error (an event stream): drop the connection.
      this.#log.warn('admin API request failed after the answer started', { method: request.method, error });
      reply.raw.destroy();
      return;
    }
    if (apiError) {
      sendError(reply, apiError);
      return;
    }
    this.#log.error('admin API request failed', {
      method: request.method,
      path: request.url.split('?', 1)[0],
      error,
    });
    sendError(reply, new ApiError(500, 'internal', 'the request failed inside the focus; see its log'));
  }

  // --- authentication ----------------------------------------------------------------------------

  #authenticate(request: FastifyRequest, auth: RouteAuth): Principal {
    const token = auth === 'header-or-query' ? (request.query as { token?: unknown }).token : undefined;
    return this.#authentication.authenticate(
      request.headers.authorization,
      typeof token === 'string' ? token : undefined,
      remoteOf(request),
    );
  }

  /**
   * A request another node forwarded (its node key and the admin's name): true and the principal set.
   * A node key that does not verify is refused, not ignored.
   */
  #fromNode(request: FastifyRequest): boolean {
    const key = request.headers[NODE_KEY_HEADER];
    if (key === undefined) return false;
    const admin = request.headers[NODE_ADMIN_HEADER];
    if (!this.#cluster?.verify(typeof key === 'string' ? key : undefined) || typeof admin !== 'string') {
      this.#log.warn('admin API: a request with a wrong node key', { remote: remoteOf(request) });
      throw new ApiError(401, 'unauthorized', 'wrong node key');
    }
    let user: string;
    try {
      user = decodeURIComponent(admin);
    } catch {
      throw new ApiError(400, 'invalid-request', `malformed ${NODE_ADMIN_HEADER}`);
    }
    this.#principals.set(request, { user, token: undefined, method: 'node' });
    this.#forwarded.add(request);
    return true;
  }

  #principal(request: FastifyRequest): Principal {
    const principal = this.#principals.get(request);
    if (!principal) throw new Error('no principal: the route did not authenticate');
    return principal;
  }

  // --- session -----------------------------------------------------------------------------------

  #login(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    // The schema (LoginRequest) made sure of the shape.
    const { user, password } = request.body as { user: string; password: string };
    const session = this.#authentication.login(user, password, remoteOf(request));
    return reply.send({
      token: session.token,
      user: session.user,
      expiresAt: new Date(session.expiresAt).toISOString(),
    });
  }

  #sessionInfo(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const principal = this.#principal(request);
    const session = principal.token === undefined ? undefined : this.#authentication.session(principal.token);
    return reply.send({
      user: principal.user,
      method: principal.method,
      expiresAt: session ? new Date(session.expiresAt).toISOString() : null,
    });
  }

  #logout(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const principal = this.#principal(request);
    if (principal.token !== undefined) {
      this.#authentication.revoke(principal.token);
      this.#events.closeStreamsOf(principal.token);
      this.#log.info('admin logged out', { user: principal.user, remote: remoteOf(request) });
    }
    return reply.code(204).send();
  }

  // --- conferences -------------------------------------------------------------------------------

  async #listConferences(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const conferences = this.#control.registry.list().map(conferenceSummary);
    const cluster = this.#cluster;
    if (!cluster || this.#forwarded.has(request)) return reply.send({ conferences });
    // Every other node's own list (a node that does not answer in time is left out, and logged).
    const user = this.#principal(request).user;
    const lists = await Promise.all(
      (await cluster.peers()).map(async (peer) => {
        const res = await this.#toPeer(peer, 'GET', `${this.basePath}/conferences`, user);
        if (res?.status !== 200) return [];
        return ((JSON.parse(res.body) as { conferences?: ConferenceSummary[] }).conferences ?? []).filter(
          (c) => !conferences.some((mine) => mine.id === c.id),
        );
      }),
    );
    const all = [...conferences, ...lists.flat()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    return reply.send({ conferences: all });
  }

  async #getConference(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const conference = await this.#conferenceOrForward(request, reply);
    if (!conference) return reply;
    return reply.send(conferenceDetail(conference));
  }

  async #participantAction(
    request: FastifyRequest,
    reply: FastifyReply,
    action: 'mute' | 'unmute' | 'kick',
  ): Promise<FastifyReply> {
    const params = request.params as Params;
    const conference = await this.#conferenceOrForward(request, reply);
    if (!conference) return reply;
    const participantId = params.pid;
    const notFound = () =>
      new ApiError(404, 'participant-not-found', `no participant ${participantId} in conference ${conference.id}`);
    if (!conference.participant(participantId)) throw notFound();
    const actor = this.#actor(this.#principal(request));
    this.#log.info('admin action', { user: actor.user, action, conference: conference.id, participant: participantId });
    try {
      await this.#control[action](conference, participantId, actor);
    } catch (error) {
      // The participant left between the lookup and the action.
      if (error instanceof ConferenceError && error.code === 'not-found') throw notFound();
      throw error;
    }
    return reply.code(204).send();
  }

  async #conferenceAction(
    request: FastifyRequest,
    reply: FastifyReply,
    action: 'lock' | 'unlock' | 'end',
  ): Promise<FastifyReply> {
    const conference = await this.#conferenceOrForward(request, reply);
    if (!conference) return reply;
    const actor = this.#actor(this.#principal(request));
    this.#log.info('admin action', { user: actor.user, action, conference: conference.id });
    await this.#control[action](conference, actor);
    return reply.code(204).send();
  }

  /** {id}: the conference id, or its (URL-encoded) URI. */
  #conference(params: Pick<Params, 'id'>): Conference {
    const conference = this.#control.registry.find(params.id);
    if (!conference || conference.ended) throw new ApiError(404, 'conference-not-found', `no conference ${params.id}`);
    return conference;
  }

  /**
   * The conference of {id} on this node; in a cluster, one hosted by another node gets the request
   * forwarded there and its answer sent (undefined: answered). 404 when no node has it.
   */
  async #conferenceOrForward(request: FastifyRequest, reply: FastifyReply): Promise<Conference | undefined> {
    const { id } = request.params as Params;
    const conference = this.#control.registry.find(id);
    if (conference && !conference.ended) return conference;
    const cluster = this.#cluster;
    if (!cluster || this.#forwarded.has(request)) return this.#conference({ id });
    const user = this.#principal(request).user;
    const peer = await this.#hostOf(cluster, id, user);
    if (!peer) return this.#conference({ id });
    const res = await this.#toPeer(peer, request.method, request.url.split('?', 1)[0]!, user);
    if (!res) throw new ApiError(503, 'unavailable', `node ${peer.id}, which hosts ${id}, did not answer`);
    this.#log.info('admin request forwarded', { user, method: request.method, conference: id, node: peer.id });
    void reply.code(res.status);
    if (res.status === 204 || res.body === '') await reply.send();
    else await reply.type(res.contentType ?? 'application/json; charset=utf-8').send(res.body);
    return undefined;
  }

  /** The node hosting a conference: by its claim for a URI, else by asking each node for the id. */
  async #hostOf(cluster: AdminCluster, id: string, user: string): Promise<ClusterPeer | undefined> {
    const claimId = claimIdOfUri(id);
    if (claimId !== undefined) return cluster.ownerOf(claimId);
    const peers = await cluster.peers();
    const found = await Promise.all(
      peers.map(async (peer) => {
        const res = await this.#toPeer(peer, 'GET', `${this.basePath}/conferences/${encodeURIComponent(id)}`, user);
        return res?.status === 200 ? peer : undefined;
      }),
    );
    return found.find((p) => p !== undefined);
  }

  /** A request to another node on behalf of `user`; undefined when it did not answer. */
  async #toPeer(
    peer: ClusterPeer,
    method: string,
    path: string,
    user: string,
  ): Promise<{ status: number; body: string; contentType: string | undefined } | undefined> {
    const cluster = this.#cluster!;
    try {
      const res = await fetch(new URL(path, peer.http), {
        method,
        headers: cluster.headers(user),
        signal: AbortSignal.timeout(cluster.timeoutMs),
      });
      return { status: res.status, body: await res.text(), contentType: res.headers.get('content-type') ?? undefined };
    } catch (error) {
      this.#log.warn('admin API: another node did not answer', { node: peer.id, http: peer.http, method, path, error });
      return undefined;
    }
  }

  #actor(principal: Principal): Actor {
    return { user: principal.user, uri: `sip:${escapeSipUser(principal.user)}@${this.#domain}` };
  }

  // --- events ------------------------------------------------------------------------------------

  /** The stream is written on the raw response (see event-stream.ts); Fastify lets go of it. */
  #openEvents(request: FastifyRequest, reply: FastifyReply): void {
    const { user, token } = this.#principal(request);
    void reply.hijack();
    this.#events.open(reply.raw, {
      user,
      token,
      isAuthorized: () => token === undefined || this.#authentication.session(token) !== undefined,
      localOnly: this.#forwarded.has(request),
    });
    this.#log.info('admin watching events', { user, remote: remoteOf(request) });
  }
}

/** What went wrong, as the API tells it; undefined for a failure of our own (500). */
function toApiError(error: unknown, maxBody: number): ApiError | undefined {
  if (error instanceof ApiError) return error;
  const refused = apiErrorFromConference(error);
  if (refused) return refused;
  const { code, statusCode, validation, validationContext, message } = error as Partial<FastifyError>;
  // Path parameters fail their schema only when empty (/conferences/): no such endpoint.
  if (validation && validationContext === 'params') return new ApiError(404, 'not-found', 'no such API endpoint');
  if (validation) return new ApiError(400, 'invalid-request', message ?? 'invalid request');
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported-media-type', 'the body must be application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      // Connection: close — node closes after answering rather than reading an unwanted upload.
      return new ApiError(413, 'payload-too-large', `the body exceeds ${maxBody} bytes`, { Connection: 'close' });
  }
  // Fastify's other refusals of a request (a body that could not be read...).
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500)
    return new ApiError(400, 'invalid-request', 'the request body could not be read');
  return undefined;
}

/** An onRequest hook that refuses the request when `check` throws. */
function guard(check: (request: FastifyRequest, reply: FastifyReply) => void): onRequestHookHandler {
  return (request, reply, done) => {
    try {
      check(request, reply);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  };
}

function sendError(reply: FastifyReply, error: ApiError): void {
  void reply
    .code(error.status)
    .headers({ ...COMMON_HEADERS, ...error.headers })
    .send(error.toJSON());
}

/** Before Fastify is ready there is no reply object. */
function writeRawError(res: ServerResponse, error: ApiError): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(error.toJSON());
  res.writeHead(error.status, { ...COMMON_HEADERS, 'Content-Type': 'application/json; charset=utf-8' });
  res.end(text);
}

function remoteOf(request: FastifyRequest): string {
  return remoteKey(request.raw.socket.remoteAddress);
}

/** RFC 3261 user part: unreserved and user-unreserved characters stay, the rest is %-escaped. */
function escapeSipUser(user: string): string {
  return Array.from(new TextEncoder().encode(user), (byte) => {
    const c = String.fromCharCode(byte);
    return /[A-Za-z0-9\-_.!~*'()&=+$,;?/]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}
