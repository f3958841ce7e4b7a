/**
 * The admin API's route table: method, path, how it authenticates, and the route schema Fastify
 * validates requests with and @fastify/swagger documents. Paths are relative to the base path
 * (`/api`) and use OpenAPI's `{name}` templates; the handlers are in admin-api.ts.
 */
import { CONFERENCE_ID, PARTICIPANT_ID, errorResponses, ref, type JsonSchema } from './schemas.ts';

export type AdminOperation =
  | 'login'
  | 'sessionInfo'
  | 'logout'
  | 'listConferences'
  | 'getConference'
  | 'muteParticipant'
  | 'unmuteParticipant'
  | 'kickParticipant'
  | 'lockConference'
  | 'unlockConference'
  | 'endConference'
  | 'events';

/**
 * How a route authenticates: `none` (the login itself), `header` (Bearer token or HTTP Basic), or
 * `header-or-query` (also `?token=`, for EventSource, which cannot set headers).
 */
export type RouteAuth = 'none' | 'header' | 'header-or-query';

export interface AdminRoute {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  operation: AdminOperation;
  auth: RouteAuth;
}

/** A route with its Fastify schema (`summary`, `tags`... are for the OpenAPI document). */
export interface AdminRouteSpec extends AdminRoute {
  schema: JsonSchema & { response: Record<number, JsonSchema> };
  /** The request body may be absent (actions): the OpenAPI requestBody is marked not required. */
  optionalBody?: boolean;
}

const DONE = { 204: { type: 'null', description: 'Done (also when it changed nothing).' } } as const;

/** Mute, kick, lock...: an optional, ignored JSON body, 204. */
function action(
  path: string,
  operation: AdminOperation,
  summary: string,
  params: 'conference' | 'participant',
  description?: string,
): AdminRouteSpec {
  return {
    method: 'POST',
    path,
    operation,
    auth: 'header',
    optionalBody: true,
    schema: {
      tags: ['actions'],
      operationId: operation,
      summary,
      ...(description === undefined ? {} : { description }),
      params: {
        type: 'object',
        required: params === 'participant' ? ['id', 'pid'] : ['id'],
        properties: params === 'participant' ? { id: CONFERENCE_ID, pid: PARTICIPANT_ID } : { id: CONFERENCE_ID },
      },
      // Any JSON (or none): the body is ignored, but if one is sent it must be JSON.
      body: { description: 'No body is needed; if one is sent it must be JSON (it is ignored).' },
      response: { ...DONE, ...errorResponses(400, 401, 404, 409, 413, 415, 429, 500) },
    },
  };
}

const CONFERENCE_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: CONFERENCE_ID },
} as const;

const EVENTS_DESCRIPTION = `A \`text/event-stream\` that stays open. Events (each \`data\` is one line of JSON):

| event | data | when |
| --- | --- | --- |
| \`snapshot\` | \`EventSnapshot\` | first, on every (re)connection |
| \`conference-created\` | \`ConferenceDetail\` | a conference was created |
| \`conference-updated\` | \`ConferenceDetail\` | its state changed (participants, their status / mute / hold / speaking, lock, speaker, subject); at most one per conference per 200 ms, the latest state |
| \`conference-ended\` | \`ConferenceEnded\` | a conference ended and left the list |

The stream starts with \`retry: 3000\`; a comment line \`: keep-alive\` comes every 15 s.
The stream ends when the token is revoked (logout) or expires, or the focus stops; an
EventSource then reconnects and gets 401 (log in again) or a fresh snapshot.
`;

const EVENTS_EXAMPLE = `retry: 3000

event: snapshot
data: {"conferences":[]}

event: conference-created
data: {"id":"cf_x","uri":"sip:conf-abc@conclave.example.com", ...}

: keep-alive

`;

export const ADMIN_ROUTE_SPECS: readonly AdminRouteSpec[] = [
  {
    method: 'POST',
    path: '/session',
    operation: 'login',
    auth: 'none',
    schema: {
      tags: ['session'],
      operationId: 'login',
      summary: 'Log in (get a bearer token)',
      security: [],
      body: ref('LoginRequest'),
      response: {
        200: { ...ref('Session'), description: 'Logged in.' },
        ...errorResponses(400, 401, 413, 415, 429),
      },
    },
  },
  {
    method: 'GET',
    path: '/session',
    operation: 'sessionInfo',
    auth: 'header',
    schema: {
      tags: ['session'],
      operationId: 'sessionInfo',
      summary: 'Who am I (check that a stored token is still good)',
      response: { 200: { ...ref('SessionInfo'), description: 'The caller.' }, ...errorResponses(401, 429) },
    },
  },
  {
    method: 'DELETE',
    path: '/session',
    operation: 'logout',
    auth: 'header',
    schema: {
      tags: ['session'],
      operationId: 'logout',
      summary: 'Log out (revoke the token; its event streams end)',
      description: 'With HTTP Basic there is nothing to revoke; the answer is 204 all the same.',
      response: { 204: { type: 'null', description: 'Logged out.' }, ...errorResponses(401, 429) },
    },
  },
  {
    method: 'GET',
    path: '/conferences',
    operation: 'listConferences',
    auth: 'header',
    schema: {
      tags: ['conferences'],
      operationId: 'listConferences',
      summary: 'The live conferences, in creation order',
      response: { 200: { ...ref('ConferenceList'), description: 'The list.' }, ...errorResponses(401, 429) },
    },
  },
  {
    method: 'GET',
    path: '/conferences/{id}',
    operation: 'getConference',
    auth: 'header',
    schema: {
      tags: ['conferences'],
      operationId: 'getConference',
      summary: 'A conference with its roster',
      params: CONFERENCE_PARAMS,
      response: {
        200: { ...ref('ConferenceDetail'), description: 'The conference.' },
        ...errorResponses(400, 401, 404, 429),
      },
    },
  },
  action(
    '/conferences/{id}/participants/{pid}/mute',
    'muteParticipant',
    'Mute a participant (the focus stops forwarding their audio)',
    'participant',
    'The roster shows `mutedByFocus` and `endpointStatus` `muted-via-focus`. Muting a muted participant is a no-op.',
  ),
  action(
    '/conferences/{id}/participants/{pid}/unmute',
    'unmuteParticipant',
    'Unmute a participant muted by the focus',
    'participant',
  ),
  action(
    '/conferences/{id}/participants/{pid}/kick',
    'kickParticipant',
    'Remove a participant (BYE; subscribers see them disconnected, booted)',
    'participant',
  ),
  action('/conferences/{id}/lock', 'lockConference', 'Refuse new participants (idempotent)', 'conference'),
  action('/conferences/{id}/unlock', 'unlockConference', 'Admit new participants again (idempotent)', 'conference'),
  action(
    '/conferences/{id}/end',
    'endConference',
    'End the conference (BYE to everyone; subscribers get a final NOTIFY)',
    'conference',
    'The conference leaves the list; a second `end` gets 404.',
  ),
  {
    method: 'GET',
    path: '/events',
    operation: 'events',
    auth: 'header-or-query',
    schema: {
      tags: ['events'],
      operationId: 'events',
      summary: 'Server-Sent Events with the live state of all conferences',
      description: EVENTS_DESCRIPTION,
      security: [{ bearerAuth: [] }, { basicAuth: [] }, { queryToken: [] }],
      querystring: {
        type: 'object',
        properties: {
          token: {
            type: 'string',
            description: 'The bearer token, for clients that cannot set headers (EventSource).',
          },
        },
      },
      response: {
        200: {
          description: 'The event stream.',
          content: {
            'text/event-stream': {
              schema: { type: 'string', description: 'Server-Sent Events as described above.' },
              example: EVENTS_EXAMPLE,
            },
          },
        },
        ...errorResponses(401, 429),
      },
    },
  },
];

/** The routes without their schemas. */
export const ADMIN_ROUTES: readonly AdminRoute[] = ADMIN_ROUTE_SPECS.map(({ method, path, operation, auth }) => ({
  method,
  path,
  operation,
  auth,
}));

/** `/conferences/{id}` → `/conferences/:id` (Fastify's syntax). */
export function fastifyPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

/**
 * The methods a concrete path (without the base path, still percent-encoded) has routes for, in
 * table order: a request with another method gets 405 and this as `Allow`. Empty when the path is
 * not the API's.
 */
export function allowedMethods(
  path: string,
  routes: readonly Pick<AdminRoute, 'method' | 'path'>[] = ADMIN_ROUTES,
): string[] {
  const segments = path.split('/').slice(1);
  return routes.filter((route) => matchesTemplate(route.path, segments)).map((route) => route.method);
}

function matchesTemplate(template: string, segments: readonly string[]): boolean {
  const parts = template.split('/').slice(1);
  if (parts.length !== segments.length) return false;
  return parts.every((part, i) => (part.startsWith('{') ? segments[i] !== '' : part === segments[i]));
}
