/**
 * One conference: who is in it and in which state, and the rules for joining. Pure logic: it knows
 * nothing of sockets, SIP transactions or media. The focus calls the operations when signalling
 * happens and listens to the events; subscribers get documents from toConferenceInfo().
 */

import { createLogger, type Logger } from '@conclave/log';
import type {
  AvailableMediaEntry,
  ConferenceInfo,
  DisconnectionMethod,
  HostInfo,
  JoiningMethod,
  SipDialogId,
  User,
} from '@conclave/conference-info';
import { conferenceUriKey, randomId } from './conference-uri.ts';
import { ConferenceError } from './errors.ts';
import {
  PARTICIPANT_STATUSES,
  type DepartedParticipant,
  type Participant,
  type ParticipantChange,
  type ParticipantMedia,
  type ParticipantStatus,
} from './participant.ts';
import { EnhancedEventEmitter } from '@conclave/events';
import {
  checkMedia,
  endpointOf,
  freezeDeparted,
  freezeParticipant,
  JOINING_METHODS,
  LEAVE_METHODS,
  type DepartedRecord,
  type ParticipantRecord,
} from './participant-records.ts';

export type ConferenceEvents = {
  participantJoined: [participant: Participant];
  participantUpdated: [participant: Participant, change: ParticipantChange];
  participantLeft: [participant: DepartedParticipant];
  lockChanged: [locked: boolean];
  speakerChanged: [speaker: Participant | undefined];
  /** Subject or display text changed. */
  descriptionChanged: [];
  /** The conference-info state changed (once per operation or batch): time to notify subscribers. */
  changed: [];
  /** Emitted once; every participant has left (booted) before. */
  ended: [reason: string | undefined];
};

export interface ConferenceOptions {
  id: string;
  /** The conference URI (the focus's URI for this conference). */
  uri: string;
  /** Who created it (a SIP URI or an admin identity). Participants with this entity get the "creator" role. */
  creator: string;
  /** Epoch milliseconds; default now. */
  createdAt?: number;
  /** Maximum participants (endpoints) at once, default 50. */
  maxParticipants?: number;
  locked?: boolean;
  subject?: string;
  displayText?: string;
  /** Advertised in conference-description/available-media. */
  availableMedia?: AvailableMediaEntry[];
  hostInfo?: HostInfo;
  /** How many departed participants to remember (newest first), default 20. */
  departedRetention?: number;
  logger?: Logger;
  /** Clock (epoch ms), for tests. */
  now?: () => number;
  /** Participant id generator, for tests. */
  participantIdGenerator?: () => string;
}

export interface JoinRequest {
  /** The user's SIP URI (From / P-Asserted-Identity). */
  entity: string;
  displayName?: string;
  /** The endpoint's identity (Contact URI, GRUU); default `<entity>;participant=<id>`. Must be unique. */
  endpointEntity?: string;
  /** Default 'dialed-in'. */
  joiningMethod?: JoiningMethod;
  /** URI of who brought the participant in (REFER sender, admin). */
  by?: string;
  reason?: string;
  /** Default 'connected'. Use 'dialing-in' to hold a place while the call is being answered. */
  status?: ParticipantStatus;
  media?: ParticipantMedia[];
  /** Default ["creator", "participant"] for the creator, ["participant"] otherwise. */
  roles?: string[];
  callInfo?: SipDialogId;
  /** Admit even though the conference is locked (focus owner / admin dial-out). The size limit still applies. */
  ignoreLock?: boolean;
}

export interface LeaveOptions {
  reason?: string;
  /** URI of who removed the participant (for 'booted'). */
  by?: string;
}

export interface ConferenceInfoOptions {
  /** Document version (the per-subscription counter is the caller's), default 0. */
  version?: number;
  /** List recently departed participants as disconnected endpoints with their disconnection method, default false. */
  includeDeparted?: boolean;
}

export interface ConferenceSnapshot {
  id: string;
  uri: string;
  creator: string;
  createdAt: string;
  subject: string | undefined;
  displayText: string | undefined;
  locked: boolean;
  ended: boolean;
  maxParticipants: number;
  participants: Participant[];
  activeSpeaker: string | undefined;
}

export class Conference extends EnhancedEventEmitter<ConferenceEvents> {
  readonly id: string;
  readonly uri: string;
  readonly creator: string;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly maxParticipants: number;

  readonly #log: Logger;
  readonly #now: () => number;
  readonly #newParticipantId: () => string;
  readonly #departedRetention: number;
  readonly #availableMedia: AvailableMediaEntry[] | undefined;
  readonly #hostInfo: HostInfo | undefined;
  readonly #participants = new Map<string, ParticipantRecord>();
  #departed: DepartedRecord[] = [];
  #locked: boolean;
  #subject: string | undefined;
  #displayText: string | undefined;
  #speaker: string | undefined;
  #ended = false;
  #endReason: string | undefined;
  #batchDepth = 0;
  #dirty = false;

  constructor(options: ConferenceOptions) {
    super((error, event) => this.#log.error('conference event listener threw', { event, error }));
    if (typeof options.id !== 'string' || options.id === '')
      throw new ConferenceError('invalid-argument', 'a conference needs an id');
    if (typeof options.uri !== 'string' || options.uri === '')
      throw new ConferenceError('invalid-argument', 'a conference needs a URI');
    if (typeof options.creator !== 'string' || options.creator === '')
      throw new ConferenceError('invalid-argument', 'a conference needs a creator');
    const max = options.maxParticipants ?? 50;
    if (!Number.isInteger(max) || max < 1 || max > 100_000)
      throw new ConferenceError('invalid-argument', `bad maximum participants ${max}`);
    const retention = options.departedRetention ?? 20;
    if (!Number.isInteger(retention) || retention < 0)
      throw new ConferenceError('invalid-argument', `bad departed retention ${retention}`);
    this.id = options.id;
    this.uri = options.uri;
    this.creator = options.creator;
    this.#now = options.now ?? Date.now;
    this.createdAt = options.createdAt ?? this.#now();
    this.maxParticipants = max;
    this.#locked = options.locked ?? false;
    this.#subject = options.subject;
    this.#displayText = options.displayText;
    this.#availableMedia = options.availableMedia?.map((m) => ({ ...m }));
    this.#hostInfo = options.hostInfo;
    this.#departedRetention = retention;
    this.#newParticipantId = options.participantIdGenerator ?? (() => randomId('p_'));
    this.#log = (options.logger ?? createLogger('conference')).child({ conference: this.id });
  }

  // --- reading -------------------------------------------------------------------------------

  get locked(): boolean {
    return this.#locked;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get endReason(): string | undefined {
    return this.#endReason;
  }

  get subject(): string | undefined {
    return this.#subject;
  }

  get displayText(): string | undefined {
    return this.#displayText;
  }

  /** Number of participants (endpoints) in the conference, whatever their status. */
  get size(): number {
    return this.#participants.size;
  }

  /** Distinct users (entities) in the conference: the RFC 4575 user-count. */
  get userCount(): number {
    return new Set([...this.#participants.values()].map((p) => p.entity)).size;
  }

  /** Participants in join order. */
  get participants(): Participant[] {
    return [...this.#participants.values()].map(freezeParticipant);
  }

  /** Recently departed participants, newest first (at most `departedRetention`). */
  get departed(): DepartedParticipant[] {
    return this.#departed.map(freezeDeparted);
  }

  get activeSpeaker(): Participant | undefined {
    const r = this.#speaker === undefined ? undefined : this.#participants.get(this.#speaker);
    return r && freezeParticipant(r);
  }

  participant(id: string): Participant | undefined {
    const r = this.#participants.get(id);
    return r && freezeParticipant(r);
  }

  /** Participants whose user entity or endpoint entity matches (SIP URIs compared by user@host). */
  findByEntity(entity: string): Participant[] {
    const key = conferenceUriKey(entity);
    return [...this.#participants.values()]
      .filter(
        (p) =>
          p.entity === entity ||
          p.endpointEntity === entity ||
          (key !== undefined && (conferenceUriKey(p.entity) === key || conferenceUriKey(p.endpointEntity) === key)),
      )
      .map(freezeParticipant);
  }

  // --- membership ----------------------------------------------------------------------------

  /**
   * Admits a participant. Throws ConferenceError: 'ended', 'locked' (unless ignoreLock), 'full',
   * 'duplicate' (endpoint already in), 'invalid-argument'.
   */
  join(request: JoinRequest): Participant {
    this.#assertOpen();
    if (typeof request?.entity !== 'string' || request.entity.trim() === '')
      throw new ConferenceError('invalid-argument', 'a participant needs an entity', { conference: this.id });
    const joiningMethod = request.joiningMethod ?? 'dialed-in';
    if (!JOINING_METHODS.includes(joiningMethod))
      throw new ConferenceError('invalid-argument', `bad joining method ${String(joiningMethod)}`, {
        conference: this.id,
      });
    const status = request.status ?? 'connected';
    if (!PARTICIPANT_STATUSES.includes(status))
      throw new ConferenceError('invalid-argument', `bad status ${String(status)}`, { conference: this.id });
    if (this.#locked && !request.ignoreLock) {
      this.#log.info('join refused: conference locked', { entity: request.entity });
      throw new ConferenceError('locked', `conference ${this.uri} is locked`, {
        conference: this.id,
        entity: request.entity,
      });
    }
    if (this.#participants.size >= this.maxParticipants) {
      this.#log.info('join refused: conference full', { entity: request.entity, max: this.maxParticipants });
      throw new ConferenceError('full', `conference ${this.uri} is full (${this.maxParticipants} participants)`, {
        conference: this.id,
        entity: request.entity,
      });
    }
    let id = this.#newParticipantId();
    for (let attempt = 0; this.#participants.has(id) || this.#departed.some((d) => d.id === id); attempt++) {
      if (attempt > 8)
        throw new ConferenceError('invalid-state', 'participant id generator keeps repeating itself', {
          conference: this.id,
        });
      id = this.#newParticipantId();
    }
    const entity = request.entity.trim();
    const endpointEntity = request.endpointEntity ?? `${entity};participant=${id}`;
    if ([...this.#participants.values()].some((p) => p.endpointEntity === endpointEntity)) {
      throw new ConferenceError('duplicate', `endpoint ${endpointEntity} is already in the conference`, {
        conference: this.id,
        endpoint: endpointEntity,
      });
    }
    const media = checkMedia(request.media, { conference: this.id });
    const now = this.#now();
    const isCreator =
      entity === this.creator ||
      (conferenceUriKey(entity) !== undefined && conferenceUriKey(entity) === conferenceUriKey(this.creator));
    const record: ParticipantRecord = {
      id,
      entity,
      endpointEntity,
      displayName: request.displayName,
      status,
      joiningMethod,
      joiningInfo: Object.fromEntries(
        Object.entries({ when: new Date(now).toISOString(), reason: request.reason, by: request.by }).filter(
          ([, v]) => v !== undefined,
        ),
      ),
      joinedAt: now,
      onHold: false,
      mutedByFocus: false,
      mutedBy: undefined,
      speaking: false,
      media,
      roles: request.roles ? [...request.roles] : isCreator ? ['creator', 'participant'] : ['participant'],
      callInfo: request.callInfo && { ...request.callInfo },
    };
    // A rejoining endpoint replaces its departed record (endpoint entities are keys in documents).
    this.#departed = this.#departed.filter((d) => d.endpointEntity !== endpointEntity);
    this.#participants.set(id, record);
    this.#log.info('participant joined', {
      participant: id,
      entity,
      method: joiningMethod,
      status,
      size: this.#participants.size,
    });
    const snapshot = freezeParticipant(record);
    this.safeEmit('participantJoined', snapshot);
    this.#changed();
    return snapshot;
  }

  /** Removes a participant, remembering how it left. Throws 'not-found'. */
  leave(
    participantId: string,
    method: DisconnectionMethod = 'departed',
    options: LeaveOptions = {},
  ): DepartedParticipant {
    const record = this.#record(participantId);
    if (!LEAVE_METHODS.includes(method))
      throw new ConferenceError('invalid-argument', `bad disconnection method ${String(method)}`, {
        conference: this.id,
      });
    const now = this.#now();
    const departed: DepartedRecord = {
      ...record,
      speaking: false,
      disconnectionMethod: method,
      disconnectionInfo: Object.fromEntries(
        Object.entries({ when: new Date(now).toISOString(), reason: options.reason, by: options.by }).filter(
          ([, v]) => v !== undefined,
        ),
      ),
      leftAt: now,
    };
    this.#participants.delete(participantId);
    if (this.#departedRetention > 0) {
      this.#departed = [departed, ...this.#departed.filter((d) => d.endpointEntity !== departed.endpointEntity)].slice(
        0,
        this.#departedRetention,
      );
    }
    this.#log.info('participant left', {
      participant: participantId,
      method,
      reason: options.reason,
      size: this.#participants.size,
    });
    const snapshot = freezeDeparted(departed);
    this.batch(() => {
      this.safeEmit('participantLeft', snapshot);
      if (this.#speaker === participantId) {
        this.#speaker = undefined;
        this.safeEmit('speakerChanged', undefined);
      }
      this.#changed();
    });
    return snapshot;
  }

  /** Forgets departed participants (they disappear from documents that include them). */
  forgetDeparted(): void {
    if (this.#departed.length === 0) return;
    this.#departed = [];
    this.#changed();
  }

  // --- participant state ---------------------------------------------------------------------

  /** Call progress: 'dialing-in' → 'connected', 'connected' → 'disconnecting'... */
  setStatus(participantId: string, status: ParticipantStatus): Participant {
    if (!PARTICIPANT_STATUSES.includes(status))
      throw new ConferenceError('invalid-argument', `bad status ${String(status)}`, { conference: this.id });
    return this.#update(participantId, 'status', (r) => {
      if (r.status === status) return false;
      r.status = status;
      return true;
    });
  }

  /** The call is established (shorthand for setStatus(id, 'connected')). */
  connect(participantId: string): Participant {
    return this.setStatus(participantId, 'connected');
  }

  hold(participantId: string): Participant {
    return this.#update(participantId, 'hold', (r) => {
      if (r.onHold) return false;
      r.onHold = true;
      return true;
    });
  }

  resume(participantId: string): Participant {
    return this.#update(participantId, 'resume', (r) => {
      if (!r.onHold) return false;
      r.onHold = false;
      return true;
    });
  }

  /** The focus stops forwarding the participant's audio. `by`: URI of who muted. */
  mute(participantId: string, options: { by?: string } = {}): Participant {
    return this.#update(participantId, 'mute', (r) => {
      if (r.mutedByFocus) return false;
      r.mutedByFocus = true;
      r.mutedBy = options.by;
      if (r.speaking) {
        // A muted participant is not heard: it cannot be the speaker.
        r.speaking = false;
        this.#speaker = undefined;
        this.safeEmit('speakerChanged', undefined);
      }
      return true;
    });
  }

  unmute(participantId: string): Participant {
    return this.#update(participantId, 'unmute', (r) => {
      if (!r.mutedByFocus) return false;
      r.mutedByFocus = false;
      r.mutedBy = undefined;
      return true;
    });
  }

  /** Replaces the participant's negotiated media (after an offer/answer). */
  setMedia(participantId: string, media: ParticipantMedia[]): Participant {
    const checked = checkMedia(media, { conference: this.id, participant: participantId });
    return this.#update(participantId, 'media', (r) => {
      if (JSON.stringify(r.media) === JSON.stringify(checked)) return false;
      r.media = checked;
      return true;
    });
  }

  setDisplayName(participantId: string, displayName: string | undefined): Participant {
    return this.#update(participantId, 'display-name', (r) => {
      if (r.displayName === displayName) return false;
      r.displayName = displayName;
      return true;
    });
  }

  /**
   * Sets the active speaker (one at a time; undefined: nobody). Returns false when nothing changed.
   * Throws 'not-found' for an unknown participant.
   */
  setSpeaker(participantId: string | undefined): boolean {
    this.#assertOpen();
    if (participantId !== undefined) this.#record(participantId);
    if (participantId === this.#speaker) return false;
    this.batch(() => {
      const previous = this.#speaker === undefined ? undefined : this.#participants.get(this.#speaker);
      if (previous) {
        previous.speaking = false;
        this.safeEmit('participantUpdated', freezeParticipant(previous), 'speaking');
      }
      const next = participantId === undefined ? undefined : this.#participants.get(participantId);
      if (next) {
        next.speaking = true;
        this.safeEmit('participantUpdated', freezeParticipant(next), 'speaking');
      }
      this.#speaker = participantId;
      this.#log.debug('active speaker', { participant: participantId });
      this.safeEmit('speakerChanged', next && freezeParticipant(next));
      this.#changed();
    });
    return true;
  }

  // --- conference state ----------------------------------------------------------------------

  /** Refuses new participants from now on. Returns false if already locked. */
  lock(): boolean {
    this.#assertOpen();
    if (this.#locked) return false;
    this.#locked = true;
    this.#log.info('conference locked');
    this.batch(() => {
      this.safeEmit('lockChanged', true);
      this.#changed();
    });
    return true;
  }

  unlock(): boolean {
    this.#assertOpen();
    if (!this.#locked) return false;
    this.#locked = false;
    this.#log.info('conference unlocked');
    this.batch(() => {
      this.safeEmit('lockChanged', false);
      this.#changed();
    });
    return true;
  }

  setSubject(subject: string | undefined): boolean {
    this.#assertOpen();
    if (subject === this.#subject) return false;
    this.#subject = subject;
    this.batch(() => {
      this.safeEmit('descriptionChanged');
      this.#changed();
    });
    return true;
  }

  setDisplayText(displayText: string | undefined): boolean {
    this.#assertOpen();
    if (displayText === this.#displayText) return false;
    this.#displayText = displayText;
    this.batch(() => {
      this.safeEmit('descriptionChanged');
      this.#changed();
    });
    return true;
  }

  /**
   * Ends the conference: every participant leaves as 'booted' (the focus hangs up on them), then
   * `ended` is emitted. Idempotent. Operations other than reading throw 'ended' afterwards.
   */
  end(reason?: string): void {
    if (this.#ended) return;
    this.batch(() => {
      for (const id of [...this.#participants.keys()])
        this.leave(id, 'booted', { reason: reason ?? 'conference ended' });
      this.#ended = true;
      this.#endReason = reason;
      this.#log.info('conference ended', { reason });
      this.safeEmit('ended', reason);
      this.#changed();
    });
  }

  /**
   * Runs several operations and emits a single `changed` at the end (one NOTIFY instead of many).
   * Other events are emitted as the operations happen.
   */
  batch<T>(fn: () => T): T {
    this.#batchDepth++;
    try {
      return fn();
    } finally {
      this.#batchDepth--;
      if (this.#batchDepth === 0 && this.#dirty) {
        this.#dirty = false;
        this.safeEmit('changed');
      }
    }
  }

  // --- documents -----------------------------------------------------------------------------

  /** The full RFC 4575 state of the conference. */
  toConferenceInfo(options: ConferenceInfoOptions = {}): ConferenceInfo {
    const users = new Map<string, User>();
    const userOf = (r: ParticipantRecord): User => {
      let user = users.get(r.entity);
      if (!user) {
        user = { entity: r.entity, roles: [...r.roles], endpoints: [] };
        users.set(r.entity, user);
      }
      if (user.displayText === undefined && r.displayName !== undefined) user.displayText = r.displayName;
      return user;
    };
    for (const r of this.#participants.values()) userOf(r).endpoints.push(endpointOf(r));
    if (options.includeDeparted) {
      for (const d of [...this.#departed].reverse()) {
        const endpoint = endpointOf(d);
        endpoint.status = 'disconnected';
        endpoint.disconnectionMethod = d.disconnectionMethod;
        endpoint.disconnectionInfo = { ...d.disconnectionInfo };
        delete endpoint.speaking;
        userOf(d).endpoints.push(endpoint);
      }
    }
    const description: ConferenceInfo['description'] = {
      confUris: { entries: [{ uri: this.uri, purpose: 'participation' }] },
      maximumUserCount: this.maxParticipants,
    };
    if (this.#displayText !== undefined) description.displayText = this.#displayText;
    if (this.#subject !== undefined) description.subject = this.#subject;
    if (this.#availableMedia && this.#availableMedia.length > 0)
      description.availableMedia = this.#availableMedia.map((m) => ({ ...m }));
    const info: ConferenceInfo = {
      entity: this.uri,
      state: 'full',
      version: options.version ?? 0,
      description,
      conferenceState: { userCount: this.userCount, active: !this.#ended, locked: this.#locked },
      users: { entries: [...users.values()] },
    };
    if (this.#hostInfo) info.hostInfo = structuredClone(this.#hostInfo);
    return info;
  }

  toJSON(): ConferenceSnapshot {
    return {
      id: this.id,
      uri: this.uri,
      creator: this.creator,
      createdAt: new Date(this.createdAt).toISOString(),
      subject: this.#subject,
      displayText: this.#displayText,
      locked: this.#locked,
      ended: this.#ended,
      maxParticipants: this.maxParticipants,
      participants: this.participants,
      activeSpeaker: this.#speaker,
    };
  }

  // --- internals -----------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#ended) throw new ConferenceError('ended', `conference ${this.uri} has ended`, { conference: this.id });
  }

  #record(participantId: string): ParticipantRecord {
    const r = this.#participants.get(participantId);
    if (!r)
      throw new ConferenceError('not-found', `no participant ${participantId}`, {
        conference: this.id,
        participant: participantId,
      });
    return r;
  }

  #update(participantId: string, change: ParticipantChange, apply: (r: ParticipantRecord) => boolean): Participant {
    this.#assertOpen();
    const record = this.#record(participantId);
    this.batch(() => {
      if (!apply(record)) return;
      this.#log.debug('participant updated', { participant: participantId, change });
      this.safeEmit('participantUpdated', freezeParticipant(record), change);
      this.#changed();
    });
    return freezeParticipant(record);
  }

  #changed(): void {
    if (this.#batchDepth > 0) this.#dirty = true;
    else this.safeEmit('changed');
  }
}
