/**
 * Keypad digits as SIP INFO (RFC 2976 INFO with the de-facto `application/dtmf-relay` body,
 * `Signal=5\r\nDuration=160`; `application/dtmf` with the digit alone is read too). The page sends
 * DTMF this way because the focus anchors media in mediasoup, which forwards only media codecs:
 * RFC 4733 telephone-events from an RTCDTMFSender never reach the other party. The focus relays the
 * INFO (two-party call) or reads it as a conference menu command. Pure; the focus has the same rules
 * (apps/focus/src/dtmf.ts).
 */

export const DTMF_RELAY = 'application/dtmf-relay';
export const DTMF_PLAIN = 'application/dtmf';
/** What a 415 to another INFO body names in Accept. */
export const DTMF_ACCEPT = `${DTMF_RELAY}, ${DTMF_PLAIN}`;
export const DEFAULT_DTMF_DURATION_MS = 160;
/** Received tones are played within this range (a few ms is inaudible; a stuck key should not howl). */
export const PLAYED_DURATION_MS = { min: 60, max: 2000 };

export type DtmfInfoRead =
  | { kind: 'digit'; digit: string; durationMs: number }
  /** No body: a keep-alive (200, nothing to play). */
  | { kind: 'empty' }
  | { kind: 'refused'; status: 400 | 415; reason: string };

const DIGIT = /^[0-9*#A-D]$/;
/** RFC 4733 event codes some phones put in Signal= (10 = *, 11 = #, 12-15 = A-D). */
const EVENT_CODES: Record<string, string> = { '10': '*', '11': '#', '12': 'A', '13': 'B', '14': 'C', '15': 'D' };

function digitOf(value: string, eventCodes: boolean): string | undefined {
  const v = value.trim().toUpperCase();
  const d = (eventCodes ? EVENT_CODES[v] : undefined) ?? v;
  return DIGIT.test(d) ? d : undefined;
}

/** Reads an incoming INFO as one key. */
export function readDtmfInfo(contentType: string | undefined, body: string | undefined): DtmfInfoRead {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const text = body ?? '';
  if (text.trim() === '') {
    return type === DTMF_RELAY || type === DTMF_PLAIN
      ? { kind: 'refused', status: 400, reason: 'Bad Request - empty DTMF body' }
      : { kind: 'empty' };
  }
  if (type !== DTMF_RELAY && type !== DTMF_PLAIN) {
    return { kind: 'refused', status: 415, reason: 'Unsupported Media Type' };
  }
  if (type === DTMF_PLAIN) {
    const digit = digitOf(text, false);
    return digit === undefined
      ? { kind: 'refused', status: 400, reason: 'Bad Request - application/dtmf is not one key' }
      : { kind: 'digit', digit, durationMs: DEFAULT_DTMF_DURATION_MS };
  }
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  const digit = digitOf(fields.get('signal') ?? '', true);
  if (digit === undefined) return { kind: 'refused', status: 400, reason: 'Bad Request - no valid Signal' };
  const duration = fields.get('duration');
  if (duration !== undefined && !/^\d{1,6}$/.test(duration)) {
    return { kind: 'refused', status: 400, reason: 'Bad Request - Duration is not a number' };
  }
  return { kind: 'digit', digit, durationMs: duration === undefined ? DEFAULT_DTMF_DURATION_MS : Number(duration) };
}

const ROWS = [697, 770, 852, 941] as const;
const COLUMNS = [1209, 1336, 1477, 1633] as const;
const LAYOUT = ['123A', '456B', '789C', '*0#D'] as const;

/** The key's tone pair (Hz, low then high: ITU-T Q.23), or undefined for anything else. */
export function dtmfFrequencies(digit: string): readonly [number, number] | undefined {
  for (let r = 0; r < LAYOUT.length; r++) {
    const c = LAYOUT[r]!.indexOf(digit.toUpperCase());
    if (c >= 0 && digit.length === 1) return [ROWS[r]!, COLUMNS[c]!];
  }
  return undefined;
}

/** How long a received key is played (ms). */
export function playedDuration(durationMs: number): number {
  return Math.min(PLAYED_DURATION_MS.max, Math.max(PLAYED_DURATION_MS.min, durationMs));
}
