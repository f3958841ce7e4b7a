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
import type { RouterLease } from './router-registry.ts';
import type { LegRoomLink, LegStats, MediaLegEvents } from './leg-types.ts';
import { NegotiatedLeg } from './negotiated-leg.ts';
import { MediaClosedError, SdpNegotiationError } from './errors.ts';
import type { MediaKind } from './codecs.ts';
import { canCarry, codecKey, consumerCapabilities, lineCapabilities, localCodecsOf } from './codec-negotiation.ts';
import { parseRemoteDescription, type RemoteDescription, type SdpCodec } from './sdp/remote-description.ts';
import { writeLocalDescription } from './sdp/local-description.ts';
import {
  RECEIVES,
  SENDS,
  checkTransportContinuity,
  consumerOnlySection,
  direction,
  planRemoteAnswer,
  planRemoteOffer,
  primarySection,
  producerRtpParameters,
  reservedExtensionIds,
  toLocalSection,
  vacate,
  type PlanContext,
  type Section,
} from './webrtc-sections.ts';
import { sectionStats } from './webrtc-stats.ts';
import { DtlsSession } from './webrtc-dtls.ts';

// Compatible exports: these types moved to the leg contract (leg-types.ts).
export type {
  LegCloseReason,
  LegRoomLink,
  LegStats,
  SectionStats,
  SignalingState,
  StreamCounters,
} from './leg-types.ts';

export interface WebRtcLegOptions {
  label: string;
  /** Offer a video m-line (to receive the party's camera) in the first server-originated offer. */
  video?: boolean;
}

export type WebRtcLegEvents = MediaLegEvents & {
  dtlsstatechange: [ms.DtlsState];
};

interface OfferSnapshot {
  sections: Section[];
  dirty: boolean;
}

/** A DTLS close_notify becomes 'vanished' only if the leg is still open this much later. */
const DTLS_CLOSED_GRACE_MS = 2000;

export class WebRtcLeg extends NegotiatedLeg<ms.WebRtcTransport, WebRtcLegEvents> {
  readonly kind = 'webrtc' as const;
  /** A browser's audio lines negotiate ssrc-audio-level when the service detects speakers. */
  readonly capabilities = { speakerDetection: true } as const;
  readonly #offerVideo: boolean;
  /** Negotiate ssrc-audio-level on the party's audio lines (speaker detection). */
  readonly #audioLevels: boolean;

  #sections: Section[] = [];
  #vanished = false;
  #vanishTimer: ReturnType<typeof setTimeout> | undefined;
  /** Our DTLS role and the party's DTLS/ICE parameters. */
  readonly #dtls = new DtlsSession();
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
  #snapshot: OfferSnapshot | undefined;
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
    super({
      id: params.id,
      label: params.options.label,
      log: params.log.child({ leg: params.options.label, legId: params.id }),
      transport: params.transport,
      lease: params.lease,
      link: params.link,
      requests: 'once-per-offer',
    });
    this.#offerVideo = params.options.video === true;
    this.#audioLevels = params.audioLevels === true;
    this.#watchTransport(params.transport);
  }

  #watchTransport(transport: ms.WebRtcTransport): void {
    transport.on('dtlsstatechange', (state) => {
      if (transport !== this.transport) return;
      this.log.info('dtls state', { state });
      this.safeEmit('dtlsstatechange', state);
      if (state === 'failed') this.#vanish('dtls-failed', 0);
      // A closed PeerConnection says goodbye with a DTLS close_notify, often right after its BYE:
      // give the BYE a moment to end the call first.
      else if (state === 'closed') this.#vanish('dtls-closed', DTLS_CLOSED_GRACE_MS);
    });
    transport.on('icestatechange', (state) => {
      if (transport !== this.transport) return;
      this.log.debug('ice state', { state });
      // ICE-lite: 'disconnected' means no consent check arrived for iceConsentTimeout (RFC 7675).
      if (state === 'disconnected') this.#vanish('ice-consent-expired', 0);
      else if (state === 'closed') this.#vanish('ice-closed', 0);
    });
  }

  #vanish(reason: string, delayMs: number): void {
    if (this.closed || this.#vanished || this.#vanishTimer) return;
    const transport = this.transport;
    const fire = (): void => {
      this.#vanishTimer = undefined;
      if (this.closed || this.#vanished || transport !== this.transport || transport.closed) return;
      this.#vanished = true;
      this.log.warn('party vanished', { reason });
      this.safeEmit('vanished', reason);
    };
    if (delayMs <= 0) fire();
    else {
      this.#vanishTimer = setTimeout(fire, delayMs);
      this.#vanishTimer.unref();
    }
  }

  get dtlsState(): ms.DtlsState {
    return this.transport.dtlsState;
  }
  get iceState(): ms.IceState {
    return this.transport.iceState;
  }
  /** The party's producers (one per receiving m-line that sends). */
  get producers(): ms.Producer[] {
    return this.#sections.flatMap((s) => (s.producer && !s.producer.closed ? [s.producer] : []));
  }

  // ---------------------------------------------------------------------------------------------
  // Offer/answer (the shell checks the state first: NegotiatedLeg)
  // ---------------------------------------------------------------------------------------------

  protected async takeRemoteOffer(sdp: string): Promise<void> {
    const desc = parseRemoteDescription(sdp, 'offer');
    checkTransportContinuity(desc, this.#dtls.remoteFingerprint);
    if (this.#sections.length === 0) this.#useBundle = desc.bundleMids.length > 0;
    const next = planRemoteOffer(this.#sections, desc, this.#planContext());

    await this.#connectTransport(desc, 'offer');
    this.#adoptSections(next);
    this.#learnRemoteCodecs(desc);
    await this.#syncProducers(desc);
    this.state = 'have-remote-offer';
    this.#updateHeld();
    await this.syncPauses();
    this.log.info('remote offer applied', { mlines: desc.sections.length, held: this.held });
  }

  /** Our answer carries every consumer that fits the offered m-lines. */
  protected async writeLocalAnswer(): Promise<string> {
    await this.#placePending('answer');
    for (const s of this.#sections) {
      if (s.closed) continue;
      // A consumer-only line whose remote party left: reject it (port 0).
      if (!s.receiving && !s.consumer) {
        this.#closeSection(s);
        continue;
      }
      const send = Boolean(s.consumer) && RECEIVES(s.remoteDirection);
      const recv = s.receiving && SENDS(s.remoteDirection) && !this.heldByFocus;
      s.localDirection = direction(send, recv);
    }
    const sdp = this.#write(this.#dtls.localSetup ?? 'passive');
    this.state = 'stable';
    this.#completeNegotiation();
    await this.syncPauses();
    this.maybeRequestRenegotiation();
    return sdp;
  }

  /** Our offer contains a consumer of every other leg's producers. */
  protected async writeLocalOffer(): Promise<string> {
    this.#snapshot = { sections: this.#sections.map((s) => ({ ...s })), dirty: this.#dirty };
    if (this.#sections.length === 0) {
      this.#sections.push(primarySection('audio', '0', this.#planContext()));
      if (this.#offerVideo) this.#sections.push(primarySection('video', '1', this.#planContext()));
    }
    await this.#placePending('offer');
    for (const s of this.#sections) {
      if (s.closed) continue;
      if (!s.receiving && !s.consumer) {
        this.#closeSection(s);
        continue;
      }
      // Holding the party (RFC 3264 §8.4): sendonly, or inactive when it holds us too.
      s.localDirection = this.heldByFocus
        ? this.held
          ? 'inactive'
          : direction(Boolean(s.consumer), false)
        : direction(Boolean(s.consumer), s.receiving);
    }
    const sdp = this.#write('actpass');
    this.#dirty = false;
    return sdp;
  }

  protected async takeRemoteAnswer(sdp: string): Promise<void> {
    let desc: RemoteDescription;
    let next: Section[];
    try {
      desc = parseRemoteDescription(sdp, 'answer');
      checkTransportContinuity(desc, this.#dtls.remoteFingerprint);
      next = planRemoteAnswer(this.#sections, desc);
    } catch (err) {
      this.rollback();
      throw err;
    }
    await this.#connectTransport(desc, 'answer');
    this.#adoptSections(next);
    this.#learnRemoteCodecs(desc);
    await this.#syncProducers(desc);
    this.state = 'stable';
    this.#snapshot = undefined;
    this.#completeNegotiation();
    await this.syncPauses();
    this.log.info('remote answer applied', { mlines: desc.sections.length });
    this.maybeRequestRenegotiation();
  }

  /**
   * A browser takes no DTMF in its media here (mediasoup forwards no telephone-event to it): always false,
   * the focus sends SIP INFO. Other characters than DTMF digits reject, as for phones.
   */
  sendDtmf(digits: string, _options?: { durationMs?: number; gapMs?: number }): Promise<boolean> {
    if (!/^[0-9*#A-D]+$/i.test(digits))
      return Promise.reject(new RangeError(`not DTMF digits: ${JSON.stringify(digits)} (0-9, *, #, A-D)`));
    return Promise.resolve(false);
  }

  async getStats(): Promise<LegStats> {
    this.assertOpen('getStats');
    const transport = this.transport;
    const [transportStats] = await transport.getStats();
    const sections = await Promise.all(this.#sections.map((s) => sectionStats(s)));
    return {
      legId: this.id,
      label: this.label,
      held: this.held,
      mutedByFocus: this.mutedByFocus,
      heldByFocus: this.heldByFocus,
      workerPid: this.routerLease.worker.pid,
      signalingState: this.state,
      iceState: transport.iceState,
      dtlsState: transport.dtlsState,
      bytesIn: transportStats?.bytesReceived ?? 0,
      bytesOut: transportStats?.bytesSent ?? 0,
      rtpBytesIn: transportStats?.rtpBytesReceived ?? 0,
      rtpBytesOut: transportStats?.rtpBytesSent ?? 0,
      packetsIn: sections.reduce((n, s) => n + (s.producer?.packets ?? 0), 0),
      packetsOut: sections.reduce((n, s) => n + (s.consumer?.packets ?? 0), 0),
      sections,
    };
  }

  protected releaseMedia(): void {
    this.#pending.clear();
    if (this.#vanishTimer) clearTimeout(this.#vanishTimer);
  }

  // ---------------------------------------------------------------------------------------------
  // Room wiring (internal)
  // ---------------------------------------------------------------------------------------------

  /** @internal Another leg's producer this leg should hear/see. */
  wantProducer(producer: ms.Producer): void {
    if (this.closed || producer.closed || this.#declined.has(producer.id)) return;
    if (this.#sections.some((s) => s.consumer?.producerId === producer.id)) return;
    this.#known.set(producer.id, producer);
    this.#pending.set(producer.id, producer);
    this.maybeRequestRenegotiation();
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
   * Another room adopted the leg. Everything consumed from the old room goes (lines are freed, a
   * re-offer is requested); the transport, the producers and the SDP session stay.
   */
  protected leftRoom(): void {
    this.#pending.clear();
    this.#known.clear();
    this.#declined.clear();
    for (const s of this.#sections) if (s.consumer) this.#dropConsumer(s);
  }

  /**
   * The worker under the transport died; the shell swapped in `transport`. Producers are re-created at
   * once from their last parameters (the party's SSRCs do not change), so the room can wire them before
   * the re-offer; consumers come back at the next offer, on the same m-lines.
   */
  protected async rebuildOn(transport: ms.WebRtcTransport, lease: RouterLease): Promise<void> {
    this.#vanished = false;
    if (this.#vanishTimer) clearTimeout(this.#vanishTimer);
    this.#vanishTimer = undefined;
    this.#watchTransport(transport);
    // What the leg consumed came from the room's old routers: the room offers it all again.
    this.#pending.clear();
    this.#known.clear();
    this.#declined.clear();
    for (const s of this.#sections) if (s.consumer) vacate(s, true);
    await this.#dtls.moveTo(transport, this.state === 'have-remote-offer', this.label, (op) => this.assertOpen(op));
    // An outstanding offer's snapshot (restored by a rollback) must not bring the dead objects back.
    const snapshot = this.#snapshot?.sections ?? [];
    for (const snap of snapshot) if (snap.consumer) vacate(snap, true);
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
      this.log.info('producer re-created', { mid: s.mid, kind: dead.kind, producerId: s.producer.id });
      this.link.producerAdded(this, s.producer);
    }
    this.log.info('leg rebuilt on a new transport', { pid: lease.worker.pid });
  }

  // ---------------------------------------------------------------------------------------------
  // Mutations
  // ---------------------------------------------------------------------------------------------

  #planContext(): PlanContext {
    return { routerCapabilities: this.link.routerCapabilities, audioLevels: this.#audioLevels };
  }

  #connectTransport(desc: RemoteDescription, kind: 'offer' | 'answer'): Promise<void> {
    return this.#dtls.apply(this.transport, desc, kind, this.log, (op) => this.assertOpen(op));
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
        this.log.info('party changed its ssrc: replacing producer', { mid: s.mid });
        current.close();
        delete s.producer;
      }
      try {
        s.producer = await this.transport.produce({
          kind: s.kind,
          rtpParameters: producerRtpParameters(s, rs, `${this.id}-${s.mid}`),
          paused: this.#producerShouldPause(s.kind),
          appData: { legId: this.id, legLabel: this.label, mid: s.mid },
        });
      } catch (err) {
        this.assertOpen('applyRemoteDescription');
        throw new SdpNegotiationError(`cannot receive m-line ${i} (${s.kind}): ${(err as Error).message}`, {
          cause: err,
        });
      }
      this.log.info('producer created', { mid: s.mid, kind: s.kind, ssrc: rs.ssrc, producerId: s.producer.id });
      this.link.producerAdded(this, s.producer);
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
          canCarry(s.codecs, producer, this.link.routerCapabilities) &&
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
          Object.assign(recycled, consumerOnlySection(kind, mid));
          target = recycled;
          undo = () => Object.assign(recycled, before);
        } else {
          const added = consumerOnlySection(kind, mid);
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
        ? lineCapabilities(target.codecs, this.link.routerCapabilities)
        : consumerCapabilities(
            kind,
            this.#remoteCodecs.values(),
            this.link.routerCapabilities,
            reservedExtensionIds(this.#sections),
          );
      let consumer: ms.Consumer;
      try {
        consumer = await this.transport.consume({
          producerId: producer.id,
          rtpCapabilities,
          paused: true,
          mid: target.mid,
          appData: { legId: this.id },
        });
      } catch (err) {
        this.assertOpen('consume');
        // Incompatible for good (e.g. no common codec): do not re-offer it forever.
        this.log.warn('cannot consume producer for this party; skipping it', { producerId: producer.id, err });
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
      this.log.info('consumer created', { mid: target.mid, source: target.source.legLabel, mode });
    }
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
    vacate(section, false);
    this.#dirty = true;
    this.log.info("remote party left this leg's m-line", { mid: section.mid });
    this.maybeRequestRenegotiation();
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

  /**
   * Forgets the outstanding local offer: consumers created for it are closed and their producers wait
   * for the next offer.
   */
  protected rollback(): void {
    const snapshot = this.#snapshot;
    this.#snapshot = undefined;
    this.state = 'stable';
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
    this.log.info('local offer rolled back');
  }

  #completeNegotiation(): void {
    this.markNegotiated();
    this.#dirty = false;
    for (const s of this.#sections) if (s.consumer) s.consumerLive = true;
  }

  #updateHeld(): void {
    const open = this.#sections.filter((s) => !s.closed);
    this.setHeld(open.length > 0 && open.every((s) => !RECEIVES(s.remoteDirection)));
  }

  /** A held party keeps sending (JsSIP only rewrites the SDP) and a muted one too: nobody may hear it. */
  #producerShouldPause(kind: MediaKind | undefined): boolean {
    return this.held || this.heldByFocus || (this.mutedByFocus && kind === 'audio');
  }

  /** Applies hold and per-line directions to every consumer and producer of this leg. */
  protected async syncPauses(): Promise<void> {
    const ops: Promise<void>[] = [];
    for (const s of this.#sections) {
      const c = s.consumer;
      if (c && !c.closed) {
        const want = !s.closed && s.consumerLive && !this.held && RECEIVES(s.remoteDirection);
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
      if (r.status === 'rejected') this.log.warn('pause/resume failed', { err: r.reason });
    }
  }

  protected heldByFocusChanged(): Promise<void> {
    return this.syncPauses();
  }

  /** A consumer went away, or a producer waits for a line. */
  protected hasUnofferedChanges(): boolean {
    if (this.#dirty) return true;
    for (const p of this.#pending.values()) if (!p.closed && this.#wantsKind(p.kind)) return true;
    return false;
  }

  /** Video is only sent to parties that showed they do video (or were created with video: true). */
  #wantsKind(kind: MediaKind): boolean {
    if (kind === 'audio') return true;
    if (this.#offerVideo) return true;
    return [...this.#remoteCodecs.values()].some((c) => c.mimeType.toLowerCase().startsWith('video/'));
  }

  #write(setup: 'actpass' | 'active' | 'passive'): string {
    const transport = this.transport;
    const ice = transport.iceParameters;
    const fingerprints = transport.dtlsParameters.fingerprints;
    const fingerprint = fingerprints.find((f) => f.algorithm === 'sha-256') ?? fingerprints[0];
    if (!fingerprint) throw new MediaClosedError('transport has no DTLS fingerprint');
    const body = {
      sessionId: this.sessionId,
      iceUfrag: ice.usernameFragment,
      icePwd: ice.password,
      candidates: transport.iceCandidates.map((c) => ({
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
      sections: this.#sections.map(toLocalSection),
    };
    return writeLocalDescription({ ...body, sessionVersion: this.sessionVersionFor(body) });
  }
}
