/**
 * The JSON the admin API shows of the model. Explicit rather than `conference.toJSON()` passed
 * through, so the API stays stable when the model grows and internals (dialog identifiers) stay
 * inside. Absent values are `null`, times are ISO 8601 strings.
 */
import type { Conference, ConferenceSnapshot, Participant } from '@conclave/conference';

/** An item of GET /conferences. */
export interface ConferenceSummary {
  id: string;
  uri: string;
  creator: string;
  createdAt: string;
  subject: string | null;
  participantCount: number;
  locked: boolean;
  /** Participant id of the active speaker. */
  activeSpeaker: string | null;
}

/** GET /conferences/{id} and the event stream: the summary plus the roster. */
export interface ConferenceDetail extends ConferenceSummary {
  displayText: string | null;
  maxParticipants: number;
  ended: boolean;
  participants: ParticipantView[];
}

export interface ParticipantView {
  id: string;
  entity: string;
  displayName: string | null;
  status: string;
  endpointStatus: string;
  joiningMethod: string;
  joinedAt: string;
  onHold: boolean;
  mutedByFocus: boolean;
  mutedBy: string | null;
  speaking: boolean;
  roles: string[];
  media: MediaView[];
}

export interface MediaView {
  id: string;
  type: string;
  /** As negotiated, from the participant's point of view. */
  status: string;
  label: string | null;
  displayText: string | null;
}

export function conferenceSummary(conference: Conference): ConferenceSummary {
  return summaryOf(conference.toJSON());
}

function summaryOf(snapshot: ConferenceSnapshot): ConferenceSummary {
  return {
    id: snapshot.id,
    uri: snapshot.uri,
    creator: snapshot.creator,
    createdAt: snapshot.createdAt,
    subject: snapshot.subject ?? null,
    participantCount: snapshot.participants.length,
    locked: snapshot.locked,
    activeSpeaker: snapshot.activeSpeaker ?? null,
  };
}

export function conferenceDetail(conference: Conference): ConferenceDetail {
  const snapshot = conference.toJSON();
  return {
    ...summaryOf(snapshot),
    displayText: snapshot.displayText ?? null,
    maxParticipants: snapshot.maxParticipants,
    ended: snapshot.ended,
    participants: snapshot.participants.map(participantView),
  };
}

export function participantView(p: Participant): ParticipantView {
  return {
    id: p.id,
    entity: p.entity,
    displayName: p.displayName ?? null,
    status: p.status,
    endpointStatus: p.endpointStatus,
    joiningMethod: p.joiningMethod,
    joinedAt: new Date(p.joinedAt).toISOString(),
    onHold: p.onHold,
    mutedByFocus: p.mutedByFocus,
    mutedBy: p.mutedBy ?? null,
    speaking: p.speaking,
    roles: [...p.roles],
    media: p.media.map((m) => ({
      id: m.id,
      type: m.type,
      status: m.status,
      label: m.label ?? null,
      displayText: m.displayText ?? null,
    })),
  };
}
