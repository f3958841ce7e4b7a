/**
 * Drives one JsSIP UA (register, auto-answer, call, hang up, re-INVITE, REFER, SUBSCRIBE) and reports
 * normalised events. The same function runs in Node and, serialised with Function#toString, inside a
 * Chromium page: it must stay self-contained (no imports, no closures over module scope; type-only
 * imports are erased).
 */
import type { UA, WebSocketInterface } from 'jssip';
import type { RTCSession } from 'jssip/lib/RTCSession.js';
import type { Subscriber } from 'jssip/lib/Subscriber.js';

/** The part of JsSIP the driver uses: the module in Node, `window.JsSIP` in a page. */
export interface JssipApi {
  UA: typeof UA;
  WebSocketInterface: typeof WebSocketInterface;
}

export interface JssipDriverOptions {
  wsUrl: string;
  uri: string;
  contactUri: string;
  mediaConstraints: { audio: boolean; video: boolean };
}

export interface JssipDriver {
  call(target: string): void;
  hangup(): void;
  reinvite(): boolean;
  transfer(target: string): void;
  subscribe(target: string): void;
  unsubscribe(): void;
  reset(): void;
  stop(): void;
}

export function jssipDriver(
  JsSIP: JssipApi,
  opts: JssipDriverOptions,
  emit: (type: string, detail?: string) => void,
): JssipDriver {
  const socket = new JsSIP.WebSocketInterface(opts.wsUrl);
  const ua = new JsSIP.UA({
    sockets: [socket],
    uri: opts.uri,
    contact_uri: opts.contactUri,
    register: true,
    session_timers: false,
  });
  let session: RTCSession | null = null;
  let subscriber: Subscriber | null = null;
  ua.on('registered', () => emit('registered'));
  ua.on('registrationFailed', (e) => emit('registration-failed', String(e.cause)));
  ua.on('newRTCSession', (e: { session: RTCSession; originator: string }) => {
    const s = e.session;
    const outgoing = e.originator === 'local';
    session = s;
    s.on('progress', (ev: { originator: string; response?: { status_code: number } }) => {
      if (outgoing && ev.originator === 'remote') emit('ringing', ev.response ? String(ev.response.status_code) : '');
    });
    s.on('confirmed', () => emit('established'));
    const ended = (ev: { cause?: string }) => {
      emit('closed', String(ev.cause));
      if (session === s) session = null;
    };
    s.on('ended', ended);
    s.on('failed', ended);
    if (e.originator === 'remote') {
      emit('incoming');
      s.answer({ mediaConstraints: opts.mediaConstraints });
    }
  });
  ua.start();
  return {
    call(target: string) {
      ua.call(target, { mediaConstraints: opts.mediaConstraints });
    },
    hangup() {
      if (session) session.terminate();
    },
    reinvite() {
      if (!session) return false;
      return session.renegotiate({}, () => emit('reinvite-ok'));
    },
    transfer(target: string) {
      if (!session) throw new Error('no call to transfer');
      session.refer(target, {
        eventHandlers: {
          requestSucceeded: () => emit('refer-202'),
          requestFailed: (ev: { cause?: string }) => emit('transfer-failed', String(ev.cause)),
          accepted: () => emit('transfer-ok'),
          failed: (ev: { status_line?: { status_code: number } }) =>
            emit('transfer-failed', String(ev.status_line ? ev.status_line.status_code : '')),
        },
      });
    },
    subscribe(target: string) {
      subscriber = ua.subscribe(target, 'presence', 'application/pidf+xml', { expires: 600 });
      subscriber.on('notify', (isFinal: boolean) => emit('notify', isFinal ? 'final' : 'active'));
      subscriber.on('terminated', (code: number) => emit('unsubscribed', String(code)));
      subscriber.subscribe();
    },
    unsubscribe() {
      if (subscriber) subscriber.terminate();
    },
    reset() {
      if (session) session.terminate();
      session = null;
    },
    stop() {
      ua.stop();
    },
  };
}
