/**
 * AdminConsole: the admin console's store. Owns the API client, the live conference list (the
 * admin API's event stream), the admin's SIP user agent and one roster subscription per
 * conference, and publishes immutable AdminSnapshots (React reads them with useSyncExternalStore).
 * Every admin intent is a method here; the UI never touches fetch, EventSource or JsSIP.
 */
import type { PhoneConfig } from '../phone/config.ts';
import { createConferenceInfoReader } from '../phone/conference-info-reader.ts';
import type { Logger } from '../phone/log.ts';
import type { ConferenceInfoReaderFactory } from '../phone/roster.ts';
import { userPart } from '../phone/target.ts';
import { AdminApiError, AdminClient, type ConferenceAction, type ParticipantAction } from './admin-client.ts';
import { AdminSipAgent } from './admin-sip.ts';
import {
  conferenceActionFailureText,
  feedStatusText,
  loginFailureText,
  participantActionFailureText,
  sipStatusText,
  type SipState,
} from './admin-words.ts';
import { sipKey, type ApiConference } from './api-types.ts';
import { ConferenceFeed, type FeedStatus } from './conference-feed.ts';
import { mergeRoster, type AdminRosterEntry } from './roster-merge.ts';
import { RosterSubscription, type RosterSubscriptionState } from './roster-subscription.ts';
import { AdminSessionStore } from './session-store.ts';

export type AdminPhase = 'signed-out' | 'signing-in' | 'signed-in';

/** data-subscription of admin-roster: a roster subscription state, or 'waiting' for the SIP agent. */
export type RosterState = RosterSubscriptionState | 'waiting';

export interface ConferenceView {
  readonly id: string;
  readonly uri: string;
  readonly creator: string;
  /** Epoch ms, null if the API sent no usable time. */
  readonly createdAt: number | null;
  readonly subject: string | null;
  readonly participantCount: number;
  readonly maxParticipants: number | null;
  readonly locked: boolean;
  readonly rosterState: RosterState;
  /** The first full conference-info state has arrived. */
  readonly rosterLoaded: boolean;
  readonly rosterError: string | null;
  readonly entries: readonly AdminRosterEntry[];
  /** Actions in flight: 'lock', 'end', 'mute:<entity>', 'kick:<entity>'. */
  readonly pending: readonly string[];
  /** The last failed action, in words. */
  readonly error: string | null;
}

export interface AdminSnapshot {
  readonly config: PhoneConfig;
  readonly phase: AdminPhase;
  /** The signed-in admin. */
  readonly user: string | null;
  /** Pre-fill for the login form. */
  readonly lastUser: string;
  readonly loginError: string | null;
  /** Logins are refused for a while (429): the submit button waits. */
  readonly throttled: boolean;
  readonly feed: FeedStatus;
  readonly feedText: string;
  readonly sip: SipState;
  readonly sipText: string;
  readonly conferences: readonly ConferenceView[];
  /** The list has been received at least once since signing in. */
  readonly listLoaded: boolean;
  /** Something that just happened, for a polite live region ("conference … ended"). */
  readonly notice: string | null;
}

export interface AdminConsoleOptions {
  readonly config: PhoneConfig;
  readonly log: Logger;
  readonly client?: AdminClient;
  readonly sessions?: AdminSessionStore;
  readonly conferenceInfoReader?: ConferenceInfoReaderFactory;
}

interface ConferenceEntry {
  api: ApiConference;
  subscription: RosterSubscription | null;
  pending: Set<string>;
  error: string | null;
  view: ConferenceView | null;
}

const SESSION_EXPIRED = 'your session has expired or was ended, sign in again';

export class AdminConsole {
  readonly config: PhoneConfig;
  #log: Logger;
  #client: AdminClient;
  #sessions: AdminSessionStore;
  #readerFactory: ConferenceInfoReaderFactory;
  #phase: AdminPhase = 'signed-out';
  #user: string | null = null;
  #loginError: string | null = null;
  #throttledUntil = 0;
  #throttleTimer: ReturnType<typeof setInterval> | undefined;
  #throttleError: AdminApiError | null = null;
  #feed: ConferenceFeed | null = null;
  #feedStatus: FeedStatus = { state: 'closed', retryAt: null, attempts: 0 };
  #feedTicker: ReturnType<typeof setInterval> | undefined;
  #sip: AdminSipAgent | null = null;
  #sipState: SipState = 'offline';
  #conferences = new Map<string, ConferenceEntry>();
  #listLoaded = false;
  #notice: string | null = null;
  /** Bumped at every sign-in/out: late answers of an earlier session are ignored. */
  #generation = 0;
  #listeners = new Set<() => void>();
  #snapshot: AdminSnapshot | null = null;

  constructor(options: AdminConsoleOptions) {
    this.config = options.config;
    this.#log = options.log;
    this.#client = options.client ?? new AdminClient({ base: options.config.adminApi });
    this.#sessions = options.sessions ?? new AdminSessionStore();
    this.#readerFactory = options.conferenceInfoReader ?? createConferenceInfoReader;
  }

  // ---- store protocol (useSyncExternalStore) ----

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getSnapshot = (): AdminSnapshot => {
    this.#snapshot ??= this.#buildSnapshot();
    return this.#snapshot;
  };

  // ---- sign-in ----

  /** Signs in again with a session kept in this browser, if there is one. */
  async restore(): Promise<void> {
    const stored = this.#sessions.load();
    if (!stored || this.#phase !== 'signed-out') return;
    const generation = ++this.#generation;
    this.#phase = 'signing-in';
    this.#changed();
    this.#client.setToken(stored.token);
    const check = await this.#client.checkSession().then(
      () => 'ok' as const,
      (error: unknown) =>
        error instanceof AdminApiError && error.kind === 'unauthorized'
          ? ('unauthorized' as const)
          : ('unreachable' as const),
    );
    if (generation !== this.#generation) return;
    if (check === 'unauthorized') {
      // The token expired (12 h) or was revoked: the kept password may still be good.
      this.#client.setToken(null);
      this.#phase = 'signed-out';
      await this.login(stored.user, stored.password, this.#sessions.remembered());
      if (this.#phase === 'signed-out') this.#loginError = SESSION_EXPIRED;
      this.#changed();
      return;
    }
    // 'unreachable': start anyway; the feed says so and keeps trying.
    this.#begin(stored.user, stored.password);
  }

  async login(user: string, password: string, remember: boolean): Promise<void> {
    if (this.#phase !== 'signed-out' || Date.now() < this.#throttledUntil) return;
    const name = user.trim();
    if (name === '') {
      this.#loginError = 'enter the administrator user name';
      this.#changed();
      return;
    }
    const generation = ++this.#generation;
    this.#phase = 'signing-in';
    this.#loginError = null;
    this.#changed();
    try {
      const grant = await this.#client.login(name, password);
      if (generation !== this.#generation) return;
      this.#sessions.save({ user: grant.user, token: grant.token, password }, remember);
      this.#begin(grant.user, password);
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#phase = 'signed-out';
      const apiError = error instanceof AdminApiError ? error : new AdminApiError('unreachable', String(error));
      this.#log.warn('admin login failed', { kind: apiError.kind, status: apiError.status });
      this.#loginError = loginFailureText(apiError);
      if (apiError.kind === 'throttled') this.#startThrottle(apiError);
      this.#changed();
    }
  }

  async logout(): Promise<void> {
    if (this.#phase === 'signed-out') return;
    this.#sessions.forget();
    this.#stop();
    this.#changed();
    await this.#client
      .logout()
      .catch((error: unknown) => this.#log.info('logout: the token could not be revoked', { error: String(error) }));
  }

  /** Stops everything without revoking the token (the tab is going away). */
  close(): void {
    this.#stop();
    clearInterval(this.#throttleTimer);
  }

  // ---- actions ----

  async toggleMute(conferenceId: string, entity: string): Promise<void> {
    const entry = this.#entryOf(conferenceId, entity);
    await this.#participantAction(
      conferenceId,
      entity,
      entry?.mutedByFocus ? 'unmute' : 'mute',
      `mute:${sipKey(entity)}`,
    );
  }

  async kick(conferenceId: string, entity: string): Promise<void> {
    await this.#participantAction(conferenceId, entity, 'kick', `kick:${sipKey(entity)}`);
  }

  async toggleLock(conferenceId: string): Promise<void> {
    const c = this.#conferences.get(conferenceId);
    if (!c) return;
    await this.#conferenceAction(conferenceId, c.api.locked ? 'unlock' : 'lock', 'lock');
  }

  async end(conferenceId: string): Promise<void> {
    await this.#conferenceAction(conferenceId, 'end', 'end');
  }

  dismissError(conferenceId: string): void {
    const c = this.#conferences.get(conferenceId);
    if (!c || c.error === null) return;
    c.error = null;
    this.#conferenceChanged(c);
  }

  dismissNotice(): void {
    if (this.#notice === null) return;
    this.#notice = null;
    this.#changed();
  }

  async #participantAction(
    conferenceId: string,
    entity: string,
    action: ParticipantAction,
    key: string,
  ): Promise<void> {
    const c = this.#conferences.get(conferenceId);
    if (!c || c.pending.has(key)) return;
    const generation = this.#generation;
    const who = this.#entryOf(conferenceId, entity)?.displayName ?? userPart(entity);
    c.pending.add(key);
    c.error = null;
    this.#conferenceChanged(c);
    try {
      let pid = this.#entryOf(conferenceId, entity)?.participantId ?? null;
      if (pid === null) {
        // The roster knows the user before the event stream told us its participant id: ask.
        const fresh = await this.#client.conference(conferenceId);
        if (generation !== this.#generation) return;
        this.#apply(fresh);
        pid = this.#entryOf(conferenceId, entity)?.participantId ?? null;
      }
      if (pid === null)
        throw new AdminApiError('refused', `${who} is not in the conference`, {
          status: 404,
          code: 'participant-not-found',
        });
      await this.#client.participantAction(conferenceId, pid, action);
    } catch (error) {
      if (generation !== this.#generation) return;
      const apiError = error instanceof AdminApiError ? error : new AdminApiError('unreachable', String(error));
      this.#log.warn('admin action failed', { action, conference: conferenceId, entity, error: apiError.message });
      if (apiError.kind === 'unauthorized') return this.#sessionLost();
      const current = this.#conferences.get(conferenceId);
      if (current) current.error = participantActionFailureText(action, who, apiError);
    } finally {
      const current = this.#conferences.get(conferenceId);
      if (current && generation === this.#generation) {
        current.pending.delete(key);
        this.#conferenceChanged(current);
      }
    }
  }

  async #conferenceAction(conferenceId: string, action: ConferenceAction, key: string): Promise<void> {
    const c = this.#conferences.get(conferenceId);
    if (!c || c.pending.has(key)) return;
    const generation = this.#generation;
    c.pending.add(key);
    c.error = null;
    this.#conferenceChanged(c);
    try {
      await this.#client.conferenceAction(conferenceId, action);
    } catch (error) {
      if (generation !== this.#generation) return;
      const apiError = error instanceof AdminApiError ? error : new AdminApiError('unreachable', String(error));
      this.#log.warn('admin action failed', { action, conference: conferenceId, error: apiError.message });
      if (apiError.kind === 'unauthorized') return this.#sessionLost();
      const current = this.#conferences.get(conferenceId);
      if (current) current.error = conferenceActionFailureText(action, apiError);
    } finally {
      const current = this.#conferences.get(conferenceId);
      if (current && generation === this.#generation) {
        current.pending.delete(key);
        this.#conferenceChanged(current);
      }
    }
  }

  #entryOf(conferenceId: string, entity: string): AdminRosterEntry | undefined {
    const c = this.#conferences.get(conferenceId);
    if (!c) return undefined;
    const key = sipKey(entity);
    return this.#viewOf(c).entries.find((e) => sipKey(e.entity) === key);
  }

  // ---- session lifecycle ----

  #begin(user: string, password: string): void {
    this.#phase = 'signed-in';
    this.#user = user;
    this.#loginError = null;
    this.#listLoaded = false;
    this.#notice = null;
    const generation = this.#generation;

    const feed = new ConferenceFeed({
      url: () => this.#client.eventsUrl(),
      checkSession: () =>
        this.#client.checkSession().then(
          () => 'ok' as const,
          (error: unknown) =>
            error instanceof AdminApiError && error.kind === 'unauthorized'
              ? ('unauthorized' as const)
              : ('unreachable' as const),
        ),
      log: this.#log,
    });
    this.#feed = feed;
    feed.events.on('status', (status) => {
      this.#feedStatus = status;
      // Count down "reconnecting in N s" while waiting.
      clearInterval(this.#feedTicker);
      if (status.retryAt !== null) this.#feedTicker = setInterval(() => this.#changed(), 1000);
      this.#changed();
    });
    feed.events.on('snapshot', (list) => {
      this.#listLoaded = true;
      const next = new Map<string, ConferenceEntry>();
      for (const api of list) {
        const old = this.#conferences.get(api.id);
        next.set(api.id, old ? { ...old, api, view: null } : this.#newEntry(api));
      }
      for (const [id, old] of this.#conferences) if (!next.has(id)) old.subscription?.close();
      this.#conferences = next;
      this.#reconcileSubscriptions();
      this.#changed();
    });
    feed.events.on('created', (api) => {
      this.#apply(api);
      this.#reconcileSubscriptions();
    });
    feed.events.on('updated', (api) => this.#apply(api));
    feed.events.on('ended', (ended) => {
      const c =
        this.#conferences.get(ended.id) ??
        [...this.#conferences.values()].find((x) => sipKey(x.api.uri) === sipKey(ended.uri));
      if (!c) return;
      c.subscription?.close();
      this.#conferences.delete(c.api.id);
      this.#notice = `conference ${userPart(c.api.uri)} ended${ended.reason ? ` (${ended.reason})` : ''}`;
      this.#changed();
    });
    feed.events.on('unauthorized', () => {
      if (generation === this.#generation) this.#sessionLost();
    });
    feed.start();

    try {
      const sip = new AdminSipAgent({
        wsUri: this.config.wsUri,
        domain: this.config.domain,
        user,
        password,
        log: this.#log,
      });
      this.#sip = sip;
      sip.events.on('state', (state) => {
        const wasConnected = this.#sipState === 'connected';
        this.#sipState = state;
        if (state === 'connected') {
          // After a transport loss the old subscription dialogs are gone: subscribe afresh.
          if (!wasConnected) for (const c of this.#conferences.values()) c.subscription?.restart();
          this.#reconcileSubscriptions();
        }
        this.#changed();
      });
      sip.start();
    } catch (error) {
      this.#log.error('the admin SIP user agent could not start', { error: String(error) });
      this.#sipState = 'offline';
    }
    this.#changed();
  }

  /** The token is no longer accepted: back to the login form, saying why. */
  #sessionLost(): void {
    this.#sessions.forget();
    this.#client.setToken(null);
    this.#stop();
    this.#loginError = SESSION_EXPIRED;
    this.#changed();
  }

  #stop(): void {
    this.#generation += 1;
    clearInterval(this.#feedTicker);
    this.#feed?.close();
    this.#feed = null;
    this.#feedStatus = { state: 'closed', retryAt: null, attempts: 0 };
    for (const c of this.#conferences.values()) c.subscription?.close();
    this.#conferences.clear();
    this.#sip?.close();
    this.#sip = null;
    this.#sipState = 'offline';
    this.#phase = 'signed-out';
    this.#user = null;
    this.#listLoaded = false;
    this.#notice = null;
  }

  #startThrottle(error: AdminApiError): void {
    const seconds = error.retryAfterSeconds ?? 60;
    this.#throttledUntil = Date.now() + seconds * 1000;
    this.#throttleError = error;
    clearInterval(this.#throttleTimer);
    this.#throttleTimer = setInterval(() => {
      const left = Math.ceil((this.#throttledUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(this.#throttleTimer);
        this.#throttleError = null;
        if (this.#phase === 'signed-out') this.#loginError = 'you can try again now';
      } else if (this.#throttleError && this.#phase === 'signed-out') {
        this.#loginError = loginFailureText(this.#throttleError, left);
      }
      this.#changed();
    }, 1000);
  }

  // ---- conferences ----

  #newEntry(api: ApiConference): ConferenceEntry {
    return { api, subscription: null, pending: new Set(), error: null, view: null };
  }

  /** A conference-created / -updated payload or a fetched detail. */
  #apply(api: ApiConference): void {
    const c = this.#conferences.get(api.id);
    if (c) {
      c.api = api;
      this.#conferenceChanged(c);
    } else {
      this.#conferences.set(api.id, this.#newEntry(api));
      this.#changed();
    }
  }

  /** One roster subscription per listed conference while the SIP agent is connected. */
  #reconcileSubscriptions(): void {
    const sip = this.#sip;
    if (!sip || !sip.connected) return;
    for (const c of this.#conferences.values()) {
      if (c.subscription) continue;
      const subscription = new RosterSubscription(c.api.uri, sip, this.#readerFactory, this.#log);
      c.subscription = subscription;
      subscription.events.on('change', () => {
        const current = this.#conferences.get(c.api.id);
        if (current?.subscription === subscription) this.#conferenceChanged(current);
      });
      subscription.start();
    }
  }

  #viewOf(c: ConferenceEntry): ConferenceView {
    if (c.view) return c.view;
    const sub = c.subscription?.snapshot ?? null;
    const rosterState: RosterState = sub ? sub.state : 'waiting';
    const created = Date.parse(c.api.createdAt);
    c.view = Object.freeze({
      id: c.api.id,
      uri: c.api.uri,
      creator: c.api.creator,
      createdAt: Number.isFinite(created) ? created : null,
      subject: c.api.subject,
      participantCount: c.api.participantCount,
      maxParticipants: c.api.maxParticipants,
      locked: c.api.locked,
      rosterState,
      rosterLoaded: sub?.roster != null,
      rosterError: sub?.error ?? null,
      entries: Object.freeze(mergeRoster(sub?.roster ?? null, c.api.participants, rosterState === 'failed')),
      pending: Object.freeze([...c.pending]),
      error: c.error,
    });
    return c.view;
  }

  #conferenceChanged(c: ConferenceEntry): void {
    c.view = null;
    this.#changed();
  }

  // ---- snapshots ----

  #buildSnapshot(): AdminSnapshot {
    const feedRetry =
      this.#feedStatus.retryAt === null ? null : Math.max(0, Math.ceil((this.#feedStatus.retryAt - Date.now()) / 1000));
    return Object.freeze({
      config: this.config,
      phase: this.#phase,
      user: this.#user,
      lastUser: this.#sessions.lastUser(),
      loginError: this.#loginError,
      throttled: Date.now() < this.#throttledUntil,
      feed: this.#feedStatus,
      feedText: feedStatusText(this.#feedStatus.state, feedRetry, this.#feedStatus.attempts),
      sip: this.#sipState,
      sipText: sipStatusText(this.#sipState, this.config.wsUri),
      conferences: Object.freeze([...this.#conferences.values()].map((c) => this.#viewOf(c))),
      listLoaded: this.#listLoaded,
      notice: this.#notice,
    });
  }

  #changed(): void {
    this.#snapshot = null;
    for (const listener of [...this.#listeners]) listener();
  }
}
