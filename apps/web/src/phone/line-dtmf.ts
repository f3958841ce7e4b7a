/**
 * A line's keypad over SIP INFO: sending keys (application/dtmf-relay, one INFO per key) and taking
 * the other side's INFO before JsSIP sees it (see dtmf-info.ts for the bodies).
 */
import type { RTCSession } from 'jssip/lib/RTCSession';
import type { DTMF_TRANSPORT } from 'jssip/lib/Constants';
import type { Logger } from './log.ts';
import { DTMF_ACCEPT, readDtmfInfo } from './dtmf-info.ts';

export const DTMF_HISTORY = 24;
/** Keypad tone length and gap between INFOs (ms): long enough for any IVR, short enough for quick typing. */
const DTMF_DURATION_MS = 160;
const DTMF_GAP_MS = 70;
export const DTMF_KEYS = /^[0-9*#]+$/;

/** JsSIP's incoming in-dialog request, as far as the INFO handling uses it (its typings lack reply). */
interface InDialogRequest {
  method: string;
  body?: string;
  hasHeader(name: string): boolean;
  getHeader(name: string): string;
  reply(code: number, reason?: string, extraHeaders?: string[]): void;
}

/** Sends keys as INFO, DTMF_DURATION_MS + DTMF_GAP_MS apart (JsSIP queues them in order). Throws as JsSIP does. */
export function sendDtmfInfo(session: RTCSession, tones: string): void {
  session.sendDTMF(tones, {
    transportType: 'INFO' as DTMF_TRANSPORT,
    duration: DTMF_DURATION_MS,
    interToneGap: DTMF_GAP_MS,
  });
}

/** What the INFO interception needs from its line. */
export interface InfoHost {
  readonly log: Logger;
  /** The call is established (INFO before that goes to JsSIP). */
  connected(): boolean;
  /** A key arrived (already answered 200). */
  digit(digit: string, durationMs: number): void;
}

/**
 * Incoming INFO on an established call, before JsSIP (which answers any INFO with a body 200):
 * a key is answered 200, recorded and played (host.digit); an empty INFO (keep-alive) is 200;
 * a broken DTMF body 400; any other body 415 with Accept. Other requests, and INFO before the call
 * is up, go to JsSIP unchanged.
 */
export function interceptInfo(s: RTCSession, host: InfoHost): void {
  const session = s as unknown as { receiveRequest(request: InDialogRequest): void };
  const jssip = session.receiveRequest.bind(session);
  session.receiveRequest = (request: InDialogRequest): void => {
    if (request.method !== 'INFO' || !host.connected()) {
      jssip(request);
      return;
    }
    const contentType = request.hasHeader('Content-Type') ? request.getHeader('Content-Type') : undefined;
    const read = readDtmfInfo(contentType, request.body);
    if (read.kind === 'refused') {
      host.log.info('INFO refused', { status: read.status, contentType });
      request.reply(read.status, read.reason, read.status === 415 ? [`Accept: ${DTMF_ACCEPT}`] : []);
      return;
    }
    request.reply(200);
    if (read.kind === 'empty') return;
    host.log.info('DTMF received', { digit: read.digit, durationMs: read.durationMs });
    host.digit(read.digit, read.durationMs);
  };
}
