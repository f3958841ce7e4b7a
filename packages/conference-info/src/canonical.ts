/**
 * Canonical ("coherent") form of a full state: what a subscriber holds after applying notifications.
 * Nested state attributes are gone, deleted users/endpoints are dropped, empty optional lists are
 * absent and undefined-valued keys are removed. Order of keyed lists is preserved.
 */

import type {
  ConferenceDescription,
  ConferenceInfo,
  ConferenceStateInfo,
  Endpoint,
  ExecutionInfo,
  HostInfo,
  Media,
  UriList,
  User,
} from './model.ts';

/** Removes keys whose value is undefined (so `{a: undefined}` equals `{}`). */
export function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out as T;
}

function nonEmpty<T>(list: readonly T[] | undefined): T[] | undefined {
  return list && list.length > 0 ? [...list] : undefined;
}

function execution(e: ExecutionInfo | undefined): ExecutionInfo | undefined {
  return e === undefined ? undefined : compact({ when: e.when, reason: e.reason, by: e.by });
}

export function canonicalUriList(list: UriList | undefined): UriList | undefined {
  if (!list || list.state === 'deleted' || (list.entries ?? []).length === 0) return undefined;
  return {
    entries: list.entries.map((e) =>
      compact({ uri: e.uri, displayText: e.displayText, purpose: e.purpose, modified: execution(e.modified) }),
    ),
  };
}

export function canonicalDescription(d: ConferenceDescription): ConferenceDescription {
  return compact({
    displayText: d.displayText,
    subject: d.subject,
    freeText: d.freeText,
    keywords: nonEmpty(d.keywords),
    confUris: canonicalUriList(d.confUris),
    serviceUris: canonicalUriList(d.serviceUris),
    maximumUserCount: d.maximumUserCount,
    availableMedia: nonEmpty(d.availableMedia)?.map((m) =>
      compact({ label: m.label, type: m.type, displayText: m.displayText, status: m.status }),
    ),
  });
}

export function canonicalHostInfo(h: HostInfo): HostInfo {
  return compact({ displayText: h.displayText, webPage: h.webPage, uris: canonicalUriList(h.uris) });
}

export function canonicalConferenceState(s: ConferenceStateInfo): ConferenceStateInfo {
  return compact({ userCount: s.userCount, active: s.active, locked: s.locked });
}

export function canonicalMedia(m: Media): Media {
  return compact({
    id: m.id,
    displayText: m.displayText,
    type: m.type,
    label: m.label,
    srcId: m.srcId,
    status: m.status,
  });
}

export function canonicalEndpoint(e: Endpoint): Endpoint {
  return compact<Endpoint>({
    entity: e.entity,
    displayText: e.displayText,
    referred: execution(e.referred),
    status: e.status,
    joiningMethod: e.joiningMethod,
    joiningInfo: execution(e.joiningInfo),
    disconnectionMethod: e.disconnectionMethod,
    disconnectionInfo: execution(e.disconnectionInfo),
    media: (e.media ?? []).map(canonicalMedia),
    callInfo: e.callInfo === undefined ? undefined : compact({ ...e.callInfo }),
    speaking: e.speaking,
    mutedByFocus: e.mutedByFocus,
  });
}

export function canonicalUser(u: User): User {
  return compact<User>({
    entity: u.entity,
    displayText: u.displayText,
    associatedAors: canonicalUriList(u.associatedAors),
    roles: nonEmpty(u.roles),
    languages: nonEmpty(u.languages),
    cascadedFocus: u.cascadedFocus,
    endpoints: (u.endpoints ?? []).filter((e) => e.state !== 'deleted').map(canonicalEndpoint),
  });
}

/** The coherent form of a full (or deleted) document. */
export function canonicalize(info: ConferenceInfo): ConferenceInfo {
  return compact<ConferenceInfo>({
    entity: info.entity,
    state: info.state === 'deleted' ? 'deleted' : 'full',
    version: info.version,
    description: info.description && canonicalDescription(info.description),
    hostInfo: info.hostInfo && canonicalHostInfo(info.hostInfo),
    conferenceState: info.conferenceState && canonicalConferenceState(info.conferenceState),
    users:
      info.users === undefined || info.users.state === 'deleted'
        ? info.users && { entries: [] }
        : { entries: info.users.entries.filter((u) => u.state !== 'deleted').map(canonicalUser) },
  });
}

/** Structural equality of plain JSON-like values (undefined-valued keys count as absent). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function byKey<T>(key: (t: T) => string): (x: T, y: T) => number {
  return (x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0);
}

function sorted(info: ConferenceInfo): ConferenceInfo {
  const c = canonicalize(info);
  const users = c.users?.entries
    .map((u) => ({
      ...u,
      endpoints: u.endpoints
        .map((e) => ({ ...e, media: [...e.media].sort(byKey((m: Media) => m.id)) }))
        .sort(byKey((e: Endpoint) => e.entity)),
    }))
    .sort(byKey((u: User) => u.entity));
  return { ...c, version: 0, users: users && users.length > 0 ? { entries: users } : undefined };
}

/**
 * True when two states describe the same conference (ignoring version, order of users, endpoints
 * and media, and the difference between no users element and an empty one).
 */
export function equivalent(a: ConferenceInfo, b: ConferenceInfo): boolean {
  return deepEqual(sorted(a), sorted(b));
}
