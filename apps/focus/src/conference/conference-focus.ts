/**
 * The conference focus (RFC 4353, RFC 4579): creates conferences at the factory URI, admits dial-ins,
 * serves the conference event package (RFC 4575), and carries out REFERs — moving a call's party into
 * a conference (intercept), calling parties (REFER to the focus) and removing them (method=BYE).
 * Also the admin's ConferenceControl.
 */
import type { Logger } from '@conclave/log';
import { ConferenceError, ConferenceRegistry, type Conference } from '@conclave/conference';
import type { MediaService } from '@conclave/media';
import type { Actor, ConferenceControl } from '@conclave/admin-api';
import type { Call, CallSide } from '../call.ts';
import type { UserDirectory } from '../directory.ts';
import type { UserLocator } from '../user-locator.ts';
import { authenticatedUser } from '../sip-auth.ts';
import { parseNameAddr, userOf } from '../sip-uri.ts';
import { acceptDialog, reply, type Srf, type SrfDialog, type SrfRequest, type SrfResponse } from '../srf.ts';
import { ConferenceSession, type Joiner } from './conference-session.ts';
import type { Member } from './member.ts';
import { ReferProgress } from './refer-progress.ts';
import type { SessionTimerSettings } from '../session-timer.ts';
import { conferenceErrorStatus } from '../sip-status.ts';

export type ReferMode = 'intercept' | 'pass-through';

export interface ConferenceFocusOptions {
  srf: Srf;
  media: MediaService;
  directory: UserDirectory;
  /** Where users the focus dials out to are (and which media to offer them). */
  locateUser: UserLocator;
  domain: string;
  /**
   * host[:port] of conference URIs. They are dialled and REFERred to, so they must route to this
   * server: the domain, plus the SIP port when the domain is an IP literal and the port is not 5060.
   */
  conferenceHost?: string;
  factoryUser: string;
  referMode: ReferMode;
  maxParticipants: number;
  allowExternalDialOut: boolean;
  /**
   * A cluster node: other nodes host conferences too. A REFER in a call to a conference URI hosted
   * elsewhere is relayed to the other party (as in pass-through mode), which dials in through the edge
   * to the conference's node, instead of 404.
   */
  conferencesOnOtherNodes?: boolean;
  sessionTimer: SessionTimerSettings;
  /** How long a dialled-out party may ring before the focus gives up. */
  ringTimeoutMs: number;
  logger: Logger;
}

/** Where a REFER arrived: in a two-party call's dialog, in a conference member's dialog, or outside any dialog. */
export type ReferOrigin =
  | { kind: 'call'; call: Call; side: CallSide }
  | { kind: 'member'; session: ConferenceSession; member: Member }
  | { kind: 'out-of-dialog' };

/** A Refer-To value taken apart: the target URI, its method parameter, and an embedded Replaces. */
interface ReferTarget {
  uri: string;
  method: string | undefined;
  replaces: string | undefined;
}

export class ConferenceFocus implements ConferenceControl {
  readonly registry: ConferenceRegistry;
  readonly #opts: ConferenceFocusOptions;
  readonly #log: Logger;
  readonly #sessions = new Map<string, ConferenceSession>();

  constructor(options: ConferenceFocusOptions) {
    this.#opts = options;
    this.#log = options.logger;
    this.registry = new ConferenceRegistry({
      domain: options.conferenceHost ?? options.domain,
      maxParticipants: options.maxParticipants,
      logger: options.logger.child('registry'),
    });
    this.registry.on('ended', (conference) => {
      this.#sessions.get(conference.id)?.end('conference ended');
      this.#sessions.delete(conference.id);
    });
  }

  get factoryUri(): string {
    return `sip:${this.#opts.factoryUser}@${this.#opts.domain}`;
  }

  get sessions(): ConferenceSession[] {
    return [...this.#sessions.values()];
  }

  /** True for the factory URI and for URIs of live conferences (request-URIs the focus serves). */
  serves(uri: string): boolean {
    return this.#isFactory(uri) || this.#sessionFor(uri) !== undefined || this.#looksLikeConference(uri);
  }

  sessionFor(uri: string): ConferenceSession | undefined {
    return this.#sessionFor(uri);
  }

  // ---- INVITE -------------------------------------------------------------------------------------

  async handleInvite(req: SrfRequest, res: SrfResponse): Promise<void> {
    const user = authenticatedUser(req)!;
    const joiner = this.#joiner(user);
    if (this.#isFactory(req.uri)) {
      const conference = this.registry.create({ creator: joiner.aor, maxParticipants: this.#opts.maxParticipants });
      const room = await this.#opts.media.createRoom({ label: conference.uri });
      const session = new ConferenceSession({
        conference,
        room,
        srf: this.#opts.srf,
        domain: this.#opts.domain,
        sessionTimer: this.#opts.sessionTimer,
        ringTimeoutMs: this.#opts.ringTimeoutMs,
        logger: this.#log,
        onMemberRefer: (s, member, referReq, referRes) => {
          this.handleRefer({ kind: 'member', session: s, member }, referReq, referRes).catch((err: Error) => {
            this.#log.error('REFER handling failed', { callId: referReq.get('Call-ID'), error: err.message });
            if (!referRes.finalResponseSent) reply(referRes, 500, 'Server Internal Error');
          });
        },
      });
      this.#sessions.set(conference.id, session);
      this.#log.info('conference created', {
        conference: conference.uri,
        creator: joiner.aor,
        callId: req.get('Call-ID'),
      });
      await session.joinFromInvite(req, res, joiner);
      return;
    }
    const session = this.#sessionFor(req.uri);
    if (!session) {
      reply(res, 404, 'Not Found - no such conference');
      return;
    }
    await session.joinFromInvite(req, res, joiner);
  }

  // ---- SUBSCRIBE ----------------------------------------------------------------------------------

  async handleSubscribe(req: SrfRequest, res: SrfResponse): Promise<void> {
    const event = (req.get('Event') ?? '').split(';')[0]!.trim().toLowerCase();
    if (event !== 'conference') {
      reply(res, 489, 'Bad Event', { headers: { 'Allow-Events': 'conference' } });
      return;
    }
    const session = this.#sessionFor(req.uri);
    if (!session) {
      reply(res, 404, 'Not Found - no such conference');
      return;
    }
    const user = authenticatedUser(req)!;
    const aor = this.#aor(user);
    if (!session.isParticipant(aor) && !this.#opts.directory.isAdmin(user)) {
      this.#log.warn('roster subscription refused: not a participant', { user, conference: session.conference.uri });
      reply(res, 403, 'Forbidden - only participants and admins may watch this conference');
      return;
    }
    await session.subscribe(req, res, user);
  }

  // ---- REFER --------------------------------------------------------------------------------------

  /**
   * Every REFER the focus receives, decided here and only here:
   * - in a two-party call's dialog: Refer-To a conference → the focus moves the other party in
   *   (intercept) or, in pass-through mode, relays it; any other target → relayed to the other party
   *   as an ordinary transfer (Call.relayRefer);
   * - in a conference member's dialog, or outside any dialog to a conference URI → a REFER to the
   *   focus: dial-out or removal.
   */
  async handleRefer(origin: ReferOrigin, req: SrfRequest, res: SrfResponse): Promise<void> {
    switch (origin.kind) {
      case 'call':
        await this.#referInCall(origin.call, origin.side, req, res);
        return;
      case 'member':
        await this.#referToFocus(
          req,
          res,
          origin.session,
          () => {
            reply(res, 202, 'Accepted');
            return origin.member.dialog;
          },
          false,
        );
        return;
      case 'out-of-dialog': {
        const session = this.#sessionFor(req.uri);
        if (!session) {
          reply(res, 404, 'Not Found - REFER outside a dialog is only accepted for conferences');
          return;
        }
        // Accepted with a dialog of its own for the progress NOTIFYs.
        await this.#referToFocus(
          req,
          res,
          session,
          () => acceptDialog(this.#opts.srf, req, res, { Contact: session.focusContact }),
          true,
        );
        return;
      }
    }
  }

  /** A REFER on one side of a two-party call. */
  async #referInCall(call: Call, side: CallSide, req: SrfRequest, res: SrfResponse): Promise<void> {
    const target = parseReferTo(req.get('Refer-To'));
    if (!target) {
      reply(res, 400, 'Bad Request - missing or malformed Refer-To');
      return;
    }
    const session = this.#sessionFor(target.uri);
    if (!session && !this.#looksLikeConference(target.uri)) {
      call.relayRefer(side, req, res); // not about a conference: an ordinary transfer
      return;
    }
    if (!session) {
      if (this.#opts.conferencesOnOtherNodes) {
        // Hosted by another node (or by none: that node answers the party's INVITE 404).
        this.#log.info('conference hosted elsewhere: REFER relayed to the party, which dials in', {
          conference: target.uri,
          callId: call.id,
        });
        call.relayRefer(side, req, res);
        return;
      }
      reply(res, 404, 'Not Found - no such conference');
      return;
    }
    const referrer = authenticatedUserOfDialog(call, side);
    if (!session.isParticipant(this.#aor(referrer)) && !this.#opts.directory.isAdmin(referrer)) {
      reply(res, 403, 'Forbidden - only participants may bring parties into a conference');
      return;
    }
    if (this.#opts.referMode === 'pass-through') {
      call.relayRefer(side, req, res); // the party is referred and dials in itself
      return;
    }
    await this.#intercept(call, side, session, req, res);
  }

  /**
   * REFER addressed to the focus: Refer-To a party → the focus calls it (dial-out, Replaces honoured);
   * Refer-To `<party;method=BYE>` → the focus removes it. `accept` sends the 202 and returns the dialog
   * that carries the progress NOTIFYs; `ownsDialog`: that dialog exists only for this REFER.
   */
  async #referToFocus(
    req: SrfRequest,
    res: SrfResponse,
    session: ConferenceSession,
    accept: () => Promise<SrfDialog> | SrfDialog,
    ownsDialog: boolean,
  ): Promise<void> {
    const user = authenticatedUser(req) ?? this.#memberUser(session, req);
    const target = parseReferTo(req.get('Refer-To'));
    if (!target) {
      reply(res, 400, 'Bad Request - missing or malformed Refer-To');
      return;
    }
    if (!user) {
      reply(res, 403, 'Forbidden');
      return;
    }
    const by = this.#aor(user);
    const isModerator = session.conference.creator === by || this.#opts.directory.isAdmin(user);
    if (target.method === 'BYE') {
      if (!isModerator) {
        reply(res, 403, 'Forbidden - only the creator or a moderator may remove participants');
        return;
      }
      const victims = session.conference.participants.filter((p) => sameAddress(p.entity, target.uri));
      if (victims.length === 0) {
        reply(res, 404, 'Not Found - no such participant');
        return;
      }
      const progress = new ReferProgress(await accept(), req, this.#log, { ownsDialog });
      for (const v of victims) session.removeParticipant(v.id, by);
      progress.final(200);
      return;
    }
    if (!session.isParticipant(by) && !this.#opts.directory.isAdmin(user)) {
      reply(res, 403, 'Forbidden - only participants may invite parties');
      return;
    }
    const targetUser = userOf(target.uri);
    const isLocal = targetUser !== undefined && this.#opts.directory.get(targetUser) !== undefined;
    const binding = isLocal ? await this.#opts.locateUser(targetUser) : undefined;
    if (!isLocal && !this.#opts.allowExternalDialOut) {
      reply(res, 403, 'Forbidden - the focus only calls local users');
      return;
    }
    if (isLocal && !binding) {
      reply(res, 480, 'Temporarily Unavailable - user is offline');
      return;
    }
    const progress = new ReferProgress(await accept(), req, this.#log, { ownsDialog });
    progress.trying();
    const joiner: Joiner = isLocal
      ? this.#joiner(targetUser)
      : { aor: target.uri, user: undefined, displayName: undefined };
    const headers: Record<string, string> = target.replaces ? { Replaces: target.replaces, Require: 'replaces' } : {};
    // External targets (allowExternalDialOut) are assumed to be plain SIP phones.
    const status = await session.dialOut(binding ?? { contact: target.uri, media: 'plain' }, joiner, by, headers);
    progress.final(status);
  }

  // ---- admin --------------------------------------------------------------------------------------

  async mute(conference: Conference, participantId: string, actor: Actor): Promise<void> {
    const member = this.#member(conference, participantId);
    await member.leg.setMutedByFocus(true);
    conference.mute(participantId, { by: actor.uri });
    this.#log.info('participant muted by focus', {
      conference: conference.uri,
      participant: member.aor,
      by: actor.user,
    });
  }

  async unmute(conference: Conference, participantId: string, actor: Actor): Promise<void> {
    const member = this.#member(conference, participantId);
    await member.leg.setMutedByFocus(false);
    conference.unmute(participantId);
    this.#log.info('participant unmuted by focus', {
      conference: conference.uri,
      participant: member.aor,
      by: actor.user,
    });
  }

  kick(conference: Conference, participantId: string, actor: Actor): Promise<void> {
    return settled(() => {
      const session = this.#session(conference);
      if (!session.removeParticipant(participantId, actor.uri, 'removed by an administrator')) {
        if (conference.participant(participantId)) conference.leave(participantId, 'booted', { by: actor.uri });
        else throw new ConferenceError('not-found', `no participant ${participantId}`, { participant: participantId });
      }
    });
  }

  lock(conference: Conference, actor: Actor): Promise<void> {
    return settled(() => {
      conference.lock();
      this.#log.info('conference locked', { conference: conference.uri, by: actor.user });
    });
  }

  unlock(conference: Conference, actor: Actor): Promise<void> {
    return settled(() => {
      conference.unlock();
      this.#log.info('conference unlocked', { conference: conference.uri, by: actor.user });
    });
  }

  end(conference: Conference, actor: Actor): Promise<void> {
    return settled(() => {
      this.#log.info('conference ended by admin', { conference: conference.uri, by: actor.user });
      this.#session(conference).end(`ended by ${actor.user}`);
    });
  }

  /** Ends every conference (shutdown). */
  stop(): void {
    for (const session of this.#sessions.values()) session.end('service shutting down');
    this.#sessions.clear();
    this.registry.close();
  }

  // ---- internals ----------------------------------------------------------------------------------

  /**
   * The focus moves the other party of `call` into the conference itself. Ownership of that party's
   * media dialog passes to the conference at the 202, synchronously: whatever the referrer does with
   * its old call afterwards (BYE, re-INVITE, its connection dropping) cannot touch it.
   */
  async #intercept(
    call: Call,
    side: CallSide,
    session: ConferenceSession,
    req: SrfRequest,
    res: SrfResponse,
  ): Promise<void> {
    const other = call.partyOpposite(side);
    const joiner = this.#joiner(other.user);
    const referrerDialog = call.dialogOf(side)!;
    if (!call.canRelease(other.side)) {
      // The party's side already left the call (hung up, or moved by an earlier REFER).
      reply(res, 481, 'Call/Transaction Does Not Exist - the party is no longer in this call');
      return;
    }
    let participant;
    try {
      participant = session.admit(joiner, {
        joiningMethod: 'dialed-out',
        by: this.#aor(authenticatedUserOfDialog(call, side)),
        status: 'dialing-out',
      });
    } catch (err) {
      const { status, reason } = conferenceErrorStatus(err);
      reply(res, status, reason);
      return;
    }
    const media = call.release(other.side, `conference ${session.conference.uri}`, session.focusContact);
    if (!media) throw new Error('call side could not be released although canRelease() said so');
    reply(res, 202, 'Accepted');
    const progress = new ReferProgress(referrerDialog, req, this.#log);
    progress.trying();
    const outcome = await session.adoptCallLeg(media, joiner, participant);
    if (outcome.joined) {
      progress.final(200);
      return;
    }
    this.#log.warn('moving the party into the conference failed: the party is gone', {
      party: joiner.aor,
      cause: outcome.cause,
      detail: outcome.detail,
    });
    progress.final(
      outcome.cause === 'bye' ? 487 : 480,
      outcome.cause === 'bye'
        ? 'Request Terminated - the party hung up'
        : `Temporarily Unavailable - ${outcome.detail ?? outcome.cause}`,
    );
  }

  #joiner(user: string): Joiner {
    const entry = this.#opts.directory.get(user);
    return { aor: this.#aor(user), user, displayName: entry?.displayName ?? user };
  }

  #aor(user: string): string {
    return `sip:${user}@${this.#opts.domain}`;
  }

  #isFactory(uri: string): boolean {
    return userOf(uri) === this.#opts.factoryUser;
  }

  #looksLikeConference(uri: string): boolean {
    return /^conf-/.test(userOf(uri) ?? '');
  }

  #sessionFor(uri: string): ConferenceSession | undefined {
    const user = userOf(uri);
    if (!user) return undefined;
    const conference = this.registry.findByUri(`sip:${user}@${this.#opts.conferenceHost ?? this.#opts.domain}`);
    return conference ? this.#sessions.get(conference.id) : undefined;
  }

  #session(conference: Conference): ConferenceSession {
    const s = this.#sessions.get(conference.id);
    if (!s) throw new Error(`conference ${conference.uri} has no live session`);
    return s;
  }

  #member(conference: Conference, participantId: string) {
    const m = this.#session(conference).member(participantId);
    if (!m) {
      throw new ConferenceError('not-found', `no connected participant ${participantId}`, {
        participant: participantId,
      });
    }
    return m;
  }

  #memberUser(session: ConferenceSession, req: SrfRequest): string | undefined {
    const callId = req.get('Call-ID');
    return session.members.find((m) => m.callId === callId)?.user;
  }
}

/** A synchronous admin action as the promise ConferenceControl returns: a throw becomes the rejection. */
function settled(action: () => void): Promise<void> {
  return new Promise((resolve) => {
    action();
    resolve();
  });
}

/** The authenticated user on one side of a call (both sides are local users: calls run between them). */
function authenticatedUserOfDialog(call: Call, side: CallSide): string {
  return side === 'caller' ? call.caller.user : call.callee.user;
}

export function parseReferTo(value: string | undefined): ReferTarget | undefined {
  if (!value) return undefined;
  const addr = parseNameAddr(value);
  if (!addr) return undefined;
  const [base, headerPart] = addr.uri.split('?', 2) as [string, string | undefined];
  const method = /;method=([A-Za-z]+)/i.exec(base)?.[1]?.toUpperCase();
  const uri = base.replace(/;method=[A-Za-z]+/i, '');
  let replaces: string | undefined;
  for (const kv of headerPart?.split('&') ?? []) {
    const [k, v] = kv.split('=', 2);
    if (k?.toLowerCase() === 'replaces' && v) replaces = decodeURIComponent(v);
  }
  return { uri, method, replaces };
}

function sameAddress(a: string, b: string): boolean {
  const ua = userOf(a);
  const ub = userOf(b);
  return ua !== undefined && ua === ub;
}
