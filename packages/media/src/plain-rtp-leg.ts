/**
 * One plain SIP phone's media (baresip, linphone, desk phones): RTP/AVP with G.711 (or opus), no ICE,
 * no DTLS, no a=ssrc, rtcp-mux optional. The phone is anchored in the room's router like a browser,
 * but it cannot take part in the SFU: it sends one G.711 stream with an SSRC nobody signals, and it
 * can only play one stream. So the leg is a relay in this process plus two GStreamer processes:
 *
 *   phone ⇄ UDP port pair (MediaService RTC range) ⇄ relay (this class) ⇄ loopback PlainTransport
 *     uplink:   phone G.711 RTP → UplinkTranscoder (→ Opus, our SSRC) → relay → producer (Opus, PT 111)
 *     downlink: consumers (Opus of every other party) → relay → DownlinkMixer (mix → G.711) → relay → phone
 *
 * The relay owns every socket, so it can drop what must not pass (hold, DTMF, unknown payload types,
 * strangers), keep the phone's and the producer's streams continuous when a pipeline is replaced
 * (RtpRewriter), and send from the port the phone sends to (symmetric RTP). Opus phones skip the
 * uplink pipeline: the relay forwards their RTP with our SSRC and the router's payload type.
 *
 * To the focus it is a leg like WebRtcLeg: same offer/answer calls and events. Its SDP never changes
 * when parties join or leave (the mix changes instead); it asks for a re-offer only when the focus holds
 * it (setOnHoldByFocus) and after its worker died.
 *
 * A worker crash takes the loopback PlainTransport (its producer and consumers) but not the phone's
 * port pair, which this process owns: rebuild() makes a new PlainTransport towards the same relay and
 * re-creates the producer with the same SSRC, so the phone's audio resumes without waiting for the
 * re-offer (which then carries the same port).
 *
 * A phone that should send (negotiated, not held either way, its direction sends) but from which nothing
 * arrived for `rtpTimeoutMs` is reported 'vanished' ('no-media').
 */
import type dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import type { Room } from './room.ts';
import type { RouterLease } from './router-registry.ts';
import type { MediaLegEvents } from './leg.ts';
import type { LegCloseReason, LegRoomLink, SignalingState } from './webrtc-leg.ts';
import type { Direction } from './sdp/remote-description.ts';
import { EnhancedEventEmitter, SerialQueue } from '@conclave/events';
import { MediaClosedError, NegotiationStateError, SdpNegotiationError } from './errors.ts';
import { OPUS } from './codecs.ts';
import { RtpPortPair, bindLoopback } from './rtp-port.ts';
import { RtpRewriter, isRtcp, randomSsrc, readRtpHeader } from './rtp-packet.ts';
import { UplinkTranscoder } from './uplink-transcoder.ts';
import { DownlinkMixer } from './audio-mixer.ts';
import { PTIME_MS } from './audio-pipelines.ts';
import {
  PLAIN_CODEC_NAMES,
  isPlainRtpOffer,
  parsePlainDescription,
  writePlainDescription,
  type DtmfCodec,
  type PlainAudioSection,
  type PlainCodec,
  type PlainCodecName,
  type PlainLocalAudio,
  type PlainLocalRejected,
  type PlainSectionShape,
} from './sdp/plain-description.ts';

export interface PlainRtpLegOptions {
  label: string;
  /**
   * Codecs this leg may use, in our order of preference (our offers list them in this order).
   * Default: offers carry PCMU and PCMA; answers accept PCMU, PCMA and opus, whichever the phone prefers.
   */
  codecs?: PlainCodecName[];
}

export type PlainRtpLegEvents = MediaLegEvents;

export interface PlainRtpLegStats {
  kind: 'plain';
  legId: string;
  label: string;
  held: boolean;
  mutedByFocus: boolean;
  heldByFocus: boolean;
  workerPid: number;
  signalingState: SignalingState;
  /** Negotiated codec, e.g. 'PCMU/8000'. */
  codec?: string;
  /** Where the phone sends (our SDP's c=/m=). */
  local: { address: string; port: number };
  /** Where we send (the phone's SDP) and the phone's direction. */
  remote?: { address: string; port: number; direction: Direction };
  /** RTP from the phone. `dropped`: wrong source or payload type, DTMF, or received while held. */
  fromPhone: { packets: number; bytes: number; dropped: number; dtmf: number };
  toPhone: { packets: number; bytes: number };
  /** RTP of the producer (the phone as the room hears it) and of the consumers (what the mixer gets). */
  packetsIn: number;
  packetsOut: number;
  producer?: { id: string; ssrc: number; paused: boolean; packets: number; bytes: number };
  consumers: {
    id: string;
    sourceLegId: string;
    sourceLabel: string;
    paused: boolean;
    packets: number;
    bytes: number;
  }[];
  /** GStreamer processes of this leg (pids are those in use now) and the CPU they used so far. */
  pipelines: {
    uplink?: { pid: number; restarts: number };
    mixer?: { pid: number; inputs: number; restarts: number };
    cpuSeconds: number;
  };
}

/** @internal Where phones reach us: the service's listen IP, announced address and RTC port range. */
export interface PlainListenSettings {
  ip: string;
  announcedAddress?: string;
  minPort: number;
  maxPort: number;
}

interface Remote {
  address: string;
  port: number;
  direction: Direction;
  /** What we send (the first codec of the answer, or the one we answered). */
  codec: PlainCodec;
  /** What the phone may send: every negotiated codec (an answer may keep several of our offer's). */
  receivable: PlainCodec[];
  /** What the phone sends now: learnt from its packets' payload type. */
  uplink: PlainCodec;
  dtmf?: DtmfCodec;
}

interface AnswerPlan {
  sections: PlainSectionShape[];
  index: number;
  codec: PlainCodec;
  dtmf?: DtmfCodec;
  direction: Direction;
  rtcpMux: boolean;
}

interface ConsumerEntry {
  consumer: ms.Consumer;
  sourceLegId: string;
  sourceLabel: string;
}

/** Our payload types when we offer (static ones are fixed by RFC 3551). */
const OFFER_CODECS: Record<PlainCodecName, PlainCodec> = {
  PCMU: { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 },
  PCMA: { name: 'PCMA', payloadType: 8, clockRate: 8000, channels: 1 },
  opus: { name: 'opus', payloadType: 111, clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' },
};
const OFFER_DTMF: Record<number, DtmfCodec> = {
  8000: { payloadType: 101, clockRate: 8000, fmtp: '0-16' },
  48000: { payloadType: 110, clockRate: 48000, fmtp: '0-16' },
};
const DEFAULT_OFFER: PlainCodecName[] = ['PCMU', 'PCMA'];
/** Default PlainRtpLeg 'no-media' threshold (LiveKit SIP ends a leg 15 s after its media stopped). */
export const DEFAULT_RTP_TIMEOUT_MS = 15_000;

const RECEIVES = (d: Direction): boolean => d === 'sendrecv' || d === 'recvonly';
const SENDS = (d: Direction): boolean => d === 'sendrecv' || d === 'sendonly';
const REVERSE: Record<Direction, Direction> = {
  sendrecv: 'sendrecv',
  sendonly: 'recvonly',
  recvonly: 'sendonly',
  inactive: 'inactive',
};

function codecLabel(c: PlainCodec): string {
  return `${c.name}/${c.clockRate}${c.channels > 1 ? `/${c.channels}` : ''}`;
}

export class PlainRtpLeg extends EnhancedEventEmitter<PlainRtpLegEvents> {
  /** True when the offer is for a PlainRtpLeg (RTP/AVP, no DTLS); see legKindForOffer(). */
  static isPlainRtpOffer(sdp: string): boolean {
    return isPlainRtpOffer(sdp);
  }

  readonly id: string;
  readonly label: string;
  readonly #log: Logger;
  #transport: ms.PlainTransport;
  #lease: RouterLease;
  #link: LegRoomLink;
  readonly #phone: RtpPortPair;
  readonly #relay: dgram.Socket;
  readonly #relayPort: number;
  readonly #address: string;
  readonly #accept: PlainCodecName[];
  readonly #offer: PlainCodecName[];
  readonly #opusPt: number;
  readonly #opusCapability: ms.RtpCodecCapability;
  readonly #queue = new SerialQueue();
  readonly #wiring = new SerialQueue();
  readonly #uplink: UplinkTranscoder;
  readonly #mixer: DownlinkMixer;
  readonly #producerSsrc = randomSsrc();
  readonly #toProducer: RtpRewriter;
  #toPhone: RtpRewriter | undefined;
  readonly #phoneSsrc = randomSsrc();

  #state: SignalingState = 'stable';
  #negotiated = false;
  #closed = false;
  #held = false;
  #mutedByFocus = false;
  #heldByFocus = false;
  #transportEpoch = 0;
  /** What our last description carried, and what the last completed exchange carried. */
  #written = { epoch: 0, heldByFocus: false };
  #announced = { epoch: 0, heldByFocus: false };
  #renegotiationRequested = false;
  /** 'no-media' detection: the last datagram from the phone (or the last time it was not expected to send). */
  readonly #rtpTimeoutMs: number;
  #lastHeardAt = Date.now();
  /** #expectsMedia() when last looked at: the silence clock starts when it becomes true. */
  #expecting = false;
  #silenceTimer: ReturnType<typeof setInterval> | undefined;
  #vanished = false;
  #remote: Remote | undefined;
  #sections: PlainSectionShape[] = [];
  #audioIndex = 0;
  #rtcpMux = false;
  #answerPlan: AnswerPlan | undefined;
  #offered: { codecs: PlainCodec[]; dtmf: DtmfCodec[]; sections: (PlainLocalAudio | PlainLocalRejected)[] } | undefined;
  #producer: ms.Producer | undefined;
  readonly #consumers = new Map<string, ConsumerEntry>();
  readonly #consumerBySsrc = new Map<number, ms.Consumer>();
  /** Producers of other legs this leg was asked to hear (a consumer is being made or exists). */
  readonly #wanted = new Set<string>();
  readonly #sessionId = String(Math.floor(Math.random() * 2 ** 52));
  #sessionVersion = 0;
  #lastBody = '';
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
    super(log);
    this.id = params.id;
    this.label = params.options.label;
    this.#log = log;
    this.#transport = params.transport;
    this.#lease = params.lease;
    this.#link = params.link;
    this.#phone = params.phone;
    this.#relay = params.relay;
    this.#relayPort = (params.relay.address() as AddressInfo).port;
    this.#address = params.address;
    const codecs = params.options.codecs?.filter((c) => PLAIN_CODEC_NAMES.includes(c));
    if (params.options.codecs && (!codecs || codecs.length === 0)) {
      throw new RangeError(`PlainRtpLeg codecs must name PCMU, PCMA or opus (got ${params.options.codecs.join(', ')})`);
    }
    this.#accept = codecs ? [...new Set(codecs)] : [...PLAIN_CODEC_NAMES];
    this.#offer = codecs ? [...new Set(codecs)] : [...DEFAULT_OFFER];
    const opus = (params.link.routerCapabilities.codecs ?? []).find((c) => c.mimeType.toLowerCase() === OPUS);
    if (!opus) throw new Error('the router has no Opus codec');
    this.#opusCapability = opus;
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
    this.#mixer = new DownlinkMixer({
      log,
      relayPort: this.#relayPort,
      inputPayloadType: this.#opusPt,
      send,
      deliver: (buf, key) => this.#sendToPhone(buf, key),
    });
    this.#phone.rtp.on('message', (buf, rinfo) => this.#onPhoneRtp(buf, rinfo));
    this.#phone.rtcp.on('message', (_buf, rinfo) => {
      if (rinfo.address === this.#remote?.address) this.#lastHeardAt = Date.now();
    });
    this.#relay.on('message', (buf, rinfo) => this.#onRelay(buf, rinfo));
    for (const s of [this.#phone.rtp, this.#phone.rtcp, this.#relay]) {
      s.on('error', (err) => this.#log.warn('socket error', { err }));
    }
    this.#watchTransport(this.#transport);
    this.#rtpTimeoutMs = params.rtpTimeoutMs ?? DEFAULT_RTP_TIMEOUT_MS;
    if (this.#rtpTimeoutMs > 0) {
      this.#silenceTimer = setInterval(
        () => this.#checkSilence(),
        Math.max(50, Math.min(1000, this.#rtpTimeoutMs / 4)),
      );
      this.#silenceTimer.unref();
    }
  }

  #watchTransport(transport: ms.PlainTransport): void {
    transport.on('routerclose', () => {
      if (transport === this.#transport && !this.#closed) this.#link.routerClosed(this);
    });
  }

  /** Whether the phone should be sending now: negotiated, neither side holds, its direction sends. */
  #expectsMedia(): boolean {
    const remote = this.#remote;
    return (
      this.#negotiated &&
      !!remote &&
      SENDS(remote.direction) &&
      !this.#held &&
      !this.#heldByFocus &&
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
    if (this.#closed || this.#vanished) return;
    this.#noteExpectation();
    if (!this.#expecting) return;
    const silentMs = Date.now() - this.#lastHeardAt;
    if (silentMs < this.#rtpTimeoutMs) return;
    this.#vanished = true;
    this.#log.warn('party vanished: no RTP from the phone', { silentMs });
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
      await params.transport.connect({ ip: '127.0.0.1', port: (relay.address() as AddressInfo).port });
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

  get closed(): boolean {
    return this.#closed;
  }
  get held(): boolean {
    return this.#held;
  }
  get mutedByFocus(): boolean {
    return this.#mutedByFocus;
  }
  /** The focus holds the phone (setOnHoldByFocus). */
  get heldByFocus(): boolean {
    return this.#heldByFocus;
  }
  get room(): Room {
    return this.#link.room;
  }
  get workerPid(): number {
    return this.#lease.worker.pid;
  }
  /** @internal */
  get routerLease(): RouterLease {
    return this.#lease;
  }
  get signalingState(): SignalingState {
    return this.#state;
  }
  /**
   * A phone's SDP does not change when parties join or leave (it hears a mix): true only when the hold
   * state by the focus, or the transport (worker crash), changed since the last exchange.
   */
  get needsRenegotiation(): boolean {
    return this.#needsOffer();
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
    return [...this.#uplink.pids, ...this.#mixer.pids];
  }

  // ---------------------------------------------------------------------------------------------
  // Offer/answer API (the same as WebRtcLeg's)
  // ---------------------------------------------------------------------------------------------

  /** Applies the phone's offer (INVITE, re-INVITE: hold/resume, new address or codec). @throws SdpNegotiationError */
  applyRemoteOffer(sdp: string): Promise<void> {
    return this.#queue.push(async () => {
      this.#assertOpen('applyRemoteOffer');
      if (this.#state === 'have-local-offer') {
        throw new NegotiationStateError('glare: a server-originated offer is outstanding on this leg');
      }
      if (this.#state === 'have-remote-offer') {
        throw new NegotiationStateError('the previous remote offer has not been answered yet');
      }
      const desc = parsePlainDescription(sdp, 'offer', this.#accept);
      if (desc.sections.length < this.#sections.length) {
        throw new SdpNegotiationError(
          `the offer has ${desc.sections.length} m-lines but ${this.#sections.length} were negotiated; m-lines cannot be removed`,
        );
      }
      const audio = desc.audio;
      // Keep the current codec when the phone still offers it: no pipeline restart on a hold re-INVITE.
      const current = this.#remote?.codec;
      const codec =
        (current && audio.codecs.find((c) => c.name === current.name && c.payloadType === current.payloadType)) ??
        audio.codecs[0]!;
      const dtmf = audio.telephoneEvents.find((t) => t.clockRate === codec.clockRate);
      this.#answerPlan = {
        sections: desc.sections,
        index: audio.index,
        codec,
        ...(dtmf ? { dtmf } : {}),
        direction: REVERSE[audio.direction],
        rtcpMux: audio.rtcpMux,
      };
      this.#sections = desc.sections;
      this.#audioIndex = audio.index;
      this.#rtcpMux = audio.rtcpMux;
      await this.#applyRemote(audio, codec, [codec], dtmf);
      this.#state = 'have-remote-offer';
      this.#updateHeld(audio.direction);
      this.#syncMedia();
      this.#log.info('remote offer applied', {
        codec: codecLabel(codec),
        remote: `${audio.address}:${audio.port}`,
        direction: audio.direction,
        held: this.#held,
      });
    });
  }

  /** Answers the applied offer: one codec (the phone's first that we accept), the phone's telephone-event. */
  createLocalAnswer(): Promise<string> {
    return this.#queue.push(async () => {
      this.#assertOpen('createLocalAnswer');
      const plan = this.#answerPlan;
      if (this.#state !== 'have-remote-offer' || !plan) {
        throw new NegotiationStateError(`createLocalAnswer() needs a remote offer (state ${this.#state})`);
      }
      const sections = plan.sections.map((s, i): PlainLocalAudio | PlainLocalRejected =>
        i === plan.index
          ? {
              closed: false,
              port: this.#phone.port,
              codecs: [plan.codec],
              telephoneEvents: plan.dtmf ? [plan.dtmf] : [],
              // Holding the phone: we no longer receive (sendrecv → sendonly, recvonly → inactive).
              direction: this.#heldByFocus ? (SENDS(plan.direction) ? 'sendonly' : 'inactive') : plan.direction,
              rtcpMux: plan.rtcpMux,
              ptime: PTIME_MS,
            }
          : { closed: true, mediaType: s.mediaType, protocol: s.protocol, formats: s.formats },
      );
      const sdp = this.#write(sections);
      this.#answerPlan = undefined;
      this.#state = 'stable';
      this.#completeNegotiation();
      this.#maybeRequestRenegotiation();
      return sdp;
    });
  }

  /**
   * Our offer to the phone (the focus dials out, or re-INVITEs). Lists the leg's codecs (default PCMU,
   * PCMA) with telephone-event; a re-offer puts the negotiated codec first and keeps every m-line.
   */
  createLocalOffer(): Promise<string> {
    return this.#queue.push(async () => {
      this.#assertOpen('createLocalOffer');
      if (this.#state !== 'stable') {
        throw new NegotiationStateError(`createLocalOffer() needs a stable leg (state ${this.#state})`);
      }
      let codecs = this.#offer.map((n) => OFFER_CODECS[n]);
      const current = this.#remote?.codec;
      if (current) codecs = [current, ...codecs.filter((c) => c.name !== current.name)];
      const rates = [...new Set(codecs.map((c) => c.clockRate))];
      const used = new Set(codecs.map((c) => c.payloadType));
      const dtmf = rates.map((r) => {
        const t = current?.clockRate === r && this.#remote?.dtmf ? this.#remote.dtmf : OFFER_DTMF[r]!;
        // A phone-chosen codec PT (a re-offer) may already use our usual telephone-event PT.
        let pt = t.payloadType;
        while (used.has(pt)) pt = pt >= 127 ? 96 : pt + 1;
        used.add(pt);
        return { ...t, payloadType: pt };
      });
      // Holding the phone (RFC 3264 §8.4): sendonly, or inactive when it holds us too.
      const dir: Direction = this.#heldByFocus ? (this.#held ? 'inactive' : 'sendonly') : 'sendrecv';
      const audio: PlainLocalAudio = {
        closed: false,
        port: this.#phone.port,
        codecs,
        telephoneEvents: dtmf,
        direction: dir,
        rtcpMux: false,
        ptime: PTIME_MS,
      };
      const sections =
        this.#sections.length > 0
          ? this.#sections.map((s, i): PlainLocalAudio | PlainLocalRejected =>
              i === this.#audioIndex
                ? { ...audio, rtcpMux: this.#rtcpMux }
                : { closed: true, mediaType: s.mediaType, protocol: s.protocol, formats: s.formats },
            )
          : [audio];
      const sdp = this.#write(sections);
      this.#offered = { codecs, dtmf, sections };
      this.#state = 'have-local-offer';
      return sdp;
    });
  }

  /** Applies the phone's answer to createLocalOffer(). On SdpNegotiationError the offer is rolled back. */
  applyRemoteAnswer(sdp: string): Promise<void> {
    return this.#queue.push(async () => {
      this.#assertOpen('applyRemoteAnswer');
      const offered = this.#offered;
      if (this.#state !== 'have-local-offer' || !offered) {
        throw new NegotiationStateError(`applyRemoteAnswer() needs an outstanding local offer (state ${this.#state})`);
      }
      let audio: PlainAudioSection;
      let codec: PlainCodec;
      let receivable: PlainCodec[];
      let sections: PlainSectionShape[];
      try {
        const desc = parsePlainDescription(sdp, 'answer', [...new Set(offered.codecs.map((c) => c.name))]);
        if (desc.sections.length !== offered.sections.length) {
          throw new SdpNegotiationError(
            `the answer has ${desc.sections.length} m-lines but the offer had ${offered.sections.length}`,
          );
        }
        const audioIndex = offered.sections.findIndex((s) => !s.closed);
        if (desc.audio.index !== audioIndex) {
          throw new SdpNegotiationError(
            `the answer carries audio on m-line ${desc.audio.index}, the offer on m-line ${audioIndex}`,
          );
        }
        audio = desc.audio;
        receivable = audio.codecs.filter((c) => offered.codecs.some((o) => o.name === c.name));
        const match = receivable[0];
        if (!match) {
          throw new SdpNegotiationError(
            `the answer keeps none of the offered codecs (answered: ${audio.offeredCodecNames.join(', ') || 'none'})`,
          );
        }
        codec = match;
        sections = desc.sections;
      } catch (err) {
        this.#offered = undefined;
        this.#state = 'stable';
        throw err;
      }
      const dtmf = audio.telephoneEvents.find((t) => t.clockRate === codec.clockRate);
      this.#sections = sections;
      this.#audioIndex = audio.index;
      this.#rtcpMux = audio.rtcpMux;
      await this.#applyRemote(audio, codec, receivable, dtmf);
      this.#offered = undefined;
      this.#state = 'stable';
      this.#completeNegotiation();
      this.#log.info('remote answer applied', {
        codec: codecLabel(codec),
        remote: `${audio.address}:${audio.port}`,
        direction: audio.direction,
      });
      this.#maybeRequestRenegotiation();
    });
  }

  /** Forgets the outstanding local offer (the re-INVITE failed, or glare). Nothing else changes. */
  rollbackLocalOffer(): Promise<void> {
    return this.#queue.push(async () => {
      this.#assertOpen('rollbackLocalOffer');
      if (this.#state !== 'have-local-offer') {
        throw new NegotiationStateError(`nothing to roll back (state ${this.#state})`);
      }
      this.#offered = undefined;
      this.#state = 'stable';
      this.#log.info('local offer rolled back');
    });
  }

  /** Nobody hears the phone (its producer is paused); no SDP change. Survives hold/resume and adoption. */
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
   * Holds the phone from our side (see MediaLeg.setOnHoldByFocus): nobody hears it, our next offer or
   * answer says sendonly (inactive if it holds us too); a change asks for a re-offer.
   */
  setOnHoldByFocus(held: boolean): Promise<void> {
    const want = held === true;
    return this.#queue.push(async () => {
      this.#assertOpen('setOnHoldByFocus');
      if (this.#heldByFocus === want) return;
      this.#heldByFocus = want;
      this.#log.info(want ? 'held by the focus' : 'no longer held by the focus');
      this.#syncMedia();
      this.#link.activityChanged(this);
      this.#maybeRequestRenegotiation();
    });
  }

  async getStats(): Promise<PlainRtpLegStats> {
    this.#assertOpen('getStats');
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
    const consumers = await Promise.all(
      [...this.#consumers.values()].map(async (e) => ({
        id: e.consumer.id,
        sourceLegId: e.sourceLegId,
        sourceLabel: e.sourceLabel,
        paused: e.consumer.paused,
        ...sum(await e.consumer.getStats().catch(() => []), 'outbound-rtp'),
      })),
    );
    const remote = this.#remote;
    const stats: PlainRtpLegStats = {
      kind: 'plain',
      legId: this.id,
      label: this.label,
      held: this.#held,
      mutedByFocus: this.#mutedByFocus,
      heldByFocus: this.#heldByFocus,
      workerPid: this.#lease.worker.pid,
      signalingState: this.#state,
      local: { address: this.#address, port: this.#phone.port },
      fromPhone: { ...this.#fromPhone },
      toPhone: { ...this.#toPhoneCount },
      packetsIn: producer?.packets ?? 0,
      packetsOut: consumers.reduce((n, c) => n + c.packets, 0),
      consumers,
      pipelines: { cpuSeconds: this.#uplink.cpuSeconds() + this.#mixer.cpuSeconds() },
    };
    if (remote) {
      stats.codec = codecLabel(remote.codec);
      stats.remote = { address: remote.address, port: remote.port, direction: remote.direction };
    }
    if (producer) stats.producer = producer;
    if (this.#uplink.pid !== undefined)
      stats.pipelines.uplink = { pid: this.#uplink.pid, restarts: this.#uplink.restarts };
    if (this.#mixer.pid !== undefined)
      stats.pipelines.mixer = {
        pid: this.#mixer.pid,
        inputs: this.#mixer.inputs.length,
        restarts: this.#mixer.restarts,
      };
    return stats;
  }

  /** Kills the pipelines, closes the sockets and the transport (its producer and consumers). Idempotent. */
  close(reason: LegCloseReason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wanted.clear();
    if (this.#silenceTimer) clearInterval(this.#silenceTimer);
    this.#uplink.close();
    this.#mixer.close();
    this.#phone.close();
    try {
      this.#relay.close();
    } catch {
      /* already closed */
    }
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
  // Room wiring (internal): the leg consumes every other leg's audio, for its mixer.
  // ---------------------------------------------------------------------------------------------

  /** @internal */
  wantProducer(producer: ms.Producer): void {
    if (this.#closed || producer.closed || producer.kind !== 'audio') return;
    if (this.#wanted.has(producer.id)) return;
    this.#wanted.add(producer.id);
    void this.#wiring.push(() => this.#consume(producer));
  }

  /** @internal */
  forgetProducer(producerId: string): void {
    this.#wanted.delete(producerId);
  }

  /** @internal */
  dropProducer(producerId: string): void {
    this.#wanted.delete(producerId);
    const entry = this.#consumers.get(producerId);
    if (entry) {
      if (!entry.consumer.closed) entry.consumer.close();
      this.#onConsumerGone(entry.consumer);
    }
  }

  /** @internal Another room adopted the leg: stop hearing the old room (the new one wires itself in). */
  moveTo(link: LegRoomLink): void {
    this.#link = link;
    this.#wanted.clear();
    for (const { consumer } of [...this.#consumers.values()]) {
      if (!consumer.closed) consumer.close();
      this.#onConsumerGone(consumer);
    }
  }

  /**
   * @internal The worker under the PlainTransport died: a new one (on `lease`) towards the same relay,
   * and the producer again with the same SSRC. The phone's port is ours and stays; consumers come back
   * as the room offers its producers again.
   */
  rebuild(transport: ms.PlainTransport, lease: RouterLease): Promise<void> {
    return this.#queue.push(async () => {
      if (this.#closed) {
        transport.close();
        throw new MediaClosedError(`leg '${this.label}' closed before its rebuild`);
      }
      const old = this.#transport;
      this.#transport = transport;
      this.#lease = lease;
      this.#transportEpoch += 1;
      this.#watchTransport(transport);
      if (!old.closed) old.close();
      this.#wanted.clear();
      for (const { consumer } of [...this.#consumers.values()]) this.#onConsumerGone(consumer);
      await transport.connect({ ip: '127.0.0.1', port: this.#relayPort });
      this.#assertOpen('rebuild');
      if (this.#producer) {
        this.#producer = undefined;
        await this.#createProducer();
      }
      this.#syncMedia();
      this.#log.info('leg rebuilt on a new transport', { pid: lease.worker.pid, port: this.#phone.port });
    });
  }

  /** @internal */
  renegotiateIfNeeded(): void {
    this.#maybeRequestRenegotiation();
  }

  #needsOffer(): boolean {
    return (
      this.#negotiated &&
      (this.#announced.epoch !== this.#transportEpoch || this.#announced.heldByFocus !== this.#heldByFocus)
    );
  }

  #maybeRequestRenegotiation(): void {
    if (
      this.#closed ||
      this.#state !== 'stable' ||
      this.#renegotiationRequested ||
      this.#link.recovering ||
      !this.#needsOffer()
    )
      return;
    this.#renegotiationRequested = true;
    // Asynchronous on purpose: the caller may be in the middle of sending an answer.
    setImmediate(() => {
      this.#renegotiationRequested = false;
      if (this.#closed || this.#state !== 'stable' || this.#link.recovering || !this.#needsOffer()) return;
      this.#log.info('renegotiation needed');
      this.safeEmit('renegotiationneeded');
      this.#link.renegotiationNeeded(this);
    });
  }

  async #consume(producer: ms.Producer): Promise<void> {
    if (this.#closed || producer.closed || !this.#wanted.has(producer.id) || this.#consumers.has(producer.id)) return;
    let consumer: ms.Consumer;
    try {
      consumer = await this.#transport.consume({
        producerId: producer.id,
        rtpCapabilities: { codecs: [{ ...this.#opusCapability, rtcpFeedback: [] }], headerExtensions: [] },
        paused: this.#consumersShouldPause(),
        appData: { legId: this.id },
      });
    } catch (err) {
      if (!this.#closed && !producer.closed)
        this.#log.warn('cannot consume producer for the mixer; skipping it', { producerId: producer.id, err });
      return;
    }
    if (this.#closed || !this.#wanted.has(producer.id)) {
      consumer.close();
      return;
    }
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    if (ssrc === undefined) {
      consumer.close();
      return;
    }
    const source = producer.appData as { legId?: string; legLabel?: string };
    this.#consumers.set(producer.id, {
      consumer,
      sourceLegId: String(source.legId ?? ''),
      sourceLabel: String(source.legLabel ?? ''),
    });
    this.#consumerBySsrc.set(ssrc, consumer);
    consumer.on('producerclose', () => this.#onConsumerGone(consumer));
    consumer.on('transportclose', () => this.#onConsumerGone(consumer));
    // A paused source (muted, held) leaves the mix: a silent input would make the mixer wait for it.
    consumer.on('producerpause', () => this.#syncMedia());
    consumer.on('producerresume', () => this.#syncMedia());
    this.#log.info('consumer created', { source: source.legLabel, ssrc });
    this.#syncMedia();
  }

  #onConsumerGone(consumer: ms.Consumer): void {
    const entry = this.#consumers.get(consumer.producerId);
    if (!entry || entry.consumer !== consumer) return;
    this.#consumers.delete(consumer.producerId);
    for (const [ssrc, c] of this.#consumerBySsrc) if (c === consumer) this.#consumerBySsrc.delete(ssrc);
    if (this.#closed) return;
    this.#log.info('remote party left the mix', { source: entry.sourceLabel });
    this.#syncMedia();
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
    // The phone keeps sending what it sent if that is still negotiated; else we expect our codec.
    const sending = this.#remote?.uplink;
    const uplink =
      (sending && receivable.find((c) => c.name === sending.name && c.payloadType === sending.payloadType)) ?? codec;
    this.#remote = {
      address: audio.address,
      port: audio.port,
      direction: audio.direction,
      codec,
      receivable,
      uplink,
      ...(dtmf ? { dtmf } : {}),
    };
    if (!before || before.name !== codec.name || before.payloadType !== codec.payloadType || !this.#toPhone) {
      // Same SSRC for the phone, continuous sequence; the clock rate follows the codec.
      this.#toPhone = new RtpRewriter({
        ssrc: this.#phoneSsrc,
        clockRate: codec.clockRate,
        payloadType: codec.payloadType,
      });
    }
    if (!this.#producer) await this.#createProducer();
  }

  async #createProducer(): Promise<void> {
    let producer: ms.Producer;
    try {
      producer = await this.#transport.produce({
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
      this.#assertOpen('applyRemoteDescription');
      throw new Error(`cannot create the producer of plain leg '${this.label}': ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#producer = producer;
    this.#log.info('producer created', { ssrc: this.#producerSsrc, producerId: producer.id });
    this.#link.producerAdded(this, producer);
  }

  #completeNegotiation(): void {
    const first = !this.#negotiated;
    this.#negotiated = true;
    this.#announced = { ...this.#written };
    this.#syncMedia();
    if (first)
      this.#log.info('negotiated', {
        codec: this.#remote ? codecLabel(this.#remote.codec) : undefined,
        port: this.#phone.port,
      });
  }

  #updateHeld(direction: Direction): void {
    const held = !RECEIVES(direction);
    if (held === this.#held) return;
    this.#held = held;
    this.#log.info(held ? 'party put the call on hold' : 'party resumed the call');
    this.safeEmit(held ? 'held' : 'resumed');
    this.#link.activityChanged(this);
  }

  #producerShouldPause(): boolean {
    return this.#held || this.#heldByFocus || this.#mutedByFocus;
  }

  /** Consumers feed the mixer only while the phone can hear it. */
  #consumersShouldPause(): boolean {
    return !this.#negotiated || this.#held || !this.#remote || !RECEIVES(this.#remote.direction);
  }

  /** Whether the phone gets the mix: negotiated, not held, and it receives. */
  #phoneListens(): boolean {
    return !this.#consumersShouldPause() && this.#remote!.address !== '0.0.0.0';
  }

  /** Starts/stops/re-plumbs the pipelines and applies pauses, from the current state. */
  #syncMedia(): void {
    if (this.#closed) return;
    this.#noteExpectation();
    const remote = this.#remote;
    const codec = remote?.codec;
    // The uplink runs while the phone sends G.711 to a room that may hear it (not on hold).
    const sent = remote?.uplink;
    const uplink =
      remote && sent && sent.name !== 'opus' && SENDS(remote.direction) && !this.#held && !this.#heldByFocus;
    this.#uplink.configure(uplink ? { codec: sent.name as 'PCMU' | 'PCMA', payloadType: sent.payloadType } : undefined);
    const listens = this.#phoneListens();
    const inputs = [...this.#consumerBySsrc].flatMap(([ssrc, c]) => (c.closed || c.producerPaused ? [] : [ssrc]));
    this.#mixer.configure(listens && codec ? { codec: codec.name, payloadType: codec.payloadType } : undefined, inputs);
    void this.#syncPauses();
  }

  async #syncPauses(): Promise<void> {
    const ops: Promise<void>[] = [];
    const p = this.#producer;
    if (p && !p.closed) {
      const pause = this.#producerShouldPause();
      if (pause && !p.paused) ops.push(p.pause());
      else if (!pause && p.paused) ops.push(p.resume());
    }
    const pauseConsumers = this.#consumersShouldPause();
    for (const { consumer } of this.#consumers.values()) {
      if (consumer.closed) continue;
      if (pauseConsumers && !consumer.paused) ops.push(consumer.pause());
      else if (!pauseConsumers && consumer.paused) ops.push(consumer.resume());
    }
    const results = await Promise.allSettled(ops);
    for (const r of results) {
      if (r.status === 'rejected' && !this.#closed) this.#log.warn('pause/resume failed', { err: r.reason });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Relay
  // ---------------------------------------------------------------------------------------------

  /** RTP from the phone: to the uplink pipeline (G.711) or straight to the producer (opus). */
  #onPhoneRtp(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#closed) return;
    const remote = this.#remote;
    // Only the party in the SDP may talk (phones send from the address they announce; no NAT latching).
    if (!remote || rinfo.address !== remote.address) {
      this.#fromPhone.dropped += 1;
      if (!this.#strangerLogged) {
        this.#strangerLogged = true;
        this.#log.warn('dropping RTP from an address the SDP does not name', {
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
      // RFC 4733 DTMF is not surfaced yet: dropped (counted).
      this.#fromPhone.dtmf += 1;
      return;
    }
    if (header.payloadType !== remote.uplink.payloadType) {
      // Another negotiated codec (an answer kept several): decode that from now on.
      const other = remote.receivable.find((c) => c.payloadType === header.payloadType);
      if (!other) {
        this.#fromPhone.dropped += 1;
        return;
      }
      this.#log.info('the phone sends another negotiated codec', {
        from: codecLabel(remote.uplink),
        to: codecLabel(other),
      });
      remote.uplink = other;
      this.#syncMedia();
    }
    if (this.#held || this.#heldByFocus || this.#mutedByFocus) {
      this.#fromPhone.dropped += 1;
      return;
    }
    if (remote.uplink.name === 'opus') this.#toMediasoup(buf, `phone-${header.ssrc}`);
    else this.#uplink.input(buf);
  }

  /** Datagrams on the loopback relay: consumers' RTP from mediasoup, or a pipeline's output. */
  #onRelay(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#closed) return;
    const tuple = this.#transport.tuple;
    if (rinfo.port === tuple.localPort && rinfo.address === tuple.localAddress) {
      if (isRtcp(buf)) return;
      const header = readRtpHeader(buf);
      if (header && header.payloadType === this.#opusPt && this.#consumerBySsrc.has(header.ssrc))
        this.#mixer.input(buf, header.ssrc);
      return;
    }
    if (rinfo.address !== '127.0.0.1') return;
    const header = readRtpHeader(buf);
    if (!header) return;
    if (!this.#uplink.output(buf, header.ssrc)) this.#mixer.output(buf, header.ssrc);
  }

  /** Opus RTP for the producer: our SSRC, continuous across uplink restarts. */
  #toMediasoup(buf: Buffer, source: string): void {
    if (this.#closed) return;
    const tuple = this.#transport.tuple;
    this.#relay.send(this.#toProducer.rewrite(buf, source), tuple.localPort, tuple.localAddress);
  }

  #sendToPhone(buf: Buffer, source: string): void {
    const remote = this.#remote;
    const rewriter = this.#toPhone;
    if (this.#closed || !remote || !rewriter || !this.#phoneListens()) return;
    this.#phone.rtp.send(rewriter.rewrite(buf, source), remote.port, remote.address);
    this.#toPhoneCount.packets += 1;
    this.#toPhoneCount.bytes += buf.length;
  }

  #write(sections: (PlainLocalAudio | PlainLocalRejected)[]): string {
    const body = { sessionId: this.#sessionId, address: this.#address, sections };
    // RFC 3264 §8: the version only moves when the description changes.
    const key = JSON.stringify(body);
    if (key !== this.#lastBody) {
      this.#sessionVersion += 1;
      this.#lastBody = key;
    }
    this.#written = { epoch: this.#transportEpoch, heldByFocus: this.#heldByFocus };
    return writePlainDescription({ ...body, sessionVersion: this.#sessionVersion });
  }

  #assertOpen(op: string): void {
    if (this.#closed) throw new MediaClosedError(`${op}() on closed leg '${this.label}'`);
  }
}
