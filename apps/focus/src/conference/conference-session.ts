/**
 * One live conference at the focus: the conference model (roster), its media room, the members'
 * dialogs, and the subscribers to its conference event package. Turns SIP and media happenings into
 * model operations, and model changes into NOTIFYs and re-offers.
 */
import type { Logger } from '@conclave/log';
import { SubscriptionVersioning, type Conference, type DisconnectionMethod, type Participant } from '@conclave/conference';
import { CONFERENCE_INFO_CONTENT_TYPE } from '@conclave/conference-info';
import { SdpNegotiationError, type MediaLeg, type Room } from '@conclave/media';
import { createLegForOffer, createLegForTarget } from '../legs.ts';
import { MediaDialog, type GoneCause } from '../media-dialog.ts';
import { Subscription } from '../events/subscription.ts';
import { agreementFromAnswer, intervalAfter422, negotiateAsUas, uacRequestHeaders, type SessionTimerSettings } from '../session-timer.ts';
import { conferenceErrorStatus, mediaWarning } from '../sip-status.ts';
import { allowsUpdate, dialogAnswer, endDialog, isSipFailure, reply, type Srf, type SrfDialog, type SrfRequest, type SrfResponse } from '../srf.ts';
import { Member } from './member.ts';

export interface ConferenceSessionOptions {
  conference: Conference;
  room: Room;
  srf: Srf;
  domain: string;
  sessionTimer: SessionTimerSettings;
  logger: Logger;
  /** A member sent REFER to the focus in its conference dialog (dial-out or removal). */
  onMemberRefer: (session: ConferenceSession, member: Member, req: SrfRequest, res: SrfResponse) => void;
}

/** Who joins, as the focus knows them. */
export interface Joiner {
  aor: string;
  user: string | undefined;
  displayName: string | undefined;
}

/** How an adoption (a call's party moved in by the focus) ended. */
export type AdoptionOutcome = { joined: true } | { joined: false; cause: GoneCause; detail: string | undefined };

export const SUBSCRIPTION_LIMITS = { defaultExpires: 3600, minExpires: 60, maxExpires: 3600 };

export class ConferenceSession {
  readonly conference: Conference;
  readonly room: Room;
  readonly #srf: Srf;
  readonly #domain: string;
  readonly #log: Logger;
  readonly #onMemberRefer: ConferenceSessionOptions['onMemberRefer'];
  readonly #members = new Map<string, Member>();
  /** Legs that asked for renegotiation before their member existed (set-up still in progress). */
  readonly #pendingRenegotiation = new WeakSet<MediaLeg>();
  readonly #subscriptions = new Set<{ subscription: Subscription; versioning: SubscriptionVersioning }>();
  #ended = false;

  constructor(options: ConferenceSessionOptions) {
    this.conference = options.conference;
    this.room = options.room;
    this.#srf = options.srf;
    this.#domain = options.domain;
    this.#log = options.logger.child({ conference: options.conference.uri });
    this.#onMemberRefer = options.onMemberRefer;
    this.room.on('renegotiationneeded', (leg) => {
      const member = this.#memberOfLeg(leg);
      if (member) member.renegotiate();
      else this.#pendingRenegotiation.add(leg);
    });
    // mediasoup's active-speaker observer names a leg; the roster marks its participant as speaking.
    this.room.on('activespeaker', (leg) => {
      const member = leg ? this.#memberOfLeg(leg) : undefined;
      if (this.conference.ended) return;
      if (member && !this.conference.participant(member.participantId)) return;
      this.conference.setSpeaker(member?.participantId);
    });
    this.room.on('closed', (reason) => {
      if (reason !== 'closed') this.end(`media ${reason}`);
    });
    this.conference.on('changed', () => this.#notifyAll());
    this.conference.on('ended', () => this.end('conference ended'));
    // Issue 12: each participant's streams (<media>: label = msid stream id) kept in the roster.
    new StreamDescriber({ conference: this.conference, room: this.room, members: () => this.members });
  }

  /** `<conference-uri>;isfocus`: the Contact of every dialog the focus has as this conference's focus. */
  get focusContact(): string {
    return `<${this.conference.uri}>;isfocus`;
  }

  get members(): Member[] {
    return [...this.#members.values()];
  }

  get subscriberCount(): number {
    return this.#subscriptions.size;
  }

  member(participantId: string): Member | undefined {
    return this.#members.get(participantId);
  }

  isParticipant(aor: string): boolean {
    return this.conference.participants.some((p) => p.entity === aor);
  }

  /**
   * Admits a joiner to the roster (throws ConferenceError 'locked' / 'full' / 'ended') before any
   * media or SIP work, so refusals are cheap and exact.
   */
  admit(joiner: Joiner, how: { joiningMethod: 'dialed-in' | 'dialed-out'; by?: string; ignoreLock?: boolean; status: 'dialing-in' | 'dialing-out' }): Participant {
    return this.conference.join({
      entity: joiner.aor,
      ...(joiner.displayName ? { displayName: joiner.displayName } : {}),
      joiningMethod: how.joiningMethod,
      ...(how.by ? { by: how.by } : {}),
      status: how.status,
      ...(how.ignoreLock ? { ignoreLock: true } : {}),
      media: [{ id: 'audio', type: 'audio', label: 'main-audio', status: 'sendrecv' }],
    });
  }

  /** Dial-in (and the creator's factory INVITE): answers the INVITE from the conference's media room. */
  async joinFromInvite(req: SrfRequest, res: SrfResponse, joiner: Joiner): Promise<Member | undefined> {
    let participant: Participant;
    try {
      participant = this.admit(joiner, { joiningMethod: 'dialed-in', status: 'dialing-in' });
    } catch (err) {
      this.#refuse(res, err);
      return undefined;
    }
    const log = this.#log.child({ callId: req.get('Call-ID'), participant: joiner.aor });
    let leg: MediaLeg | undefined;
    try {
      leg = await createLegForOffer(this.room, req.body, joiner.user ?? joiner.aor);
      await leg.applyRemoteOffer(req.body);
      const answer = await leg.createLocalAnswer();
      const dialog = await this.#srf.createUAS(req, res, {
        localSdp: answer,
        headers: { Contact: this.focusContact, 'Allow-Events': 'conference', 'Content-Type': 'application/sdp' },
      });
      const member = this.#attach(participant.id, joiner, dialog, leg, true, true);
      log.info('participant joined (dial-in)', { participants: this.conference.size });
      return member;
    } catch (err) {
      leg?.close();
      if (this.conference.participant(participant.id)) this.conference.leave(participant.id, 'failed', { reason: (err as Error).message });
      if (err instanceof SdpNegotiationError) {
        log.warn('joiner SDP refused', { error: err.message });
        reply(res, 488, undefined, { headers: { Warning: mediaWarning(this.#domain, err) } });
      } else if (!res.finalResponseSent) {
        log.error('join failed', { error: (err as Error).message });
        reply(res, 500, 'Server Internal Error - could not join the conference');
      }
      this.#endIfEmpty();
      return undefined;
    }
  }

  /**
   * Moves an existing call leg into the conference (the focus intercepts a REFER): the leg's media is
   * re-wired inside mediasoup and the party is re-INVITEd with the focus's ;isfocus Contact.
   */
  async adoptCallLeg(dialog: SrfDialog, leg: MediaLeg, joiner: Joiner, participant: Participant): Promise<Member> {
    const member = this.#attach(participant.id, joiner, dialog, leg, false);
    await this.room.adoptLeg(leg);
    // adoptLeg triggers renegotiation of this leg; re-offer now so the Contact changes at once too.
    member.renegotiate();
    this.conference.connect(participant.id);
    this.#log.info('participant moved into the conference', { participant: joiner.aor, participants: this.conference.size });
    return member;
  }

  /** The focus calls a party (REFER to the focus). Resolves with the final status of the INVITE. */
  async dialOut(target: string, media: 'webrtc' | 'plain', joiner: Joiner, by: string, extraHeaders: Record<string, string> = {}): Promise<number> {
    let participant: Participant;
    try {
      participant = this.admit(joiner, { joiningMethod: 'dialed-out', by, status: 'dialing-out' });
    } catch (err) {
      return err instanceof ConferenceError && err.code === 'locked' ? 403 : err instanceof ConferenceError && err.code === 'full' ? 486 : 500;
    }
    const log = this.#log.child({ participant: joiner.aor });
    let leg: MediaLeg | undefined;
    try {
      leg = await createLegForTarget(this.room, media, joiner.user ?? joiner.aor);
      const offer = await leg.createLocalOffer();
      const dialog = await this.#srf.createUAC(target, {
        localSdp: offer,
        headers: { From: `<${this.conference.uri}>`, To: `<${joiner.aor}>`, Contact: this.focusContact, 'Allow-Events': 'conference', ...extraHeaders },
      }, {
        cbProvisional: (prov) => {
          if (prov.status === 180 || prov.status === 183) this.conference.setStatus(participant.id, 'alerting');
        },
      });
      await leg.applyRemoteAnswer(dialog.remote.sdp);
      this.#attach(participant.id, joiner, dialog, leg);
      log.info('participant joined (dial-out)', { participants: this.conference.size });
      return 200;
    } catch (err) {
      leg?.close();
      const status = isSipFailure(err) ? err.status : 500;
      log.info('dial-out failed', { status, error: (err as Error).message });
      if (this.conference.participant(participant.id)) {
        this.conference.leave(participant.id, status === 486 || status === 600 ? 'busy' : 'failed', { reason: `${status}` });
      }
      this.#endIfEmpty();
      return status;
    }
  }

  /** Removes a participant: BYE to its call, roster shows it booted. */
  removeParticipant(participantId: string, by: string, reason = 'removed from the conference'): boolean {
    const member = this.#members.get(participantId);
    if (!member) return false;
    this.#members.delete(participantId);
    if (this.conference.participant(participantId)) this.conference.leave(participantId, 'booted', { by, reason });
    member.hangup(reason);
    this.#endIfEmpty();
    return true;
  }

  /** SUBSCRIBE to the conference event package, already authorised by the caller. */
  async subscribe(req: SrfRequest, res: SrfResponse, subscriber: string): Promise<void> {
    const requested = req.has('Expires') ? parseInt(req.get('Expires'), 10) : SUBSCRIPTION_LIMITS.defaultExpires;
    if (!Number.isFinite(requested) || requested < 0) {
      reply(res, 400, 'Bad Request - invalid Expires');
      return;
    }
    if (requested > 0 && requested < SUBSCRIPTION_LIMITS.minExpires) {
      reply(res, 423, 'Interval Too Brief', { headers: { 'Min-Expires': String(SUBSCRIPTION_LIMITS.minExpires) } });
      return;
    }
    const expires = Math.min(requested, SUBSCRIPTION_LIMITS.maxExpires);
    const dialog = await this.#srf.createUAS(req, res, {
      headers: { Expires: String(expires), Contact: this.focusContact, 'Allow-Events': 'conference' },
    } as unknown as { localSdp: string });
    const versioning = new SubscriptionVersioning();
    const state = () => this.conference.toConferenceInfo({ includeDeparted: true });
    const entry = {
      versioning,
      subscription: new Subscription({
        dialog,
        event: 'conference',
        contentType: CONFERENCE_INFO_CONTENT_TYPE,
        subscriber,
        expiresSeconds: expires,
        minExpires: SUBSCRIPTION_LIMITS.minExpires,
        maxExpires: SUBSCRIPTION_LIMITS.maxExpires,
        fullState: () => versioning.full(state()).body,
        logger: this.#log,
      }),
    };
    this.#subscriptions.add(entry);
    entry.subscription.once('terminated', () => this.#subscriptions.delete(entry));
    if (expires === 0) entry.subscription.terminate('timeout'); // a fetch: one full NOTIFY, then done
  }

  /** Ends the conference: BYE to everyone, final NOTIFY to every subscriber, media closed. */
  end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#log.info('conference ending', { reason, participants: this.#members.size, subscribers: this.#subscriptions.size });
    for (const member of this.#members.values()) member.hangup('conference ended');
    this.#members.clear();
    if (!this.conference.ended) this.conference.end(reason);
    for (const { subscription } of this.#subscriptions) subscription.terminate('noresource');
    this.room.close();
  }

  get ended(): boolean {
    return this.#ended;
  }

  #attach(participantId: string, joiner: Joiner, dialog: SrfDialog, leg: MediaLeg, connectNow = true, awaitAck = false): Member {
    const member = new Member({
      participantId, aor: joiner.aor, user: joiner.user, dialog, leg,
      focusContact: this.focusContact, domain: this.#domain, awaitAck, logger: this.#log,
    });
    this.#members.set(participantId, member);
    if (this.#pendingRenegotiation.has(leg) || leg.needsRenegotiation) {
      this.#pendingRenegotiation.delete(leg);
      member.renegotiate();
    }
    member.on('left', (why) => {
      if (this.#members.get(participantId) !== member) return;
      this.#members.delete(participantId);
      if (this.conference.participant(participantId)) this.conference.leave(participantId, why === 'bye' ? 'departed' : 'failed');
      this.#log.info('participant left', { participant: joiner.aor, why, participants: this.conference.size });
      this.#endIfEmpty();
    });
    member.on('refer', (req, res) => this.#onMemberRefer(this, member, req, res));
    member.on('held', () => this.conference.participant(participantId) && this.conference.hold(participantId));
    member.on('resumed', () => this.conference.participant(participantId) && this.conference.resume(participantId));
    if (connectNow) {
      this.conference.batch(() => {
        this.conference.connect(participantId);
        this.conference.setMedia(participantId, [{ id: 'audio', type: 'audio', label: 'main-audio', status: 'sendrecv' }]);
      });
    }
    return member;
  }

  #memberOfLeg(leg: MediaLeg): Member | undefined {
    for (const m of this.#members.values()) if (m.leg === leg) return m;
    return undefined;
  }

  #notifyAll(): void {
    if (this.#subscriptions.size === 0) return;
    const state = this.conference.toConferenceInfo({ includeDeparted: true });
    for (const { subscription, versioning } of this.#subscriptions) {
      const doc = versioning.next(state);
      if (doc) subscription.notify(() => doc.body);
    }
  }

  #endIfEmpty(): void {
    if (!this.#ended && this.#members.size === 0 && !this.conference.participants.some((p) => p.status === 'dialing-in' || p.status === 'dialing-out')) {
      this.end('last participant left');
    }
  }

  #refuse(res: SrfResponse, err: unknown): void {
    if (err instanceof ConferenceError) {
      if (err.code === 'locked') return reply(res, 403, 'Forbidden - conference is locked');
      if (err.code === 'full') return reply(res, 486, 'Busy Here - conference is full');
      if (err.code === 'ended') return reply(res, 404, 'Not Found - conference has ended');
    }
    this.#log.error('cannot admit participant', { error: (err as Error).message });
    reply(res, 500, 'Server Internal Error');
  }
}
