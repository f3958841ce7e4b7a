/** Lines for new JsSIP sessions: the peer-connection config, an incoming INVITE's line, and transfer hand-over. */
import type { RTCSession } from 'jssip/lib/RTCSession';
import type { NameAddrHeader } from 'jssip/lib/NameAddrHeader';
import type { IncomingRequest } from 'jssip/lib/SIPMessage';
import { Line } from './line.ts';
import type { Logger } from './log.ts';

export const PC_CONFIG: RTCConfiguration = { iceServers: [] };

function hasVideoOffer(sdp: string | undefined): boolean {
  return typeof sdp === 'string' && /^m=video [1-9]/m.test(sdp);
}

/** The line of an incoming INVITE: a conference line when a focus calls (";isfocus" in its Contact). */
export function incomingLine(session: RTCSession, incoming: IncomingRequest, log: Logger): Line {
  let focusUri: string | null = null;
  try {
    const contact = incoming.parseHeader<NameAddrHeader>('contact');
    if (contact?.hasParam('isfocus')) focusUri = contact.uri.toString();
  } catch {
    focusUri = null;
  }
  return new Line({
    session,
    direction: 'incoming',
    offersVideo: hasVideoOffer(incoming.body),
    focusUri,
    role: focusUri ? 'conference' : 'call',
    log,
  });
}

/** Hangs `old` up once `next` (the call a transfer or a focus asked for) is answered. */
export function hangUpWhenAnswered(next: Line, old: Line): void {
  const onChange = (): void => {
    if (next.state === 'active' || next.state === 'held') {
      next.events.off('change', onChange);
      const note =
        next.role === 'conference'
          ? 'moved into the conference'
          : `${old.displayName} transferred you to ${next.displayName}`;
      if (!old.ended) old.hangup(note);
    } else if (next.ended) {
      next.events.off('change', onChange);
    }
  };
  next.events.on('change', onChange);
}
