/**
 * Turns SIP responses, JsSIP causes and transport states into sentences people can act on.
 * Pure functions: no JsSIP, no DOM.
 */

export type Originator = 'local' | 'remote' | 'system';

/** What we know about why a call ended or failed. */
export interface CallEnd {
  readonly originator: Originator;
  /** JsSIP cause string ("Busy", "Canceled", "Terminated", ...). */
  readonly cause: string;
  readonly statusCode: number | null;
  readonly reasonPhrase: string | null;
  /** Raw Warning header of the final response, if any. */
  readonly warning: string | null;
  /** True if the call ended before being answered. */
  readonly failed: boolean;
}

export interface CallContext {
  readonly direction: 'incoming' | 'outgoing';
  /** Short name of the other party ("bob"). */
  readonly partyName: string;
  /** The line talks to a conference focus / factory. */
  readonly conference: boolean;
}

export interface EndDescription {
  /** Sentence for the line ("bob is busy"). */
  readonly text: string;
  /** Whether this is something that went wrong (banner) or a normal end (quiet note). */
  readonly isError: boolean;
}

/**
 * Extracts the human text of a Warning header (RFC 3261 20.43):
 *   399 focus.example "no common audio codec" -> no common audio codec
 * Several warnings are joined with "; ". Falls back to the raw value.
 */
export function warningText(header: string | null | undefined): string | null {
  if (header === null || header === undefined) return null;
  const raw = header.trim();
  if (raw === '') return null;
  const texts: string[] = [];
  const re = /\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) {
    const text = (m[1] ?? '').replace(/\\(.)/g, '$1').trim();
    if (text !== '') texts.push(text);
  }
  return texts.length > 0 ? texts.join('; ') : raw;
}

function sentence(code: number | null, phrase: string | null): string {
  if (code === null) return phrase ?? '';
  return phrase ? `${code} ${phrase}` : String(code);
}

export function describeCallEnd(end: CallEnd, ctx: CallContext): EndDescription {
  const who = ctx.partyName || 'the other party';
  const code = end.statusCode;
  const warn = warningText(end.warning);

  if (!end.failed) {
    // An established call that ended.
    switch (end.cause) {
      case 'Terminated':
        return { text: end.originator === 'local' ? 'you hung up' : `${who} hung up`, isError: false };
      case 'RTP Timeout':
        return { text: 'call dropped: the media connection was lost', isError: true };
      case 'Connection Error':
        return { text: 'call dropped: connection to the server was lost', isError: true };
      case 'Request Timeout':
        return { text: 'call dropped: the server stopped answering', isError: true };
      case 'No ACK':
        return { text: 'call dropped: the other side never confirmed the answer', isError: true };
      case 'Dialog Error':
        return { text: 'call dropped: the server no longer knows this call', isError: true };
      case 'WebRTC Error':
        return { text: 'call dropped: media renegotiation failed (hold or conference update)', isError: true };
      default:
        return end.originator === 'local'
          ? { text: 'you hung up', isError: false }
          : { text: `call ended (${end.cause})`, isError: false };
    }
  }

  // Never answered.
  if (end.originator === 'local') {
    if (end.cause === 'Canceled')
      return { text: ctx.direction === 'outgoing' ? 'cancelled' : 'declined', isError: false };
    if (end.cause === 'Rejected' || end.cause === 'Busy') return { text: 'declined', isError: false };
    if (end.cause === 'User Denied Media Access') {
      return { text: 'microphone unavailable: allow microphone access and try again', isError: true };
    }
    if (end.cause === 'No Answer') return { text: 'no answer', isError: false };
  }

  if (ctx.direction === 'incoming') {
    if (end.cause === 'Canceled' || code === 487) return { text: `missed call from ${who}`, isError: false };
    if (end.cause === 'No ACK') return { text: 'call failed: the caller never confirmed the answer', isError: true };
  }

  if (code !== null) {
    switch (code) {
      case 401:
      case 407:
        return { text: 'call failed: the server did not accept your credentials', isError: true };
      case 403:
        if (ctx.conference || /lock/i.test(end.reasonPhrase ?? '') || /lock/i.test(warn ?? '')) {
          return { text: `the conference is locked${warn ? `: ${warn}` : ''}`, isError: true };
        }
        return {
          text: `call refused by the server (${sentence(code, end.reasonPhrase)})${warn ? `: ${warn}` : ''}`,
          isError: true,
        };
      case 404:
      case 604:
        return { text: `${who} does not exist (no such user)`, isError: true };
      case 408:
        return { text: `${who} did not answer`, isError: true };
      case 410:
        return { text: `${who} is no longer available at this address`, isError: true };
      case 480:
        return { text: `${who} is offline (not registered)`, isError: true };
      case 484:
        return { text: `incomplete address: ${who}`, isError: true };
      case 486:
      case 600:
        return { text: `${who} is busy`, isError: true };
      case 487:
        return { text: 'cancelled', isError: false };
      case 488:
      case 606:
        return {
          text: `media could not be negotiated${warn ? `: ${warn}` : end.reasonPhrase ? `: ${end.reasonPhrase}` : ''}`,
          isError: true,
        };
      case 603:
        return { text: `${who} declined the call`, isError: true };
      default:
        if (code >= 500 && code < 600) {
          return {
            text: `server error: ${sentence(code, end.reasonPhrase)}${warn ? ` (${warn})` : ''}`,
            isError: true,
          };
        }
        if (code >= 300 && code < 400) {
          return {
            text: `${who} moved (${sentence(code, end.reasonPhrase)}); redirects are not followed`,
            isError: true,
          };
        }
        return { text: `call failed: ${sentence(code, end.reasonPhrase)}${warn ? ` (${warn})` : ''}`, isError: true };
    }
  }

  switch (end.cause) {
    case 'Connection Error':
      return { text: 'call failed: the server is unreachable', isError: true };
    case 'Request Timeout':
      return { text: 'call failed: the server did not answer in time', isError: true };
    case 'Incompatible SDP':
    case 'Bad Media Description':
    case 'Missing SDP':
      return { text: `media could not be negotiated (${end.cause})`, isError: true };
    case 'WebRTC Error':
      return { text: 'call failed: the browser could not set up media', isError: true };
    case 'User Denied Media Access':
      return { text: 'microphone unavailable: allow microphone access and try again', isError: true };
    case 'Authentication Error':
      return { text: 'call failed: the server did not accept your credentials', isError: true };
    case 'Address Incomplete':
      return { text: `incomplete address: ${who}`, isError: true };
    case 'No Answer':
    case 'Expires':
      return { text: `${who} did not answer`, isError: true };
    default:
      return { text: `call failed (${end.cause})`, isError: true };
  }
}

/** REGISTER failures ("registration failed: ..."). Never contains the word "registered". */
export function describeRegistrationFailure(
  statusCode: number | null,
  cause: string | null,
  reasonPhrase: string | null,
): string {
  if (statusCode === 401 || statusCode === 403 || statusCode === 407 || cause === 'Authentication Error') {
    return 'registration failed: wrong user name or password';
  }
  if (statusCode === 404 || statusCode === 604 || cause === 'Not Found') {
    return 'registration failed: wrong user name or password (no such user)';
  }
  if (statusCode === 423) return 'registration failed: the server wants a longer expiry interval';
  if (statusCode !== null) return `registration failed: ${sentence(statusCode, reasonPhrase)}`;
  if (cause === 'Connection Error') return 'registration failed: the server is unreachable';
  if (cause === 'Request Timeout') return 'registration failed: the server did not answer';
  return `registration failed: ${cause ?? 'unknown reason'}`;
}

export type ConnectionState = 'offline' | 'connecting' | 'connected' | 'reconnecting';
export type RegistrationState = 'none' | 'registering' | 'registered' | 'failed';

export interface AgentStatus {
  readonly connection: ConnectionState;
  readonly registration: RegistrationState;
  /** Set when registration failed. */
  readonly failure: string | null;
  /** "alice@127.0.0.1" */
  readonly aor: string | null;
  /** Reconnect attempts since the connection was lost (0 when connected). */
  readonly attempts: number;
  /** True once the transport has been up at least once in this session. */
  readonly everConnected: boolean;
}

/**
 * One line of status text. Contract with the e2e tests: contains "registered" only when registered
 * (so the other states avoid "unregistered" / "not registered").
 */
export function describeStatus(s: AgentStatus, wsUri: string): string {
  if (s.registration === 'failed' && s.failure) return s.failure;
  switch (s.connection) {
    case 'offline':
      return 'signed out';
    case 'connecting':
      return `connecting to ${wsUri}…`;
    case 'reconnecting':
      return s.everConnected
        ? `connection lost, reconnecting…${s.attempts > 1 ? ` attempt ${s.attempts}` : ''}`
        : `server unreachable (${wsUri}), reconnecting…`;
    case 'connected':
      if (s.registration === 'registered') return `registered as ${s.aor ?? 'you'}`;
      return 'connected, registering…';
  }
}

// ---- blind transfer (REFER, RFC 3515) ----

/** Where a transfer we asked for stands. */
export type TransferPhase = 'requesting' | 'accepted' | 'trying' | 'ringing' | 'succeeded' | 'failed';

export interface TransferProgress {
  readonly phase: TransferPhase;
  /** Short name of the party being transferred ("bob"). */
  readonly partyName: string;
  /** Short name of the transfer target ("carol"). */
  readonly targetName: string;
  /** failed: the REFER's final response, or the status line of the NOTIFY's sipfrag. */
  readonly statusCode?: number | null;
  readonly reasonPhrase?: string | null;
  /** failed: where the failure came from. */
  readonly failure?: 'refer-rejected' | 'notify' | 'transport' | 'timeout' | 'ended' | null;
  /** failed without a status code: JsSIP cause ("Request Timeout", "Connection Error", ...). */
  readonly cause?: string | null;
}

/** One sentence for the transfer status line of a call. Pure. */
export function describeTransfer(t: TransferProgress): string {
  const who = t.partyName || 'the other party';
  const target = t.targetName || 'the new party';
  switch (t.phase) {
    case 'requesting':
      return `transferring ${who} to ${target}…`;
    case 'accepted':
      return `${who} accepted the transfer to ${target}…`;
    case 'trying':
      return `${who} is calling ${target}…`;
    case 'ringing':
      return `${target} is ringing…`;
    case 'succeeded':
      return `transferred ${who} to ${target}`;
    case 'failed':
      return `transfer failed: ${transferFailureReason(t, who, target)} (you are still connected to ${who})`;
  }
}

function transferFailureReason(t: TransferProgress, who: string, target: string): string {
  const code = t.statusCode ?? null;
  const status = sentence(code, t.reasonPhrase ?? null);
  if (t.failure === 'timeout') return `no word from ${who} about calling ${target}`;
  if (t.failure === 'refer-rejected') {
    if (code === null) {
      switch (t.cause) {
        case 'Request Timeout':
          return 'the server did not answer the transfer request';
        case 'Connection Error':
          return 'the connection to the server was lost';
        case 'Dialog Error':
          return 'the call no longer exists';
        default:
          return `the transfer request failed (${t.cause ?? 'unknown reason'})`;
      }
    }
    if (code === 403) return `the server does not allow this transfer (${status})`;
    if (code === 404 || code === 484) return `${target} is not a valid transfer target (${status})`;
    if (code === 405 || code === 420 || code === 501) return `${who}'s phone does not support transfers (${status})`;
    if (code === 481) return 'the call no longer exists';
    if (code === 603) return `${who} declined the transfer`;
    if (code >= 500 && code < 600) return `server error: ${status}`;
    return `${who} refused the transfer (${status})`;
  }
  if (t.failure === 'notify' && code !== null) {
    const end = describeCallEnd(
      {
        originator: 'remote',
        cause: 'SIP Failure Code',
        statusCode: code,
        reasonPhrase: t.reasonPhrase ?? null,
        warning: null,
        failed: true,
      },
      { direction: 'outgoing', partyName: target, conference: false },
    );
    return `${who} could not reach ${target}: ${end.text}`;
  }
  if (t.failure === 'transport') return 'the connection to the server was lost';
  return t.cause ?? 'unknown reason';
}

/** The end text of a line after (or during) a transfer we asked for. Pure. */
export function describeTransferEnd(phase: TransferPhase, partyName: string, targetName: string): string {
  return phase === 'succeeded'
    ? `transferred ${partyName} to ${targetName}`
    : `${partyName} hung up during the transfer to ${targetName}`;
}

// ---- DTMF (keypad keys sent as SIP INFO) ----

export type DtmfProblem = 'not-connected' | 'held' | 'bad-key';

export function describeDtmfProblem(problem: DtmfProblem, key = ''): string {
  switch (problem) {
    case 'not-connected':
      return 'keypad tones cannot be sent: the call is not connected';
    case 'held':
      return 'keypad tones cannot be sent while the call is on hold';
    case 'bad-key':
      return `"${key}" is not a keypad key (0-9, * and # are)`;
  }
}
