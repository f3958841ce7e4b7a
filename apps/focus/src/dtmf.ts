/**
 * DTMF at the focus (issue 9 items 3-4). Browsers send keypad digits as SIP INFO because mediasoup
 * forwards only media codecs: RFC 4733 telephone-event packets from an RTCDTMFSender never reach the
 * other leg. Plain-RTP phones send RFC 4733 telephone-events in their RTP (the leg's `dtmf` event) or
 * INFO. Both arrive as one DtmfEvent stream per dialog (`source` tells which). Keys the focus sends
 * go into the party's media as RFC 4733 when its leg can (`leg.sendDtmf`), else as SIP INFO.
 *
 * Bodies: `application/dtmf-relay` (the de-facto format: `Signal=5\r\nDuration=160`; Cisco's numeric
 * events 10-15 for * # A-D accepted) and `application/dtmf` (the digit alone). An empty INFO is a
 * keep-alive (200). Another body is 415 with Accept; a broken one 400 with the reason.
 *
 * The digits go to whoever owns the media dialog when they arrive (a two-party call relays them to
 * the other party, a conference treats them as menu commands): listeners are kept per owner, so a
 * dialog handed over to a conference stops reaching the call that had it, without touching
 * MediaDialog.
 */
import { SerialQueue } from '@conclave/events';
import type { Logger } from '@conclave/log';
import type { MediaDialog } from './media-dialog.ts';
import {
  dialogConnected,
  isSipFailure,
  reply,
  requestInDialog,
  type SrfDialog,
  type SrfRequest,
  type SrfResponse,
} from './srf.ts';

/** One key as the focus received it (or sends it). */
export interface DtmfDigit {
  /** 0-9, *, #, A-D. */
  digit: string;
  durationMs: number;
}

/** A key a party sent, as the focus's owners see it. */
export interface DtmfEvent extends DtmfDigit {
  /** Call-ID of the dialog it came in. */
  callId: string;
  source: 'info' | 'rfc4733';
}

export type DtmfListener = (event: DtmfEvent) => void;

export type DtmfInfoParse =
  | { kind: 'digit'; digit: DtmfDigit }
  /** No body: a keep-alive or probe (answered 200, nothing to do). */
  | { kind: 'empty' }
  | { kind: 'refused'; status: 400 | 415; reason: string; headers: Record<string, string> };

export const DTMF_RELAY = 'application/dtmf-relay';
export const DTMF_PLAIN = 'application/dtmf';
export const DTMF_ACCEPT = `${DTMF_RELAY}, ${DTMF_PLAIN}`;
export const DEFAULT_DTMF_DURATION_MS = 160;
/** Durations are kept within this range when relayed (an IVR needs ~40 ms; a stuck key is not 10 s). */
export const DTMF_DURATION_RANGE = { min: 40, max: 5000 };
const MAX_BODY = 512;
const DIGIT = /^[0-9*#A-D]$/;
/** RFC 4733 event codes some phones put in Signal= (Cisco): 10 = *, 11 = #, 12-15 = A-D. */
const EVENT_CODES: Record<string, string> = { '10': '*', '11': '#', '12': 'A', '13': 'B', '14': 'C', '15': 'D' };

function refused(status: 400 | 415, reason: string): DtmfInfoParse {
  return { kind: 'refused', status, reason, headers: status === 415 ? { Accept: DTMF_ACCEPT } : {} };
}

function digitOf(value: string, eventCodes: boolean): string | undefined {
  const v = value.trim().toUpperCase();
  const d = (eventCodes ? EVENT_CODES[v] : undefined) ?? v;
  return DIGIT.test(d) ? d : undefined;
}

/** Reads an INFO's body as one DTMF digit. Pure; never throws. */
export function parseDtmfInfo(contentType: string | undefined, body: string): DtmfInfoParse {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (body.trim() === '') {
    return type === DTMF_RELAY || type === DTMF_PLAIN
      ? refused(400, 'Bad Request - empty DTMF body')
      : { kind: 'empty' };
  }
  if (type !== DTMF_RELAY && type !== DTMF_PLAIN) {
    return refused(415, `Unsupported Media Type - INFO carries ${type || 'a body without a Content-Type'}`);
  }
  if (body.length > MAX_BODY) return refused(400, 'Bad Request - DTMF body too long');
  if (type === DTMF_PLAIN) {
    const digit = digitOf(body, false);
    if (digit === undefined) return refused(400, 'Bad Request - application/dtmf is not one key');
    return { kind: 'digit', digit: { digit, durationMs: DEFAULT_DTMF_DURATION_MS } };
  }
  const fields = new Map<string, string>();
  for (const line of body.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return refused(400, 'Bad Request - dtmf-relay line without "name=value"');
    fields.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  const signal = fields.get('signal');
  if (signal === undefined) return refused(400, 'Bad Request - dtmf-relay without Signal');
  const digit = digitOf(signal, true);
  if (digit === undefined) return refused(400, `Bad Request - Signal "${signal.slice(0, 8)}" is not a key`);
  const duration = fields.get('duration');
  if (duration !== undefined && !/^\d{1,6}$/.test(duration)) {
    return refused(400, 'Bad Request - Duration is not a number of milliseconds');
  }
  const ms = duration === undefined ? DEFAULT_DTMF_DURATION_MS : Number(duration);
  return {
    kind: 'digit',
    digit: { digit, durationMs: Math.min(DTMF_DURATION_RANGE.max, Math.max(DTMF_DURATION_RANGE.min, ms)) },
  };
}

/** The dtmf-relay body the focus sends (the form JsSIP and most phones read). */
export function dtmfRelayBody(digit: DtmfDigit): string {
  return `Signal=${digit.digit}\r\nDuration=${digit.durationMs}\r\n`;
}

/** A listener and the logger of the owner that registered it. */
interface OwnerEntry {
  listener: DtmfListener;
  log: Logger;
}

/** Per media dialog: the listeners by owner (see the module comment). */
const listeners = new WeakMap<MediaDialog, Map<string, OwnerEntry>>();

/**
 * Calls `listener` for every key the party of `media` sends — as SIP INFO or as RFC 4733 in its RTP —
 * while the media dialog's current owner is the one it has now. INFOs are answered here (200, 400 or
 * 415); every key is logged with the Call-ID and its source.
 */
export function onDtmf(media: MediaDialog, listener: DtmfListener, log: Logger): void {
  let byOwner = listeners.get(media);
  if (!byOwner) {
    const owners = new Map<string, OwnerEntry>();
    byOwner = owners;
    listeners.set(media, owners);
    const firstLog = log;
    const logOf = (entry: OwnerEntry | undefined) => (entry?.log ?? firstLog).child({ callId: media.callId });
    media.dialog.on('info', (req: SrfRequest, res: SrfResponse) => {
      const entry = owners.get(media.owner);
      receiveInfo(media, entry, req, res, logOf(entry));
    });
    media.leg.on('dtmf', (digit) => {
      const entry = owners.get(media.owner);
      const event: DtmfEvent = { digit, durationMs: DEFAULT_DTMF_DURATION_MS, callId: media.callId, source: 'rfc4733' };
      deliver(media, entry, event, logOf(entry));
    });
  }
  byOwner.set(media.owner, { listener, log });
}

/** The former name (INFO was the only source): same as onDtmf. */
export const onDtmfInfo = onDtmf;

function deliver(media: MediaDialog, owner: OwnerEntry | undefined, event: DtmfEvent, log: Logger): void {
  log.info('DTMF received', {
    digit: event.digit,
    durationMs: event.durationMs,
    source: event.source,
    owner: media.owner,
  });
  if (!owner) return;
  try {
    owner.listener(event);
  } catch (err) {
    log.error('DTMF listener failed', { error: (err as Error).message });
  }
}

function receiveInfo(
  media: MediaDialog,
  owner: OwnerEntry | undefined,
  req: SrfRequest,
  res: SrfResponse,
  log: Logger,
): void {
  let parsed: DtmfInfoParse;
  try {
    parsed = parseDtmfInfo(req.get('Content-Type'), typeof req.body === 'string' ? req.body : '');
  } catch (err) {
    // parseDtmfInfo does not throw; a request object without the expected shape might.
    parsed = refused(400, `Bad Request - unreadable INFO (${(err as Error).message})`);
  }
  if (parsed.kind === 'refused') {
    log.info('INFO refused', { status: parsed.status, reason: parsed.reason });
    reply(res, parsed.status, parsed.reason, { headers: parsed.headers });
    return;
  }
  reply(res, 200);
  if (parsed.kind === 'empty') return;
  deliver(media, owner, { ...parsed.digit, callId: media.callId, source: 'info' }, log);
}

/** Outgoing INFOs of one dialog, one at a time: each waits for the previous one's answer (order kept). */
const outgoing = new WeakMap<SrfDialog, SerialQueue>();

function queueOf(dialog: SrfDialog): SerialQueue {
  let queue = outgoing.get(dialog);
  if (!queue) {
    queue = new SerialQueue();
    outgoing.set(dialog, queue);
  }
  return queue;
}

/**
 * Sends one key to a party as SIP INFO (dtmf-relay), after the keys queued before it for that dialog.
 * Resolves with the final status (0: not sent or no answer); never rejects.
 */
export function sendDtmfInfo(dialog: SrfDialog | undefined, digit: DtmfDigit, log: Logger): Promise<number> {
  if (!dialog) return Promise.resolve(0);
  return queueOf(dialog).push(() => infoOnce(dialog, digit, log));
}

/**
 * Sends one key to the party of `media`, after the keys queued before it for that dialog: as RFC 4733
 * telephone-events in its RTP when its leg can (a phone that negotiated telephone-event and listens),
 * else as SIP INFO. Resolves with how it went out (undefined: not at all); never rejects.
 */
export function sendDtmf(
  media: MediaDialog | undefined,
  digit: DtmfDigit,
  log: Logger,
): Promise<'rfc4733' | 'info' | undefined> {
  if (!media) return Promise.resolve(undefined);
  const dialog = media.dialog;
  return queueOf(dialog).push(async () => {
    let inMedia = false;
    try {
      inMedia = await media.leg.sendDtmf(digit.digit, { durationMs: digit.durationMs });
    } catch (err) {
      log.warn('DTMF not sent in media', { digit: digit.digit, error: (err as Error).message });
    }
    if (inMedia) {
      log.info('DTMF sent', { digit: digit.digit, callId: media.callId, source: 'rfc4733' });
      return 'rfc4733';
    }
    const status = await infoOnce(dialog, digit, log);
    return status >= 200 && status < 300 ? 'info' : undefined;
  });
}

async function infoOnce(dialog: SrfDialog, digit: DtmfDigit, log: Logger): Promise<number> {
  if (!dialogConnected(dialog)) return 0;
  try {
    const res = await requestInDialog(dialog, {
      method: 'INFO',
      headers: { 'Content-Type': DTMF_RELAY },
      body: dtmfRelayBody(digit),
    });
    const status = res?.status ?? 0;
    if (status >= 300) log.warn('DTMF INFO refused', { digit: digit.digit, status });
    return status;
  } catch (err) {
    const status = isSipFailure(err) ? err.status : 0;
    log.warn('DTMF INFO not delivered', { digit: digit.digit, status, error: (err as Error).message });
    return status;
  }
}
