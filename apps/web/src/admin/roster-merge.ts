/**
 * What the console shows for each participant: the conference event package says who is there
 * and in which state (status, speaking, muted by the focus); the admin API says what it takes to
 * act on them (the participant id) and when and how they joined. They are matched by entity (the
 * user's SIP URI). Pure (tested in test/admin-roster.test.ts).
 */
import type { ConferenceRoster } from '../phone/roster.ts';
import { userPart } from '../phone/target.ts';
import { sipKey, type ApiParticipant } from './api-types.ts';

export interface AdminRosterEntry {
  /** The user's SIP URI (data-entity). */
  readonly entity: string;
  readonly displayName: string;
  /** RFC 4575 endpoint status (data-status). */
  readonly status: string;
  readonly speaking: boolean;
  readonly mutedByFocus: boolean;
  /** Still in the conference (not disconnected / disconnecting). */
  readonly present: boolean;
  /** {pid} of the API actions; null when the API does not (or no longer) list the user. */
  readonly participantId: string | null;
  /** dialed-in | dialed-out | focus-owner (from the API), null if unknown. */
  readonly joiningMethod: string | null;
  /** Epoch ms (from the API), null if unknown. */
  readonly joinedAt: number | null;
  readonly roles: readonly string[];
  /** Where the entry comes from: the event package, or the API while the roster is unavailable. */
  readonly source: 'sip' | 'api';
}

const GONE = new Set(['disconnected', 'disconnecting']);

function timeOf(iso: string): number | null {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

/** The API participant for an entity: one still present first (a user may have left and rejoined). */
function participantFor(participants: readonly ApiParticipant[], entity: string): ApiParticipant | null {
  const key = sipKey(entity);
  const matches = participants.filter((p) => sipKey(p.entity) === key);
  return matches.find((p) => !GONE.has(p.endpointStatus)) ?? matches[0] ?? null;
}

/**
 * Entries from the roster when there is one. Without a roster: nothing (still loading), or, when
 * `fallbackToApi` (the subscription failed), the API's participants so the admin can still act.
 */
export function mergeRoster(
  roster: ConferenceRoster | null,
  participants: readonly ApiParticipant[],
  fallbackToApi: boolean,
): AdminRosterEntry[] {
  if (roster) {
    return roster.entries.map((e) => {
      const p = participantFor(participants, e.entity);
      const present = !GONE.has(e.status);
      return {
        entity: e.entity,
        displayName: e.displayText ?? p?.displayName ?? userPart(e.entity),
        status: e.status,
        speaking: e.speaking,
        mutedByFocus: e.mutedByFocus || e.status === 'muted-via-focus',
        present,
        participantId: present && p && !GONE.has(p.endpointStatus) ? p.id : null,
        joiningMethod: p?.joiningMethod || null,
        joinedAt: p ? timeOf(p.joinedAt) : null,
        roles: e.roles.length > 0 ? e.roles : (p?.roles ?? []),
        source: 'sip' as const,
      };
    });
  }
  if (!fallbackToApi) return [];
  return participants.map((p) => ({
    entity: p.entity,
    displayName: p.displayName ?? userPart(p.entity),
    status: p.endpointStatus,
    speaking: p.speaking,
    mutedByFocus: p.mutedByFocus,
    present: !GONE.has(p.endpointStatus),
    participantId: GONE.has(p.endpointStatus) ? null : p.id,
    joiningMethod: p.joiningMethod || null,
    joinedAt: timeOf(p.joinedAt),
    roles: p.roles,
    source: 'api' as const,
  }));
}
