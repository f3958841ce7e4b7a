/**
 * `pnpm bench mixer`'s baseline: mediasoup only forwarding the same phones' streams, no mixing. One
 * worker and router; per phone a plain transport with a producer (its stream) and one consumer (what it
 * hears: the room's first talker, or for that talker the second one), so the packet rate per leg is the
 * mixer's (one in, one out every 20 ms). CPU = this Node process + the mediasoup worker process.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Mediasoup from '../../packages/media/node_modules/mediasoup/node/lib/index.js';
import { cpuSeconds } from '../lib/procfs.ts';
import type { FromHost, PhoneSpec, ToHost } from './protocol.ts';

const mediaPackage = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages', 'media', 'package.json');
const mediasoup = createRequire(mediaPackage)('mediasoup') as typeof Mediasoup;

const PCMU = { kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000, preferredPayloadType: 0, channels: 1 } as const;
let worker: Mediasoup.types.Worker | undefined;
const transports = new Map<string, Mediasoup.types.PlainTransport>();
const producers = new Map<string, Mediasoup.types.Producer>();

function send(msg: FromHost): void {
  process.send?.(msg);
}

async function setup(phones: PhoneSpec[]): Promise<void> {
  worker = await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: 20000, rtcMaxPort: 29999 });
  const router = await worker.createRouter({ mediaCodecs: [PCMU] });
  const ports: Record<string, number> = {};
  for (const spec of phones) {
    if (spec.codec !== 'PCMU') throw new Error('the forwarding baseline is G.711 only (mediasoup does not transcode)');
    const t = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: true,
      comedia: false,
    });
    transports.set(spec.id, t);
    ports[spec.id] = t.tuple.localPort;
    const producer = await t.produce({
      kind: 'audio',
      rtpParameters: {
        codecs: [{ mimeType: 'audio/PCMU', clockRate: 8000, payloadType: 0, channels: 1 }],
        encodings: [{ ssrc: spec.ssrc }],
      },
    });
    producers.set(spec.id, producer);
  }
  for (const spec of phones) {
    const room = phones.filter((p) => p.room === spec.room);
    const first = room.find((p) => p.talker === 0);
    const second = room.find((p) => p.talker === 1);
    const source = spec.talker === 0 ? second : first;
    const producer = source && producers.get(source.id);
    if (!producer) continue;
    await transports
      .get(spec.id)!
      .consume({ producerId: producer.id, rtpCapabilities: { codecs: [PCMU], headerExtensions: [] } });
  }
  send({ type: 'ready', ports });
}

async function stats(): Promise<void> {
  let packetsIn = 0;
  for (const p of producers.values()) for (const s of await p.getStats()) packetsIn += s.packetCount;
  const u = process.cpuUsage();
  send({
    type: 'stats',
    cpu: (u.user + u.system) / 1e6 + (worker ? cpuSeconds([worker.pid]) : 0),
    at: performance.now(),
    ticks: 0,
    skipped: 0,
    lateMeanMs: NaN,
    lateP99Ms: NaN,
    lateMaxMs: NaN,
    sharedEncodes: 0,
    privateEncodes: 0,
    concealedFrames: 0,
    lateOrDropped: 0,
    packetsIn,
    packetsOut: 0,
  });
}

process.on('message', (raw: unknown) => {
  const msg = raw as ToHost;
  switch (msg.type) {
    case 'setup':
      setup(msg.phones).catch((err: unknown) => {
        process.stderr.write(`forward-host: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      });
      break;
    case 'peers':
      for (const [id, port] of Object.entries(msg.ports)) void transports.get(id)?.connect({ ip: '127.0.0.1', port });
      break;
    case 'stats':
      void stats();
      break;
    case 'stop':
      worker?.close();
      process.disconnect?.();
      break;
  }
});
