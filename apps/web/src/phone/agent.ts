/**
 * SipAgent: one signed-in JsSIP user agent (REGISTER over SIP/WebSocket, automatic reconnect)
 * with typed events. It knows nothing of lines, React or conferences.
 */
import { UA, WebSocketInterface } from 'jssip';
import type { CallOptions, SubscriberOptions } from 'jssip/lib/UA';
import type { RTCSession } from 'jssip/lib/RTCSession';
import type { IncomingRequest, IncomingResponse, OutgoingRequest } from 'jssip/lib/SIPMessage';
import type { Subscriber } from 'jssip/lib/Subscriber';
import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from './log.ts';
import { describeRegistrationFailure, type AgentStatus } from './words.ts';
import type { PhoneConfig } from './config.ts';

export interface Credentials {
  /** "alice" (or "alice@example.org" to use another domain). */
  readonly user: string;
  readonly password: string;
}

export interface NewSession {
  readonly session: RTCSession;
  readonly originator: 'local' | 'remote';
  readonly request: IncomingRequest | OutgoingRequest;
}

export type AgentEvents = {
  status: [AgentStatus];
  /** A call was created (outgoing by us, or incoming from the network). */
  session: [NewSession];
  /** REGISTER was rejected for the credentials: retrying is pointless. */
  authFailed: [message: string];
};

export const APP_USER_AGENT = 'Conclave-Web/0.1 (JsSIP 3.13.8)';

/** Splits "alice" / "alice@host" into user and domain. */
export function accountOf(user: string, defaultDomain: string): { user: string; domain: string; uri: string } {
  const trimmed = user.trim().replace(/^sips?:/i, '');
  const at = trimmed.lastIndexOf('@');
  const name = at === -1 ? trimmed : trimmed.slice(0, at);
  const domain = at === -1 ? defaultDomain : trimmed.slice(at + 1);
  return { user: name, domain, uri: `sip:${name}@${domain}` };
}

function statusCodeOf(response: IncomingResponse | undefined): number | null {
  return response && typeof response.status_code === 'number' ? response.status_code : null;
}

export class SipAgent {
  readonly events = new EnhancedEventEmitter<AgentEvents>();
  /** sip:alice@127.0.0.1 */
  readonly uri: string;
  readonly user: string;
  readonly domain: string;
  #ua: UA;
  #log: Logger;
  #status: AgentStatus;
  #closed = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  /** Throws if JsSIP rejects the configuration (e.g. an impossible user name). */
  constructor(config: PhoneConfig, credentials: Credentials, log: Logger) {
    const account = accountOf(credentials.user, config.domain);
    this.uri = account.uri;
    this.user = account.user;
    this.domain = account.domain;
    this.#log = log.child({ aor: this.uri });
    this.#status = {
      connection: 'offline',
      registration: 'none',
      failure: null,
      aor: `${account.user}@${account.domain}`,
      attempts: 0,
      everConnected: false,
    };
    const socket = new WebSocketInterface(config.wsUri);
    this.#ua = new UA({
      sockets: [socket],
      uri: account.uri,
      authorization_user: account.user,
      password: credentials.password,
      display_name: account.user.charAt(0).toUpperCase() + account.user.slice(1),
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: APP_USER_AGENT,
      no_answer_timeout: 60,
      // JsSIP's own reconnect, tuned so a restarted server is found again quickly.
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 8,
    });
    this.#wire();
  }

  get status(): AgentStatus {
    return this.#status;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get registered(): boolean {
    return this.#status.registration === 'registered';
  }

  get connected(): boolean {
    return this.#status.connection === 'connected';
  }

  start(): void {
    if (this.#closed) throw new Error(`SipAgent ${this.uri}: start() after close()`);
    this.#setStatus({ connection: 'connecting', attempts: 0 });
    this.#ua.start();
  }

  /** Places a call; 'session' is emitted synchronously before this returns. */
  call(target: string, options: CallOptions): RTCSession {
    if (this.#closed) throw new Error('signed out');
    return this.#ua.call(target, options);
  }

  /** RFC 6665 subscription (used for the RFC 4575 "conference" package). */
  subscribe(target: string, eventName: string, accept: string, options: SubscriberOptions): Subscriber {
    if (this.#closed) throw new Error('signed out');
    return this.#ua.subscribe(target, eventName, accept, options);
  }

  /**
   * Unregisters (waiting briefly for the answer) and stops the agent: JsSIP hangs up every
   * session and closes the WebSocket. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const ua = this.#ua;
    if (ua.isRegistered()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1500);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        ua.once('unregistered', done);
        ua.once('registrationFailed', done);
        ua.once('disconnected', done);
        ua.unregister();
      });
    }
    try {
      ua.stop();
    } catch (error) {
      this.#log.warn('ua.stop() failed', { error: String(error) });
    }
    this.#setStatus({
      connection: 'offline',
      registration: this.#status.registration === 'failed' ? 'failed' : 'none',
      attempts: 0,
    });
  }

  #setStatus(patch: Partial<AgentStatus>): void {
    this.#status = { ...this.#status, ...patch };
    this.events.safeEmit('status', this.#status);
  }

  #wire(): void {
    const ua = this.#ua;
    let lostOnce = false;
    ua.on('connecting', (e) => {
      if (this.#closed) return;
      const attempts = e.attempts ?? 0;
      this.#setStatus({ connection: lostOnce || attempts > 0 ? 'reconnecting' : 'connecting', attempts });
    });
    ua.on('connected', () => {
      if (this.#closed) return;
      this.#log.info('transport connected');
      this.#setStatus({
        connection: 'connected',
        attempts: 0,
        everConnected: true,
        // JsSIP sends REGISTER right after connecting (also after a reconnect).
        registration: this.#status.registration === 'failed' ? 'failed' : 'registering',
      });
    });
    ua.on('disconnected', (e) => {
      if (this.#closed) return;
      lostOnce = true;
      this.#log.warn('transport disconnected', { code: e.code, reason: e.reason, error: e.error });
      this.#setStatus({
        connection: 'reconnecting',
        registration: this.#status.registration === 'failed' ? 'failed' : 'none',
      });
    });
    ua.on('registered', () => {
      if (this.#closed) return;
      this.#log.info('registered');
      this.#setStatus({ registration: 'registered', failure: null });
    });
    ua.on('unregistered', () => {
      if (this.#closed) return;
      this.#setStatus({ registration: 'none' });
    });
    ua.on('registrationFailed', (e) => {
      if (this.#closed) return;
      const code = statusCodeOf(e.response);
      const cause = e.cause === undefined ? null : String(e.cause);
      const failure = describeRegistrationFailure(code, cause, e.response?.reason_phrase ?? null);
      this.#log.warn('registration failed', { code, cause });
      this.#setStatus({ registration: 'failed', failure });
      const credentialsRejected =
        code === 401 || code === 403 || code === 407 || code === 404 || cause === 'Authentication Error';
      if (credentialsRejected) {
        this.events.safeEmit('authFailed', failure);
      } else {
        // Server trouble (5xx, timeout): JsSIP would only retry after a reconnect, so retry here.
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => {
          if (!this.#closed && ua.isConnected() && !ua.isRegistered()) ua.register();
        }, 5000);
      }
    });
    ua.on(
      'newRTCSession',
      (e: { session: RTCSession; originator: unknown; request: IncomingRequest | OutgoingRequest }) => {
        const originator = String(e.originator) === 'remote' ? 'remote' : 'local';
        this.events.safeEmit('session', { session: e.session, originator, request: e.request });
      },
    );
  }
}
