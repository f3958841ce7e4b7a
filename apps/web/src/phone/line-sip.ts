/** Reading and sending the SIP a line needs beyond JsSIP's session API: identities, end causes, REFER. */
import type { EndEvent, RTCSession } from 'jssip/lib/RTCSession';
import type { IncomingResponse } from 'jssip/lib/SIPMessage';
import type { NameAddrHeader } from 'jssip/lib/NameAddrHeader';
import { userPart } from './target.ts';
import type { CallEnd } from './words.ts';

function isResponse(message: unknown): message is IncomingResponse {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { status_code?: unknown }).status_code === 'number'
  );
}

export function identityOf(header: NameAddrHeader | undefined): { uri: string; name: string } {
  if (!header) return { uri: 'sip:unknown', name: 'unknown' };
  const uri = header.uri.clone();
  // Identity for humans and tests: scheme, user, host[, port]; no transport or other params.
  uri.clearParams();
  uri.clearHeaders();
  const text = uri.toString();
  const display = (header.display_name ?? '').trim();
  return { uri: text, name: display || userPart(text) };
}

/** Why a call ended, from JsSIP's 'ended' / 'failed' event; `failed` when it never was answered. */
export function callEndOf(e: EndEvent, failed: boolean): CallEnd {
  const message: unknown = e.message;
  const response = isResponse(message) ? message : null;
  let warning: string | null;
  try {
    warning = response?.getHeader('Warning') || null;
  } catch {
    warning = null;
  }
  return {
    originator: (['local', 'remote', 'system'].includes(String(e.originator))
      ? String(e.originator)
      : 'system') as CallEnd['originator'],
    cause: String(e.cause ?? 'Terminated'),
    statusCode: response?.status_code ?? null,
    reasonPhrase: response?.reason_phrase ?? null,
    warning,
    failed,
  };
}

/** Sends an in-dialog REFER (RFC 3515). Resolves on a 2xx NOTIFY sipfrag, rejects otherwise. */
export function sendRefer(session: RTCSession, target: string, party: string, displayName: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve();
    };
    try {
      session.refer(target, {
        eventHandlers: {
          requestFailed: (e: { response?: IncomingResponse; cause?: string }) =>
            settle(
              new Error(
                `REFER to ${party} refused: ${e.response ? `${e.response.status_code} ${e.response.reason_phrase}` : (e.cause ?? 'no answer')}`,
              ),
            ),
          accepted: () => settle(null),
          failed: (e: { status_line?: { status_code?: number; reason_phrase?: string } }) =>
            settle(
              new Error(
                `${displayName} could not join: ${e.status_line ? `${e.status_line.status_code ?? ''} ${e.status_line.reason_phrase ?? ''}`.trim() : 'failed'}`,
              ),
            ),
        },
      });
    } catch (error) {
      settle(new Error(`REFER to ${party} failed: ${String(error)}`));
    }
  });
}
