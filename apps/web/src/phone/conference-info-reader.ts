/**
 * ConferenceInfoReader on @conclave/conference-info: parse() each NOTIFY body, applyNotification()
 * for RFC 4575 §4.6 coherent state (partial updates, versions), then reduce to a ConferenceRoster.
 */
import { applyNotification, parse, type ConferenceInfo, type Endpoint, type User } from '@conclave/conference-info';
import type { ConferenceInfoReader, ConferenceRoster, RosterEntry } from './roster.ts';

const STATUS_RANK: Record<string, number> = {
  connected: 0,
  'muted-via-focus': 1,
  'on-hold': 2,
  alerting: 3,
  'dialing-in': 4,
  'dialing-out': 5,
  pending: 6,
  disconnecting: 7,
  disconnected: 8,
};

/** A user with several endpoints (two tabs) shows its most present one. */
function mainEndpoint(user: User): Endpoint | null {
  let best: Endpoint | null = null;
  for (const ep of user.endpoints) {
    if (!best || (STATUS_RANK[ep.status ?? 'connected'] ?? 9) < (STATUS_RANK[best.status ?? 'connected'] ?? 9))
      best = ep;
  }
  return best;
}

function toEntry(user: User): RosterEntry {
  const ep = mainEndpoint(user);
  return {
    entity: user.entity,
    displayText: user.displayText ?? ep?.displayText ?? null,
    status: ep ? (ep.status ?? 'connected') : 'disconnected',
    roles: user.roles ?? [],
    media: (ep?.media ?? []).map((m) => ({
      id: m.id,
      type: m.type ?? null,
      status: m.status ?? null,
      label: m.label ?? null,
      srcId: m.srcId ?? null,
    })),
    speaking: user.endpoints.some((e) => e.speaking === true),
    mutedByFocus: ep?.mutedByFocus === true,
  };
}

export function toRoster(info: ConferenceInfo): ConferenceRoster {
  return {
    entity: info.entity,
    version: info.version,
    deleted: info.state === 'deleted',
    subject: info.description?.subject ?? null,
    displayText: info.description?.displayText ?? null,
    userCount: info.conferenceState?.userCount ?? null,
    locked: info.conferenceState?.locked ?? null,
    active: info.conferenceState?.active ?? null,
    entries: (info.users?.entries ?? []).map(toEntry),
  };
}

export function createConferenceInfoReader(): ConferenceInfoReader {
  let state: ConferenceInfo | undefined;
  let roster: ConferenceRoster | null = null;
  return {
    apply(body: string) {
      const { state: next, result } = applyNotification(state, parse(body));
      if (next !== state) {
        state = next;
        roster = next ? toRoster(next) : null;
      }
      return { roster, resubscribe: result === 'version-gap' };
    },
  };
}
