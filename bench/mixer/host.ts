/**
 * `pnpm bench mixer`: the mixer's process. One RoomMixer per room, one UDP socket per phone leg (as a
 * plain-RTP leg has), one drift-free 20 ms clock ticking every room. Driven over IPC by the driver.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createLogger } from '../../packages/log/src/index.ts';
import { MixerClock, RoomMixer, RtpPacketizer, rtpClockRate } from '../../packages/mixer/src/index.ts';
import type { FromHost, PhoneSpec, ToHost } from './protocol.ts';

const log = createLogger('bench-mixer-host', { level: 'warn' });
const mixers = new Map<number, RoomMixer>();
const legs = new Map<string, { socket: Socket; remotePort: number; spec: PhoneSpec }>();
let packetsIn = 0;
let packetsOut = 0;
const clock = new MixerClock((now) => {
  for (const m of mixers.values()) m.tick(now);
});

function send(msg: FromHost): void {
  process.send?.(msg);
}

async function setup(phones: PhoneSpec[]): Promise<void> {
  const ports: Record<string, number> = {};
  for (const spec of phones) {
    let mixer = mixers.get(spec.room);
    if (!mixer) {
      mixer = new RoomMixer({ log });
      mixers.set(spec.room, mixer);
    }
    const socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const leg = { socket, remotePort: 0, spec };
    legs.set(spec.id, leg);
    ports[spec.id] = socket.address().port;
    const input = mixer.addInput(spec.id, spec.codec, { payloadType: spec.payloadType });
    socket.on('message', (msg) => {
      packetsIn++;
      input.pushRtp(msg);
    });
    const rtp = new RtpPacketizer({ payloadType: spec.payloadType, clockRate: rtpClockRate(spec.codec) });
    mixer.addOutput(spec.id, spec.codec, {
      ownInput: input,
      onPayload: (payload, ms) => {
        if (leg.remotePort === 0) return;
        packetsOut++;
        socket.send(rtp.packetize(payload, ms), leg.remotePort, '127.0.0.1');
      },
    });
  }
  clock.start();
  send({ type: 'ready', ports });
}

function stats(reset: boolean): void {
  let shared = 0;
  let priv = 0;
  let concealed = 0;
  let lateOrDropped = 0;
  for (const m of mixers.values()) {
    shared += m.stats.sharedEncodes;
    priv += m.stats.privateEncodes;
    for (const input of m.inputs.values()) {
      concealed += input.stats.concealedFrames;
      lateOrDropped += input.stats.late + input.stats.droppedForDelay;
    }
  }
  const u = process.cpuUsage();
  send({
    type: 'stats',
    cpu: (u.user + u.system) / 1e6,
    at: performance.now(),
    ticks: clock.stats.ticks,
    skipped: clock.stats.skipped,
    lateMeanMs: clock.stats.meanLateMs,
    lateP99Ms: clock.latePercentile(0.99),
    lateMaxMs: clock.stats.maxLateMs,
    sharedEncodes: shared,
    privateEncodes: priv,
    concealedFrames: concealed,
    lateOrDropped,
    packetsIn,
    packetsOut,
  });
  if (reset) clock.resetStats();
}

process.on('message', (raw: unknown) => {
  const msg = raw as ToHost;
  switch (msg.type) {
    case 'setup':
      void setup(msg.phones);
      break;
    case 'peers':
      for (const [id, port] of Object.entries(msg.ports)) {
        const leg = legs.get(id);
        if (leg) leg.remotePort = port;
      }
      break;
    case 'stats':
      stats(msg.reset);
      break;
    case 'stop':
      clock.close();
      for (const m of mixers.values()) m.close();
      for (const leg of legs.values()) leg.socket.close();
      process.disconnect?.();
      break;
  }
});
