/**
 * A room that outgrows its worker (maxTransportsPerWorker: 1, two workers): the second leg's transport
 * goes to a router of the room on the other worker, producers are piped between the two routers, and
 * three Chromium parties all hear each other. If the other worker dies, its legs are rebuilt on a live
 * worker and, after the re-offers, everyone hears everyone again.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@conclave/log';
import { MediaService, type LegCloseReason, type Room, type WebRtcLeg } from '@conclave/media';
import { BrowserPeer, PageServer, ToneDir, waitForTones } from './browser-harness.ts';

const log = createLogger('media-test', { level: process.env['CONCLAVE_LOG_LEVEL'] === 'debug' ? 'debug' : 'error' });

const TONES = { ann: 500, ben: 900, cat: 1300 } as const;
type Name = keyof typeof TONES;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function expectedTones(leg: WebRtcLeg): Promise<Record<string, number>> {
  const stats = await leg.getStats();
  const out: Record<string, number> = {};
  for (const s of stats.sections) {
    if (s.consumer && !s.closed) out[s.mid] = TONES[s.consumer.sourceLabel as Name];
  }
  return out;
}

describe('browser ⇄ media: a room spanning two workers', { timeout: 90_000 }, () => {
  let tones: ToneDir;
  let server: PageServer;
  let media: MediaService;
  let room: Room;
  const peers = {} as Record<Name, BrowserPeer>;
  const legs = {} as Record<Name, WebRtcLeg>;

  async function reoffer(name: Name): Promise<void> {
    await legs[name].applyRemoteAnswer(await peers[name].answer(await legs[name].createLocalOffer()));
  }

  async function hearsEveryone(name: Name, t: { diagnostic(msg: string): void }): Promise<void> {
    const expected = await expectedTones(legs[name]);
    const { peaks, ms } = await waitForTones(peers[name], expected);
    t.diagnostic(
      `${name} (worker ${legs[name].workerPid}) hears ${Object.entries(expected)
        .map(([mid, hz]) => `mid ${mid}: ${peaks[mid]!.hz} Hz (tone ${hz})`)
        .join(', ')} after ${ms} ms`,
    );
  }

  before(async () => {
    tones = await ToneDir.create();
    server = await PageServer.start();
    media = await MediaService.create({
      workers: 2,
      maxTransportsPerWorker: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 46000,
      rtcMaxPort: 46999,
      logger: log,
    });
    const names = Object.keys(TONES) as Name[];
    const launched = await Promise.all(
      names.map(async (n) => BrowserPeer.launch(n, TONES[n], await tones.tone(TONES[n]), server.url)),
    );
    names.forEach((n, i) => (peers[n] = launched[i]!));
  });

  after(async () => {
    media?.close();
    await Promise.allSettled(Object.values(peers).map((p) => p.close()));
    await server?.close();
    await tones?.remove();
  });

  it('three legs over two workers: everyone hears everyone', async (t) => {
    room = await media.createRoom({ label: 'big' });
    // ann calls in; the focus calls ben and cat (their first offers already carry the others).
    const offer = await peers.ann.createOffer();
    legs.ann = await room.createWebRtcLeg({ label: 'ann' });
    await legs.ann.applyRemoteOffer(offer);
    await peers.ann.applyAnswer(await legs.ann.createLocalAnswer());
    for (const n of ['ben', 'cat'] as const) {
      legs[n] = await room.createWebRtcLeg({ label: n });
      await reoffer(n);
    }
    t.diagnostic(
      `workers: room ${room.workerPid}, ann ${legs.ann.workerPid}, ben ${legs.ben.workerPid}, cat ${legs.cat.workerPid}`,
    );
    assert.equal(legs.ann.workerPid, room.workerPid, "the first leg stays on the room's worker");
    assert.notEqual(legs.ben.workerPid, room.workerPid, 'the second leg goes to the other worker');
    assert.deepEqual([...room.workerPids].sort(), [...media.workerPids].sort(), 'the room spans both workers');
    await sleep(50);
    for (const n of Object.keys(TONES) as Name[]) if (legs[n].needsRenegotiation) await reoffer(n);
    for (const n of Object.keys(TONES) as Name[]) await hearsEveryone(n, t);

    const usage = await media.getWorkerUsage();
    t.diagnostic(
      `usage: ${JSON.stringify(usage.map((w) => ({ pid: w.pid, routers: w.routers.map((r) => ({ transports: r.transportIds.length, webRtc: r.webRtcTransports })) })))}`,
    );
    assert.equal(
      usage.reduce((n, w) => n + w.routers.length, 0),
      2,
      'one router of the room per worker',
    );
  });

  it('the other worker dies: its leg is rebuilt on a live worker (pipes re-made); after the re-offers everyone hears everyone', async (t) => {
    const victim = legs.ben.workerPid;
    assert.notEqual(victim, room.workerPid, "ben is on the room's other worker");
    const onVictim = (Object.keys(TONES) as Name[]).filter((n) => legs[n].workerPid === victim);
    const closed: string[] = [];
    for (const n of Object.keys(TONES) as Name[])
      legs[n].once('closed', (r: LegCloseReason) => closed.push(`${n}:${r}`));
    const needed = new Set<string>();
    room.on('renegotiationneeded', (leg) => needed.add(leg.label));
    let recovered: { legs: number; ms: number } | undefined;
    room.once('recovered', (info) => (recovered = info));
    process.kill(victim, 'SIGKILL');
    const started = Date.now();
    while (recovered === undefined && Date.now() - started < 5000) await sleep(20);
    assert.deepEqual(recovered?.legs, onVictim.length, 'the legs on the dead worker were rebuilt');
    assert.deepEqual(closed, [], 'no leg closes');
    assert.equal(room.closed, false, 'the room lives on');
    for (const n of onVictim) assert.notEqual(legs[n].workerPid, victim);
    // Everyone lost someone (or its transport): everyone is re-offered.
    while (!(Object.keys(TONES) as Name[]).every((n) => needed.has(n)) && Date.now() - started < 5000) await sleep(20);
    for (const n of Object.keys(TONES) as Name[]) await reoffer(n);
    await sleep(50);
    for (const n of Object.keys(TONES) as Name[]) if (legs[n].needsRenegotiation) await reoffer(n);
    for (const n of Object.keys(TONES) as Name[]) await hearsEveryone(n, t);
    t.diagnostic(
      `rebuilt after the worker death: ${onVictim.join(', ')} in ${recovered.ms} ms; workers now ${room.workerPids.join(', ')}`,
    );

    room.close();
    await sleep(100);
    const usage = await media.getWorkerUsage();
    assert.equal(
      usage.reduce((n, w) => n + w.routerIds.length, 0),
      0,
      'no router left',
    );
  });
});
