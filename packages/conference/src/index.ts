/**
 * @conclave/conference — the conference model: participants and their states, admission rules,
 * conference-info documents with per-subscriber versioning, and the registry of conferences.
 * Pure logic: no sockets, no SIP transactions, no media.
 */

export {
  Conference,
  type ConferenceEvents,
  type ConferenceInfoOptions,
  type ConferenceOptions,
  type ConferenceSnapshot,
  type JoinRequest,
  type LeaveOptions,
} from './conference.ts';
export {
  ConferenceRegistry,
  type ConferenceRegistryEvents,
  type ConferenceRegistryOptions,
  type CreateConferenceRequest,
} from './registry.ts';
export {
  ConferenceNotifier,
  SubscriptionVersioning,
  type ConferenceNotifierEvents,
  type ConferenceNotifierOptions,
  type NotificationDocument,
  type NotifierTimers,
  type NotifyEvent,
  type SubscriptionVersioningOptions,
} from './notifier.ts';
export { ConferenceError, type ConferenceErrorCode } from './errors.ts';
export {
  conferenceUriKey,
  generateConferenceUri,
  randomId,
  randomToken,
  type ConferenceUriOptions,
} from './conference-uri.ts';
export {
  effectiveMediaStatus,
  endpointStatusOf,
  PARTICIPANT_STATUSES,
  type DepartedParticipant,
  type LeaveMethod,
  type Participant,
  type ParticipantChange,
  type ParticipantMedia,
  type ParticipantStatus,
} from './participant.ts';
