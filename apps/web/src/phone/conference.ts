/**
 * Conference (RFC 4579 / RFC 4575) on top of lines, without touching the 1:1 call code:
 *
 *   create:  INVITE the conference factory URI; the 2xx Contact carries ";isfocus" and names the
 *            conference URI (Line.focusUri).
 *   add:     REFER each other party (in its existing dialog) to the conference URI; when the
 *            NOTIFY sipfrag says 2xx the party has joined and our 1:1 line with it is hung up.
 *            A failed REFER leaves the 1:1 line as it was (never lose a call).
 *   roster:  SUBSCRIBE to the "conference" event package at the conference URI and feed every
 *            NOTIFY body to a ConferenceInfoReader (re-SUBSCRIBE when it reports a version gap).
 *
 * Any line whose 2xx says ";isfocus" (also one we joined after being REFERred) gets a
 * ConferenceSession, so participants see the roster too.
 */
import type { Subscriber } from 'jssip/lib/Subscriber';
import type { IncomingRequest } from 'jssip/lib/SIPMessage';
import { EnhancedEventEmitter } from '@conclave/events';
import type { Line } from './line.ts';
import type { Logger } from './log.ts';
import type { ConferenceInfoReader, ConferenceInfoReaderFactory, ConferenceRoster } from './roster.ts';

export type SubscriptionState = 'none' | 'pending' | 'active' | 'terminated';

export type InviteeStatus = 'inviting' | 'joined' | 'failed';

export interface Invitee {
  readonly party: string;
  readonly displayName: string;
  readonly status: InviteeStatus;
  readonly error: string | null;
}

export interface ConferenceSnapshot {
  /** Our line to the focus. */
  readonly lineId: string;
  /** Conference URI (from the ";isfocus" Contact), null until the focus answered. */
  readonly uri: string | null;
  readonly phase: 'creating' | 'active' | 'ended';
  readonly subscription: SubscriptionState;
  readonly roster: ConferenceRoster | null;
  readonly invitees: readonly Invitee[];
  readonly error: string | null;
}

/** What a ConferenceSession needs from the signed-in agent. */
export interface SubscribeCapable {
  subscribe(
    target: string,
    eventName: string,
    accept: string,
    options: { expires?: number; contentType?: string },
  ): Subscriber;
}

export type ConferenceEvents = { change: [] };

const RESUBSCRIBE_MS = 3000;
const REFER_TIMEOUT_MS = 30_000;
const ROSTER_WAIT_MS = 5000;

export class ConferenceSession {
  readonly line: Line;
  readonly events = new EnhancedEventEmitter<ConferenceEvents>();
  #agent: SubscribeCapable;
  #readerFactory: ConferenceInfoReaderFactory;
  #reader: ConferenceInfoReader | null = null;
  #log: Logger;
  #subscriber: Subscriber | null = null;
  #subscription: SubscriptionState = 'none';
  #roster: ConferenceRoster | null = null;
  #invitees = new Map<string, Invitee>();
  #error: string | null = null;
  #closed = false;
  #resubscribeTimer: ReturnType<typeof setTimeout> | undefined;
  #failedSubscriptions = 0;
  #snapshot: ConferenceSnapshot | null = null;
  #offLine: Array<() => void> = [];

  constructor(line: Line, agent: SubscribeCapable, readerFactory: ConferenceInfoReaderFactory, log: Logger) {
    this.line = line;
    this.#agent = agent;
    this.#readerFactory = readerFactory;
    this.#log = log.child({ conferenceLine: line.id });
    const onChange = (): void => {
      if (this.#subscription === 'none') this.#subscribeWhenReady();
      this.#changed();
    };
    const onEnded = (): void => this.close();
    line.events.on('change', onChange).on('ended', onEnded);
    this.#offLine.push(() => line.events.off('change', onChange).off('ended', onEnded));
    this.#subscribeWhenReady();
  }

  /** Subscribes once the focus answered (not while an incoming focus call is still ringing). */
  #subscribeWhenReady(): void {
    const connected = this.line.state === 'active' || this.line.state === 'held';
    if (this.line.focusUri && connected && !this.#closed) this.#subscribe();
  }

  get snapshot(): ConferenceSnapshot {
    const line = this.line;
    this.#snapshot ??= Object.freeze({
      lineId: line.id,
      uri: line.focusUri,
      phase: line.ended ? 'ended' : line.focusUri ? 'active' : 'creating',
      subscription: this.#subscription,
      roster: this.#roster,
      invitees: Object.freeze([...this.#invitees.values()]),
      error: this.#error,
    });
    return this.#snapshot;
  }

  /**
   * Asks the focus to remove a participant (REFER with Refer-To <entity;method=BYE>, RFC 4579 §5.5);
   * the focus allows it to the creator and admins. Resolves when the focus reports success.
   */
  async remove(entity: string): Promise<void> {
    this.#error = null;
    try {
      await this.line.refer(`${entity};method=BYE`);
    } catch (error) {
      this.#error = `could not remove ${entity}: ${error instanceof Error ? error.message : String(error)}`;
      this.#changed();
      throw error;
    }
  }

  /**
   * REFERs each line's party to the conference. Resolves when every REFER has settled; never
   * rejects (failures are shown per invitee and on the line).
   */
  async invite(lines: readonly Line[]): Promise<void> {
    const uri = this.line.focusUri;
    if (!uri) throw new Error('the conference has no focus URI yet');
    await Promise.all(lines.map((l) => this.#inviteOne(l, uri)));
  }

  async #inviteOne(line: Line, uri: string): Promise<void> {
    const who = { party: line.party, displayName: line.displayName };
    this.#setInvitee({ ...who, status: 'inviting', error: null });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let offEnded: (() => void) | undefined;
    const referred = line.refer(uri).then(() => 'accepted' as const);
    referred.catch(() => {}); // the race below may have settled already
    let stopWatchingRoster = false;
    try {
      const outcome = await Promise.race([
        referred,
        // The roster is authoritative (RFC 4579): once it lists the party as present, it has joined,
        // even if the REFER's final NOTIFY is late or lost.
        this.#rosterHas(line.party, REFER_TIMEOUT_MS, () => stopWatchingRoster).then((present) =>
          present ? ('in-roster' as const) : new Promise<never>(() => {}),
        ),
        // With a B2BUA focus the party may follow the REFER and hang up our dialog before its
        // NOTIFY reaches us: the roster then tells whether it joined.
        new Promise<'ended'>((resolve) => {
          if (line.ended) resolve('ended');
          else {
            const onEnded = (): void => resolve('ended');
            line.events.on('ended', onEnded);
            offEnded = () => line.events.off('ended', onEnded);
          }
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${line.displayName} did not confirm joining the conference`)),
            REFER_TIMEOUT_MS,
          );
        }),
      ]);
      if (outcome === 'ended' && !(await this.#rosterHas(line.party, ROSTER_WAIT_MS))) {
        throw new Error(`the call with ${line.displayName} ended before joining`);
      }
      this.#setInvitee({ ...who, status: 'joined', error: null });
      // The party now talks to the focus directly: our 1:1 leg with it is no longer needed.
      if (!line.ended) line.hangup();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#log.warn('invite failed', { party: line.party, error: message });
      this.#setInvitee({ ...who, status: 'failed', error: message });
      if (!line.ended) line.setError(`not added to the conference: ${message}`);
    } finally {
      stopWatchingRoster = true;
      clearTimeout(timer);
      offEnded?.();
    }
  }

  /** Resolves true once the roster lists `entity` as present (within `ms`). */
  #rosterHas(entity: string, ms: number, cancelled: () => boolean = () => false): Promise<boolean> {
    const present = (): boolean =>
      this.#roster?.entries.some(
        (e) => e.entity === entity && e.status !== 'disconnected' && e.status !== 'disconnecting',
      ) === true;
    if (present()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, ms);
      const onChange = (): void => {
        if (cancelled()) {
          clearTimeout(timer);
          off();
          resolve(false);
          return;
        }
        if (!present()) return;
        clearTimeout(timer);
        off();
        resolve(true);
      };
      const off = (): void => void this.events.off('change', onChange);
      this.events.on('change', onChange);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#resubscribeTimer);
    for (const off of this.#offLine) off();
    this.#offLine = [];
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    if (subscriber && this.#subscription !== 'terminated') {
      try {
        subscriber.terminate();
      } catch (error) {
        this.#log.debug('unsubscribe failed', { error: String(error) });
      }
    }
    this.#subscription = 'terminated';
    this.#changed();
  }

  #setInvitee(invitee: Invitee): void {
    this.#invitees.set(invitee.party, invitee);
    this.#changed();
  }

  #subscribe(): void {
    const uri = this.line.focusUri;
    if (!uri || this.#closed) return;
    let subscriber: Subscriber;
    try {
      subscriber = this.#agent.subscribe(uri, 'conference', 'application/conference-info+xml', { expires: 600 });
    } catch (error) {
      this.#error = `roster unavailable: ${String(error)}`;
      this.#changed();
      return;
    }
    this.#subscriber = subscriber;
    this.#subscription = 'pending';
    subscriber.on('active', () => {
      this.#failedSubscriptions = 0;
      this.#subscription = 'active';
      this.#changed();
    });
    // A new subscription starts with a full state: a fresh reader.
    const reader = this.#readerFactory();
    this.#reader = reader;
    subscriber.on('notify', (_isFinal: boolean, _request: IncomingRequest, body: string | undefined) => {
      if (!body || this.#reader !== reader) return;
      try {
        const update = reader.apply(body);
        if (update.roster) this.#roster = update.roster;
        this.#error = null;
        if (update.resubscribe) this.#renewSubscription('version gap in conference-info');
      } catch (error) {
        this.#log.warn('unreadable conference-info', { error: String(error) });
        this.#error = `roster update not understood: ${error instanceof Error ? error.message : String(error)}`;
      }
      this.#changed();
    });
    subscriber.on('terminated', (code: number, reason: string | undefined) => {
      if (this.#subscriber !== subscriber) return;
      this.#subscriber = null;
      this.#subscription = 'terminated';
      this.#log.info('conference subscription terminated', { code, reason });
      if (this.#roster === null) this.#failedSubscriptions += 1;
      if (this.#failedSubscriptions >= 3) {
        this.#error = `roster unavailable: the focus refused the subscription (${reason ?? `code ${code}`})`;
      } else if (!this.#closed && !this.line.ended) {
        // The focus may end a subscription (expiry, restart): ask again, the roster is worth it.
        this.#resubscribeTimer = setTimeout(() => {
          this.#subscription = 'none';
          this.#subscribe();
        }, RESUBSCRIBE_MS);
      }
      this.#changed();
    });
    subscriber.subscribe();
    this.#changed();
  }

  /** Drops the current subscription and asks again (to get a full state). */
  #renewSubscription(why: string): void {
    this.#log.info('renewing the conference subscription', { why });
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    this.#reader = null;
    this.#subscription = 'none';
    try {
      subscriber?.terminate();
    } catch {
      // already gone
    }
    queueMicrotask(() => {
      if (!this.#closed && !this.line.ended && this.#subscription === 'none') this.#subscribe();
    });
  }

  #changed(): void {
    this.#snapshot = null;
    this.events.safeEmit('change');
  }
}
