/**
 * The Conclave focus: a drachtio-srf application. It connects to a drachtio(-compatible) server exactly
 * as any drachtio app does, authenticates users, keeps registrations, and runs every call as a B2BUA
 * whose media is anchored in mediasoup.
 */
import { EnhancedEventEmitter } from '@conclave/events';
import { isIP } from 'node:net';
import type { Logger } from '@conclave/log';
import type { MediaService } from '@conclave/media';
import { Call, type CallParty } from './call.ts';
import { DEFAULT_SESSION_TIMER, type SessionTimerSettings } from './session-timer.ts';
import { ConferenceFocus, type ReferMode } from './conference/conference-focus.ts';
import { UserDirectory, type DirectoryUserInput } from './directory.ts';
import { Registrar } from './registrar.ts';
import { registrarLocator, type UserLocator } from './user-locator.ts';
import { authenticatedUser, createSipAuth } from './sip-auth.ts';
import { userOf } from './sip-uri.ts';
import { createSrf, dialogsEnded, methodHandlers, type Srf, type SrfRequest, type SrfResponse, reply } from './srf.ts';

/** host[:port] for conference URIs: the domain, with the SIP port when the domain is an IP literal off 5060. */
export function conferenceHostFor(domain: string, sipPort: number): string {
  const ipLiteral = isIP(domain.replace(/^\[|\]$/g, '')) !== 0;
  if (!ipLiteral || sipPort === 5060) return domain;
  return `${domain.includes(':') && !domain.startsWith('[') ? `[${domain}]` : domain}:${sipPort}`;
}

export interface FocusOptions {
  /** Where the drachtio server's control port is, exactly as for `srf.connect`. */
  drachtio: { host: string; port: number; secret: string };
  domain: string;
  users: DirectoryUserInput[];
  admins: DirectoryUserInput[];
  media: MediaService;
  conference: {
    factoryUser: string;
    referMode: ReferMode;
    maxParticipants: number;
    allowExternalDialOut: boolean;
    conferenceHost?: string;
    /** A cluster node: conferences may live on other nodes (see ConferenceFocusOptions). */
    conferencesOnOtherNodes?: boolean;
  };
  /** RFC 4028 session timers on every dialog the focus holds (default 600 s, Min-SE 90 s). */
  sessionTimer?: SessionTimerSettings;
  /** How long a callee may ring before the focus gives up (480 "no answer" to the caller); default 60 s. */
  ringTimeoutMs?: number;
  /** Digest nonce key shared by the nodes of a cluster (a nonce from one node verifies on another). */
  nonceKey?: Buffer;
  /**
   * Where users the focus calls are (callees, dial-outs); default: its own registrar. A cluster node
   * looks them up in the edge's location store and calls them through the edge.
   */
  locateUser?: UserLocator;
  logger: Logger;
}

/** A callee rings this long before the focus gives up. */
export const DEFAULT_RING_TIMEOUT_MS = 60_000;

/** The methods the focus handles (Allow header of OPTIONS answers). */
const ALLOWED_METHODS = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, REFER, NOTIFY, SUBSCRIBE, UPDATE, INFO';

/** Live counts of what the focus holds (for /metrics). */
export interface FocusStats {
  calls: number;
  conferences: number;
  /** Participants of every live conference (connected or joining). */
  participants: number;
  /** Conference event package subscriptions. */
  subscriptions: number;
  /** Media dialogs owned by conferences (members). */
  members: number;
  registrations: number;
}

type FocusEvents = {
  connected: [hostport: string];
  disconnected: [];
};

export class Focus extends EnhancedEventEmitter<FocusEvents> {
  readonly directory: UserDirectory;
  readonly registrar: Registrar;
  readonly conferences: ConferenceFocus;
  readonly #srf: Srf;
  readonly #opts: FocusOptions;
  readonly #log: Logger;
  readonly #calls = new Map<string, Call>();
  readonly #locateUser: UserLocator;
  #closed = false;

  constructor(options: FocusOptions) {
    super(options.logger);
    this.#opts = options;
    this.#log = options.logger;
    this.directory = new UserDirectory(options.users, options.admins);
    this.registrar = new Registrar({ logger: this.#log.child('registrar') });
    this.#locateUser = options.locateUser ?? registrarLocator(this.registrar);
    this.#srf = createSrf();
    this.conferences = new ConferenceFocus({
      srf: this.#srf,
      media: options.media,
      directory: this.directory,
      locateUser: this.#locateUser,
      domain: options.domain,
      ...options.conference,
      sessionTimer: options.sessionTimer ?? DEFAULT_SESSION_TIMER,
      ringTimeoutMs: options.ringTimeoutMs ?? DEFAULT_RING_TIMEOUT_MS,
      logger: this.#log.child('conference'),
    });
    this.#installHandlers();
  }

  get srf(): Srf {
    return this.#srf;
  }

  get calls(): Call[] {
    return [...this.#calls.values()];
  }

  stats(): FocusStats {
    const sessions = this.conferences.sessions;
    return {
      calls: this.#calls.size,
      conferences: sessions.length,
      participants: sessions.reduce((n, s) => n + s.conference.size, 0),
      subscriptions: sessions.reduce((n, s) => n + s.subscriberCount, 0),
      members: sessions.reduce((n, s) => n + s.members.length, 0),
      registrations: this.registrar.bindingCount,
    };
  }

  /** Connects to the drachtio server; resolves on the first successful connection. */
  start(): Promise<string> {
    const { host, port, secret } = this.#opts.drachtio;
    return new Promise((resolve) => {
      let first = true;
      this.#srf.on('connect', (err, hostport) => {
        if (err) return;
        this.#log.info('connected to drachtio server', { at: `${host}:${port}`, sip: hostport });
        this.safeEmit('connected', hostport);
        if (first) {
          first = false;
          resolve(hostport);
        }
      });
      this.#srf.on('error', (err) => {
        // drachtio-srf reconnects by itself; say so once per failure.
        if (!this.#closed) this.#log.warn('drachtio connection error (retrying)', { error: err.message });
      });
      this.#srf.on('disconnect', () => {
        if (!this.#closed) this.#log.warn('disconnected from drachtio server');
        this.safeEmit('disconnected');
      });
      void this.#srf.connect({ host, port, secret });
    });
  }

  /** Ends every call with BYE, then disconnects. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const calls = this.calls;
    for (const call of calls) call.hangup('service shutting down');
    this.conferences.stop();
    await dialogsEnded(1000); // let the BYEs leave and be answered while the SIP server still runs
    this.registrar.close();
    this.#srf.disconnect();
    this.#log.info('focus stopped', { callsEnded: calls.length });
  }

  #installHandlers(): void {
    const srf = this.#srf;
    const handlers = methodHandlers(srf);
    const auth = createSipAuth({
      realm: this.#opts.domain,
      nonceKey: this.#opts.nonceKey,
      directory: this.directory,
      logger: this.#log.child('auth'),
    });
    for (const method of ['register', 'invite', 'subscribe', 'refer', 'message']) srf.use(method, auth);

    handlers.register((req, res) => this.registrar.handle(req, res));
    handlers.invite((req, res) => this.#guard(req, res, () => this.#onInvite(req, res)));
    handlers.subscribe((req, res) => this.#guard(req, res, () => this.conferences.handleSubscribe(req, res)));
    handlers.refer((req, res) =>
      this.#guard(req, res, () => this.conferences.handleRefer({ kind: 'out-of-dialog' }, req, res)),
    );
    handlers.options((_req, res) =>
      reply(res, 200, undefined, {
        headers: { Allow: ALLOWED_METHODS },
      }),
    );
  }

  #party(user: string): CallParty {
    const entry = this.directory.get(user);
    return { user, displayName: entry?.displayName ?? user, aor: `sip:${user}@${this.#opts.domain}` };
  }

  async #onInvite(req: SrfRequest, res: SrfResponse): Promise<void> {
    const callId = req.get('Call-ID');
    const log = this.#log.child({ callId });
    const caller = authenticatedUser(req)!;
    if (this.conferences.serves(req.uri)) {
      await this.conferences.handleInvite(req, res);
      return;
    }
    const target = userOf(req.uri);
    if (!target || !this.directory.get(target)) {
      log.info('call to unknown user', { caller, uri: req.uri });
      reply(res, 404, 'Not Found - no such user');
      return;
    }
    if (target === caller) {
      reply(res, 486, 'Busy Here - you cannot call yourself');
      return;
    }
    let cancelled = false;
    req.on('cancel', () => (cancelled = true));
    const binding = await this.#locateUser(target);
    if (cancelled) return; // answered 487 by the SIP server while the location was read
    if (!binding) {
      log.info('callee offline', { caller, callee: target });
      reply(res, 480, 'Temporarily Unavailable - user is offline');
      return;
    }
    const call = new Call(callId, {
      srf: this.#srf,
      media: this.#opts.media,
      domain: this.#opts.domain,
      caller: this.#party(caller),
      callee: this.#party(target),
      target: binding,
      sessionTimer: this.#opts.sessionTimer ?? DEFAULT_SESSION_TIMER,
      ringTimeoutMs: this.#opts.ringTimeoutMs ?? DEFAULT_RING_TIMEOUT_MS,
      logger: this.#log.child('call'),
    });
    this.#calls.set(callId, call);
    call.once('ended', () => this.#calls.delete(callId));
    call.on('refer', (side, referReq, referRes) =>
      this.#guard(referReq, referRes, () =>
        this.conferences.handleRefer({ kind: 'call', call, side }, referReq, referRes),
      ),
    );
    void call.start(req, res);
  }

  /** Runs an async handler; an unexpected failure is logged with the Call-ID and answered 500. */
  #guard(req: SrfRequest, res: SrfResponse, work: () => Promise<void>): void {
    work().catch((err: Error) => {
      this.#log.error('request handling failed', {
        callId: req.get('Call-ID'),
        method: req.method,
        error: err.message,
      });
      if (!res.finalResponseSent) reply(res, 500, 'Server Internal Error');
    });
  }
}
