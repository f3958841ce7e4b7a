/**
 * The admin API's JSON shapes as the console reads them (docs/admin-api.openapi.yaml). Values come
 * from the network: parse*() below check what the console relies on and drop what it cannot use.
 */

export interface SessionGrant {
  readonly token: string;
  readonly user: string;
  /** ISO 8601. */
  readonly expiresAt: string;
}

export interface ApiParticipant {
  /** p_… : the {pid} of the participant actions. */
  readonly id: string;
  /** The user's SIP URI (matches the conference-info user entity). */
  readonly entity: string;
  readonly displayName: string | null;
  readonly status: string;
  /** RFC 4575 endpoint status. */
  readonly endpointStatus: string;
  /** dialed-in | dialed-out | focus-owner */
  readonly joiningMethod: string;
  /** ISO 8601. */
  readonly joinedAt: string;
  readonly onHold: boolean;
  readonly mutedByFocus: boolean;
  readonly speaking: boolean;
  readonly roles: readonly string[];
}

export interface ApiConference {
  /** cf_… */
  readonly id: string;
  readonly uri: string;
  readonly creator: string;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly subject: string | null;
  readonly participantCount: number;
  readonly locked: boolean;
  readonly activeSpeaker: string | null;
  readonly maxParticipants: number | null;
  readonly participants: readonly ApiParticipant[];
}

export interface ApiConferenceEnded {
  readonly id: string;
  readonly uri: string;
  readonly reason: string | null;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function str(o: Obj, key: string): string | null {
  const v = o[key];
  return typeof v === 'string' ? v : null;
}

function bool(o: Obj, key: string): boolean {
  return o[key] === true;
}

export function parseSessionGrant(raw: unknown): SessionGrant | null {
  if (!isObj(raw)) return null;
  const token = str(raw, 'token');
  const user = str(raw, 'user');
  if (!token || !user) return null;
  return { token, user, expiresAt: str(raw, 'expiresAt') ?? '' };
}

export function parseParticipant(raw: unknown): ApiParticipant | null {
  if (!isObj(raw)) return null;
  const id = str(raw, 'id');
  const entity = str(raw, 'entity');
  if (!id || !entity) return null;
  return {
    id,
    entity,
    displayName: str(raw, 'displayName'),
    status: str(raw, 'status') ?? 'connected',
    endpointStatus: str(raw, 'endpointStatus') ?? str(raw, 'status') ?? 'connected',
    joiningMethod: str(raw, 'joiningMethod') ?? '',
    joinedAt: str(raw, 'joinedAt') ?? '',
    onHold: bool(raw, 'onHold'),
    mutedByFocus: bool(raw, 'mutedByFocus'),
    speaking: bool(raw, 'speaking'),
    roles: Array.isArray(raw['roles']) ? raw['roles'].filter((r): r is string => typeof r === 'string') : [],
  };
}

/** A ConferenceDetail (or a bare ConferenceSummary: then participants is empty). */
export function parseConference(raw: unknown): ApiConference | null {
  if (!isObj(raw)) return null;
  const id = str(raw, 'id');
  const uri = str(raw, 'uri');
  if (!id || !uri) return null;
  const participants = Array.isArray(raw['participants'])
    ? raw['participants'].map(parseParticipant).filter((p): p is ApiParticipant => p !== null)
    : [];
  const count = raw['participantCount'];
  const max = raw['maxParticipants'];
  return {
    id,
    uri,
    creator: str(raw, 'creator') ?? '',
    createdAt: str(raw, 'createdAt') ?? '',
    subject: str(raw, 'subject'),
    participantCount: typeof count === 'number' && Number.isFinite(count) ? count : participants.length,
    locked: bool(raw, 'locked'),
    activeSpeaker: str(raw, 'activeSpeaker'),
    maxParticipants: typeof max === 'number' ? max : null,
    participants,
  };
}

export function parseSnapshot(raw: unknown): ApiConference[] | null {
  if (!isObj(raw) || !Array.isArray(raw['conferences'])) return null;
  return raw['conferences'].map(parseConference).filter((c): c is ApiConference => c !== null);
}

export function parseConferenceEnded(raw: unknown): ApiConferenceEnded | null {
  if (!isObj(raw)) return null;
  const id = str(raw, 'id');
  const uri = str(raw, 'uri');
  if (!id || !uri) return null;
  return { id, uri, reason: str(raw, 'reason') };
}

/**
 * Compares SIP URIs the way the roster and the API are matched: scheme, user and host, ignoring
 * parameters and host case ("sip:Bob@Example.org;transport=ws" ~ "sip:Bob@example.org").
 */
export function sipKey(uri: string): string {
  const m = /^(sips?):([^@;?]+@)?([^;?]+)/i.exec(uri.trim().replace(/^<|>$/g, ''));
  if (!m) return uri.trim().toLowerCase();
  return `${m[1]!.toLowerCase()}:${m[2] ?? ''}${m[3]!.toLowerCase()}`;
}
