/**
 * Notifier side of partial notifications: from the full state last sent to a subscriber and the
 * new full state, build the smallest document that applyNotification() turns into the new state.
 *
 * - Users/endpoints that appeared are sent complete (state="full"), those that disappeared as
 *   state="deleted", changed ones as state="partial" with only the changed children (media
 *   complete, keyed by id).
 * - A changed conference-description / host-info / conference-state is sent complete.
 * - What partial merging cannot express (a child element that disappeared, a media stream removed
 *   from an endpoint) falls back to a complete element one level up; a change at the top level
 *   that cannot be expressed (an element removed, another conference entity) yields a full document.
 */

import { canonicalize, deepEqual } from './canonical.ts';
import type { ConferenceInfo, Endpoint, Media, User } from './model.ts';

export interface DiffOptions {
  /** Version for the produced document; defaults to next.version. */
  version?: number;
}

/**
 * Returns the partial document leading from `previous` to `next`, a full document when no partial
 * one can express the change, or undefined when nothing changed.
 */
export function diffConferenceInfo(
  previous: ConferenceInfo,
  next: ConferenceInfo,
  options: DiffOptions = {},
): ConferenceInfo | undefined {
  const prev = canonicalize(previous);
  const cur = canonicalize(next);
  const version = options.version ?? next.version;
  const full = (): ConferenceInfo => ({ ...cur, version });
  if (prev.entity !== cur.entity || prev.state !== cur.state) return full();

  const doc: ConferenceInfo = { entity: cur.entity, state: 'partial', version };
  let changed = false;
  for (const key of ['description', 'hostInfo', 'conferenceState'] as const) {
    const before = prev[key];
    const after = cur[key];
    if (deepEqual(before, after)) continue;
    if (after === undefined || removedKeys(before, after)) return full();
    (doc as unknown as Record<string, unknown>)[key] = after;
    changed = true;
  }

  const users = diffKeyed(prev.users?.entries ?? [], cur.users?.entries ?? [], (u) => u.entity, diffUser);
  if (users.length > 0) {
    doc.users = { state: 'partial', entries: users };
    changed = true;
  } else if (prev.users === undefined && cur.users !== undefined) {
    // Only the existence of an (empty) users element changed.
    doc.users = { state: 'full', entries: [] };
    changed = true;
  }
  return changed ? doc : undefined;
}

/** True when a key present (not undefined) in `before` is absent in `after`. */
function removedKeys(before: object | undefined, after: object): boolean {
  if (before === undefined) return false;
  return Object.entries(before).some(
    ([k, v]) => v !== undefined && (after as Record<string, unknown>)[k] === undefined,
  );
}

type Keyed = { state?: ConferenceInfo['state'] };

function diffKeyed<T extends Keyed>(
  before: readonly T[],
  after: readonly T[],
  key: (t: T) => string,
  diffItem: (b: T, a: T) => T | undefined,
): T[] {
  const out: T[] = [];
  const afterKeys = new Set(after.map(key));
  const beforeByKey = new Map(before.map((t) => [key(t), t] as const));
  for (const b of before) {
    if (!afterKeys.has(key(b))) out.push({ ...deletedMarker(b, key(b)) });
  }
  for (const a of after) {
    const b = beforeByKey.get(key(a));
    if (b === undefined) out.push({ ...a, state: 'full' });
    else {
      const d = diffItem(b, a);
      if (d !== undefined) out.push(d);
    }
  }
  return out;
}

function deletedMarker<T extends Keyed>(item: T, entity: string): T {
  // Users and endpoints both carry `entity`; a deleted element needs nothing else.
  const marker = { entity, state: 'deleted' } as unknown as T;
  if ('endpoints' in item) (marker as unknown as User).endpoints = [];
  if ('media' in item) (marker as unknown as Endpoint).media = [];
  return marker;
}

const USER_SCALARS = ['displayText', 'associatedAors', 'roles', 'languages', 'cascadedFocus'] as const;

function diffUser(before: User, after: User): User | undefined {
  if (deepEqual(before, after)) return undefined;
  const { endpoints: _be, ...beforeScalars } = before;
  const { endpoints: _ae, ...afterScalars } = after;
  if (removedKeys(beforeScalars, afterScalars)) return { ...after, state: 'full' };
  const partial: User = {
    entity: after.entity,
    state: 'partial',
    endpoints: diffKeyed(before.endpoints, after.endpoints, (e) => e.entity, diffEndpoint),
  };
  for (const k of USER_SCALARS) {
    if (!deepEqual(before[k], after[k])) (partial as unknown as Record<string, unknown>)[k] = after[k];
  }
  return partial;
}

const ENDPOINT_SCALARS = [
  'displayText',
  'referred',
  'status',
  'joiningMethod',
  'joiningInfo',
  'disconnectionMethod',
  'disconnectionInfo',
  'callInfo',
  'speaking',
  'mutedByFocus',
] as const;

function diffEndpoint(before: Endpoint, after: Endpoint): Endpoint | undefined {
  if (deepEqual(before, after)) return undefined;
  const { media: _bm, ...beforeScalars } = before;
  const { media: _am, ...afterScalars } = after;
  const afterIds = new Set(after.media.map((m) => m.id));
  // Merging cannot remove a child element or a media stream: send the endpoint complete.
  if (removedKeys(beforeScalars, afterScalars) || before.media.some((m) => !afterIds.has(m.id)))
    return { ...after, state: 'full' };
  const beforeMedia = new Map(before.media.map((m) => [m.id, m] as const));
  const media: Media[] = after.media.filter((m) => !deepEqual(beforeMedia.get(m.id), m));
  const partial: Endpoint = { entity: after.entity, state: 'partial', media };
  for (const k of ENDPOINT_SCALARS) {
    if (!deepEqual(before[k], after[k])) (partial as unknown as Record<string, unknown>)[k] = after[k];
  }
  return partial;
}
