/**
 * The negotiation shell both leg kinds share: the offer/answer state machine (RFC 3264 states and
 * their guards: glare, answer without offer, closed leg), the SerialQueue that keeps one leg's
 * operations from interleaving, mute and hold by the focus, the re-offer requests ('renegotiationneeded'),
 * the transport swap after a worker crash, close(), and the getters every MediaLeg has.
 *
 * What differs per kind (how an SDP is read and written, what a transport carries, how the media is
 * wired) comes in through the abstract hooks; a hook runs inside the queue, after the shell's checks.
 * A hook moves the signaling state itself where the exchange completes (`state = 'stable'`), so that
 * everything it does afterwards sees the same state as before this shell existed.
 */
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { EnhancedEventEmitter, SerialQueue, type EventMap } from '@conclave/events';
import { MediaClosedError, NegotiationStateError } from './errors.ts';
import type {
  LegCapabilities,
  LegCloseReason,
  LegKind,
  LegRoomLink,
  LegStats,
  MediaLegEvents,
  MediaRoom,
  PlainRtpLegStats,
  RoomLeg,
  SignalingState,
} from './leg-types.ts';
import type { RouterLease } from './router-registry.ts';

export type LegTransport = ms.WebRtcTransport | ms.PlainTransport;

/** When a requested re-offer may be requested again. */
export type RenegotiationRequests =
  /** After the next createLocalOffer() (one request per batch of changes). */
  | 'once-per-offer'
  /** As soon as the request was emitted (each later change asks again). */
  | 'each-change';

export abstract class NegotiatedLeg<T extends LegTransport, E extends EventMap<E> & MediaLegEvents>
  extends EnhancedEventEmitter<E>
  implements RoomLeg
{
  readonly id: string;
  readonly label: string;
  abstract readonly kind: LegKind;
  abstract readonly capabilities: LegCapabilities;
  protected readonly log: Logger;
  /** Offer/answer steps, mute/hold changes and rebuilds of this leg, one at a time. */
  protected readonly queue = new SerialQueue();
  protected state: SignalingState = 'stable';
  /** One offer/answer exchange completed. */
  protected negotiated = false;
  /** For the SDP o= line: the version only moves when the description changes (RFC 3264 §8). */
  protected readonly sessionId = String(Math.floor(Math.random() * 2 ** 52));
  #transport: T;
  #lease: RouterLease;
  #link: LegRoomLink;
  #closed = false;
  #held = false;
  #mutedByFocus = false;
  #heldByFocus = false;
  /** Bumped when the worker died and the transport was replaced. */
  #transportEpoch = 0;
  /** What the last description we wrote carried, and what the last completed exchange carried. */
  #written = { epoch: 0, heldByFocus: false };
  #announced = { epoch: 0, heldByFocus: false };
  #renegotiationRequested = false;
  readonly #requests: RenegotiationRequests;
  #sessionVersion = 0;
  #lastBody = '';

  protected constructor(params: {
    id: string;
    label: string;
    /** The leg's own logger (a child naming the leg). */
    log: Logger;
    transport: T;
    lease: RouterLease;
    link: LegRoomLink;
    requests: RenegotiationRequests;
  }) {
    super(params.log);
    this.id = params.id;
    this.label = params.label;
    this.log = params.log;
    this.#transport = params.transport;
    this.#lease = params.lease;
    this.#link = params.link;
    this.#requests = params.requests;
    this.#watchRouter(params.transport);
  }

  get closed(): boolean {
    return this.#closed;
  }
  get held(): boolean {
    return this.#held;
  }
  /** The admin muted this party (setMutedByFocus): nobody hears it. */
  get mutedByFocus(): boolean {
    return this.#mutedByFocus;
  }
  /** The focus holds this party (setOnHoldByFocus). */
  get heldByFocus(): boolean {
    return this.#heldByFocus;
  }
  /** The room the leg belongs to now (it changes when another room adopts the leg). */
  get room(): MediaRoom {
    return this.#link.room;
  }
  /** PID of the mediasoup worker hosting this leg's transport (changes only when that worker died). */
  get workerPid(): number {
    return this.#lease.worker.pid;
  }
  /** @internal The router the transport lives on. */
  get routerLease(): RouterLease {
    return this.#lease;
  }
  /** @internal */
  get roomLink(): LegRoomLink {
    return this.#link;
  }
  get signalingState(): SignalingState {
    return this.state;
  }
  /** True when a server-originated re-offer would change something for the party. */
  get needsRenegotiation(): boolean {
    return this.needsOffer();
  }
  /** The party's producers, as the room hears/sees it. */
  abstract get producers(): ms.Producer[];
  abstract getStats(): Promise<LegStats | PlainRtpLegStats>;
  abstract sendDtmf(digits: string, options?: { durationMs?: number; gapMs?: number }): Promise<boolean>;

  protected get transport(): T {
    return this.#transport;
  }
  protected get link(): LegRoomLink {
    return this.#link;
  }

  // ---------------------------------------------------------------------------------------------
  // Offer/answer API
  // ---------------------------------------------------------------------------------------------

  /** Applies an offer from the party (initial INVITE, hold/resume re-INVITE). @throws SdpNegotiationError */
  applyRemoteOffer(sdp: string): Promise<void> {
    return this.queue.push(async () => {
      this.assertOpen('applyRemoteOffer');
      if (this.state === 'have-local-offer') {
        throw new NegotiationStateError('glare: a server-originated offer is outstanding on this leg');
      }
      if (this.state === 'have-remote-offer') {
        throw new NegotiationStateError('the previous remote offer has not been answered yet');
      }
      await this.takeRemoteOffer(sdp);
    });
  }

  /** Answers the applied remote offer. */
  createLocalAnswer(): Promise<string> {
    return this.queue.push(async () => {
      this.assertOpen('createLocalAnswer');
      if (this.state !== 'have-remote-offer') throw this.noRemoteOffer();
      return this.writeLocalAnswer();
    });
  }

  /** A server-originated offer: the first offer to a party we call, or a re-offer. */
  createLocalOffer(): Promise<string> {
    return this.queue.push(async () => {
      this.assertOpen('createLocalOffer');
      if (this.state !== 'stable') {
        throw new NegotiationStateError(`createLocalOffer() needs a stable leg (state ${this.state})`);
      }
      this.#renegotiationRequested = false;
      const sdp = await this.writeLocalOffer();
      this.state = 'have-local-offer';
      return sdp;
    });
  }

  /** Applies the party's answer to createLocalOffer(). On SdpNegotiationError the offer is rolled back. */
  applyRemoteAnswer(sdp: string): Promise<void> {
    return this.queue.push(async () => {
      this.assertOpen('applyRemoteAnswer');
      if (this.state !== 'have-local-offer') throw this.noLocalOffer();
      await this.takeRemoteAnswer(sdp);
    });
  }

  /** Forgets the outstanding local offer (the re-INVITE failed, or glare). Does not emit 'renegotiationneeded'. */
  rollbackLocalOffer(): Promise<void> {
    return this.queue.push(() => {
      this.assertOpen('rollbackLocalOffer');
      if (this.state !== 'have-local-offer') {
        throw new NegotiationStateError(`nothing to roll back (state ${this.state})`);
      }
      this.rollback();
    });
  }

  /**
   * The admin mutes (or unmutes) this party: its audio producers are paused, so nobody hears it. The
   * SDP does not change. The state survives renegotiation, hold/resume and adoption.
   */
  setMutedByFocus(muted: boolean): Promise<void> {
    const want = muted === true;
    return this.queue.push(async () => {
      this.assertOpen('setMutedByFocus');
      if (this.#mutedByFocus === want) return;
      this.#mutedByFocus = want;
      this.log.info(want ? 'muted by the focus' : 'unmuted by the focus');
      await this.syncPauses();
      this.#events().safeEmit('mutedbyfocuschange', want);
      this.#link.activityChanged(this);
    });
  }

  /**
   * Holds the party from our side (see MediaLeg.setOnHoldByFocus): nobody hears it, our next offer or
   * answer says sendonly (inactive if it holds us too); a change asks for a re-offer.
   */
  setOnHoldByFocus(held: boolean): Promise<void> {
    const want = held === true;
    return this.queue.push(async () => {
      this.assertOpen('setOnHoldByFocus');
      if (this.#heldByFocus === want) return;
      this.#heldByFocus = want;
      this.log.info(want ? 'held by the focus' : 'no longer held by the focus');
      await this.heldByFocusChanged();
      this.#link.activityChanged(this);
      this.maybeRequestRenegotiation();
    });
  }

  /** Closes the transport (and with it this party's producers and consumers). Idempotent. */
  close(reason: LegCloseReason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.releaseMedia();
    try {
      if (!this.#transport.closed) this.#transport.close();
    } catch (err) {
      this.log.warn('transport close failed', { err });
    }
    this.log.info('leg closed', { reason });
    this.#link.legClosed(this);
    this.#events().safeEmit('closed', reason);
  }

  // ---------------------------------------------------------------------------------------------
  // Room wiring (internal)
  // ---------------------------------------------------------------------------------------------

  abstract wantProducer(producer: ms.Producer): void;
  abstract forgetProducer(producerId: string): void;
  abstract dropProducer(producerId: string): void;

  /** @internal Another room adopted the leg: it stops consuming the old room (the new one wires itself in). */
  moveTo(link: LegRoomLink): void {
    this.#link = link;
    this.leftRoom();
  }

  /**
   * @internal The worker under the transport died: carry on with `transport` (on `lease`); the kind
   * re-creates its producers at once (rebuildOn) and its consumers come back as the room offers again.
   */
  rebuild(transport: T, lease: RouterLease): Promise<void> {
    return this.queue.push(async () => {
      if (this.#closed) {
        transport.close();
        throw new MediaClosedError(`leg '${this.label}' closed before its rebuild`);
      }
      const old = this.#transport;
      this.#transport = transport;
      this.#lease = lease;
      this.#transportEpoch += 1;
      this.#watchRouter(transport);
      if (!old.closed) old.close();
      await this.rebuildOn(transport, lease);
    });
  }

  /** @internal */
  renegotiateIfNeeded(): void {
    this.maybeRequestRenegotiation();
  }

  // ---------------------------------------------------------------------------------------------
  // Hooks of the leg kinds
  // ---------------------------------------------------------------------------------------------

  /** Reads and applies the party's offer; ends in 'have-remote-offer'. */
  protected abstract takeRemoteOffer(sdp: string): Promise<void>;
  /** Writes our answer; ends in 'stable' (completeNegotiation). */
  protected abstract writeLocalAnswer(): Promise<string>;
  /** Writes our offer (the shell moves to 'have-local-offer' afterwards). */
  protected abstract writeLocalOffer(): Promise<string>;
  /** Reads and applies the party's answer; ends in 'stable', or rolls the offer back on bad SDP. */
  protected abstract takeRemoteAnswer(sdp: string): Promise<void>;
  /** Forgets the outstanding local offer; ends in 'stable'. */
  protected abstract rollback(): void;
  /** Applies hold and mute to the producers and consumers. */
  protected abstract syncPauses(): Promise<void>;
  /** setOnHoldByFocus() changed the state. */
  protected abstract heldByFocusChanged(): Promise<void> | void;
  /** Something only a new description can tell the party, besides a new transport or the focus's hold. */
  protected abstract hasUnofferedChanges(): boolean;
  /** The leg moved to another room (the link is already the new one). */
  protected abstract leftRoom(): void;
  /** The transport was replaced (the old one is closed): re-create the producers on it. */
  protected abstract rebuildOn(transport: T, lease: RouterLease): Promise<void>;
  /** close(): stop what the kind runs (the shell closes the transport afterwards). */
  protected abstract releaseMedia(): void;

  // ---------------------------------------------------------------------------------------------
  // Helpers of the leg kinds
  // ---------------------------------------------------------------------------------------------

  protected noRemoteOffer(): NegotiationStateError {
    return new NegotiationStateError(`createLocalAnswer() needs a remote offer (state ${this.state})`);
  }

  protected noLocalOffer(): NegotiationStateError {
    return new NegotiationStateError(`applyRemoteAnswer() needs an outstanding local offer (state ${this.state})`);
  }

  protected assertOpen(op: string): void {
    if (this.#closed) throw new MediaClosedError(`${op}() on closed leg '${this.label}'`);
  }

  /** The party holds us (its description receives nothing) or resumed: tells the focus and the room. */
  protected setHeld(held: boolean): void {
    if (held === this.#held) return;
    this.#held = held;
    this.log.info(held ? 'party put the call on hold' : 'party resumed the call');
    this.#events().safeEmit(held ? 'held' : 'resumed');
    this.#link.activityChanged(this);
  }

  /**
   * The session version for a description with this body (it moves only when the body changes); notes
   * what the party will learn from it (transport, hold by the focus).
   */
  protected sessionVersionFor(body: unknown): number {
    const key = JSON.stringify(body);
    if (key !== this.#lastBody) {
      this.#sessionVersion += 1;
      this.#lastBody = key;
    }
    this.#written = { epoch: this.#transportEpoch, heldByFocus: this.#heldByFocus };
    return this.#sessionVersion;
  }

  /** An exchange completed: the party knows what our last description said. Returns true the first time. */
  protected markNegotiated(): boolean {
    const first = !this.negotiated;
    this.negotiated = true;
    this.#announced = { ...this.#written };
    return first;
  }

  protected needsOffer(): boolean {
    if (this.hasUnofferedChanges()) return true;
    // The party has not yet seen our new transport, or our hold state.
    return (
      this.negotiated &&
      (this.#announced.epoch !== this.#transportEpoch || this.#announced.heldByFocus !== this.#heldByFocus)
    );
  }

  protected maybeRequestRenegotiation(): void {
    if (this.#closed || this.state !== 'stable' || !this.negotiated || this.#renegotiationRequested) return;
    // The room asks once it is rebuilt (renegotiateIfNeeded): one re-offer, carrying everyone.
    if (this.#link.recovering) return;
    if (!this.needsOffer()) return;
    this.#renegotiationRequested = true;
    // Asynchronous on purpose: the caller may be in the middle of sending an answer.
    setImmediate(() => {
      const due = !this.#closed && this.state === 'stable' && this.needsOffer() && !this.#link.recovering;
      if (!due || this.#requests === 'each-change') this.#renegotiationRequested = false;
      if (!due) return;
      this.log.info('renegotiation needed');
      this.#events().safeEmit('renegotiationneeded');
      this.#link.renegotiationNeeded(this);
    });
  }

  #watchRouter(transport: T): void {
    // Both transport kinds have this event; TypeScript cannot call `on` on their union.
    const common: ms.Transport = transport;
    common.on('routerclose', () => {
      if (transport === this.#transport && !this.#closed) this.#link.routerClosed(this);
    });
  }

  /** The events every leg kind has (E extends them, so emitting them is always valid). */
  #events(): EnhancedEventEmitter<MediaLegEvents> {
    return this;
  }
}
