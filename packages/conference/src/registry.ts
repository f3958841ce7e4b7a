/**
 * The conferences a focus hosts: creation (the factory that assigns ids and URIs), lookup by id or
 * by URI (as a Request-URI arrives), listing for the admin API, and ending.
 */

import { createLogger, type Logger } from '@conclave/log';
import { Conference, type ConferenceOptions } from './conference.ts';
import { conferenceUriKey, generateConferenceUri, randomId, type ConferenceUriOptions } from './conference-uri.ts';
import { ConferenceError } from './errors.ts';
import { EnhancedEventEmitter } from '@conclave/events';

export type ConferenceRegistryEvents = {
  created: [conference: Conference];
  /** The conference ended (through the registry or conference.end()) and was removed. */
  ended: [conference: Conference, reason: string | undefined];
};

export interface ConferenceRegistryOptions {
  /** Host part of generated conference URIs (the focus's domain), e.g. "conclave.example.com". */
  domain: string;
  /** Options for generated URIs (scheme, prefix, random bytes ≥ 16). */
  uri?: ConferenceUriOptions;
  /** Default maximum participants per conference, default 50. */
  maxParticipants?: number;
  /** Maximum conferences at once (create() throws 'full' beyond), default unlimited. */
  maxConferences?: number;
  departedRetention?: number;
  logger?: Logger;
  now?: () => number;
  /** For tests: conference and participant ids. */
  idGenerator?: () => string;
  participantIdGenerator?: () => string;
}

export interface CreateConferenceRequest {
  creator: string;
  subject?: string;
  displayText?: string;
  maxParticipants?: number;
  locked?: boolean;
  /** A fixed URI (a named room) instead of a generated one; must be a SIP URI not in use. */
  uri?: string;
  availableMedia?: ConferenceOptions['availableMedia'];
  hostInfo?: ConferenceOptions['hostInfo'];
}

export class ConferenceRegistry extends EnhancedEventEmitter<ConferenceRegistryEvents> {
  readonly domain: string;
  readonly #options: ConferenceRegistryOptions;
  readonly #log: Logger;
  readonly #byId = new Map<string, Conference>();
  readonly #byUriKey = new Map<string, Conference>();
  #closed = false;

  constructor(options: ConferenceRegistryOptions) {
    super((error, event) => this.#log.error('registry event listener threw', { event, error }));
    // Validates the domain once, up front.
    generateConferenceUri(options.domain, options.uri);
    this.domain = options.domain;
    this.#options = options;
    this.#log = (options.logger ?? createLogger('conference')).child('registry');
  }

  get size(): number {
    return this.#byId.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Creates a conference with a fresh id and (unless given) a fresh unguessable URI. */
  create(request: CreateConferenceRequest): Conference {
    if (this.#closed) throw new ConferenceError('ended', 'the conference registry is closed');
    const max = this.#options.maxConferences;
    if (max !== undefined && this.#byId.size >= max) throw new ConferenceError('full', `already ${max} conferences`);
    let uri = request.uri;
    if (uri !== undefined) {
      const key = conferenceUriKey(uri);
      if (key === undefined) throw new ConferenceError('invalid-argument', `not a SIP URI: ${JSON.stringify(uri)}`);
      if (this.#byUriKey.has(key)) throw new ConferenceError('duplicate', `conference URI ${uri} is in use`, { uri });
    } else {
      do uri = generateConferenceUri(this.domain, this.#options.uri);
      while (this.#byUriKey.has(conferenceUriKey(uri) ?? ''));
    }
    let id = (this.#options.idGenerator ?? (() => randomId('cf_')))();
    while (this.#byId.has(id)) id = randomId('cf_');
    const options: ConferenceOptions = {
      id,
      uri,
      creator: request.creator,
      maxParticipants: request.maxParticipants ?? this.#options.maxParticipants,
      logger: this.#options.logger ?? createLogger('conference'),
    };
    const optional: Partial<ConferenceOptions> = {
      subject: request.subject,
      displayText: request.displayText,
      locked: request.locked,
      availableMedia: request.availableMedia,
      hostInfo: request.hostInfo,
      departedRetention: this.#options.departedRetention,
      now: this.#options.now,
      participantIdGenerator: this.#options.participantIdGenerator,
    };
    for (const [k, v] of Object.entries(optional))
      if (v !== undefined) (options as unknown as Record<string, unknown>)[k] = v;
    const conference = new Conference(options);
    this.#byId.set(id, conference);
    this.#byUriKey.set(conferenceUriKey(uri) ?? uri, conference);
    conference.once('ended', (reason) => this.#remove(conference, reason));
    this.#log.info('conference created', { conference: id, uri, creator: request.creator });
    this.safeEmit('created', conference);
    return conference;
  }

  get(id: string): Conference | undefined {
    return this.#byId.get(id);
  }

  /** Finds a conference by URI: parameters, sip/sips and host case are ignored. */
  findByUri(uri: string): Conference | undefined {
    const key = conferenceUriKey(uri);
    return key === undefined ? undefined : this.#byUriKey.get(key);
  }

  /** A conference by id or by URI. */
  find(idOrUri: string): Conference | undefined {
    return this.get(idOrUri) ?? this.findByUri(idOrUri);
  }

  /** Conferences in creation order. */
  list(): Conference[] {
    return [...this.#byId.values()];
  }

  /** Ends a conference (by id or URI). Returns false when there is no such conference. */
  end(idOrUri: string, reason?: string): boolean {
    const conference = this.find(idOrUri);
    if (!conference) return false;
    conference.end(reason);
    return true;
  }

  /** Ends every conference. */
  close(reason = 'shutting down'): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const conference of this.list()) conference.end(reason);
    this.removeAllListeners();
  }

  #remove(conference: Conference, reason: string | undefined): void {
    this.#byId.delete(conference.id);
    const key = conferenceUriKey(conference.uri) ?? conference.uri;
    if (this.#byUriKey.get(key) === conference) this.#byUriKey.delete(key);
    this.#log.info('conference removed', { conference: conference.id, reason });
    this.safeEmit('ended', conference, reason);
  }
}
