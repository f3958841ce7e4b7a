/**
 * Sentences for the admin console: login failures, action failures, feed and SIP states,
 * roster values. Pure functions (tested in test/admin-words.test.ts).
 */
import type { AdminApiError, ConferenceAction, ParticipantAction } from './admin-client.ts';

export function loginFailureText(error: AdminApiError, secondsLeft?: number): string {
  switch (error.kind) {
    case 'unauthorized':
      return 'wrong user name or password (or not an administrator)';
    case 'throttled': {
      const seconds = secondsLeft ?? error.retryAfterSeconds;
      return seconds === null || seconds === undefined
        ? 'too many attempts, try again in a minute'
        : `too many attempts, try again in ${seconds} s`;
    }
    case 'unreachable':
      return `server unreachable (${error.message})`;
    case 'refused':
      return `sign-in refused: ${error.message}`;
  }
}

const PARTICIPANT_VERB: Record<ParticipantAction, string> = { mute: 'mute', unmute: 'unmute', kick: 'remove' };
const CONFERENCE_VERB: Record<ConferenceAction, string> = { lock: 'lock', unlock: 'unlock', end: 'end' };

/** "could not mute Bob: Bob is no longer in the conference" */
export function participantActionFailureText(action: ParticipantAction, who: string, error: AdminApiError): string {
  return `could not ${PARTICIPANT_VERB[action]} ${who}: ${reasonText(error, who)}`;
}

/** "could not lock the conference: it has already ended" */
export function conferenceActionFailureText(action: ConferenceAction, error: AdminApiError): string {
  return `could not ${CONFERENCE_VERB[action]} the conference: ${reasonText(error, null)}`;
}

function reasonText(error: AdminApiError, who: string | null): string {
  if (error.kind === 'unreachable') return `server unreachable (${error.message})`;
  if (error.kind === 'unauthorized') return 'your session has expired, sign in again';
  if (error.kind === 'throttled')
    return `too many requests, try again${error.retryAfterSeconds === null ? ' later' : ` in ${error.retryAfterSeconds} s`}`;
  switch (error.code) {
    case 'participant-not-found':
      return who === null ? 'that participant is no longer in the conference' : `${who} is no longer in the conference`;
    case 'conference-not-found':
    case 'ended':
      return 'the conference has already ended';
    case 'locked':
      return 'the conference is locked';
    case 'full':
      return 'the conference is full';
    case 'internal':
      return `the server failed to do it (${error.message})`;
    default:
      return error.status === null ? error.message : `${error.message} (${error.status})`;
  }
}

/** State of the conference event stream (data-state of admin-feed-status). */
export type FeedState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export function feedStatusText(state: FeedState, retryInSeconds: number | null, attempts: number): string {
  switch (state) {
    case 'connecting':
      return 'connecting to the live conference list…';
    case 'live':
      return 'live';
    case 'reconnecting':
      return retryInSeconds === null || retryInSeconds <= 0
        ? 'connection lost, reconnecting…'
        : `connection lost, reconnecting in ${retryInSeconds} s${attempts > 1 ? ` (attempt ${attempts})` : ''}`;
    case 'closed':
      return 'not connected';
  }
}

/** State of the admin's SIP user agent (data-state of admin-sip-status). */
export type SipState = 'offline' | 'connecting' | 'connected' | 'reconnecting';

export function sipStatusText(state: SipState, wsUri: string): string {
  switch (state) {
    case 'offline':
      return 'rosters: not connected';
    case 'connecting':
      return `rosters: connecting to ${wsUri}…`;
    case 'connected':
      return 'rosters: live';
    case 'reconnecting':
      return `rosters: SIP server unreachable (${wsUri}), reconnecting…`;
  }
}

/** RFC 4575 endpoint status -> words shown next to a participant. */
export const ENDPOINT_STATUS_LABEL: Readonly<Record<string, string>> = {
  connected: 'connected',
  disconnected: 'left',
  'on-hold': 'on hold',
  'muted-via-focus': 'muted',
  pending: 'pending',
  alerting: 'ringing',
  'dialing-in': 'joining',
  'dialing-out': 'being called',
  disconnecting: 'leaving',
};

export function endpointStatusText(status: string): string {
  return ENDPOINT_STATUS_LABEL[status] ?? status;
}

/** The API's joiningMethod -> words. */
export function joiningMethodText(method: string | null): string {
  switch (method) {
    case 'dialed-in':
      return 'dialled in';
    case 'dialed-out':
      return 'called by the conference';
    case 'focus-owner':
      return 'created it';
    case null:
    case '':
      return 'joined';
    default:
      return method;
  }
}
