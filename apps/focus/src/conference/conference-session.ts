/**
 * One live conference at the focus: the conference model (roster), its media room, the members'
 * dialogs, and the subscribers to its conference event package. Turns SIP and media happenings into
 * model operations, and model changes into NOTIFYs and re-offers.
 */
import type { Logger } from '@conclave/log';
import { SubscriptionVersioning, type Conference, type LeaveMethod, type Participant } from '@conclave/conference';
import { CONFERENCE_INFO_CONTENT_TYPE } from '@conclave/conference-info';
import { SdpNegotiationError, type MediaLeg, type Room } from '@conclave/media';
import { createLegForOffer, createLegForTarget } from '../legs.ts';
import { MediaDialog, type GoneCause } from '../media-dialog.ts';
import type { CallTarget } from '../user-locator.ts';
import { Subscription } from '../events/subscription.ts';
import {
  agreementFromAnswer,
  intervalAfter422,
  negotiateAsUas,
  uacRequestHeaders,
  type SessionTimerSettings,
} from '../session-timer.ts';
import { conferenceErrorStatus, mediaWarning } from '../sip-status.ts';
import {
  acceptDialog,
  allowsUpdate,
  dialogAnswer,
  endDialog,
  isSipFailure,
  onRequestSent,
  reply,
  type Srf,
  type SrfDialog,
  type SrfRequest,
  type SrfResponse,
} from '../srf.ts';
import { Member } from './member.ts';
import { ConferenceDtmfMenu } from './dtmf-menu.ts';
import { onDtmf } from '../dtmf.ts';
import { StreamDescriber, describeStreams, legStreams } from './stream-description.ts';

export interface ConferenceSessionOptions {
  conference: Conference;
  room: Room;
  srf: Srf;
  domain: string;
  sessionTimer: SessionTimerSettings;
  /** How long a dialled-out party may ring before the focus CANCELs (480 "no answer"). */
  ringTimeoutMs: number;
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
  readonly #timerSettings: SessionTimerSettings;
  readonly #ringTimeoutMs: number;
  readonly #log: Logger;
  readonly #onMemberRefer: ConferenceSessionOptions['onMemberRefer'];
  readonly #members = new Map<string, Member>();
  /** Outgoing INVITEs of dial-outs still ringing: cancelled if the conference ends first. */
  readonly #dialing = new Set<SrfRequest>();
  readonly #subscriptions = new Set<{ subscription: Subscription; versioning: SubscriptionVersioning }>();
  #ended = false;

  constructor(options: ConferenceSessionOptions) {
    this.conference = options.conference;
    this.room = options.room;
    this.#srf = options.srf;
    this.#domain = options.domain;
    this.#timerSettings = options.sessionTimer;
    this.#ringTimeoutMs = options.ringTimeoutMs;
    this.#log = options.logger.child({ conference: options.conference.uri });
    this.#onMemberRefer = options.onMemberRefer;
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
  admit(
    joiner: Joiner,
    how: {
      joiningMethod: 'dialed-in' | 'dialed-out';
      by?: string;
      ignoreLock?: boolean;
      status: 'dialing-in' | 'dialing-out';
    },
  ): Participant {
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
    const timer = negotiateAsUas(req, this.#timerSettings);
    if (!timer.ok) {
      reply(res, 422, 'Session Interval Too Small', { headers: timer.headers });
      this.#endIfEmpty();
      return undefined;
    }
    let participant: Participant;
    try {
      participant = this.admit(joiner, { joiningMethod: 'dialed-in', status: 'dialing-in' });
    } catch (err) {
      const { status, reason } = conferenceErrorStatus(err);
      if (status === 500) this.#log.error('cannot admit participant', { error: (err as Error).message });
      reply(res, status, reason);
      this.#endIfEmpty();
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
        headers: {
          Contact: this.focusContact,
          'Allow-Events': 'conference',
          'Content-Type': 'application/sdp',
          ...timer.headers,
        },
      });
      const media = new MediaDialog({
        dialog,
        leg,
        role: 'uas',
        owner: `conference ${this.conference.uri}`,
        sessionTimer: timer.agreement,
        peerAllowsUpdate: allowsUpdate(req),
        contact: this.focusContact,
        awaitAck: true,
        domain: this.#domain,
        logger: this.#log,
      });
      const member = this.#attach(participant.id, joiner, media, true);
      if (!member) return undefined;
      log.info('participant joined (dial-in)', { participants: this.conference.size });
      return member;
    } catch (err) {
      leg?.close();
      this.#leaveRoster(participant.id, 'failed', (err as Error).message);
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
   * Moves a call's party into the conference (the focus intercepted a REFER). `media` was handed over
   * to this conference already; its leg moves into the conference room at once (synchronously, so the
   * old call's room can no longer close it), then the party is re-INVITEd with the focus's ;isfocus
   * Contact. Resolves joined once that re-INVITE is answered, or with why the party is gone.
   */
  async adoptCallLeg(media: MediaDialog, joiner: Joiner, participant: Participant): Promise<AdoptionOutcome> {
    let gone: { cause: GoneCause; detail: string | undefined } | undefined;
    media.once('gone', (cause, detail) => (gone ??= { cause, detail }));
    const member = this.#attach(participant.id, joiner, media, false);
    if (!member) return { joined: false, cause: 'ended', detail: 'the conference ended' };
    const wired = this.room.adoptLeg(media.leg);
    try {
      await wired;
    } catch (err) {
      if (!media.gone) media.end(`could not join the conference: ${(err as Error).message}`, 'failed');
      return { joined: false, cause: gone?.cause ?? 'failed', detail: gone?.detail ?? (err as Error).message };
    }
    // A re-INVITE with the conference's ;isfocus Contact must reach the party, whatever the media needs
    // (one the room's renegotiation already sent since the hand-over counts).
    const result = await media.confirmHandOver();
    if (result === 'gone' || media.gone) return { joined: false, cause: gone?.cause ?? 'failed', detail: gone?.detail };
    if (this.conference.participant(participant.id)) {
      this.conference.batch(() => {
        this.conference.connect(participant.id);
        this.conference.setMedia(participant.id, describeStreams(legStreams(media.leg)));
      });
    }
    this.#log.info('participant moved into the conference', {
      participant: joiner.aor,
      participants: this.conference.size,
      reoffer: result,
    });
    return { joined: true };
  }

  /** The focus calls a party (REFER to the focus). Resolves with the final status of the INVITE. */
  async dialOut(
    target: CallTarget,
    joiner: Joiner,
    by: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<number> {
    let participant: Participant;
    try {
      participant = this.admit(joiner, { joiningMethod: 'dialed-out', by, status: 'dialing-out' });
    } catch (err) {
      return conferenceErrorStatus(err).status;
    }
    const log = this.#log.child({ participant: joiner.aor });
    let leg: MediaLeg | undefined;
    let dialog: SrfDialog | undefined;
    try {
      leg = await createLegForTarget(this.room, target.media, joiner.user ?? joiner.aor);
      const offer = await leg.createLocalOffer();
      dialog = await this.#inviteWithTimer(target, offer, joiner, participant, extraHeaders);
      if (this.#ended || !this.conference.participant(participant.id)) {
        // The conference ended, or the participant was removed, while it rang.
        endDialog(dialog, 'the conference ended');
        leg.close();
        return 487;
      }
      await leg.applyRemoteAnswer(dialog.remote.sdp);
      const answer = dialogAnswer(dialog);
      const md = new MediaDialog({
        dialog,
        leg,
        role: 'uac',
        owner: `conference ${this.conference.uri}`,
        sessionTimer: agreementFromAnswer(answer),
        peerAllowsUpdate: allowsUpdate(answer),
        contact: this.focusContact,
        domain: this.#domain,
        logger: this.#log,
      });
      if (!this.#attach(participant.id, joiner, md, true)) return 487;
      log.info('participant joined (dial-out)', { participants: this.conference.size });
      return 200;
    } catch (err) {
      leg?.close();
      endDialog(dialog, 'could not join the conference');
      const failed = isSipFailure(err) ? err.status : 500;
      // Through a proxy (the cluster edge) a 404 means its location lookup found no contact: offline.
      const status = failed === 404 && target.proxy ? 480 : failed;
      log.info('dial-out failed', { status, error: (err as Error).message });
      this.#leaveRoster(participant.id, status === 486 || status === 600 ? 'busy' : 'failed', `${status}`);
      this.#endIfEmpty();
      return status;
    }
  }

  /** INVITE for a dial-out, with session timers (one retry after 422), cancellable by end(). */
  async #inviteWithTimer(
    target: CallTarget,
    offer: string,
    joiner: Joiner,
    participant: Participant,
    extraHeaders: Record<string, string>,
  ): Promise<SrfDialog> {
    const interval = this.#timerSettings.expires;
    let noAnswer = false;
    let sent: SrfRequest | undefined;
    const ringTimer = setTimeout(() => {
      noAnswer = true;
      this.#log.info('dialled-out party did not answer in time, cancelling', {
        participant: joiner.aor,
        ringTimeoutMs: this.#ringTimeoutMs,
      });
      sent?.cancel(() => undefined);
    }, this.#ringTimeoutMs);
    try {
      return await this.#inviteAttempts(
        target,
        offer,
        joiner,
        participant,
        extraHeaders,
        interval,
        (req) => (sent = req),
      );
    } catch (err) {
      if (noAnswer && isSipFailure(err) && err.status === 487)
        throw Object.assign(new Error('no answer'), { status: 480, reason: 'Temporarily Unavailable - no answer' });
      throw err;
    } finally {
      clearTimeout(ringTimer);
    }
  }

  async #inviteAttempts(
    target: CallTarget,
    offer: string,
    joiner: Joiner,
    participant: Participant,
    extraHeaders: Record<string, string>,
    interval: number,
    onSent: (req: SrfRequest) => void,
  ): Promise<SrfDialog> {
    for (let attempt = 0; ; attempt++) {
      let sent: SrfRequest | undefined;
      try {
        return await this.#srf.createUAC(
          target.contact,
          {
            localSdp: offer,
            ...(target.proxy ? { proxy: target.proxy } : {}),
            headers: {
              From: `<${this.conference.uri}>`,
              To: `<${joiner.aor}>`,
              Contact: this.focusContact,
              'Allow-Events': 'conference',
              ...uacRequestHeaders(this.#timerSettings, interval),
              ...extraHeaders,
            },
          },
          {
            cbRequest: onRequestSent((uacReq) => {
              sent = uacReq;
              onSent(uacReq);
              if (this.#ended) uacReq.cancel(() => undefined);
              else this.#dialing.add(uacReq);
            }),
            cbProvisional: (prov) => {
              if ((prov.status === 180 || prov.status === 183) && this.conference.participant(participant.id))
                this.conference.setStatus(participant.id, 'alerting');
            },
          },
        );
      } catch (err) {
        const retry =
          attempt === 0 && isSipFailure(err) && err.status === 422 && err.res
            ? intervalAfter422(err.res, this.#timerSettings)
            : undefined;
        if (retry === undefined || this.#ended) throw err;
        interval = retry;
      } finally {
        if (sent) this.#dialing.delete(sent);
      }
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
    const dialog = await acceptDialog(this.#srf, req, res, {
      Expires: String(expires),
      Contact: this.focusContact,
      'Allow-Events': 'conference',
    });
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
    this.#log.info('conference ending', {
      reason,
      participants: this.#members.size,
      subscribers: this.#subscriptions.size,
    });
    const members = [...this.#members.values()];
    this.#members.clear();
    for (const member of members) member.hangup('conference ended');
    for (const invite of this.#dialing) invite.cancel(() => undefined);
    this.#dialing.clear();
    if (!this.conference.ended) this.conference.end(reason);
    for (const { subscription } of this.#subscriptions) subscription.terminate('noresource');
    this.room.close();
  }

  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Makes `media` the participant's member: the session owns it from now on. Returns undefined (and
   * ends the media dialog) when the conference ended or the participant left the roster meanwhile.
   */
  #attach(participantId: string, joiner: Joiner, media: MediaDialog, connectNow: boolean): Member | undefined {
    if (this.#ended || !this.conference.participant(participantId)) {
      media.end('the conference ended', 'ended');
      return undefined;
    }
    const member = new Member({ participantId, aor: joiner.aor, user: joiner.user }, media);
    this.#members.set(participantId, member);
    media.on('gone', (cause, detail) => {
      if (this.#members.get(participantId) !== member) return;
      this.#members.delete(participantId);
      const method: LeaveMethod = cause === 'bye' ? 'departed' : cause === 'ended' ? 'booted' : 'failed';
      this.#leaveRoster(participantId, method, cause === 'bye' ? undefined : describeGone(cause, detail));
      this.#log.info('participant left', {
        participant: joiner.aor,
        cause,
        detail,
        participants: this.conference.size,
      });
      this.#endIfEmpty();
    });
    media.on('refer', (req, res) => this.#onMemberRefer(this, member, req, res));
    media.on('held', () => this.conference.participant(participantId) && this.conference.hold(participantId));
    media.on('resumed', () => this.conference.participant(participantId) && this.conference.resume(participantId));
    // Keys are commands for the focus here (*6 mute toggle), never relayed to the others.
    const menu = new ConferenceDtmfMenu({ conference: this.conference, member, logger: this.#log });
    onDtmf(media, (key) => void menu.press(key), this.#log);
    if (connectNow) {
      this.conference.batch(() => {
        this.conference.connect(participantId);
        this.conference.setMedia(participantId, describeStreams(legStreams(media.leg)));
      });
    }
    return member;
  }

  /** Takes a participant off the roster (if still there) with the method and reason every roster shows. */
  #leaveRoster(participantId: string, method: LeaveMethod, reason: string | undefined): void {
    if (this.#ended || this.conference.ended || !this.conference.participant(participantId)) return;
    this.conference.leave(participantId, method, reason ? { reason } : {});
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
    if (
      !this.#ended &&
      this.#members.size === 0 &&
      !this.conference.participants.some((p) => p.status === 'dialing-in' || p.status === 'dialing-out')
    ) {
      this.end('last participant left');
    }
  }
}

/** The reason a roster shows for a party that did not hang up itself. */
function describeGone(cause: GoneCause, detail: string | undefined): string {
  switch (cause) {
    case 'media-vanished':
      return detail ?? 'media stopped';
    case 'session-expired':
      return detail ?? 'session expired';
    case 'media-closed':
      return detail ?? 'media failed';
    case 'failed':
      return detail ?? 'call failed';
    default:
      return detail ?? cause;
  }
}
