/**
 * Conference roster: what the RFC 4575 "conference" event package tells us about a conference.
 *
 * The parsing itself is an interface (ConferenceInfoParser) so @conclave/conference-info can be
 * plugged in; parseConferenceInfoDom below is a small DOMParser-based stand-in that understands
 * full and partial notifications well enough for the roster panel.
 */

export interface RosterMedia {
  readonly id: string | null;
  readonly type: string | null;
  /** sendrecv | sendonly | recvonly | inactive (from the focus's point of view). */
  readonly status: string | null;
}

export interface RosterEntry {
  /** User entity (AOR), e.g. "sip:bob@127.0.0.1" (data-entity). */
  readonly entity: string;
  readonly displayText: string | null;
  /** Endpoint status: connected | disconnected | on-hold | muted-via-focus | pending | alerting |
   *  dialing-in | dialing-out | disconnecting (data-status). */
  readonly status: string;
  readonly roles: readonly string[];
  readonly media: readonly RosterMedia[];
}

export interface ConferenceRoster {
  /** Conference URI (entity attribute of <conference-info>). */
  readonly entity: string;
  readonly version: number | null;
  readonly subject: string | null;
  readonly displayText: string | null;
  readonly userCount: number | null;
  readonly locked: boolean | null;
  readonly active: boolean | null;
  readonly entries: readonly RosterEntry[];
}

/**
 * Applies one NOTIFY body (state="full" or "partial") to the previous roster and returns the new
 * one. Throws on a body it cannot understand (the caller keeps the previous roster).
 */
export type ConferenceInfoParser = (xml: string, previous: ConferenceRoster | null) => ConferenceRoster;

const NS = 'urn:ietf:params:xml:ns:conference-info';

function children(parent: Element, name: string): Element[] {
  const out: Element[] = [];
  for (const child of Array.from(parent.children)) {
    if (child.localName === name && (child.namespaceURI === NS || child.namespaceURI === null)) out.push(child);
  }
  return out;
}

function child(parent: Element | null | undefined, name: string): Element | null {
  return parent ? children(parent, name)[0] ?? null : null;
}

function text(parent: Element | null | undefined, name: string): string | null {
  const el = child(parent, name);
  const value = el?.textContent?.trim();
  return value ? value : null;
}

function bool(value: string | null): boolean | null {
  if (value === null) return null;
  return value === 'true' || value === '1';
}

function parseUser(user: Element, previous: RosterEntry | undefined): RosterEntry | null {
  const entity = user.getAttribute('entity') ?? previous?.entity;
  if (!entity) return null;
  if (user.getAttribute('state') === 'deleted') return null;
  const endpoints = children(user, 'endpoint');
  const liveEndpoints = endpoints.filter((e) => e.getAttribute('state') !== 'deleted');
  const endpoint = liveEndpoints[0] ?? null;
  const media = endpoint
    ? children(endpoint, 'media').map((m) => ({ id: m.getAttribute('id'), type: text(m, 'type'), status: text(m, 'status') }))
    : null;
  const rolesEl = child(user, 'roles');
  const roles = rolesEl ? children(rolesEl, 'entry').map((e) => e.textContent?.trim() ?? '').filter((r) => r !== '') : null;
  const everyEndpointDeleted = endpoints.length > 0 && liveEndpoints.length === 0;
  return {
    entity,
    displayText: text(user, 'display-text') ?? previous?.displayText ?? null,
    status: everyEndpointDeleted ? 'disconnected' : text(endpoint, 'status') ?? previous?.status ?? 'connected',
    roles: roles ?? previous?.roles ?? [],
    media: media ?? previous?.media ?? [],
  };
}

/** Stand-in parser using the browser's DOMParser. */
export const parseConferenceInfoDom: ConferenceInfoParser = (xml, previous) => {
  if (typeof DOMParser === 'undefined') throw new Error('DOMParser is not available');
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const root = doc.documentElement;
  if (!root || root.localName !== 'conference-info' || doc.getElementsByTagName('parsererror').length > 0) {
    throw new Error('not a conference-info document');
  }
  const state = root.getAttribute('state') ?? 'full';
  const versionAttr = root.getAttribute('version');
  const version = versionAttr !== null && /^\d+$/.test(versionAttr) ? Number(versionAttr) : null;
  const base = state === 'full' ? null : previous;
  if (state === 'partial' && previous && version !== null && previous.version !== null && version <= previous.version) {
    return previous; // stale or duplicate partial notification
  }
  const description = child(root, 'conference-description');
  const confState = child(root, 'conference-state');
  const usersEl = child(root, 'users');

  const entries = new Map<string, RosterEntry>((base?.entries ?? []).map((e) => [e.entity, e]));
  if (usersEl) {
    for (const user of children(usersEl, 'user')) {
      const entity = user.getAttribute('entity');
      if (!entity) continue;
      const next = parseUser(user, entries.get(entity));
      if (next) entries.set(entity, next);
      else entries.delete(entity);
    }
  }
  const userCount = text(confState, 'user-count');
  return {
    entity: root.getAttribute('entity') ?? base?.entity ?? '',
    version,
    subject: text(description, 'subject') ?? base?.subject ?? null,
    displayText: text(description, 'display-text') ?? base?.displayText ?? null,
    userCount: userCount !== null && /^\d+$/.test(userCount) ? Number(userCount) : base?.userCount ?? null,
    locked: bool(text(confState, 'locked')) ?? base?.locked ?? null,
    active: bool(text(confState, 'active')) ?? base?.active ?? null,
    entries: [...entries.values()],
  };
};
