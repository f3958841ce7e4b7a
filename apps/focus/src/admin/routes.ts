/**
 * The admin API's route table: what the server implements, in one place, so the router, the
 * OpenAPI document test and the README cannot drift apart. Paths are relative to the base path
 * (`/api`) and use OpenAPI's `{name}` templates.
 */

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

export const ADMIN_ROUTES: readonly AdminRoute[] = [
  { method: 'POST', path: '/session', operation: 'login', auth: 'none' },
  { method: 'GET', path: '/session', operation: 'sessionInfo', auth: 'header' },
  { method: 'DELETE', path: '/session', operation: 'logout', auth: 'header' },
  { method: 'GET', path: '/conferences', operation: 'listConferences', auth: 'header' },
  { method: 'GET', path: '/conferences/{id}', operation: 'getConference', auth: 'header' },
  { method: 'POST', path: '/conferences/{id}/participants/{pid}/mute', operation: 'muteParticipant', auth: 'header' },
  {
    method: 'POST',
    path: '/conferences/{id}/participants/{pid}/unmute',
    operation: 'unmuteParticipant',
    auth: 'header',
  },
  { method: 'POST', path: '/conferences/{id}/participants/{pid}/kick', operation: 'kickParticipant', auth: 'header' },
  { method: 'POST', path: '/conferences/{id}/lock', operation: 'lockConference', auth: 'header' },
  { method: 'POST', path: '/conferences/{id}/unlock', operation: 'unlockConference', auth: 'header' },
  { method: 'POST', path: '/conferences/{id}/end', operation: 'endConference', auth: 'header' },
  { method: 'GET', path: '/events', operation: 'events', auth: 'header-or-query' },
];

export type RouteMatch =
  | { kind: 'found'; route: AdminRoute; params: Record<string, string> }
  /** The path exists but not with this method. */
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

/**
 * Matches decoded path segments (without the base path; `['conferences', 'cf_1']`) against the
 * table. A template segment matches any non-empty segment.
 */
export function matchRoute(
  method: string,
  segments: readonly string[],
  routes: readonly AdminRoute[] = ADMIN_ROUTES,
): RouteMatch {
  const allow: string[] = [];
  for (const route of routes) {
    const params = matchPath(route.path, segments);
    if (!params) continue;
    if (route.method === method) return { kind: 'found', route, params };
    allow.push(route.method);
  }
  return allow.length > 0 ? { kind: 'method-not-allowed', allow } : { kind: 'not-found' };
}

function matchPath(template: string, segments: readonly string[]): Record<string, string> | undefined {
  const parts = template.split('/').slice(1);
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const segment = segments[i]!;
    if (part.startsWith('{') && part.endsWith('}')) {
      if (segment === '') return undefined;
      params[part.slice(1, -1)] = segment;
    } else if (part !== segment) {
      return undefined;
    }
  }
  return params;
}
