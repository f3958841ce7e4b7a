/**
 * Subscriber side of RFC 4575 section 4.6 ("Constructing Coherent State").
 *
 * Versions: a full (or deleted) document replaces the local state unless it is not newer than it;
 * a partial document applies only on top of version N-1; older ones are stale; a jump means
 * notifications were lost and the subscriber must re-SUBSCRIBE to get a full state.
 *
 * Merging a partial document (the `state` attribute defaults to "full", as in the schema):
 * - users, user, endpoint, and uri lists: state full → replace, partial → merge, deleted → remove;
 *   users are keyed by entity, endpoints by entity, uri entries by uri;
 * - media (no state attribute) replace the local media with the same id; unknown ones are added;
 * - conference-description, host-info and conference-state (no state attribute): each child
 *   element present replaces the local one, children absent stay unchanged;
 * - available-media (no state attribute) is replaced as a whole;
 * - scalar children of a partial user/endpoint (display-text, status, roles...) replace when present.
 */

import {
  canonicalConferenceState,
  canonicalDescription,
  canonicalEndpoint,
  canonicalHostInfo,
  canonicalize,
  canonicalMedia,
  canonicalUriList,
  canonicalUser,
  compact,
} from './canonical.ts';
import type {
  ConferenceDescription,
  ConferenceInfo,
  ConferenceStateInfo,
  Endpoint,
  HostInfo,
  Media,
  UriList,
  User,
} from './model.ts';

export type ApplyResult =
  /** A partial document with version = local + 1 was merged. */
  | 'applied'
  /** A full (or deleted) document replaced the local state. */
  | 'full-replaced'
  /** A partial document cannot be applied (no local state, other conference, or versions were skipped): re-SUBSCRIBE. */
  | 'version-gap'
  /** The document is not newer than the local state: ignored. */
  | 'stale';

export interface ApplyOutcome {
  /** The coherent state after the notification (unchanged on 'version-gap' and 'stale'). */
  state: ConferenceInfo | undefined;
  result: ApplyResult;
}

/** Applies a received document to the local state. Never mutates its arguments. */
export function applyNotification(current: ConferenceInfo | undefined, incoming: ConferenceInfo): ApplyOutcome {
  const sameConference = current !== undefined && current.entity === incoming.entity;
  if (incoming.state !== 'partial') {
    if (sameConference && incoming.version <= current.version) return { state: current, result: 'stale' };
    return { state: canonicalize(incoming), result: 'full-replaced' };
  }
  if (!sameConference) return { state: current, result: 'version-gap' };
  if (incoming.version <= current.version) return { state: current, result: 'stale' };
  if (incoming.version !== current.version + 1) return { state: current, result: 'version-gap' };
  return { state: mergeDocument(canonicalize(current), incoming), result: 'applied' };
}

function mergeDocument(current: ConferenceInfo, partial: ConferenceInfo): ConferenceInfo {
  return compact<ConferenceInfo>({
    entity: current.entity,
    state: 'full',
    version: partial.version,
    description: partial.description ? mergeDescription(current.description, partial.description) : current.description,
    hostInfo: partial.hostInfo ? mergeHostInfo(current.hostInfo, partial.hostInfo) : current.hostInfo,
    conferenceState: partial.conferenceState
      ? mergeConferenceState(current.conferenceState, partial.conferenceState)
      : current.conferenceState,
    users: partial.users
      ? { entries: mergeUsers(current.users?.entries ?? [], partial.users.state, partial.users.entries) }
      : current.users,
  });
}

/** Keys of `patch` that are present replace those of `base`. */
function overlay<T extends object>(base: T | undefined, patch: Partial<T>): T {
  return compact({ ...base, ...compact(patch) } as T);
}

function mergeUriList(current: UriList | undefined, incoming: UriList | undefined): UriList | undefined {
  if (incoming === undefined) return current;
  if (incoming.state === 'deleted') return undefined;
  if (incoming.state !== 'partial' || current === undefined) return canonicalUriList(incoming);
  const entries = [...current.entries];
  for (const entry of canonicalUriList({ entries: incoming.entries })?.entries ?? []) {
    const i = entries.findIndex((e) => e.uri === entry.uri);
    if (i >= 0) entries[i] = entry;
    else entries.push(entry);
  }
  return { entries };
}

function mergeDescription(
  current: ConferenceDescription | undefined,
  incoming: ConferenceDescription,
): ConferenceDescription {
  const patch = canonicalDescription({ ...incoming, confUris: undefined, serviceUris: undefined });
  const merged = overlay(current, patch);
  return compact({
    ...merged,
    confUris: mergeUriList(current?.confUris, incoming.confUris),
    serviceUris: mergeUriList(current?.serviceUris, incoming.serviceUris),
  });
}

function mergeHostInfo(current: HostInfo | undefined, incoming: HostInfo): HostInfo {
  const merged = overlay(current, canonicalHostInfo({ ...incoming, uris: undefined }));
  return compact({ ...merged, uris: mergeUriList(current?.uris, incoming.uris) });
}

function mergeConferenceState(
  current: ConferenceStateInfo | undefined,
  incoming: ConferenceStateInfo,
): ConferenceStateInfo {
  return overlay(current, canonicalConferenceState(incoming));
}

/** Generic keyed merge with state semantics (full/undefined → replace, partial → merge, deleted → remove). */
function mergeKeyed<T extends { state?: ConferenceInfo['state'] }>(
  current: readonly T[],
  listState: ConferenceInfo['state'] | undefined,
  incoming: readonly T[],
  key: (t: T) => string,
  replace: (t: T) => T,
  merge: (base: T, patch: T) => T,
): T[] {
  if (listState === 'deleted') return [];
  if (listState !== 'partial') return incoming.filter((t) => t.state !== 'deleted').map(replace);
  const out = [...current];
  for (const item of incoming) {
    const i = out.findIndex((c) => key(c) === key(item));
    const existing = i >= 0 ? out[i] : undefined;
    if (item.state === 'deleted') {
      if (i >= 0) out.splice(i, 1);
    } else if (existing === undefined) {
      out.push(replace(item));
    } else {
      out[i] = item.state === 'partial' ? merge(existing, item) : replace(item);
    }
  }
  return out;
}

function mergeUsers(
  current: readonly User[],
  listState: ConferenceInfo['state'] | undefined,
  incoming: readonly User[],
): User[] {
  return mergeKeyed(current, listState, incoming, (u) => u.entity, canonicalUser, mergeUser);
}

function mergeUser(current: User, incoming: User): User {
  const scalars = canonicalUser({ ...incoming, associatedAors: undefined, endpoints: [] });
  const merged = overlay(current, { ...scalars, endpoints: undefined });
  return compact({
    ...merged,
    associatedAors: mergeUriList(current.associatedAors, incoming.associatedAors),
    endpoints: mergeKeyed(
      current.endpoints,
      'partial',
      incoming.endpoints ?? [],
      (e) => e.entity,
      canonicalEndpoint,
      mergeEndpoint,
    ),
  });
}

function mergeEndpoint(current: Endpoint, incoming: Endpoint): Endpoint {
  const scalars = canonicalEndpoint({ ...incoming, media: [] });
  const merged = overlay(current, { ...scalars, media: undefined });
  const media: Media[] = [...current.media];
  for (const m of incoming.media ?? []) {
    const i = media.findIndex((c) => c.id === m.id);
    if (i >= 0) media[i] = canonicalMedia(m);
    else media.push(canonicalMedia(m));
  }
  return { ...merged, media };
}
