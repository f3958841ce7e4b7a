/**
 * One party's media: a mediasoup WebRtcTransport (ICE-lite, DTLS-SRTP) plus the offer/answer state
 * of the SDP session the party negotiated with us.
 *
 * The leg keeps an ordered list of m-line "sections" for its whole life (m-line order never changes).
 * A section either RECEIVES (the party's own m-lines, and m-line 0 of a server-originated offer:
 * it carries the party's producer and may also carry one consumer, sendrecv, 1:1 style) or is a
 * server-created consumer-only line (sendonly, one per further remote party). A line whose party
 * left goes to port 0 and can be recycled with a new mid.
 *
 * Rules taken from recipes/sdp-bridge.md: answer a=setup:passive and never flip the DTLS role; no
 * a=extmap on lines that carry a producer ("fix B"), router ids on consumer-only lines; explicit
 * unique mids for consumers; consumers created paused and resumed once the description is complete.
 * With speaker detection on, a producer's audio line negotiates ssrc-audio-level (and nothing else),
 * and consumer-only lines leave out router extensions whose id that line already uses.
 *
 * A leg belongs to one room at a time (LegRoomLink). Its transport does not move when another room
 * adopts the leg (only its consumers change; its room pipes producers between routers as needed). It is
 * replaced only when its worker dies (rebuild): new ICE/DTLS parameters, producers re-created from the
 * last negotiated parameters, consumers re-made at the next offer on the same m-lines; the party learns
 * the new transport from our re-offer (Chromium restarts ICE and DTLS on the new ufrag and fingerprint).
 */
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import type { Room } from './room.ts';
import type { RouterLease } from './router-registry.ts';
import type { RoomLeg } from './leg.ts';
import { EnhancedEventEmitter, SerialQueue } from '@conclave/events';
import { MediaClosedError, NegotiationStateError, SdpNegotiationError } from './errors.ts';
import { AUDIO_LEVEL_URI, isMediaCodecMime, type MediaKind } from './codecs.ts';
import {
  answerCodecs,
  canCarry,
  codecKey,
  consumerCapabilities,
  lineCapabilities,
  localCodecsOf,
  primaryCodecs,
  sameCodec,
} from './codec-negotiation.ts';
import {
  fmtpParams,
  parseRemoteDescription,
  type Direction,
  type RemoteDescription,
  type RemoteSection,
  type SdpCodec,
} from './sdp/remote-description.ts';
import { writeLocalDescription, type LocalCodec, type LocalSection } from './sdp/local-description.ts';

export type SignalingState = 'stable' | 'have-local-offer' | 'have-remote-offer';
export type LegCloseReason = 'closed' | 'room-closed' | 'worker-died' | 'service-closed';

export interface WebRtcLegOptions {
  label: string;
  /** Offer a video m-line (to receive the party's camera) in the first server-originated offer. */
  video?: boolean;
}

export type WebRtcLegEvents = {
  /** The party put us on hold (its offer is sendonly/inactive everywhere). */
  held: [];
  resumed: [];
  /** The leg's SDP must be re-offered (createLocalOffer + applyRemoteAnswer). Also re-emitted by the room. */
  renegotiationneeded: [];
  dtlsstatechange: [ms.DtlsState];
  /** setMutedByFocus() changed the state. */
  mutedbyfocuschange: [boolean];
  /** The party is gone without hanging up (see MediaLegEvents.vanished). */
  vanished: [reason: string];
  closed: [LegCloseReason];
};

/** What the room gives each leg (WebRtcLeg or PlainRtpLeg); keeps the leg ignorant of the room's bookkeeping. */
export interface LegRoomLink {
  readonly room: Room;
  readonly routerCapabilities: ms.RtpCapabilities;
  /** The room is rebuilding after a worker crash: legs hold their re-offer requests until it asks (renegotiateIfNeeded). */
  readonly recovering: boolean;
  producerAdded(leg: RoomLeg, producer: ms.Producer): void;
  renegotiationNeeded(leg: RoomLeg): void;
  legClosed(leg: RoomLeg): void;
  /** Held/resumed, muted/unmuted by the focus: who may be the active speaker changed. */
  activityChanged(leg: RoomLeg): void;
  /** The leg's router closed under its transport (its worker died). */
  routerClosed(leg: RoomLeg): void;
}

export interface StreamCounters {
  packets: number;
  bytes: number;
}

export interface SectionStats {
  mid: string;
  kind: string;
  closed: boolean;
  /** Direction in the last description we generated (our point of view). */
  localDirection: Direction;
  remoteDirection: Direction;
  producer?: StreamCounters & { id: string; ssrc: number; paused: boolean };
  consumer?: StreamCounters & { id: string; sourceLegId: string; sourceLabel: string; paused: boolean };
}

export interface LegStats {
  legId: string;
  label: string;
  held: boolean;
  mutedByFocus: boolean;
  heldByFocus: boolean;
  /** mediasoup worker hosting the leg's transport. */
  workerPid: number;
  signalingState: SignalingState;
  iceState: ms.IceState;
  dtlsState: ms.DtlsState;
  /** Transport totals (RTP, RTCP, STUN, DTLS). */
  bytesIn: number;
  bytesOut: number;
  /** RTP of the live producers / consumers. */
  packetsIn: number;
  packetsOut: number;
  rtpBytesIn: number;
  rtpBytesOut: number;
  sections: SectionStats[];
}

interface SourceInfo {
  legId: string;
  legLabel: string;
}

interface Section {
  mid: string;
  midSignaled: boolean;
  mediaType: string;
  kind?: MediaKind;
  protocol: string;
  closedFormats: string;
  closed: boolean;
  /** Carries the party's producer (its own m-lines, or our m-line 0). */
  receiving: boolean;
  /** Payload types valid on this line in both directions. */
  codecs: LocalCodec[];
  headerExtensions: { id: number; uri: string }[];
  remoteDirection: Direction;
  localDirection: Direction;
  rtcpRsize: boolean;
  producer?: ms.Producer;
  consumer?: ms.Consumer;
  /** The consumer has been in a completed offer/answer exchange (may be resumed). */
  consumerLive: boolean;
  source?: SourceInfo;
  /** The line lost its consumer with a dead worker: it takes the new producer of that leg (same mid). */
  vacantFor?: string;
}

interface OfferSnapshot {
  sections: Section[];
  dirty: boolean;
}

/** The extensions of a line that the new description keeps with the same id. */
function keptExtensions(current: { id: number; uri: string }[], rs: RemoteSection): { id: number; uri: string }[] {
  return current.filter((h) => rs.headerExtensions.some((r) => r.id === h.id && r.uri === h.uri));
}

const RECEIVES = (d: Direction): boolean => d === 'sendrecv' || d === 'recvonly';
const SENDS = (d: Direction): boolean => d === 'sendrecv' || d === 'sendonly';

function direction(send: boolean, recv: boolean): Direction {
  return send ? (recv ? 'sendrecv' : 'sendonly') : recv ? 'recvonly' : 'inactive';
}

/** A DTLS close_notify becomes 'vanished' only if the leg is still open this much later. */
const DTLS_CLOSED_GRACE_MS = 2000;

function describeCodecs(section: RemoteSection): string {
  return section.offeredCodecNames.length ? section.offeredCodecNames.join(', ') : 'none';
}

export class WebRtcLeg extends EnhancedEventEmitter<WebRtcLegEvents> {
  readonly id: string;
  readonly label: string;
  readonly #log: Logger;
  #transport: ms.WebRtcTransport;
  #lease: RouterLease;
  #link: LegRoomLink;
  readonly #offerVideo: boolean;
  /** Negotiate ssrc-audio-level on the party's audio lines (speaker detection). */
  readonly #audioLevels: boolean;
  readonly #queue = new SerialQueue();

  #sections: Section[] = [];
  #state: SignalingState = 'stable';
  #negotiated = false;
  #closed = false;
  #held = false;
  #mutedByFocus = false;
  #heldByFocus = false;
  /** Bumped when the worker died and the transport was replaced. */
  #transportEpoch = 0;
  /** What the last description we wrote carried, and what the last completed exchange carried. */
  #written = { epoch: 0, heldByFocus: false };
  #announced = { epoch: 0, heldByFocus: false };
  #vanished = false;
  #vanishTimer: ReturnType<typeof setTimeout> | undefined;
  /** Our DTLS setup once chosen; never changes afterwards (Chromium refuses a flip). */
  #localSetup: 'active' | 'passive' | undefined;
  #remoteFingerprint: string | undefined;
  #remoteFingerprintAlgorithm: string | undefined;
  #remoteUfrag: string | undefined;
  #useBundle = true;
  /** Codecs the party has shown it supports, keyed by mime/clock/channels. */
  #remoteCodecs = new Map<string, SdpCodec>();
  /** Producers of other legs this leg should consume but does not yet. */
  readonly #pending = new Map<string, ms.Producer>();
  /** Every producer this leg was asked to consume (a rollback puts them back to pending). */
  readonly #known = new Map<string, ms.Producer>();
  /** Producers whose consumer line this party rejected: never re-offered to it. */
  readonly #declined = new Set<string>();
  /** Something changed that only a new description can tell the party (a consumer went away). */
  #dirty = false;
  #renegotiationRequested = false;
  #snapshot: OfferSnapshot | undefined;
  readonly #sessionId = String(Math.floor(Math.random() * 2 ** 52));
  #sessionVersion = 0;
  #lastBody = '';
  #midCounter = 0;

  /** @internal Created by Room.createWebRtcLeg(). */
  constructor(params: {
    id: string;
    options: WebRtcLegOptions;
    transport: ms.WebRtcTransport;
    lease: RouterLease;
    link: LegRoomLink;
    log: Logger;
    audioLevels?: boolean;
  }) {
    const log = params.log.child({ leg: params.options.label, legId: params.id });
    super(log);
    this.id = params.id;
    this.label = params.options.label;
    this.#log = log;
    this.#transport = params.transport;
    this.#lease = params.lease;
    this.#link = params.link;
    this.#offerVideo = params.options.video === true;
    this.#audioLevels = params.audioLevels === true;
    this.#watchTransport(this.#transport);
  }

  #watchTransport(transport: ms.WebRtcTransport): void {
    transport.on('routerclose', () => {
      if (transport === this.#transport && !this.#closed) this.#link.routerClosed(this);
    });
    transport.on('dtlsstatechange', (state) => {
      if (transport !== this.#transport) return;
      this.#log.info('dtls state', { state });
      this.safeEmit('dtlsstatechange', state);
      if (state === 'failed') this.#vanish('dtls-failed', 0);
      // A closed PeerConnection says goodbye with a DTLS close_notify, often right after its BYE:
      // give the BYE a moment to end the call first.
      else if (state === 'closed') this.#vanish('dtls-closed', DTLS_CLOSED_GRACE_MS);
    });
    transport.on('icestatechange', (state) => {
      if (transport !== this.#transport) return;
      this.#log.debug('ice state', { state });
      // ICE-lite: 'disconnected' means no consent check arrived for iceConsentTimeout (RFC 7675).
      if (state === 'disconnected') this.#vanish('ice-consent-expired', 0);
      else if (state === 'closed') this.#vanish('ice-closed', 0);
    });
  }

  #vanish(reason: string, delayMs: number): void {
    if (this.#closed || this.#vanished || this.#vanishTimer) return;
    const transport = this.#transport;
    const fire = (): void => {
      this.#vanishTimer = undefined;
      if (this.#closed || this.#vanished || transport !== this.#transport || transport.closed) return;
      this.#vanished = true;
      this.#log.warn('party vanished', { reason });
      this.safeEmit('vanished', reason);
    };
    if (delayMs <= 0) fire();
    else {
      this.#vanishTimer = setTimeout(fire, delayMs);
      this.#vanishTimer.unref();
    }
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
  get room(): Room {
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
  get signalingState(): SignalingState {
    return this.#state;
  }
  get dtlsState(): ms.DtlsState {
    return this.#transport.dtlsState;
  }
  get iceState(): ms.IceState {
    return this.#transport.iceState;
  }
  /** True when a server-originated re-offer would change something for the party. */
  get needsRenegotiation(): boolean {
    return this.#needsOffer();
  }
  /** The party's producers (one per receiving m-line that sends). */
  get producers(): ms.Producer[] {
    return this.#sections.flatMap((s) => (s.producer && !s.producer.closed ? [s.producer] : []));
  }

  // ---------------------------------------------------------------------------------------------
  // Offer/answer API
  // ---------------------------------------------------------------------------------------------

  /** Applies an offer from the party (initial INVITE, hold/resume re-INVITE). @throws SdpNegotiationError */
  applyRemoteOffer(sdp: string): Promise<void> {
    return this.#queue.push(async () => {
      this.#assertOpen('applyRemoteOffer');
      if (this.#state === 'have-local-offer') {
        throw new NegotiationStateError('glare: a server-originated offer is outstanding on this leg');
      }
      if (this.#state === 'have-remote-offer') {
        throw new NegotiationStateError('the previous remote offer has not been answered yet');
      }
      const desc = parseRemoteDescription(sdp, 'offer');
      this.#checkTransportContinuity(desc);
      const next = this.#planRemoteOffer(desc);

      await this.#connectTransport(desc, 'offer');
      this.#adoptSections(next);
      this.#learnRemoteCodecs(desc);
      await this.#syncProducers(desc);
      this.#state = 'have-remote-offer';
      this.#updateHeld();
      await this.#syncPauses();
      this.#log.info('remote offer applied', { mlines: desc.sections.length, held: this.#held });
    });
  }

  /** Answers the applied remote offer; carries every consumer that fits the offered m-lines. */
  createLocalAnswer(): Promise<string> {
    return this.#queue.push(async () => {
      this.#assertOpen('createLocalAnswer');
      if (this.#state !== 'have-remote-offer') {
        throw new NegotiationStateError(`createLocalAnswer() needs a remote offer (state ${this.#state})`);
      }
      await this.#placePending('answer');
      for (const s of this.#sections) {
        if (s.closed) continue;
        // A consumer-only line whose remote party left: reject it (port 0).
        if (!s.receiving && !s.consumer) {
          this.#closeSection(s);
          continue;
        }
        const send = Boolean(s.consumer) && RECEIVES(s.remoteDirection);
        const recv = s.receiving && SENDS(s.remoteDirection) && !this.#heldByFocus;
        s.localDirection = direction(send, recv);
      }
      const sdp = this.#write(this.#localSetup ?? 'passive');
      this.#state = 'stable';
      this.#completeNegotiation();
      await this.#syncPauses();
      this.#maybeRequestRenegotiation();
      return sdp;
    });
  }

  /**
   * A server-originated offer: the first offer to a party we call, or a re-offer after participants
   * joined/left. Contains a consumer of every other leg's producers.
   */
  createLocalOffer(): Promise<string> {
    return this.#queue.push(async () => {
      this.#assertOpen('createLocalOffer');
      if (this.#state !== 'stable') {
        throw new NegotiationStateError(`createLocalOffer() needs a stable leg (state ${this.#state})`);
      }
      this.#snapshot = { sections: this.#sections.map((s) => ({ ...s })), dirty: this.#dirty };
      this.#renegotiationRequested = false;
      if (this.#sections.length === 0) {
        this.#sections.push(this.#primarySection('audio', '0'));
        if (this.#offerVideo) this.#sections.push(this.#primarySection('video', '1'));
      }
      await this.#placePending('offer');
      for (const s of this.#sections) {
        if (s.closed) continue;
        if (!s.receiving && !s.consumer) {
          this.#closeSection(s);
          continue;
        }
        // Holding the party (RFC 3264 §8.4): sendonly, or inactive when it holds us too.
        s.localDirection = this.#heldByFocus
          ? this.#held
            ? 'inactive'
            : direction(Boolean(s.consumer), false)
          : direction(Boolean(s.consumer), s.receiving);
      }
      const sdp = this.#write('actpass');
      this.#dirty = false;
      this.#state = 'have-local-offer';
      return sdp;
    });
  }

  /** Applies the party's answer to createLocalOffer(). On SdpNegotiationError the offer is rolled back. */
  applyRemoteAnswer(sdp: string): Promise<void> {
    return this.#queue.push(async () => {
      this.#assertOpen('applyRemoteAnswer');
      if (this.#state !== 'have-local-offer') {
        throw new NegotiationStateError(`applyRemoteAnswer() needs an outstanding local offer (state ${this.#state})`);
      }
      let desc: RemoteDescription;
      let next: Section[];
      try {
        desc = parseRemoteDescription(sdp, 'answer');
        this.#checkTransportContinuity(desc);
        next = this.#planRemoteAnswer(desc);
      } catch (err) {
        this.#rollback();
        throw err;
      }
      await this.#connectTransport(desc, 'answer');
      this.#adoptSections(next);
      this.#learnRemoteCodecs(desc);
      await this.#syncProducers(desc);
      this.#state = 'stable';
      this.#snapshot = undefined;
      this.#completeNegotiation();
      await this.#syncPauses();
      this.#log.info('remote answer applied', { mlines: desc.sections.length });
      this.#maybeRequestRenegotiation();
    });
  }

  /**
   * Forgets the outstanding local offer (the party refused the re-INVITE, or glare): consumers created
   * for it are closed and their producers wait for the next offer. Does not emit 'renegotiationneeded'.
   */
  rollbackLocalOffer(): Promise<void> {
    return this.#queue.push(async () => {
      this.#assertOpen('rollbackLocalOffer');
      if (this.#state !== 'have-local-offer') {
        throw new NegotiationStateError(`nothing to roll back (state ${this.#state})`);
      }
      this.#rollback();
    });
  }

  /**
   * The admin mutes (or unmutes) this party: its audio producers are paused, so no other leg gets its
   * audio. The SDP does not change. The state survives renegotiation, hold/resume and adoption.
   */
  setMutedByFocus(muted: boolean): Promise<void> {
    const want = muted === true;
    return this.#queue.push(async () => {
      this.#assertOpen('setMutedByFocus');
      if (this.#mutedByFocus === want) return;
      this.#mutedByFocus = want;
      this.#log.info(want ? 'muted by the focus' : 'unmuted by the focus');
      await this.#syncPauses();
      this.safeEmit('mutedbyfocuschange', want);
      this.#link.activityChanged(this);
    });
  }

  /**
   * Holds the party from our side (see MediaLeg.setOnHoldByFocus): its producers pause, our next offer
   * or answer says sendonly (inactive if it holds us too); a change asks for a re-offer.
   */
  setOnHoldByFocus(held: boolean): Promise<void> {
    const want = held === true;
    return this.#queue.push(async () => {
      this.#assertOpen('setOnHoldByFocus');
      if (this.#heldByFocus === want) return;
      this.#heldByFocus = want;
      this.#log.info(want ? 'held by the focus' : 'no longer held by the focus');
      await this.#syncPauses();
      this.#link.activityChanged(this);
      this.#maybeRequestRenegotiation();
    });
  }

  async getStats(): Promise<LegStats> {
    this.#assertOpen('getStats');
    const [transportStats] = await this.#transport.getStats();
    const sections = await Promise.all(
      this.#sections.map(async (s): Promise<SectionStats> => {
        const out: SectionStats = {
          mid: s.mid,
          kind: s.kind ?? s.mediaType,
          closed: s.closed,
          localDirection: s.localDirection,
          remoteDirection: s.remoteDirection,
        };
        // The section may lose its producer/consumer while the stats are read: keep what was there.
        const producer = s.producer;
        const consumer = s.consumer;
        const source = s.source;
        if (producer && !producer.closed) {
          const stats = await producer.getStats().catch(() => []);
          const inbound = stats.filter((x) => x.type === 'inbound-rtp');
          out.producer = {
            id: producer.id,
            ssrc: producer.rtpParameters.encodings?.[0]?.ssrc ?? 0,
            paused: producer.paused,
            packets: inbound.reduce((n, x) => n + x.packetCount, 0),
            bytes: inbound.reduce((n, x) => n + x.byteCount, 0),
          };
        }
        if (consumer && !consumer.closed) {
          const stats = await consumer.getStats().catch(() => []);
          const outbound = stats.filter((x) => x.type === 'outbound-rtp');
          out.consumer = {
            id: consumer.id,
            sourceLegId: source?.legId ?? '',
            sourceLabel: source?.legLabel ?? '',
            paused: consumer.paused,
            packets: outbound.reduce((n, x) => n + x.packetCount, 0),
            bytes: outbound.reduce((n, x) => n + x.byteCount, 0),
          };
        }
        return out;
      }),
    );
    return {
      legId: this.id,
      label: this.label,
      held: this.#held,
      mutedByFocus: this.#mutedByFocus,
      heldByFocus: this.#heldByFocus,
      workerPid: this.#lease.worker.pid,
      signalingState: this.#state,
      iceState: this.#transport.iceState,
      dtlsState: this.#transport.dtlsState,
      bytesIn: transportStats?.bytesReceived ?? 0,
      bytesOut: transportStats?.bytesSent ?? 0,
      rtpBytesIn: transportStats?.rtpBytesReceived ?? 0,
      rtpBytesOut: transportStats?.rtpBytesSent ?? 0,
      packetsIn: sections.reduce((n, s) => n + (s.producer?.packets ?? 0), 0),
      packetsOut: sections.reduce((n, s) => n + (s.consumer?.packets ?? 0), 0),
      sections,
    };
  }

  /** Closes the transport (and with it this party's producers and consumers). Idempotent. */
  close(reason: LegCloseReason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.clear();
    if (this.#vanishTimer) clearTimeout(this.#vanishTimer);
    try {
      if (!this.#transport.closed) this.#transport.close();
    } catch (err) {
      this.#log.warn('transport close failed', { err });
    }
    this.#log.info('leg closed', { reason });
    this.#link.legClosed(this);
    this.safeEmit('closed', reason);
  }

  // ---------------------------------------------------------------------------------------------
  // Room wiring (internal)
  // ---------------------------------------------------------------------------------------------

  /** @internal Another leg's producer this leg should hear/see. */
  wantProducer(producer: ms.Producer): void {
    if (this.#closed || producer.closed || this.#declined.has(producer.id)) return;
    if (this.#sections.some((s) => s.consumer?.producerId === producer.id)) return;
    this.#known.set(producer.id, producer);
    this.#pending.set(producer.id, producer);
    this.#maybeRequestRenegotiation();
  }

  /** @internal The producer closed before this leg consumed it. */
  forgetProducer(producerId: string): void {
    this.#pending.delete(producerId);
    this.#declined.delete(producerId);
    this.#known.delete(producerId);
  }

  /** @internal The producer's party left this leg's room: stop consuming it (its line is freed). */
  dropProducer(producerId: string): void {
    this.forgetProducer(producerId);
    const section = this.#sections.find((s) => s.consumer?.producerId === producerId);
    if (section) this.#dropConsumer(section);
  }

  /**
   * @internal Another room adopted the leg. Everything consumed from the old room goes (lines are
   * freed, a re-offer is requested); the transport, the producers and the SDP session stay.
   */
  moveTo(link: LegRoomLink): void {
    this.#pending.clear();
    this.#known.clear();
    this.#declined.clear();
    this.#link = link;
    for (const s of this.#sections) if (s.consumer) this.#dropConsumer(s);
  }

  /**
   * @internal The worker under the transport died: carry on with `transport` (on `lease`). Producers
   * are re-created at once from their last parameters (the party's SSRCs do not change), so the room
   * can wire them before the re-offer; consumers come back at the next offer, on the same m-lines.
   */
  rebuild(transport: ms.WebRtcTransport, lease: RouterLease): Promise<void> {
    return this.#queue.push(async () => {
      if (this.#closed) {
        transport.close();
        throw new MediaClosedError(`leg '${this.label}' closed before its rebuild`);
      }
      const old = this.#transport;
      this.#transport = transport;
      this.#lease = lease;
      this.#transportEpoch += 1;
      this.#vanished = false;
      if (this.#vanishTimer) clearTimeout(this.#vanishTimer);
      this.#vanishTimer = undefined;
      this.#watchTransport(transport);
      if (!old.closed) old.close();
      // What the leg consumed came from the room's old routers: the room offers it all again.
      this.#pending.clear();
      this.#known.clear();
      this.#declined.clear();
      for (const s of this.#sections) {
        if (!s.consumer) continue;
        if (!s.closed) s.vacantFor = s.source?.legId ?? '';
        delete s.consumer;
        delete s.source;
        s.consumerLive = false;
      }
      // The new transport connects with the next description of the party, as a fresh one does: Chromium
      // restarts DTLS while it applies our re-offer, and a DTLS server started earlier answers the
      // handshake it abandons (measured: 'unexpected message' alert, DTLS failed). Only a remote offer
      // already applied (our answer is next) connects it now, with the role we had.
      const setup = this.#localSetup;
      this.#localSetup = undefined;
      if (this.#state === 'have-remote-offer' && setup && this.#remoteFingerprint && this.#remoteFingerprintAlgorithm) {
        try {
          await transport.connect({
            dtlsParameters: {
              role: setup === 'active' ? 'client' : 'server',
              fingerprints: [
                {
                  algorithm: this.#remoteFingerprintAlgorithm as ms.FingerprintAlgorithm,
                  value: this.#remoteFingerprint,
                },
              ],
            },
          });
          this.#localSetup = setup;
        } catch (err) {
          this.#assertOpen('rebuild');
          throw new Error(`cannot connect the new transport of leg '${this.label}': ${(err as Error).message}`, {
            cause: err,
          });
        }
      }
      // An outstanding offer's snapshot (restored by a rollback) must not bring the dead objects back.
      const snapshot = this.#snapshot?.sections ?? [];
      for (const snap of snapshot) {
        if (snap.consumer) {
          if (!snap.closed) snap.vacantFor = snap.source?.legId ?? '';
          delete snap.consumer;
          delete snap.source;
          snap.consumerLive = false;
        }
      }
      for (const [i, s] of this.#sections.entries()) {
        const dead = s.producer;
        if (!dead) continue;
        delete s.producer;
        const snap = snapshot[i];
        if (snap?.producer === dead) delete snap.producer;
        if (s.closed) continue;
        s.producer = await transport.produce({
          kind: dead.kind,
          rtpParameters: dead.rtpParameters,
          paused: this.#producerShouldPause(dead.kind),
          appData: dead.appData,
        });
        if (snap && snap.mid === s.mid && !snap.closed) snap.producer = s.producer;
        this.#log.info('producer re-created', { mid: s.mid, kind: dead.kind, producerId: s.producer.id });
        this.#link.producerAdded(this, s.producer);
      }
      this.#log.info('leg rebuilt on a new transport', { pid: lease.worker.pid });
    });
  }

  /** @internal */
  renegotiateIfNeeded(): void {
    this.#maybeRequestRenegotiation();
  }

  // ---------------------------------------------------------------------------------------------
  // Planning (pure with respect to mediasoup: validates, returns the next section list)
  // ---------------------------------------------------------------------------------------------

  #checkTransportContinuity(desc: RemoteDescription): void {
    const open = desc.sections.filter((s) => s.port !== 0 && s.kind);
    for (const s of open) {
      if (!s.rtcpMux)
        throw new SdpNegotiationError(`m-line ${s.index} (${s.mediaType}) lacks a=rtcp-mux, which is required`);
    }
    if (this.#remoteFingerprint && desc.fingerprint.value && desc.fingerprint.value !== this.#remoteFingerprint) {
      throw new SdpNegotiationError('the DTLS fingerprint changed; DTLS renegotiation is not supported on a leg');
    }
  }

  #planRemoteOffer(desc: RemoteDescription): Section[] {
    if (desc.sections.length < this.#sections.length) {
      throw new SdpNegotiationError(
        `the offer has ${desc.sections.length} m-lines but ${this.#sections.length} were negotiated; m-lines cannot be removed`,
      );
    }
    const openCount = desc.sections.filter((s) => s.port !== 0 && s.kind).length;
    const bundled = desc.bundleMids.length > 0;
    if (this.#sections.length === 0) this.#useBundle = bundled;
    const next: Section[] = [];
    let firstOpenSeen = false;
    for (const rs of desc.sections) {
      const cur = this.#sections[rs.index];
      if (cur && cur.mediaType !== rs.mediaType) {
        throw new SdpNegotiationError(
          `m-line ${rs.index} changed from ${cur.mediaType} to ${rs.mediaType}; m-line order is fixed`,
        );
      }
      if (cur && !cur.closed && rs.port !== 0 && rs.mid !== cur.mid) {
        throw new SdpNegotiationError(`m-line ${rs.index} changed its mid from '${cur.mid}' to '${rs.mid}'`);
      }
      // Lines outside the bundle (or every line but the first, without BUNDLE) are rejected.
      const outsideBundle =
        rs.port !== 0 && rs.kind !== undefined && (bundled ? !rs.inBundle : openCount > 1 && firstOpenSeen);
      if (rs.port !== 0 && rs.kind) firstOpenSeen = true;

      if (!cur || cur.closed) {
        // A new line from the party (or a port-0 line it recycled): it carries the party's media.
        const section = this.#newRemoteSection(rs, [...next, ...this.#sections.slice(rs.index + 1)]);
        if (outsideBundle) section.closed = true;
        next.push(section);
        continue;
      }
      const updated: Section = { ...cur, remoteDirection: rs.direction, rtcpRsize: rs.rtcpRsize };
      if (rs.port === 0 || outsideBundle) {
        updated.closed = true;
        next.push(updated);
        continue;
      }
      if (cur.receiving) {
        updated.codecs = answerCodecs(rs, this.#link.routerCapabilities);
        updated.headerExtensions = keptExtensions(cur.headerExtensions, rs);
        if (!updated.codecs.some((c) => isMediaCodecMime(c.mimeType))) {
          updated.closed = true;
        }
      } else {
        // Our consumer-only line: keep our payload types, as far as the party still lists them.
        updated.codecs = cur.codecs.filter((c) => rs.codecs.some((r) => sameCodec(r, c)));
        if (!updated.codecs.some((c) => isMediaCodecMime(c.mimeType))) updated.closed = true;
      }
      next.push(updated);
    }
    const audioLines = desc.sections.filter((s) => s.kind === 'audio' && s.port !== 0);
    if (!next.some((s) => !s.closed && s.kind === 'audio')) {
      if (audioLines.length === 0) throw new SdpNegotiationError('the offer has no active audio m-line');
      throw new SdpNegotiationError(
        `the offer has no usable Opus audio (offered: ${audioLines.map(describeCodecs).join('; ')}); Opus over DTLS-SRTP is required`,
      );
    }
    for (const [i, s] of next.entries()) {
      const rs = desc.sections[i]!;
      if (!s.closed && s.receiving && SENDS(rs.direction) && rs.ssrc === undefined) {
        throw new SdpNegotiationError(
          `m-line ${rs.index} sends ${rs.mediaType} without a=ssrc; SSRC-less senders are not supported`,
        );
      }
    }
    return next;
  }

  #planRemoteAnswer(desc: RemoteDescription): Section[] {
    if (desc.sections.length !== this.#sections.length) {
      throw new SdpNegotiationError(
        `the answer has ${desc.sections.length} m-lines but the offer had ${this.#sections.length}`,
      );
    }
    return this.#sections.map((cur, i) => {
      const rs = desc.sections[i]!;
      if (rs.mediaType !== cur.mediaType) {
        throw new SdpNegotiationError(`m-line ${i} of the answer is ${rs.mediaType}, the offer had ${cur.mediaType}`);
      }
      const updated: Section = { ...cur, remoteDirection: rs.direction, rtcpRsize: rs.rtcpRsize };
      if (cur.closed) return updated;
      if (rs.port === 0) {
        updated.closed = true;
        return updated;
      }
      if (rs.midSignaled && rs.mid !== cur.mid) {
        throw new SdpNegotiationError(`m-line ${i} of the answer has mid '${rs.mid}', the offer had '${cur.mid}'`);
      }
      if (cur.receiving) updated.headerExtensions = keptExtensions(cur.headerExtensions, rs);
      updated.codecs = cur.codecs.filter((c) => rs.codecs.some((r) => sameCodec(r, c)));
      if (!updated.codecs.some((c) => isMediaCodecMime(c.mimeType))) {
        throw new SdpNegotiationError(
          `m-line ${i} of the answer keeps none of the offered media codecs (answered: ${describeCodecs(rs)})`,
        );
      }
      if (cur.receiving && SENDS(rs.direction) && rs.ssrc === undefined) {
        throw new SdpNegotiationError(
          `m-line ${i} sends ${rs.mediaType} without a=ssrc; SSRC-less senders are not supported`,
        );
      }
      return updated;
    });
  }

  /** A line the party created. `others`: the lines it will share the BUNDLE with. */
  #newRemoteSection(rs: RemoteSection, others: Section[]): Section {
    const section: Section = {
      mid: rs.mid,
      midSignaled: rs.midSignaled,
      mediaType: rs.mediaType,
      protocol: rs.protocol,
      closedFormats: rs.formats,
      closed: rs.port === 0 || !rs.kind,
      receiving: true,
      codecs: rs.kind ? answerCodecs(rs, this.#link.routerCapabilities) : [],
      headerExtensions: this.#audioLevelExtension(rs, others),
      remoteDirection: rs.direction,
      localDirection: 'inactive',
      rtcpRsize: rs.rtcpRsize,
      consumerLive: false,
    };
    if (rs.kind) section.kind = rs.kind;
    if (!section.codecs.some((c) => isMediaCodecMime(c.mimeType))) section.closed = true;
    return section;
  }

  /**
   * ssrc-audio-level with the party's id, for a new audio line carrying its producer (speaker
   * detection), unless another open line of the BUNDLE already uses that id for something else.
   */
  #audioLevelExtension(rs: RemoteSection, others: Section[]): { id: number; uri: string }[] {
    if (!this.#audioLevels || rs.kind !== 'audio') return [];
    const offered = rs.headerExtensions.find((h) => h.uri === AUDIO_LEVEL_URI);
    if (!offered || !Number.isInteger(offered.id) || offered.id < 1 || offered.id > 14) return [];
    const taken = others.some(
      (s) => !s.closed && s.headerExtensions.some((h) => h.id === offered.id && h.uri !== AUDIO_LEVEL_URI),
    );
    return taken ? [] : [{ id: offered.id, uri: AUDIO_LEVEL_URI }];
  }

  /** Extension ids the lines carrying the party's producers use (id → uri). */
  #reservedExtensionIds(): Map<number, string> {
    const out = new Map<number, string>();
    for (const s of this.#sections) {
      if (s.closed || !s.receiving) continue;
      for (const h of s.headerExtensions) out.set(h.id, h.uri);
    }
    return out;
  }

  /** m-line 0 (and 1 for video) of a server-originated first offer: router payload types. */
  #primarySection(kind: MediaKind, mid: string): Section {
    const codecs = primaryCodecs(kind, this.#link.routerCapabilities);
    // Offering, we choose the id: the router's own, which no consumer line can use for anything else.
    const audioLevel =
      this.#audioLevels && kind === 'audio'
        ? (this.#link.routerCapabilities.headerExtensions ?? []).find(
            (h) => h.kind === 'audio' && h.uri === AUDIO_LEVEL_URI,
          )
        : undefined;
    return {
      mid,
      midSignaled: true,
      mediaType: kind,
      kind,
      protocol: 'UDP/TLS/RTP/SAVPF',
      closedFormats: codecs.map((c) => c.payloadType).join(' '),
      closed: false,
      receiving: true,
      codecs,
      headerExtensions: audioLevel ? [{ id: audioLevel.preferredId, uri: AUDIO_LEVEL_URI }] : [],
      remoteDirection: 'sendrecv',
      localDirection: 'recvonly',
      rtcpRsize: true,
      consumerLive: false,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Mutations
  // ---------------------------------------------------------------------------------------------

  async #connectTransport(desc: RemoteDescription, kind: 'offer' | 'answer'): Promise<void> {
    if (this.#localSetup === undefined) {
      // Answering: we are passive (the DTLS server, as mediasoup-client does) unless the party insists
      // on being passive. Offering (actpass): the party chose; an answer without a=setup means active.
      const remoteIsServer = desc.setup === 'passive';
      this.#localSetup = remoteIsServer ? 'active' : 'passive';
      const fingerprint = {
        algorithm: desc.fingerprint.algorithm as ms.FingerprintAlgorithm,
        value: desc.fingerprint.value,
      };
      try {
        await this.#transport.connect({
          dtlsParameters: { role: remoteIsServer ? 'server' : 'client', fingerprints: [fingerprint] },
        });
      } catch (err) {
        this.#localSetup = undefined;
        this.#assertOpen('connect');
        throw new SdpNegotiationError(`cannot use the ${kind}'s DTLS parameters: ${(err as Error).message}`, {
          cause: err,
        });
      }
      this.#remoteFingerprint = desc.fingerprint.value;
      this.#remoteFingerprintAlgorithm = desc.fingerprint.algorithm;
      this.#remoteUfrag = desc.iceUfrag;
      this.#log.info('transport connecting', { localSetup: this.#localSetup });
      return;
    }
    if (kind === 'offer' && this.#remoteUfrag !== undefined && desc.iceUfrag !== this.#remoteUfrag) {
      // The party restarted ICE: it expects fresh credentials from us in the answer.
      await this.#transport.restartIce();
      this.#log.info('ice restarted by the remote party');
    }
    this.#remoteUfrag = desc.iceUfrag;
  }

  /** Installs the planned sections, closing whatever a closed line carried. */
  #adoptSections(next: Section[]): void {
    for (const s of next) {
      if (s.closed) this.#releaseSection(s, true);
    }
    this.#sections = next;
  }

  #learnRemoteCodecs(desc: RemoteDescription): void {
    for (const s of desc.sections) {
      if (s.port === 0 || !s.kind) continue;
      for (const c of s.codecs) {
        const key = codecKey(c);
        if (!this.#remoteCodecs.has(key)) this.#remoteCodecs.set(key, c);
      }
    }
  }

  /** Creates/replaces the party's producers from the a=ssrc of its sending lines. */
  async #syncProducers(desc: RemoteDescription): Promise<void> {
    for (const [i, s] of this.#sections.entries()) {
      const rs = desc.sections[i];
      if (!rs || s.closed || !s.receiving || !s.kind || rs.ssrc === undefined) continue;
      const current = s.producer && !s.producer.closed ? s.producer : undefined;
      if (current && current.rtpParameters.encodings?.[0]?.ssrc === rs.ssrc) continue;
      if (current) {
        this.#log.info('party changed its ssrc: replacing producer', { mid: s.mid });
        current.close();
        delete s.producer;
      }
      const codecs: ms.RtpCodecParameters[] = s.codecs.map((c) => {
        const codec: ms.RtpCodecParameters = {
          mimeType: c.mimeType,
          payloadType: c.payloadType,
          clockRate: c.clockRate,
          parameters: fmtpParams(c.fmtp),
          rtcpFeedback: c.rtcpFeedback,
        };
        if (c.channels !== undefined) codec.channels = c.channels;
        return codec;
      });
      const encoding: ms.RtpEncodingParameters = { ssrc: rs.ssrc };
      if (rs.rtxSsrc !== undefined && codecs.some((c) => c.mimeType.toLowerCase() === 'video/rtx')) {
        encoding.rtx = { ssrc: rs.rtxSsrc };
      }
      try {
        s.producer = await this.#transport.produce({
          kind: s.kind,
          rtpParameters: {
            codecs,
            // Only what the line negotiated: nothing (fix B), or ssrc-audio-level for speaker detection.
            headerExtensions: s.headerExtensions.map((h) => ({ uri: h.uri as ms.RtpHeaderExtensionUri, id: h.id })),
            encodings: [encoding],
            rtcp: { cname: rs.cname ?? `${this.id}-${s.mid}`, reducedSize: s.rtcpRsize },
          },
          paused: this.#producerShouldPause(s.kind),
          appData: { legId: this.id, legLabel: this.label, mid: s.mid },
        });
      } catch (err) {
        this.#assertOpen('applyRemoteDescription');
        throw new SdpNegotiationError(`cannot receive m-line ${i} (${s.kind}): ${(err as Error).message}`, {
          cause: err,
        });
      }
      this.#log.info('producer created', { mid: s.mid, kind: s.kind, ssrc: rs.ssrc, producerId: s.producer.id });
      this.#link.producerAdded(this, s.producer);
    }
  }

  /** Puts waiting producers on m-lines: existing free lines, then (offers only) recycled or new ones. */
  async #placePending(mode: 'offer' | 'answer'): Promise<void> {
    for (const producer of [...this.#pending.values()]) {
      if (producer.closed || this.#declined.has(producer.id)) {
        this.#pending.delete(producer.id);
        continue;
      }
      const kind = producer.kind;
      if (!this.#wantsKind(kind)) continue;
      this.#pending.delete(producer.id);
      // Free lines: the party's own lines without a consumer, and lines emptied by a worker crash.
      const candidates = this.#sections.filter(
        (s) =>
          !s.closed &&
          (s.receiving || s.vacantFor !== undefined) &&
          s.kind === kind &&
          !s.consumer &&
          canCarry(s.codecs, producer, this.#link.routerCapabilities) &&
          (mode === 'offer' || RECEIVES(s.remoteDirection)),
      );
      const sourceLegId = String((producer.appData as { legId?: string }).legId ?? '');
      const free =
        candidates.find((s) => s.vacantFor === sourceLegId) ??
        candidates.find((s) => s.vacantFor === undefined) ??
        candidates[0];
      let target = free;
      let undo: (() => void) | undefined;
      if (!target && mode === 'offer') {
        const recycled = this.#sections.find((s) => s.closed && s.mediaType === kind);
        const mid = this.#newMid();
        if (recycled) {
          const before = { ...recycled };
          Object.assign(recycled, this.#consumerOnlySection(kind, mid));
          target = recycled;
          undo = () => Object.assign(recycled, before);
        } else {
          const added = this.#consumerOnlySection(kind, mid);
          this.#sections.push(added);
          target = added;
          undo = () => this.#sections.splice(this.#sections.indexOf(added), 1);
        }
      }
      if (!target) {
        this.#pending.set(producer.id, producer);
        continue;
      }
      const rtpCapabilities = target.receiving
        ? lineCapabilities(target.codecs, this.#link.routerCapabilities)
        : consumerCapabilities(
            kind,
            this.#remoteCodecs.values(),
            this.#link.routerCapabilities,
            this.#reservedExtensionIds(),
          );
      let consumer: ms.Consumer;
      try {
        consumer = await this.#transport.consume({
          producerId: producer.id,
          rtpCapabilities,
          paused: true,
          mid: target.mid,
          appData: { legId: this.id },
        });
      } catch (err) {
        this.#assertOpen('consume');
        // Incompatible for good (e.g. no common codec): do not re-offer it forever.
        this.#log.warn('cannot consume producer for this party; skipping it', { producerId: producer.id, err });
        undo?.();
        this.#declined.add(producer.id);
        continue;
      }
      const source = producer.appData as { legId?: string; legLabel?: string };
      delete target.vacantFor;
      target.consumer = consumer;
      target.consumerLive = false;
      target.source = { legId: String(source.legId ?? ''), legLabel: String(source.legLabel ?? '') };
      if (!target.receiving) {
        target.codecs = localCodecsOf(consumer.rtpParameters.codecs);
        target.headerExtensions = (consumer.rtpParameters.headerExtensions ?? []).map((h) => ({
          id: h.id,
          uri: h.uri,
        }));
        target.closedFormats = target.codecs.map((c) => c.payloadType).join(' ');
      }
      consumer.on('producerclose', () => this.#onConsumerGone(consumer));
      this.#log.info('consumer created', { mid: target.mid, source: target.source.legLabel, mode });
    }
  }

  #consumerOnlySection(kind: MediaKind, mid: string): Section {
    return {
      mid,
      midSignaled: true,
      mediaType: kind,
      kind,
      protocol: 'UDP/TLS/RTP/SAVPF',
      closedFormats: '',
      closed: false,
      receiving: false,
      codecs: [],
      headerExtensions: [],
      remoteDirection: 'recvonly',
      localDirection: 'sendonly',
      rtcpRsize: true,
      consumerLive: false,
    };
  }

  #newMid(): string {
    const used = new Set(this.#sections.map((s) => s.mid));
    let mid: string;
    do mid = `c${++this.#midCounter}`;
    while (used.has(mid));
    return mid;
  }

  /** Stops consuming on a line (the producer's party left the room, or this leg moved to another). */
  #dropConsumer(section: Section): void {
    const consumer = section.consumer;
    if (!consumer) return;
    if (!consumer.closed) consumer.close();
    this.#onConsumerGone(consumer);
  }

  #onConsumerGone(consumer: ms.Consumer): void {
    const section = this.#sections.find((s) => s.consumer === consumer);
    if (!section) return;
    delete section.consumer;
    delete section.source;
    section.consumerLive = false;
    this.#dirty = true;
    this.#log.info("remote party left this leg's m-line", { mid: section.mid });
    this.#maybeRequestRenegotiation();
  }

  /** Closes a section and what it carries (port 0 from now on). */
  #closeSection(section: Section): void {
    section.closed = true;
    section.localDirection = 'inactive';
    this.#releaseSection(section, true);
  }

  #releaseSection(section: Section, decline: boolean): void {
    if (section.consumer) {
      if (decline && !section.consumer.closed) this.#declined.add(section.consumer.producerId);
      if (!section.consumer.closed) section.consumer.close();
      delete section.consumer;
      delete section.source;
    }
    if (section.producer) {
      if (!section.producer.closed) section.producer.close();
      delete section.producer;
    }
    section.consumerLive = false;
    section.headerExtensions = [];
  }

  #rollback(): void {
    const snapshot = this.#snapshot;
    this.#snapshot = undefined;
    this.#state = 'stable';
    if (!snapshot) return;
    const kept = new Set(snapshot.sections.map((s) => s.consumer).filter((c) => c !== undefined));
    for (const s of this.#sections) {
      const c = s.consumer;
      if (!c || kept.has(c) || c.closed) continue;
      c.close();
      const producer = this.#known.get(c.producerId);
      if (producer && !producer.closed) this.#pending.set(producer.id, producer);
    }
    // Consumers that died during the offer must not come back with the snapshot.
    for (const s of snapshot.sections) {
      if (s.consumer?.closed) {
        delete s.consumer;
        delete s.source;
        snapshot.dirty = true;
      }
    }
    this.#sections = snapshot.sections;
    this.#dirty = snapshot.dirty;
    this.#log.info('local offer rolled back');
  }

  #completeNegotiation(): void {
    this.#negotiated = true;
    this.#dirty = false;
    this.#announced = { ...this.#written };
    for (const s of this.#sections) if (s.consumer) s.consumerLive = true;
  }

  #updateHeld(): void {
    const open = this.#sections.filter((s) => !s.closed);
    const held = open.length > 0 && open.every((s) => !RECEIVES(s.remoteDirection));
    if (held === this.#held) return;
    this.#held = held;
    this.#log.info(held ? 'party put the call on hold' : 'party resumed the call');
    this.safeEmit(held ? 'held' : 'resumed');
    this.#link.activityChanged(this);
  }

  /** A held party keeps sending (JsSIP only rewrites the SDP) and a muted one too: nobody may hear it. */
  #producerShouldPause(kind: MediaKind | undefined): boolean {
    return this.#held || this.#heldByFocus || (this.#mutedByFocus && kind === 'audio');
  }

  /** Applies hold and per-line directions to every consumer and producer of this leg. */
  async #syncPauses(): Promise<void> {
    const ops: Promise<void>[] = [];
    for (const s of this.#sections) {
      const c = s.consumer;
      if (c && !c.closed) {
        const want = !s.closed && s.consumerLive && !this.#held && RECEIVES(s.remoteDirection);
        if (want && c.paused) ops.push(c.resume());
        else if (!want && !c.paused) ops.push(c.pause());
      }
      const p = s.producer;
      if (p && !p.closed) {
        const pause = this.#producerShouldPause(p.kind);
        if (pause && !p.paused) ops.push(p.pause());
        else if (!pause && p.paused) ops.push(p.resume());
      }
    }
    const results = await Promise.allSettled(ops);
    for (const r of results) {
      if (r.status === 'rejected') this.#log.warn('pause/resume failed', { err: r.reason });
    }
  }

  #needsOffer(): boolean {
    if (this.#dirty) return true;
    // The party has not yet seen our new transport, or our hold state.
    if (
      this.#negotiated &&
      (this.#announced.epoch !== this.#transportEpoch || this.#announced.heldByFocus !== this.#heldByFocus)
    )
      return true;
    for (const p of this.#pending.values()) if (!p.closed && this.#wantsKind(p.kind)) return true;
    return false;
  }

  /** Video is only sent to parties that showed they do video (or were created with video: true). */
  #wantsKind(kind: MediaKind): boolean {
    if (kind === 'audio') return true;
    if (this.#offerVideo) return true;
    return [...this.#remoteCodecs.values()].some((c) => c.mimeType.toLowerCase().startsWith('video/'));
  }

  #maybeRequestRenegotiation(): void {
    if (this.#closed || this.#state !== 'stable' || !this.#negotiated || this.#renegotiationRequested) return;
    // The room asks once it is rebuilt (renegotiateIfNeeded): one re-offer, carrying everyone.
    if (this.#link.recovering) return;
    if (!this.#needsOffer()) return;
    this.#renegotiationRequested = true;
    // Asynchronous on purpose: the caller may be in the middle of sending an answer.
    setImmediate(() => {
      if (this.#closed || this.#state !== 'stable' || !this.#needsOffer() || this.#link.recovering) {
        this.#renegotiationRequested = false;
        return;
      }
      this.#log.info('renegotiation needed');
      this.safeEmit('renegotiationneeded');
      this.#link.renegotiationNeeded(this);
    });
  }

  #write(setup: 'actpass' | 'active' | 'passive'): string {
    const ice = this.#transport.iceParameters;
    const fingerprints = this.#transport.dtlsParameters.fingerprints;
    const fingerprint = fingerprints.find((f) => f.algorithm === 'sha-256') ?? fingerprints[0];
    if (!fingerprint) throw new MediaClosedError('transport has no DTLS fingerprint');
    const sections: LocalSection[] = this.#sections.map((s) => {
      const local: LocalSection = {
        mid: s.mid,
        midSignaled: s.midSignaled,
        mediaType: s.mediaType,
        protocol: s.protocol,
        closed: s.closed,
        closedFormats: s.closedFormats || s.codecs.map((c) => c.payloadType).join(' '),
        direction: s.localDirection,
        codecs: s.codecs,
        headerExtensions: s.headerExtensions,
        rtcpRsize: s.rtcpRsize,
      };
      const c = s.consumer;
      if (c && !c.closed) {
        const encoding = c.rtpParameters.encodings?.[0];
        if (encoding?.ssrc !== undefined) {
          local.source = {
            ssrc: encoding.ssrc,
            cname: c.rtpParameters.rtcp?.cname ?? 'conclave',
            streamId: s.source?.legId || 'conclave',
            trackId: c.id,
          };
          if (encoding.rtx?.ssrc !== undefined) local.source.rtxSsrc = encoding.rtx.ssrc;
        }
      }
      return local;
    });
    const body = {
      sessionId: this.#sessionId,
      iceUfrag: ice.usernameFragment,
      icePwd: ice.password,
      candidates: this.#transport.iceCandidates.map((c) => ({
        foundation: c.foundation,
        priority: c.priority,
        address: c.address,
        port: c.port,
        protocol: c.protocol,
        ...(c.tcpType ? { tcpType: c.tcpType } : {}),
      })),
      fingerprint: { algorithm: fingerprint.algorithm, value: fingerprint.value },
      setup,
      bundle: this.#useBundle,
      sections,
    };
    // RFC 3264 §8: the version only moves when the description changes.
    const key = JSON.stringify(body);
    if (key !== this.#lastBody) {
      this.#sessionVersion += 1;
      this.#lastBody = key;
    }
    this.#written = { epoch: this.#transportEpoch, heldByFocus: this.#heldByFocus };
    return writeLocalDescription({ ...body, sessionVersion: this.#sessionVersion });
  }

  #assertOpen(op: string): void {
    if (this.#closed) throw new MediaClosedError(`${op}() on closed leg '${this.label}'`);
  }
}
