/**
 * The OpenAPI document's frame (info, security schemes, tags) for @fastify/swagger, which fills in
 * the paths and schemas from the route schemas. The document is served at `<base>/openapi.json`;
 * docs/admin-api.openapi.yaml is the same document as YAML, written by `openapi-cli.ts` (a test
 * fails when the committed file is stale).
 */
import type { SwaggerOptions } from '@fastify/swagger';
import type { AdminRouteSpec } from './routes.ts';

/** Where the document is served, relative to the base path. */
export const OPENAPI_PATH = '/openapi.json';

const DESCRIPTION = `Served by Conclave under \`/api\` on the same origin as the web page (no CORS).
Implementation: \`packages/admin-api\` (Fastify; this document is generated from its route schemas
and served at \`/api/openapi.json\`).

**Authentication.** \`POST /session\` with an admin's user name and password returns a random
256-bit bearer token valid for 12 hours (kept in memory: a restart logs everyone out). Send it as
\`Authorization: Bearer <token>\` on every other call. HTTP Basic with admin credentials is accepted
too (handy with curl: \`curl -u admin:secret http://host:port/api/conferences\`). \`GET /events\` also
accepts the token as a \`?token=\` query parameter, since the browser's EventSource cannot set
headers. Failed logins (password or Basic) are counted per remote address: after 5 failures
within a minute, login attempts from that address get 429 with \`Retry-After\` until the oldest
failure is a minute old. Unknown users, wrong passwords and users who are not admins all get the
same 401.

**Errors** are JSON \`{ "error": { "code", "message" } }\` with the HTTP status; \`code\` is stable,
\`message\` is for people. Conference model errors map as: \`not-found\` → 404, \`invalid-argument\` →
400, \`ended\` / \`locked\` / \`full\` / \`duplicate\` / \`invalid-state\` → 409.

**Requests.** Bodies must be \`application/json\` (415 otherwise) and at most 16 KiB (413). The
action endpoints (\`mute\`, \`kick\`, \`lock\`, ...) take no body; an empty body or \`{}\` is fine.
Every response has \`Cache-Control: no-store\`. A known path with another method gets 405
(\`method-not-allowed\`) with \`Allow\`; an unknown path under \`/api\` gets 404 (\`not-found\`).

**Conference ids.** \`{id}\` is the conference id (\`cf_...\`) or its SIP URI, URL-encoded
(\`sip%3Aconf-k3x9...%40conclave.example.com\`); the URI is matched like a Request-URI (host
case, \`sip\`/\`sips\` and parameters ignored).
`;

type OpenApiObject = Record<string, unknown> & { paths?: Record<string, Record<string, Record<string, unknown>>> };

export function openApiOptions(basePath: string, routes: readonly AdminRouteSpec[]): SwaggerOptions {
  const optionalBodies = new Set(routes.filter((r) => r.optionalBody).map((r) => r.operation as string));
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Conclave admin API',
        version: '1.0.0',
        summary: 'Watch the live rosters of all conferences and act on them.',
        description: DESCRIPTION,
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: basePath }],
      security: [{ bearerAuth: [] }, { basicAuth: [] }],
      tags: [{ name: 'session' }, { name: 'conferences' }, { name: 'actions' }, { name: 'events' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'The token from `POST /session`.' },
          basicAuth: {
            type: 'http',
            scheme: 'basic',
            description: "An admin's user name and password (failures are throttled like logins).",
          },
          queryToken: {
            type: 'apiKey',
            in: 'query',
            name: 'token',
            description: 'The token from `POST /session`; accepted on `GET /events` only.',
          },
        },
      },
    },
    // Shared schemas keep their $id as their component name (#/components/schemas/Participant).
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`,
    },
    // @fastify/swagger marks every request body required (Fastify validates an absent body as
    // null); the actions' body is optional.
    transformObject: (documentObject) => {
      const doc = ('openapiObject' in documentObject ? documentObject.openapiObject : {}) as OpenApiObject;
      for (const item of Object.values(doc.paths ?? {})) {
        for (const operation of Object.values(item)) {
          const body = operation['requestBody'] as { required?: boolean } | undefined;
          if (body && optionalBodies.has(operation['operationId'] as string)) body.required = false;
        }
      }
      return doc;
    },
  };
}
