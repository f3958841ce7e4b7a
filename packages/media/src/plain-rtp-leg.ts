/**
 * One plain SIP phone's media (baresip, linphone, desk phones): RTP/AVP with G.711 (or opus), no ICE,
 * no DTLS, no a=ssrc, rtcp-mux optional. The phone is anchored in the room's router like a browser,
 * but it cannot take part in the SFU: it sends one G.711 stream with an SSRC nobody signals, and it
 * can only play one stream. So the leg is a relay in this process, a place in its room's mixer and, for
 * G.711 phones, one GStreamer process:
 *
 *   phone ⇄ UDP port pair (MediaService RTC range) ⇄ relay (this class)
 *     to the room's mixer: phone RTP → the leg's mixer input (decoded once, with every other party)
 *     to browsers:         phone G.711 RTP → UplinkTranscoder (→ Opus, our SSRC) → relay → loopback
 *                          PlainTransport → producer (Opus, PT 111)
 *     what it hears:       the leg's mixer output (everyone but itself, in its codec) → phone
 *
 * The relay owns every socket, so it can drop what must not pass (hold, unknown payload types,
 * strangers), keep the producer's stream continuous when the uplink pipeline is replaced (RtpRewriter),
 * and send from the port the phone sends to (symmetric RTP). Opus phones skip the uplink pipeline: the
 * relay forwards their RTP with our SSRC and the router's payload type.
 *
 * To the focus it is a leg like WebRtcLeg: same offer/answer calls and events. Its SDP never changes
 * when parties join or leave (the mix changes instead); it asks for a re-offer only when the focus holds
 * it (setOnHoldByFocus) and after its worker died.
 *
 * A worker crash takes the loopback PlainTransport (its producer) but not the phone's
 * port pair, which this process owns: rebuild() makes a new PlainTransport towards the same relay and
 * re-creates the producer with the same SSRC, so the phone's audio resumes without waiting for the
 * re-offer (which then carries the same port).
 *
 * A phone that should send (negotiated, not held either way, its direction sends) but from which nothing
 * arrived for `rtpTimeoutMs` is reported 'vanished' ('no-media').
 */
import type dgram from 'node:dgram';
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import type { RouterLease } from './router-registry.ts';
import type { LegRoomLink, MediaLegEvents, PlainRtpLegStats } from './leg-types.ts';
import { NegotiatedLeg } from './negotiated-leg.ts';
import { SdpNegotiationError } from './errors.ts';
import { OPUS } from './codecs.ts';
import { RtpPortPair, bindLoopback } from './rtp-port.ts';
import { RtpRewriter, isRtcp, randomSsrc, readRtpHeader } from './rtp-packet.ts';
import { UplinkTranscoder } from './uplink-transcoder.ts';
import { PlainLegMix } from './plain-leg-mixer.ts';
import {
  DEFAULT_OFFER,
  RECEIVES,
  SENDS,
  answerSections,
  codecLabel,
  negotiatedRemote,
  offerMedia,
  planAnswer,
  readAnswer,
  type AnswerPlan,
  type OfferedMedia,
  type PlainLocalSection,
  type PlainRemote,
} from './plain-offer-answer.ts';
import {
  PLAIN_CODEC_NAMES,
  isPlainRtpOffer,
  parsePlainDescription,
  writePlainDescription,
  type DtmfCodec,
  type PlainAudioSection,
  type PlainCodec,
  type PlainCodecName,
  type PlainSectionShape,
} from './sdp/plain-description.ts';

// Compatible export: the stats type moved to the leg contract (leg-types.ts).
export type { PlainRtpLegStats } from './leg-types.ts';

export interface PlainRtpLegOptions {
  label: string;
  /**
   * Codecs this leg may use, in our order of preference (our offers list them in this order).
   * Default: offers carry PCMU and PCMA; answers accept PCMU, PCMA and opus, whichever the phone prefers.
   */
  codecs?: PlainCodecName[];
}

export type PlainRtpLegEvents = MediaLegEvents;

/** @internal Where phones reach us: the service's listen IP, announced address and RTC port range. */
export interface PlainListenSettings {
  ip: string;
  announcedAddress?: string;
  minPort: number;
  maxPort: number;
}

/** Default PlainRtpLeg 'no-media' threshold (LiveKit SIP ends a leg 15 s after its media stopped). */
export const DEFAULT_RTP_TIMEOUT_MS = 15_000;

export class PlainRtpLeg extends NegotiatedLeg<ms.PlainTransport, PlainRtpLegEvents> {
  /** True when the offer is for a PlainRtpLeg (RTP/AVP, no DTLS); see legKindForOffer(). */
  static isPlainRtpOffer(sdp: string): boolean {
    return isPlainRtpOffer(sdp);
  }

  readonly kind = 'plain' as const;
  /** A phone's producer carries no RFC 6464 level: the room mixer's levels name it active speaker instead. */
  readonly capabilities = { speakerDetection: false } as const;
  readonly #phone: RtpPortPair;
  readonly #relay: dgram.Socket;
  readonly #relayPort: number;
  readonly #address: string;
  readonly #accept: PlainCodecName[];
  readonly #offer: PlainCodecName[];
  readonly #opusPt: number;
  readonly #uplink: UplinkTranscoder;
  /** The phone in its room's mixer: its audio in, what it hears out. */
  readonly #mix: PlainLegMix;
  readonly #producerSsrc = randomSsrc();
  readonly #toProducer: RtpRewriter;

  /** 'no-media' detection: the last datagram from the phone (or the last time it was not expected to send). */
  readonly #rtpTimeoutMs: number;
  #lastHeardAt = Date.now();
  /** #expectsMedia() when last looked at: the silence clock starts when it becomes true. */
  #expecting = false;
  #silenceTimer: ReturnType<typeof setInterval> | undefined;
  #vanished = false;
  #remote: PlainRemote | undefined;
  #sections: PlainSectionShape[] = [];
  #audioIndex = 0;
  #rtcpMux = false;
  #answerPlan: AnswerPlan | undefined;
  #offered: OfferedMedia | undefined;
  #producer: ms.Producer | undefined;
  readonly #fromPhone = { packets: 0, bytes: 0, dropped: 0, dtmf: 0 };
  readonly #toPhoneCount = { packets: 0, bytes: 0 };
  #strangerLogged = false;

  /** @internal Created by Room.createPlainRtpLeg() through PlainRtpLeg.create(). */
  private constructor(params: {
    id: string;
    options: PlainRtpLegOptions;
    transport: ms.PlainTransport;
    lease: RouterLease;
    link: LegRoomLink;
    log: Logger;
    phone: RtpPortPair;
    relay: dgram.Socket;
    address: string;
    rtpTimeoutMs?: number;
  }) {
    const log = params.log.child({ leg: params.options.label, legId: params.id, plain: true });
    super({
      id: params.id,
      label: params.options.label,
      log,
      transport: params.transport,
      lease: params.lease,
      link: params.link,
      requests: 'each-change',
    });
    this.#phone = params.phone;
    this.#relay = params.relay;
    this.#relayPort = params.relay.address().port;
    this.#address = params.address;
    const codecs = params.options.codecs?.filter((c) => PLAIN_CODEC_NAMES.includes(c));
    if (params.options.codecs && (!codecs || codecs.length === 0)) {
      throw new RangeError(`PlainRtpLeg codecs must name PCMU, PCMA or opus (got ${params.options.codecs.join(', ')})`);
    }
    this.#accept = codecs ? [...new Set(codecs)] : [...PLAIN_CODEC_NAMES];
    this.#offer = codecs ? [...new Set(codecs)] : [...DEFAULT_OFFER];
    const opus = (params.link.routerCapabilities.codecs ?? []).find((c) => c.mimeType.toLowerCase() === OPUS);
    if (!opus) throw new Error('the router has no Opus codec');
    this.#opusPt = opus.preferredPayloadType;
    this.#toProducer = new RtpRewriter({ ssrc: this.#producerSsrc, clockRate: 48000, payloadType: this.#opusPt });
    const send = (buf: Buffer, port: number): void => this.#relay.send(buf, port, '127.0.0.1');
    this.#uplink = new UplinkTranscoder({
      log,
      relayPort: this.#relayPort,
      outPayloadType: this.#opusPt,
      send,
      deliver: (buf, key) => this.#toMediasoup(buf, key),
    });
    this.#mix = new PlainLegMix({
      log,
      legId: this.id,
      ssrc: randomSsrc(),
      send: (packet) => this.#sendToPhone(packet),
      onDtmf: (digit) => {
        this.log.info('DTMF from the phone', { digit });
        this.safeEmit('dtmf', digit);
      },
    });
    this.#phone.rtp.on('message', (buf, rinfo) => this.#onPhoneRtp(buf, rinfo));
    this.#phone.rtcp.on('message', (_buf, rinfo) => {
      if (rinfo.address === this.#remote?.address) this.#lastHeardAt = Date.now();
    });
    this.#relay.on('message', (buf, rinfo) => this.#onRelay(buf, rinfo));
    for (const s of [this.#phone.rtp, this.#phone.rtcp, this.#relay]) {
      s.on('error', (err) => this.log.warn('socket error', { err }));
    }
    this.#rtpTimeoutMs = params.rtpTimeoutMs ?? DEFAULT_RTP_TIMEOUT_MS;
    if (this.#rtpTimeoutMs > 0) {
      this.#silenceTimer = setInterval(
        () => this.#checkSilence(),
        Math.max(50, Math.min(1000, this.#rtpTimeoutMs / 4)),
      );
      this.#silenceTimer.unref();
    }
  }

  /** Whether the phone should be sending now: negotiated, neither side holds, its direction sends. */
  #expectsMedia(): boolean {
    const remote = this.#remote;
    return (
      this.negotiated &&
      !!remote &&
      SENDS(remote.direction) &&
      !this.held &&
      !this.heldByFocus &&
      remote.address !== '0.0.0.0'
    );
  }

  /** Silence while the phone need not send does not count: the clock (re)starts when it must send. */
  #noteExpectation(): void {
    const expecting = this.#expectsMedia();
    if (expecting && !this.#expecting) this.#lastHeardAt = Date.now();
    this.#expecting = expecting;
  }

  #checkSilence(): void {
    if (this.closed || this.#vanished) return;
    this.#noteExpectation();
    if (!this.#expecting) return;
    const silentMs = Date.now() - this.#lastHeardAt;
    if (silentMs < this.#rtpTimeoutMs) return;
    this.#vanished = true;
    this.log.warn('party vanished: no RTP from the phone', { silentMs });
    this.safeEmit('vanished', 'no-media');
  }

  /** @internal Binds the phone's port pair and the relay, and connects the loopback PlainTransport to the relay. */
  static async create(params: {
    id: string;
    options: PlainRtpLegOptions;
    transport: ms.PlainTransport;
    lease: RouterLease;
    link: LegRoomLink;
    log: Logger;
    listen: PlainListenSettings;
    /** 'vanished' after this long without RTP from the phone (0: never). Default 15 s. */
    rtpTimeoutMs?: number;
  }): Promise<PlainRtpLeg> {
    let phone: RtpPortPair | undefined;
    let relay: dgram.Socket | undefined;
    try {
      phone = await RtpPortPair.bind(params.listen.ip, params.listen.minPort, params.listen.maxPort);
      relay = await bindLoopback();
      await params.transport.connect({ ip: '127.0.0.1', port: relay.address().port });
      return new PlainRtpLeg({
        ...params,
        phone,
        relay,
        address: params.listen.announcedAddress ?? params.listen.ip,
      });
    } catch (err) {
      phone?.close();
      relay?.close();
      throw err;
    }
  }

  /** The phone as the room hears it: one Opus producer, once negotiated. */
  get producers(): ms.Producer[] {
    return this.#producer && !this.#producer.closed ? [this.#producer] : [];
  }
  /** The UDP port phones send RTP to (RTCP: the next one). */
  get localPort(): number {
    return this.#phone.port;
  }
  /** PIDs of this leg's GStreamer processes (tests, admin). */
  get pipelinePids(): number[] {
    return [...this.#uplink.pids];
  }

  // ---------------------------------------------------------------------------------------------
  // Offer/answer (the shell checks the state first: NegotiatedLeg). A phone's SDP does not change when
  // parties join or leave (it hears a mix): it needs a re-offer only when the hold state by the focus,
  // or the transport (worker crash), changed since the last exchange.
  // ---------------------------------------------------------------------------------------------

  /** The phone's offer (INVITE, re-INVITE: hold/resume, new address or codec). */
  protected async takeRemoteOffer(sdp: string): Promise<void> {
    const desc = parsePlainDescription(sdp, 'offer', this.#accept);
    if (desc.sections.length < this.#sections.length) {
      throw new SdpNegotiationError(
        `the offer has ${desc.sections.length} m-lines but ${this.#sections.length} were negotiated; m-lines cannot be removed`,
      );
    }
    const audio = desc.audio;
    const plan = planAnswer(desc, this.#remote?.codec);
    this.#answerPlan = plan;
    this.#sections = desc.sections;
    this.#audioIndex = audio.index;
    this.#rtcpMux = audio.rtcpMux;
    await this.#applyRemote(audio, plan.codec, [plan.codec], plan.dtmf);
    this.state = 'have-remote-offer';
    this.setHeld(!RECEIVES(audio.direction));
    this.#syncMedia();
    this.log.info('remote offer applied', {
      codec: codecLabel(plan.codec),
      remote: `${audio.address}:${audio.port}`,
      direction: audio.direction,
      held: this.held,
    });
  }

  protected writeLocalAnswer(): Promise<string> {
    const plan = this.#answerPlan;
    if (!plan) throw this.noRemoteOffer();
    const sdp = this.#write(answerSections(plan, this.#phone.port, this.heldByFocus));
    this.#answerPlan = undefined;
    this.state = 'stable';
    this.#completeNegotiation();
    this.maybeRequestRenegotiation();
    return Promise.resolve(sdp);
  }

  /** Lists the leg's codecs (default PCMU, PCMA) with telephone-event; a re-offer keeps every m-line. */
  protected writeLocalOffer(): Promise<string> {
    const offered = offerMedia({
      names: this.#offer,
      remote: this.#remote,
      port: this.#phone.port,
      held: this.held,
      heldByFocus: this.heldByFocus,
      session: { sections: this.#sections, audioIndex: this.#audioIndex, rtcpMux: this.#rtcpMux },
    });
    const sdp = this.#write(offered.sections);
    this.#offered = offered;
    return Promise.resolve(sdp);
  }

  protected async takeRemoteAnswer(sdp: string): Promise<void> {
    const offered = this.#offered;
    if (!offered) throw this.noLocalOffer();
    let answer: ReturnType<typeof readAnswer>;
    try {
      answer = readAnswer(sdp, offered);
    } catch (err) {
      this.#offered = undefined;
      this.state = 'stable';
      throw err;
    }
    const { audio, codec, receivable, sections } = answer;
    const dtmf = audio.telephoneEvents.find((t) => t.clockRate === codec.clockRate);
    this.#sections = sections;
    this.#audioIndex = audio.index;
    this.#rtcpMux = audio.rtcpMux;
    await this.#applyRemote(audio, codec, receivable, dtmf);
    this.#offered = undefined;
    this.state = 'stable';
    this.#completeNegotiation();
    this.log.info('remote answer applied', {
      codec: codecLabel(codec),
      remote: `${audio.address}:${audio.port}`,
      direction: audio.direction,
    });
    this.maybeRequestRenegotiation();
  }

  /** Nothing else changes. */
  protected rollback(): void {
    this.#offered = undefined;
    this.state = 'stable';
    this.log.info('local offer rolled back');
  }

  protected heldByFocusChanged(): void {
    this.#syncMedia();
  }

  protected hasUnofferedChanges(): boolean {
    return false;
  }

  async getStats(): Promise<PlainRtpLegStats> {
    this.assertOpen('getStats');
    const sum = (stats: { type: string; packetCount: number; byteCount: number }[], type: string) => ({
      packets: stats.filter((x) => x.type === type).reduce((n, x) => n + x.packetCount, 0),
      bytes: stats.filter((x) => x.type === type).reduce((n, x) => n + x.byteCount, 0),
    });
    let producer: PlainRtpLegStats['producer'];
    const p = this.#producer;
    if (p && !p.closed) {
      const counts = sum(await p.getStats().catch(() => []), 'inbound-rtp');
      producer = { id: p.id, ssrc: this.#producerSsrc, paused: p.paused, ...counts };
    }
    const remote = this.#remote;
    const stats: PlainRtpLegStats = {
      kind: 'plain',
      legId: this.id,
      label: this.label,
      held: this.held,
      mutedByFocus: this.mutedByFocus,
      heldByFocus: this.heldByFocus,
      workerPid: this.workerPid,
      signalingState: this.state,
      local: { address: this.#address, port: this.#phone.port },
      fromPhone: { ...this.#fromPhone },
      toPhone: { ...this.#toPhoneCount },
      packetsIn: producer?.packets ?? 0,
      packetsOut: this.#toPhoneCount.packets,
      consumers: [],
      pipelines: { cpuSeconds: this.#uplink.cpuSeconds() },
    };
    if (remote) {
      stats.codec = codecLabel(remote.codec);
      stats.remote = { address: remote.address, port: remote.port, direction: remote.direction };
    }
    if (producer) stats.producer = producer;
    if (this.#uplink.pid !== undefined)
      stats.pipelines.uplink = { pid: this.#uplink.pid, restarts: this.#uplink.restarts };
    const mix = this.#mix.stats();
    if (mix) stats.mix = mix;
    return stats;
  }

  /**
   * DTMF to the phone as RFC 4733 telephone-events in its stream (see MediaLeg.sendDtmf): false when it
   * negotiated no telephone-event or does not listen now (held); then the focus sends SIP INFO.
   */
  sendDtmf(digits: string, options?: { durationMs?: number; gapMs?: number }): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.log.info('DTMF to the phone', { digits });
    return this.#mix.sendDtmf(digits, options);
  }

  /** Kills the pipelines and closes the sockets (the shell closes the transport: producer, consumers). */
  protected releaseMedia(): void {
    if (this.#silenceTimer) clearInterval(this.#silenceTimer);
    this.#uplink.close();
    this.#mix.close();
    this.#phone.close();
    try {
      this.#relay.close();
    } catch {
      /* already closed */
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Room wiring (internal): the phone hears the room through the room's mixer, not through consumers.
  // ---------------------------------------------------------------------------------------------

  /** @internal A phone consumes nothing: the room's mixer takes every browser's audio once. */
  wantProducer(_producer: ms.Producer): void {}

  /** @internal */
  forgetProducer(_producerId: string): void {}

  /** @internal */
  dropProducer(_producerId: string): void {}

  /** @internal The room's mixer came or went. */
  mixerChanged(): void {
    this.#syncMedia();
  }

  /** Another room adopted the leg: it leaves the old room's mixer for the new one's. */
  protected leftRoom(): void {
    this.#syncMedia();
  }

  /**
   * The worker under the PlainTransport died: the shell swapped in a new one (on `lease`); it connects to
   * the same relay, and the producer comes back with the same SSRC. The phone's port is ours and stays;
   * consumers come back as the room offers its producers again.
   */
  protected async rebuildOn(transport: ms.PlainTransport, lease: RouterLease): Promise<void> {
    await transport.connect({ ip: '127.0.0.1', port: this.#relayPort });
    this.assertOpen('rebuild');
    if (this.#producer) {
      this.#producer = undefined;
      await this.#createProducer();
    }
    this.#syncMedia();
    this.log.info('leg rebuilt on a new transport', { pid: lease.worker.pid, port: this.#phone.port });
  }

  // ---------------------------------------------------------------------------------------------
  // Media state
  // ---------------------------------------------------------------------------------------------

  /** Takes a negotiated description: where to send, which codec, and the producer (made once). */
  async #applyRemote(
    audio: PlainAudioSection,
    codec: PlainCodec,
    receivable: PlainCodec[],
    dtmf: DtmfCodec | undefined,
  ): Promise<void> {
    const before = this.#remote?.codec;
    this.#remote = negotiatedRemote(this.#remote, audio, codec, receivable, dtmf);
    if (before && (before.name !== codec.name || before.payloadType !== codec.payloadType))
      this.log.info('codec towards the phone changed', { from: codecLabel(before), to: codecLabel(codec) });
    if (!this.#producer) await this.#createProducer();
  }

  async #createProducer(): Promise<void> {
    let producer: ms.Producer;
    try {
      producer = await this.transport.produce({
        kind: 'audio',
        rtpParameters: {
          codecs: [
            {
              mimeType: 'audio/opus',
              payloadType: this.#opusPt,
              clockRate: 48000,
              channels: 2,
              parameters: {},
              rtcpFeedback: [],
            },
          ],
          headerExtensions: [],
          encodings: [{ ssrc: this.#producerSsrc }],
          rtcp: { cname: `conclave-${this.id}`, reducedSize: true },
        },
        paused: this.#producerShouldPause(),
        appData: { legId: this.id, legLabel: this.label, mid: 'plain' },
      });
    } catch (err) {
      this.assertOpen('applyRemoteDescription');
      throw new Error(`cannot create the producer of plain leg '${this.label}': ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#producer = producer;
    this.log.info('producer created', { ssrc: this.#producerSsrc, producerId: producer.id });
    this.link.producerAdded(this, producer);
  }

  #completeNegotiation(): void {
    const first = this.markNegotiated();
    this.#syncMedia();
    if (first)
      this.log.info('negotiated', {
        codec: this.#remote ? codecLabel(this.#remote.codec) : undefined,
        port: this.#phone.port,
      });
  }

  #producerShouldPause(): boolean {
    return this.held || this.heldByFocus || this.mutedByFocus;
  }

  /** Whether the phone gets the mix: negotiated, not held, and it receives. */
  #phoneListens(): boolean {
    const remote = this.#remote;
    return this.negotiated && !this.held && !!remote && RECEIVES(remote.direction) && remote.address !== '0.0.0.0';
  }

  /** Starts/stops/re-plumbs the pipelines and applies pauses, from the current state. */
  #syncMedia(): void {
    if (this.closed) return;
    this.#noteExpectation();
    const remote = this.#remote;
    const codec = remote?.codec;
    // The uplink runs while the phone sends G.711 to a room that may hear it (not on hold).
    const sent = remote?.uplink;
    const uplink = remote && sent && sent.name !== 'opus' && SENDS(remote.direction) && !this.held && !this.heldByFocus;
    this.#uplink.configure(uplink ? { codec: sent.name as 'PCMU' | 'PCMA', payloadType: sent.payloadType } : undefined);
    const negotiated = this.negotiated && remote && codec && sent;
    this.#mix.configure(this.link.roomMixer, {
      input: negotiated
        ? {
            name: sent.name,
            payloadType: sent.payloadType,
            telephoneEventPayloadType: remote.dtmf?.payloadType,
          }
        : undefined,
      output: negotiated ? { name: codec.name, payloadType: codec.payloadType } : undefined,
      telephoneEvent:
        negotiated && remote.dtmf && remote.dtmf.clockRate === codec.clockRate
          ? { payloadType: remote.dtmf.payloadType, clockRate: remote.dtmf.clockRate }
          : undefined,
      muted: this.#producerShouldPause(),
      listens: this.#phoneListens(),
    });
    void this.syncPauses();
  }

  protected async syncPauses(): Promise<void> {
    const ops: Promise<void>[] = [];
    const p = this.#producer;
    if (p && !p.closed) {
      const pause = this.#producerShouldPause();
      if (pause && !p.paused) ops.push(p.pause());
      else if (!pause && p.paused) ops.push(p.resume());
    }
    const results = await Promise.allSettled(ops);
    for (const r of results) {
      if (r.status === 'rejected' && !this.closed) this.log.warn('pause/resume failed', { err: r.reason });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Relay
  // ---------------------------------------------------------------------------------------------

  /** RTP from the phone: to the uplink pipeline (G.711) or straight to the producer (opus). */
  #onPhoneRtp(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const remote = this.#remote;
    // Only the party in the SDP may talk (phones send from the address they announce; no NAT latching).
    if (!remote || rinfo.address !== remote.address) {
      this.#fromPhone.dropped += 1;
      if (!this.#strangerLogged) {
        this.#strangerLogged = true;
        this.log.warn('dropping RTP from an address the SDP does not name', {
          from: `${rinfo.address}:${rinfo.port}`,
          expected: remote?.address,
        });
      }
      return;
    }
    this.#lastHeardAt = Date.now();
    if (isRtcp(buf)) return;
    const header = readRtpHeader(buf);
    if (!header) {
      this.#fromPhone.dropped += 1;
      return;
    }
    this.#fromPhone.packets += 1;
    this.#fromPhone.bytes += buf.length;
    if (remote.dtmf && header.payloadType === remote.dtmf.payloadType) {
      // RFC 4733 DTMF: the mixer input reads the digits (never mixed as audio).
      this.#fromPhone.dtmf += 1;
      this.#mix.push(buf);
      return;
    }
    if (header.payloadType !== remote.uplink.payloadType) {
      // Another negotiated codec (an answer kept several): decode that from now on.
      const other = remote.receivable.find((c) => c.payloadType === header.payloadType);
      if (!other) {
        this.#fromPhone.dropped += 1;
        return;
      }
      this.log.info('the phone sends another negotiated codec', {
        from: codecLabel(remote.uplink),
        to: codecLabel(other),
      });
      remote.uplink = other;
      this.#syncMedia();
    }
    if (this.held || this.heldByFocus || this.mutedByFocus) {
      this.#fromPhone.dropped += 1;
      return;
    }
    this.#mix.push(buf);
    if (remote.uplink.name === 'opus') this.#toMediasoup(buf, `phone-${header.ssrc}`);
    else this.#uplink.input(buf);
  }

  /** Datagrams on the loopback relay: the uplink pipeline's output (mediasoup sends nothing: no consumers). */
  #onRelay(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const tuple = this.transport.tuple;
    if (rinfo.port === tuple.localPort && rinfo.address === tuple.localAddress) return;
    if (rinfo.address !== '127.0.0.1') return;
    const header = readRtpHeader(buf);
    if (header) this.#uplink.output(buf, header.ssrc);
  }

  /** Opus RTP for the producer: our SSRC, continuous across uplink restarts. */
  #toMediasoup(buf: Buffer, source: string): void {
    if (this.closed) return;
    const tuple = this.transport.tuple;
    this.#relay.send(this.#toProducer.rewrite(buf, source), tuple.localPort, tuple.localAddress);
  }

  /** A packet of the phone's mix (its SSRC and numbering come from the mixer output's packetizer). */
  #sendToPhone(buf: Buffer): void {
    const remote = this.#remote;
    if (this.closed || !remote || !this.#phoneListens()) return;
    this.#phone.rtp.send(buf, remote.port, remote.address);
    this.#toPhoneCount.packets += 1;
    this.#toPhoneCount.bytes += buf.length;
  }

  #write(sections: PlainLocalSection[]): string {
    const body = { sessionId: this.sessionId, address: this.#address, sections };
    return writePlainDescription({ ...body, sessionVersion: this.sessionVersionFor(body) });
  }
}
