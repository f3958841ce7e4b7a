/**
 * How the focus words refusals in SIP: one mapping from conference-model errors to statuses, and the
 * Warning header for SDP it cannot bridge.
 */
import { ConferenceError } from '@conclave/conference';

export interface SipStatus {
  status: number;
  reason: string;
}

/** A ConferenceError (or anything else) as the SIP response that refuses a join, REFER or dial-out. */
export function conferenceErrorStatus(err: unknown): SipStatus {
  if (err instanceof ConferenceError) {
    switch (err.code) {
      case 'locked':
        return { status: 403, reason: 'Forbidden - conference is locked' };
      case 'full':
        return { status: 486, reason: 'Busy Here - conference is full' };
      case 'ended':
        return { status: 404, reason: 'Not Found - conference has ended' };
      case 'not-found':
        return { status: 404, reason: 'Not Found - no such participant' };
      default:
        break;
    }
  }
  return { status: 500, reason: 'Server Internal Error' };
}

/** What the focus tells a party whose SDP it cannot bridge (RFC 3261 §20.43 Warning, code 399). */
export function mediaWarning(domain: string, err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return `399 ${domain} "${text.replace(/["\\\r\n]/g, ' ')}"`;
}
