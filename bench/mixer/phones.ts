/**
 * `pnpm bench mixer`: the synthetic plain-RTP phones, all in this one process. Each phone has its own UDP
 * socket and sends one RTP packet every 20 ms (drift-free clock) to its leg in the mixer process. Two
 * phones per room talk: a steady tone with a loud burst every second (the two talkers' bursts half a
 * second apart); the others send silence. Every phone measures the RFC 3550 jitter of what it receives;
 * the talkers and some listeners decode it to find burst onsets: mouth-to-ear latency through the mixer,
 * and whether a talker ever hears its own burst.
 */
import { createSocket, type Socket } from 'node:dgram';
import {
  FRAME_SAMPLES,
  MixerClock,
  MIX_RATE,
  createDecoder,
  createEncoder,
  parseRtp,
  rtpClockRate,
  RtpPacketizer,
  type FrameDecoder,
} from '../../packages/mixer/src/index.ts';
import type { FromPhones, PhoneCodec, PhoneSpec, ToPhones } from './protocol.ts';

const CYCLE = 50; // frames: bursts repeat every second
const ONSET = [0, 25] as const;
const BURST_FRAMES = 15;
const ONSET_RMS = 5000;
const BURST_FREQ = [500, 650] as const;

/** Amplitude of `freq` in 16 kHz `pcm` (one DFT bin). */
function toneAmplitude(pcm: Int16Array, freq: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < pcm.length; i++) {
    const w = (2 * Math.PI * freq * i) / MIX_RATE;
    re += pcm[i]! * Math.cos(w);
    im -= pcm[i]! * Math.sin(w);
  }
  return (2 * Math.sqrt(re * re + im * im)) / Math.max(1, pcm.length);
}

function frame(k: number, slot: 0 | 1 | undefined): Int16Array {
  const pcm = new Int16Array(FRAME_SAMPLES);
  if (slot === undefined) return pcm;
  const inBurst = k % CYCLE >= ONSET[slot] && k % CYCLE < ONSET[slot] + BURST_FRAMES;
  const bg = slot === 0 ? 300 : 350;
  const burst = BURST_FREQ[slot];
  for (let i = 0; i < FRAME_SAMPLES; i++) {
    const t = (k * FRAME_SAMPLES + i) / MIX_RATE;
    pcm[i] = Math.round(
      2000 * Math.sin(2 * Math.PI * bg * t) + (inBurst ? 12000 * Math.sin(2 * Math.PI * burst * t) : 0),
    );
  }
  return pcm;
}

/** Payloads of one second of each talker's signal, and of silence, encoded once. */
function patterns(codec: PhoneCodec): { talker: Buffer[][]; silence: Buffer[] } {
  const talker = ([0, 1] as const).map((slot) => {
    const enc = createEncoder(codec);
    const out = Array.from({ length: CYCLE }, (_, k) => enc.encode(frame(k, slot)));
    enc.close();
    return out;
  });
  const enc = createEncoder(codec);
  const silence = Array.from({ length: CYCLE }, (_, k) => enc.encode(frame(k, undefined)));
  enc.close();
  return { talker, silence };
}

function rms(pcm: Int16Array): number {
  let s = 0;
  for (let i = 0; i < pcm.length; i++) s += pcm[i]! * pcm[i]!;
  return Math.sqrt(s / Math.max(1, pcm.length));
}

class Phone {
  readonly spec: PhoneSpec;
  readonly socket: Socket;
  readonly rtp: RtpPacketizer;
  readonly clockRate: number;
  hostPort = 0;
  decoder: FrameDecoder | undefined;
  prevArrival: number | undefined;
  prevTs = 0;
  jitter = 0;
  loud = false;

  constructor(spec: PhoneSpec, socket: Socket) {
    this.spec = spec;
    this.socket = socket;
    this.clockRate = rtpClockRate(spec.codec);
    this.rtp = new RtpPacketizer({ payloadType: spec.payloadType, clockRate: this.clockRate, ssrc: spec.ssrc });
  }
}

const phones: Phone[] = [];
const pattern = new Map<PhoneCodec, ReturnType<typeof patterns>>();
// Per room, the send time of each talker's latest burst onset.
const onsets = new Map<number, [number, number]>();
let sent = 0;
let received = 0;
let ownEchoes = 0;
let latencies: number[] = [];
let deviations: number[] = [];
let k = 0;

const clock = new MixerClock((now) => {
  const slot = k % CYCLE;
  for (const p of phones) {
    if (p.hostPort === 0) continue;
    const pat = pattern.get(p.spec.codec)!;
    const t = p.spec.talker;
    const payload = t === undefined ? pat.silence[slot]! : pat.talker[t]![slot]!;
    if (t !== undefined && slot === ONSET[t]) onsets.get(p.spec.room)![t] = now;
    p.socket.send(p.rtp.packetize(payload, 20), p.hostPort, '127.0.0.1');
    sent++;
  }
  k++;
});

function onPacket(p: Phone, msg: Buffer): void {
  const arrival = performance.now();
  const pkt = parseRtp(msg);
  if (!pkt) return;
  received++;
  if (p.prevArrival !== undefined) {
    const interval = arrival - p.prevArrival;
    const expected = (((pkt.timestamp - p.prevTs) | 0) * 1000) / p.clockRate;
    const d = Math.abs(interval - expected);
    p.jitter += (d - p.jitter) / 16;
    deviations.push(d);
  }
  p.prevArrival = arrival;
  p.prevTs = pkt.timestamp;
  if (!p.decoder) return;
  const pcm = p.decoder.decode(pkt.payload);
  if (!pcm) return;
  const loud = rms(pcm) > ONSET_RMS;
  if (loud && !p.loud) {
    // Whose burst is this? Each talker bursts at its own frequency.
    const slot = toneAmplitude(pcm, BURST_FREQ[0]) >= toneAmplitude(pcm, BURST_FREQ[1]) ? 0 : 1;
    const at = onsets.get(p.spec.room)![slot];
    if (slot === p.spec.talker) ownEchoes++;
    else if (at > 0 && arrival - at < 1000) latencies.push(arrival - at);
  }
  p.loud = loud;
}

async function setup(specs: PhoneSpec[], latencyListeners: number): Promise<void> {
  const ports: Record<string, number> = {};
  let decoders = latencyListeners;
  for (const spec of specs) {
    if (!pattern.has(spec.codec)) pattern.set(spec.codec, patterns(spec.codec));
    if (!onsets.has(spec.room)) onsets.set(spec.room, [0, 0]);
    const socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const phone = new Phone(spec, socket);
    // Talkers always decode (own-echo check); listeners up to the budget, one per room first.
    if (spec.talker !== undefined) phone.decoder = createDecoder(spec.codec);
    else if (
      decoders > 0 &&
      !phones.some((q) => q.spec.room === spec.room && q.spec.talker === undefined && q.decoder)
    ) {
      phone.decoder = createDecoder(spec.codec);
      decoders--;
    }
    socket.on('message', (msg) => onPacket(phone, msg));
    phones.push(phone);
    ports[spec.id] = socket.address().port;
  }
  send({ type: 'ready', ports });
}

function send(msg: FromPhones): void {
  process.send?.(msg);
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

process.on('message', (raw: unknown) => {
  const msg = raw as ToPhones;
  switch (msg.type) {
    case 'setup':
      void setup(msg.phones, msg.latencyListeners);
      break;
    case 'start':
      for (const p of phones) p.hostPort = msg.hostPorts[p.spec.id] ?? 0;
      clock.start();
      break;
    case 'stats': {
      const u = process.cpuUsage();
      const jit = phones.filter((p) => p.prevArrival !== undefined).map((p) => p.jitter);
      send({
        type: 'stats',
        cpu: (u.user + u.system) / 1e6,
        at: performance.now(),
        sent,
        received,
        jitterMeanMs: jit.reduce((a, b) => a + b, 0) / Math.max(1, jit.length),
        jitterMaxMs: Math.max(0, ...jit),
        intervalDevP99Ms: percentile(deviations, 0.99),
        latencies,
        ownEchoes,
        senderLateP99Ms: clock.latePercentile(0.99),
      });
      if (msg.reset) {
        latencies = [];
        deviations = [];
        ownEchoes = 0;
        for (const p of phones) p.jitter = 0;
        clock.resetStats();
      }
      break;
    }
    case 'stop':
      clock.close();
      for (const p of phones) p.socket.close();
      process.disconnect?.();
      break;
  }
});
