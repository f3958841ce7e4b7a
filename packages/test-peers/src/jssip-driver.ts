/**
 * Drives one JsSIP UA (register, auto-answer, call, hang up, re-INVITE, REFER, SUBSCRIBE) and reports
 * normalised events. The same function runs in Node and, serialised with Function#toString, inside a
 * Chromium page: it must stay self-contained (no imports, no closures over module scope).
 */

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

/* eslint-disable @typescript-eslint/no-explicit-any */
export function jssipDriver(
  JsSIP: any,
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
  let session: any = null;
  let subscriber: any = null;
  ua.on('registered', () => emit('registered'));
  ua.on('registrationFailed', (e: any) => emit('registration-failed', String(e && e.cause)));
  ua.on('newRTCSession', (e: any) => {
    const s = e.session;
    session = s;
    s.on('progress', (ev: any) => {
      if (s.direction === 'outgoing' && ev.originator === 'remote')
        emit('ringing', ev.response ? String(ev.response.status_code) : '');
    });
    s.on('confirmed', () => emit('established'));
    const ended = (ev: any) => {
      emit('closed', String(ev && ev.cause));
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
          requestFailed: (ev: any) => emit('transfer-failed', String(ev && ev.cause)),
          accepted: () => emit('transfer-ok'),
          failed: (ev: any) => emit('transfer-failed', String(ev && ev.status_line ? ev.status_line.status_code : '')),
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
/* eslint-enable @typescript-eslint/no-explicit-any */
