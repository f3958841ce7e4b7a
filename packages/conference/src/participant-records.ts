/**
 * The conference's participant records (split out of conference.ts): the mutable record it keeps per
 * participant, the frozen copies it hands out, the checks of joins and media, and the RFC 4575 endpoint
 * element of a record.
 */

import type {
  DisconnectionMethod,
  Endpoint,
  ExecutionInfo,
  JoiningMethod,
  SipDialogId,
} from '@conclave/conference-info';
import { ConferenceError } from './errors.ts';
import {
  effectiveMediaStatus,
  endpointStatusOf,
  type DepartedParticipant,
  type Participant,
  type ParticipantMedia,
  type ParticipantStatus,
} from './participant.ts';

/** A participant as the conference holds it (mutable); callers get frozen copies. */
export interface ParticipantRecord {
  id: string;
  entity: string;
  endpointEntity: string;
  displayName: string | undefined;
  status: ParticipantStatus;
  joiningMethod: JoiningMethod;
  joiningInfo: ExecutionInfo;
  joinedAt: number;
  onHold: boolean;
  mutedByFocus: boolean;
  mutedBy: string | undefined;
  speaking: boolean;
  media: ParticipantMedia[];
  roles: string[];
  callInfo: SipDialogId | undefined;
}

export interface DepartedRecord extends ParticipantRecord {
  disconnectionMethod: DisconnectionMethod;
  disconnectionInfo: ExecutionInfo;
  leftAt: number;
}

export const JOINING_METHODS: readonly JoiningMethod[] = ['dialed-in', 'dialed-out', 'focus-owner'];
export const LEAVE_METHODS: readonly DisconnectionMethod[] = ['departed', 'booted', 'failed', 'busy'];

export function copyMedia(media: readonly ParticipantMedia[]): ParticipantMedia[] {
  return media.map((m) => Object.freeze({ ...m }));
}

export function freezeParticipant(r: ParticipantRecord): Participant {
  return Object.freeze({
    id: r.id,
    entity: r.entity,
    endpointEntity: r.endpointEntity,
    displayName: r.displayName,
    status: r.status,
    endpointStatus: endpointStatusOf(r),
    joiningMethod: r.joiningMethod,
    joiningInfo: Object.freeze({ ...r.joiningInfo }),
    joinedAt: r.joinedAt,
    onHold: r.onHold,
    mutedByFocus: r.mutedByFocus,
    mutedBy: r.mutedBy,
    speaking: r.speaking,
    media: Object.freeze(copyMedia(r.media)),
    roles: Object.freeze([...r.roles]),
    callInfo: r.callInfo && Object.freeze({ ...r.callInfo }),
  });
}

export function freezeDeparted(r: DepartedRecord): DepartedParticipant {
  return Object.freeze({
    ...freezeParticipant(r),
    endpointStatus: 'disconnected' as const,
    disconnectionMethod: r.disconnectionMethod,
    disconnectionInfo: Object.freeze({ ...r.disconnectionInfo }),
    leftAt: r.leftAt,
  });
}

export function checkMedia(
  media: readonly ParticipantMedia[] | undefined,
  context: Record<string, string>,
): ParticipantMedia[] {
  const list = media ?? [];
  const ids = new Set<string>();
  for (const m of list) {
    if (typeof m?.id !== 'string' || m.id === '')
      throw new ConferenceError('invalid-argument', 'media need a non-empty id', context);
    if (ids.has(m.id)) throw new ConferenceError('invalid-argument', `duplicate media id ${m.id}`, context);
    if (!['sendrecv', 'sendonly', 'recvonly', 'inactive'].includes(m.status))
      throw new ConferenceError('invalid-argument', `bad media status ${String(m.status)}`, context);
    ids.add(m.id);
  }
  return copyMedia(list);
}

/** The RFC 4575 endpoint element of a participant (its state as subscribers see it). */
export function endpointOf(r: ParticipantRecord): Endpoint {
  const endpoint: Endpoint = {
    entity: r.endpointEntity,
    status: endpointStatusOf(r),
    joiningMethod: r.joiningMethod,
    joiningInfo: { ...r.joiningInfo },
    media: r.media.map((m) => {
      const media: Endpoint['media'][number] = {
        id: m.id,
        type: m.type,
        status: effectiveMediaStatus(m, r.mutedByFocus),
      };
      if (m.displayText !== undefined) media.displayText = m.displayText;
      if (m.label !== undefined) media.label = m.label;
      if (m.srcId !== undefined) media.srcId = m.srcId;
      return media;
    }),
    speaking: r.speaking,
    mutedByFocus: r.mutedByFocus,
  };
  if (r.displayName !== undefined) endpoint.displayText = r.displayName;
  if (r.callInfo) endpoint.callInfo = { ...r.callInfo };
  return endpoint;
}
