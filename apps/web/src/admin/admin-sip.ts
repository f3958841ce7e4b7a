/**
 * AdminSipAgent: the console's own JsSIP user agent, signed in as the admin (the admin is also a
 * SIP user). It only SUBSCRIBEs to conference URIs (RFC 4575 "conference" event package); it does
 * not REGISTER (a SUBSCRIBE needs no binding, and without one no call is ever routed to the
 * console) and it refuses calls. Knows nothing of conferences or React.
 */
import { UA, WebSocketInterface } from 'jssip';
import type { RTCSession } from 'jssip/lib/RTCSession';
import type { Subscriber } from 'jssip/lib/Subscriber';
import { accountOf } from '../phone/agent.ts';
import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from '../phone/log.ts';
import type { SipState } from './admin-words.ts';

export type AdminSipEvents = {
  state: [state: SipState];
};

/** What a roster subscription needs from the agent. */
export interface ConferenceSubscriber {
  subscribe(target: string): Subscriber;
}

/** Contains "JsSIP": the server challenges JsSIP with MD5 (JsSIP gives up on SHA-256). */
export const ADMIN_USER_AGENT = 'Conclave-Admin/0.1 (JsSIP 3.13.8)';
const ACCEPT = 'application/conference-info+xml';

export class AdminSipAgent implements ConferenceSubscriber {
  readonly events = new EnhancedEventEmitter<AdminSipEvents>();
  readonly uri: string;
  #ua: UA;
  #log: Logger;
  #state: SipState = 'offline';
  #closed = false;

  /** Throws if JsSIP rejects the configuration (e.g. an impossible user name). */
  constructor(options: { wsUri: string; domain: string; user: string; password: string; log: Logger }) {
    const account = accountOf(options.user, options.domain);
    this.uri = account.uri;
    this.#log = options.log.child({ aor: this.uri, role: 'admin' });
    this.#ua = new UA({
      sockets: [new WebSocketInterface(options.wsUri)],
      uri: account.uri,
      authorization_user: account.user,
      password: options.password,
      display_name: 'Conclave admin console',
      register: false,
      session_timers: false,
      user_agent: ADMIN_USER_AGENT,
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 8,
    });
    this.#wire();
  }

  get state(): SipState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  start(): void {
    if (this.#closed) throw new Error(`AdminSipAgent ${this.uri}: start() after close()`);
    this.#setState('connecting');
    this.#ua.start();
  }

  subscribe(target: string): Subscriber {
    if (this.#closed) throw new Error('signed out');
    return this.#ua.subscribe(target, 'conference', ACCEPT, { expires: 600, contentType: ACCEPT });
  }

  /** Stops the agent (JsSIP closes the WebSocket). Subscriptions should be terminated first. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#ua.stop();
    } catch (error) {
      this.#log.warn('ua.stop() failed', { error: String(error) });
    }
    this.#setState('offline');
    this.events.removeAllListeners();
  }

  #setState(state: SipState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.events.safeEmit('state', state);
  }

  #wire(): void {
    const ua = this.#ua;
    let lost = false;
    ua.on('connecting', (e) => {
      if (this.#closed) return;
      this.#setState(lost || (e.attempts ?? 0) > 0 ? 'reconnecting' : 'connecting');
    });
    ua.on('connected', () => {
      if (this.#closed) return;
      this.#log.info('transport connected');
      this.#setState('connected');
    });
    ua.on('disconnected', (e) => {
      if (this.#closed) return;
      lost = true;
      this.#log.warn('transport disconnected', { code: e.code, reason: e.reason });
      this.#setState('reconnecting');
    });
    // Nobody should call the console (it has no binding); refuse anything that arrives anyway.
    ua.on('newRTCSession', (e: { session: RTCSession; originator: unknown }) => {
      if (String(e.originator) !== 'remote') return;
      try {
        e.session.terminate({ status_code: 480, reason_phrase: 'Admin Console Takes No Calls' });
      } catch {
        // already gone
      }
    });
  }
}
