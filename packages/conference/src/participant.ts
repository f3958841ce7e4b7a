/**
 * Participants as the conference model sees them. The public shapes are read-only snapshots; the
 * conference keeps its own mutable records.
 */

import type {
  DisconnectionMethod,
  EndpointStatus,
  ExecutionInfo,
  JoiningMethod,
  MediaStatus,
  SipDialogId,
} from '@conclave/conference-info';

/** Where a participant's call is (RFC 4575 endpoint statuses before and while connected). */
export type ParticipantStatus = 'pending' | 'dialing-in' | 'dialing-out' | 'alerting' | 'connected' | 'disconnecting';

export const PARTICIPANT_STATUSES: readonly ParticipantStatus[] = [
  'pending',
  'dialing-in',
  'dialing-out',
  'alerting',
  'connected',
  'disconnecting',
];

/** How a participant can leave (RFC 4575 disconnection-method). */
export type LeaveMethod = DisconnectionMethod;

/** A media stream of a participant, as negotiated (the focus fills it from SDP). */
export interface ParticipantMedia {
  /** Unique within the participant, e.g. the SDP mid. */
  id: string;
  /** "audio", "video", ... */
  type: string;
  label?: string;
  /** e.g. the SSRC. */
  srcId?: string;
  /** Direction from the participant's point of view, as negotiated. */
  status: MediaStatus;
  displayText?: string;
}

/** Why the participant changed (second argument of `participantUpdated`). */
export type ParticipantChange =
  'status' | 'hold' | 'resume' | 'mute' | 'unmute' | 'media' | 'speaking' | 'display-name';

export interface Participant {
  readonly id: string;
  /** The user's SIP URI (address of record); participants with the same entity are one RFC 4575 user. */
  readonly entity: string;
  /** The endpoint's identity (Contact, GRUU...), unique in the conference. */
  readonly endpointEntity: string;
  readonly displayName: string | undefined;
  readonly status: ParticipantStatus;
  /** The RFC 4575 endpoint status derived from status, hold and mute. */
  readonly endpointStatus: EndpointStatus;
  readonly joiningMethod: JoiningMethod;
  readonly joiningInfo: Readonly<ExecutionInfo>;
  /** Epoch milliseconds. */
  readonly joinedAt: number;
  readonly onHold: boolean;
  readonly mutedByFocus: boolean;
  /** Who muted the participant (a URI), when muted. */
  readonly mutedBy: string | undefined;
  readonly speaking: boolean;
  readonly media: readonly Readonly<ParticipantMedia>[];
  readonly roles: readonly string[];
  readonly callInfo: Readonly<SipDialogId> | undefined;
}

export interface DepartedParticipant extends Participant {
  readonly disconnectionMethod: DisconnectionMethod;
  readonly disconnectionInfo: Readonly<ExecutionInfo>;
  /** Epoch milliseconds. */
  readonly leftAt: number;
}

/** The RFC 4575 endpoint status of a participant still in the conference. */
export function endpointStatusOf(p: Pick<Participant, 'status' | 'onHold' | 'mutedByFocus'>): EndpointStatus {
  if (p.status !== 'connected') return p.status;
  if (p.onHold) return 'on-hold';
  if (p.mutedByFocus) return 'muted-via-focus';
  return 'connected';
}

/**
 * The media status a subscriber sees: when the focus mutes a participant it stops forwarding the
 * participant's audio, so audio that the participant sends is reported without the send direction.
 */
export function effectiveMediaStatus(
  media: Pick<ParticipantMedia, 'type' | 'status'>,
  mutedByFocus: boolean,
): MediaStatus {
  if (!mutedByFocus || media.type !== 'audio') return media.status;
  if (media.status === 'sendrecv') return 'recvonly';
  if (media.status === 'sendonly') return 'inactive';
  return media.status;
}
