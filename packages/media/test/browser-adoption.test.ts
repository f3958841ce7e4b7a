/**
 * Conference focus needs, end to end with real Chromium pages (one process per party, each with its
 * own tone): two 1:1 calls (R1 alice–bob, R2 alice2–carol) are merged into a conference room R3
 * (alice3) by adopting bob's and carol's legs without touching their transports; the old rooms go on
 * or close; mute by the focus survives adoption and hold. Rooms sit on two workers, so pipes cross
 * routers on the same worker and on different workers. Speaker detection is on (audio-level extension
 * on the parties' lines), as the focus runs it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@conclave/log';
import { MediaService, type Room, type WebRtcLeg } from '@conclave/media';
import { BrowserPeer, PageServer, ToneDir, waitForTones } from './browser-harness.ts';

const log = createLogger('media-test', { level: process.env['CONCLAVE_LOG_LEVEL'] === 'debug' ? 'debug' : 'warn' });

const TONES = { alice: 600, alice3: 800, bob: 1000, alice2: 1400, carol: 1800 } as const;
type Name = keyof typeof TONES;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mid → tone this leg should hear on it, from the server's view of who is consumed where. */
async function expectedTones(leg: WebRtcLeg): Promise<Record<string, number>> {
  const stats = await leg.getStats();
  const out: Record<string, number> = {};
  for (const s of stats.sections) {
    if (s.consumer && !s.closed) out[s.mid] = TONES[s.consumer.sourceLabel as Name];
  }
  return out;
}

async function sources(leg: WebRtcLeg): Promise<string[]> {
  const stats = await leg.getStats();
  return stats.sections.flatMap((s) => (s.consumer && !s.closed ? [s.consumer.sourceLabel] : [])).sort();
}

async function midOf(leg: WebRtcLeg, source: Name): Promise<string> {
  const stats = await leg.getStats();
  const section = stats.sections.find((s) => !s.closed && s.consumer?.sourceLabel === source);
  assert.ok(section, `${leg.label} has no m-line carrying ${source}`);
  return section.mid;
}

describe(
  'browser ⇄ media: adoption into a conference, router lifetime, mute by the focus',
  { timeout: 120_000 },
  () => {
    let tones: ToneDir;
    let server: PageServer;
    let media: MediaService;
    const rooms = {} as Record<'r1' | 'r2' | 'r3', Room>;
    const peers = {} as Record<Name, BrowserPeer>;
    const legs = {} as Record<Name, WebRtcLeg>;
    const needed: string[] = [];
    const moved: string[] = [];

    async function waitNeeded(names: Name[], timeoutMs = 3000): Promise<void> {
      const started = Date.now();
      while (!names.every((n) => needed.includes(n))) {
        if (Date.now() - started > timeoutMs)
          assert.fail(`renegotiationneeded not emitted for ${names.join(', ')} (got ${needed.join(', ')})`);
        await sleep(10);
      }
      needed.length = 0;
    }

    /** Focus-initiated re-INVITE: server offer → browser answer. */
    async function reoffer(name: Name): Promise<number> {
      const started = Date.now();
      const offer = await legs[name].createLocalOffer();
      await legs[name].applyRemoteAnswer(await peers[name].answer(offer));
      return Date.now() - started;
    }

    /** The party calls in (its INVITE carries the offer). */
    async function dialIn(name: Name, room: Room): Promise<void> {
      const offer = await peers[name].createOffer();
      legs[name] = await room.createWebRtcLeg({ label: name });
      await legs[name].applyRemoteOffer(offer);
      await peers[name].applyAnswer(await legs[name].createLocalAnswer());
    }

    /** The focus calls the party (server offer). */
    async function dialOut(name: Name, room: Room): Promise<void> {
      legs[name] = await room.createWebRtcLeg({ label: name });
      const offer = await legs[name].createLocalOffer();
      await legs[name].applyRemoteAnswer(await peers[name].answer(offer));
    }

    async function hearsEveryone(name: Name, t: { diagnostic(msg: string): void }): Promise<void> {
      const expected = await expectedTones(legs[name]);
      const { peaks, ms } = await waitForTones(peers[name], expected).catch(async (err) => {
        t.diagnostic(`${name} server view: ${JSON.stringify((await legs[name].getStats()).sections)}`);
        t.diagnostic(`${name} browser inbound: ${JSON.stringify(await peers[name].call('inboundDetail'))}`);
        t.diagnostic(`${name} page: ${JSON.stringify(await peers[name].info())}`);
        throw err;
      });
      t.diagnostic(
        `${name} hears ${Object.entries(expected)
          .map(([mid, hz]) => `mid ${mid}: ${peaks[mid]!.hz} Hz ${peaks[mid]!.db} dB (tone ${hz})`)
          .join(', ')} after ${ms} ms`,
      );
    }

    /** RTP packets each listener received from `source` over `ms` (browser counters, by the mid carrying it). */
    async function packetsFrom(source: Name, listeners: Name[], ms = 800): Promise<Record<string, number>> {
      const mids = Object.fromEntries(
        await Promise.all(listeners.map(async (n) => [n, await midOf(legs[n], source)] as const)),
      );
      const before = Object.fromEntries(
        await Promise.all(listeners.map(async (n) => [n, (await peers[n].counters()).inbound] as const)),
      );
      await sleep(ms);
      const after = Object.fromEntries(
        await Promise.all(listeners.map(async (n) => [n, (await peers[n].counters()).inbound] as const)),
      );
      return Object.fromEntries(listeners.map((n) => [n, (after[n]![mids[n]!] ?? 0) - (before[n]![mids[n]!] ?? 0)]));
    }

    async function usage(): Promise<{ routers: number; webRtc: number; transports: number; workerRouters: number }> {
      const u = await media.getWorkerUsage();
      return {
        routers: u.reduce((n, w) => n + w.routers.length, 0),
        webRtc: u.reduce((n, w) => n + w.routers.reduce((m, r) => m + r.webRtcTransports, 0), 0),
        transports: u.reduce((n, w) => n + w.routers.reduce((m, r) => m + r.transportIds.length, 0), 0),
        workerRouters: u.reduce((n, w) => n + w.routerIds.length, 0),
      };
    }

    before(async () => {
      tones = await ToneDir.create();
      server = await PageServer.start();
      media = await MediaService.create({
        workers: 2,
        listenIp: '127.0.0.1',
        rtcMinPort: 44000,
        rtcMaxPort: 44999,
        logger: log,
        speakerDetection: true,
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

    it('two 1:1 calls (R1 alice–bob, R2 alice2–carol); bob is muted by the focus and alice stops hearing him', async (t) => {
      for (const key of ['r1', 'r2', 'r3'] as const) {
        rooms[key] = await media.createRoom({ label: key });
        rooms[key].on('renegotiationneeded', (leg) => needed.push(leg.label));
        rooms[key].on('legmoved', (leg, to) => moved.push(`${leg.label}:${key}->${to.label}`));
      }
      t.diagnostic(`workers: r1 ${rooms.r1.workerPid}, r2 ${rooms.r2.workerPid}, r3 ${rooms.r3.workerPid}`);
      assert.notEqual(rooms.r1.workerPid, rooms.r2.workerPid, 'two workers in use');

      // R1: alice calls in, the focus calls bob. R2: the focus calls alice2... carol calls in.
      const offerA = await peers.alice.createOffer();
      legs.alice = await rooms.r1.createWebRtcLeg({ label: 'alice' });
      await legs.alice.applyRemoteOffer(offerA);
      await dialOut('bob', rooms.r1);
      const answerA = await legs.alice.createLocalAnswer();
      assert.match(
        answerA,
        /a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level/,
        "speaker detection: audio level on the party's line, its own id",
      );
      await peers.alice.applyAnswer(answerA);

      await dialIn('carol', rooms.r2);
      await dialOut('alice2', rooms.r2);
      await waitNeeded(['carol']);
      await reoffer('carol');
      needed.length = 0;

      for (const n of ['alice', 'bob', 'alice2', 'carol'] as const) await hearsEveryone(n, t);

      await legs.bob.setMutedByFocus(true);
      assert.equal(legs.bob.mutedByFocus, true);
      assert.equal(legs.bob.needsRenegotiation, false, 'muting does not touch the SDP');
      const silent = await packetsFrom('bob', ['alice']);
      t.diagnostic(`packets from muted bob over 800 ms: ${JSON.stringify(silent)}`);
      assert.equal(silent['alice'], 0, 'nobody hears a muted party');
      const stats = await legs.bob.getStats();
      assert.equal(stats.mutedByFocus, true);
      assert.ok(stats.sections.every((s) => !s.producer || s.producer.paused));
      assert.deepEqual(needed, [], 'muting needs no renegotiation');
    });

    it('R3 adopts bob (from R1) and carol (from R2): everyone in R3 hears both others, bob no longer hears alice', async (t) => {
      await dialIn('alice3', rooms.r3);
      const before = await usage();

      const started = Date.now();
      await rooms.r3.adoptLeg(legs.bob);
      await rooms.r3.adoptLeg(legs.carol);
      const adoptMs = Date.now() - started;
      assert.equal(legs.bob.room, rooms.r3);
      assert.equal(legs.carol.room, rooms.r3);
      assert.deepEqual(
        rooms.r1.legs.map((l) => l.label),
        ['alice'],
      );
      assert.deepEqual(
        rooms.r2.legs.map((l) => l.label),
        ['alice2'],
      );
      assert.deepEqual(rooms.r3.legs.map((l) => l.label).sort(), ['alice3', 'bob', 'carol']);
      assert.deepEqual(moved.sort(), ['bob:r1->r3', 'carol:r2->r3']);
      assert.equal(legs.bob.dtlsState, 'connected', 'the transport was not touched');

      await waitNeeded(['alice', 'alice2', 'alice3', 'bob', 'carol']);
      const ms: Record<string, number> = {};
      for (const n of ['alice', 'alice2', 'alice3', 'bob', 'carol'] as const) ms[n] = await reoffer(n);
      t.diagnostic(`adoption of two legs took ${adoptMs} ms; re-offer round trips ${JSON.stringify(ms)}`);

      assert.deepEqual(await sources(legs.bob), ['alice3', 'carol']);
      assert.deepEqual(await sources(legs.carol), ['alice3', 'bob']);
      assert.deepEqual(await sources(legs.alice3), ['bob', 'carol']);
      assert.deepEqual(await sources(legs.alice), []);
      assert.deepEqual(await sources(legs.alice2), []);
      const after = await usage();
      t.diagnostic(`mediasoup before adoption ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
      assert.equal(after.routers, 3, 'no router was created or closed by adoption');
      assert.equal(after.webRtc, 5, 'no transport was created or closed by adoption');

      // bob is still muted (adoption keeps the state): carol and alice3 get nothing from him.
      const fromBob = await packetsFrom('bob', ['carol', 'alice3']);
      t.diagnostic(`packets from muted bob after adoption: ${JSON.stringify(fromBob)}`);
      assert.deepEqual(fromBob, { carol: 0, alice3: 0 }, 'muted state survives adoption');
      await legs.bob.setMutedByFocus(false);

      for (const n of ['bob', 'carol', 'alice3'] as const) await hearsEveryone(n, t);
      const bobPeaks = await peers.bob.peaks();
      const bobMids = Object.keys(await expectedTones(legs.bob));
      assert.ok(
        bobMids.every((mid) => Math.abs((bobPeaks[mid]?.hz ?? 0) - TONES.alice) > 50),
        `bob no longer hears alice: ${JSON.stringify(bobPeaks)}`,
      );
      const aliceIn = await peers.alice.counters();
      await sleep(500);
      const aliceIn2 = await peers.alice.counters();
      const aliceGot = Object.keys(aliceIn2.inbound).reduce(
        (n, mid) => n + (aliceIn2.inbound[mid]! - (aliceIn.inbound[mid] ?? 0)),
        0,
      );
      assert.equal(aliceGot, 0, 'alice, alone in R1, receives nothing');
    });

    it('mute survives hold/resume; unmute brings the party back', async (t) => {
      await legs.carol.setMutedByFocus(true);
      assert.deepEqual(await packetsFrom('carol', ['bob', 'alice3']), { bob: 0, alice3: 0 });

      await legs.carol.applyRemoteOffer(await peers.carol.createOffer(true));
      assert.equal(legs.carol.held, true);
      await peers.carol.applyAnswer(await legs.carol.createLocalAnswer());
      await legs.carol.applyRemoteOffer(await peers.carol.createOffer());
      assert.equal(legs.carol.held, false);
      await peers.carol.applyAnswer(await legs.carol.createLocalAnswer());
      const afterResume = await packetsFrom('carol', ['bob', 'alice3']);
      t.diagnostic(`packets from muted carol after hold+resume: ${JSON.stringify(afterResume)}`);
      assert.deepEqual(afterResume, { bob: 0, alice3: 0 }, 'resume does not unmute');
      assert.equal(legs.carol.mutedByFocus, true);

      await legs.carol.setMutedByFocus(false);
      const back = await packetsFrom('carol', ['bob', 'alice3'], 500);
      t.diagnostic(`packets from carol 500 ms after unmute: ${JSON.stringify(back)}`);
      assert.ok((back['bob'] ?? 0) > 10 && (back['alice3'] ?? 0) > 10);
      for (const n of ['bob', 'carol', 'alice3'] as const) await hearsEveryone(n, t);
    });

    it("closing R1 (alice hangs up) keeps R1's router alive for bob; closing R3 then releases everything", async (t) => {
      const closedLegs: string[] = [];
      rooms.r3.on('legclosed', (leg) => closedLegs.push(leg.label));
      rooms.r1.close();
      await peers.alice.close();
      assert.equal(legs.alice.closed, true);
      assert.equal(legs.bob.closed, false, "the adopted leg is not R1's any more");
      const u = await usage();
      t.diagnostic(`after closing R1: ${JSON.stringify(u)}`);
      assert.equal(u.routers, 3, "R1's router stays: bob's transport is on it");
      assert.equal(u.webRtc, 4);
      await sleep(300);
      for (const n of ['bob', 'carol', 'alice3'] as const) await hearsEveryone(n, t);
      assert.deepEqual(closedLegs, []);

      rooms.r3.close();
      for (const n of ['bob', 'carol', 'alice3'] as const) assert.equal(legs[n].closed, true);
      await sleep(100);
      const left = await usage();
      t.diagnostic(`after closing R3: ${JSON.stringify(left)}`);
      assert.deepEqual(
        { routers: left.routers, webRtc: left.webRtc, transports: left.transports, workerRouters: left.workerRouters },
        { routers: 1, webRtc: 1, transports: 1, workerRouters: 1 },
        'only R2 (alice2) is left, without pipe transports',
      );
      rooms.r2.close();
      await sleep(100);
      const none = await usage();
      assert.deepEqual(
        none,
        { routers: 0, webRtc: 0, transports: 0, workerRouters: 0 },
        'no router or transport left in any worker',
      );
    });
  },
);
