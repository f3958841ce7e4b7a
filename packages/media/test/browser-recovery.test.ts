/**
 * Dependable conferences, media side, with real Chromium parties:
 * - the mediasoup worker under a three-party room is SIGKILLed: the room rebuilds itself on a live
 *   worker, every leg asks for a re-offer, the test re-offers as the focus would, and everyone hears
 *   everyone again (measured by the received tones; the time to restore is reported);
 * - a party's browser process is killed (no BYE, no DTLS close): its leg emits 'vanished'
 *   ('ice-consent-expired') within the ICE consent timeout, and the others still hear each other.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@conclave/log';
import { MediaService, type Room, type WebRtcLeg } from '@conclave/media';
import { BrowserPeer, PageServer, ToneDir, waitForTones } from './browser-harness.ts';

const log = createLogger('media-test', { level: process.env['CONCLAVE_LOG_LEVEL'] === 'debug' ? 'debug' : 'error' });

const TONES = { ann: 500, ben: 900, cat: 1300 } as const;
type Name = keyof typeof TONES;
const NAMES = Object.keys(TONES) as Name[];
/** mediasoup's smallest ICE consent timeout (seconds). */
const CONSENT_TIMEOUT_S = 10;

async function expectedTones(leg: WebRtcLeg, among: Name[]): Promise<Record<string, number>> {
  const stats = await leg.getStats();
  const out: Record<string, number> = {};
  for (const s of stats.sections) {
    const source = s.consumer?.sourceLabel as Name | undefined;
    if (source && !s.closed && among.includes(source)) out[s.mid] = TONES[source];
  }
  return out;
}

/** Polls `check` (a state the media objects expose) until it holds. */
async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('browser ⇄ media: worker crash and vanished parties', { timeout: 120_000 }, () => {
  let tones: ToneDir;
  let server: PageServer;
  let media: MediaService;
  let room: Room;
  const peers = {} as Record<Name, BrowserPeer>;
  const legs = {} as Record<Name, WebRtcLeg>;
  /** Re-offers in flight, one chain per leg (as the focus serialises its re-INVITEs). */
  const chains = {} as Record<Name, Promise<void>>;
  const reoffers: Record<Name, number> = { ann: 0, ben: 0, cat: 0 };
  const failures: string[] = [];

  /** What the focus does on 'renegotiationneeded': a re-INVITE (our offer, the party's answer). */
  function reoffer(name: Name): Promise<void> {
    chains[name] = (chains[name] ?? Promise.resolve()).then(async () => {
      const leg = legs[name];
      if (leg.closed || leg.signalingState !== 'stable') return;
      reoffers[name] += 1;
      try {
        await leg.applyRemoteAnswer(await peers[name].answer(await leg.createLocalOffer()));
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message}`);
      }
    });
    return chains[name];
  }

  function settled(among: Name[]): boolean {
    return among.every((n) => legs[n].signalingState === 'stable' && !legs[n].needsRenegotiation);
  }

  async function hearsEveryone(name: Name, among: Name[], timeoutMs: number): Promise<number> {
    const expected = await expectedTones(legs[name], among);
    assert.equal(Object.keys(expected).length, among.length - 1, `${name} consumes everyone else`);
    const { ms } = await waitForTones(peers[name], expected, { timeoutMs });
    return ms;
  }

  before(async () => {
    tones = await ToneDir.create();
    server = await PageServer.start();
    media = await MediaService.create({
      workers: 2,
      listenIp: '127.0.0.1',
      rtcMinPort: 47000,
      rtcMaxPort: 47999,
      iceConsentTimeout: CONSENT_TIMEOUT_S,
      logger: log,
    });
    const launched = await Promise.all(
      NAMES.map(async (n) => BrowserPeer.launch(n, TONES[n], await tones.tone(TONES[n]), server.url)),
    );
    NAMES.forEach((n, i) => (peers[n] = launched[i]!));
  });

  after(async () => {
    media?.close();
    await Promise.allSettled(Object.values(peers).map((p) => p.close()));
    await server?.close();
    await tones?.remove();
  });

  it('a worker crash: the room rebuilds on a live worker, re-offers restore everyone hearing everyone', async (t) => {
    room = await media.createRoom({ label: 'crash' });
    // ann calls in; the focus calls ben and cat.
    const offer = await peers.ann.createOffer();
    legs.ann = await room.createWebRtcLeg({ label: 'ann' });
    await legs.ann.applyRemoteOffer(offer);
    await peers.ann.applyAnswer(await legs.ann.createLocalAnswer());
    for (const n of ['ben', 'cat'] as const) {
      legs[n] = await room.createWebRtcLeg({ label: n });
      await reoffer(n);
    }
    for (const n of NAMES) legs[n].on('renegotiationneeded', () => void reoffer(n));
    for (const n of NAMES) if (legs[n].needsRenegotiation) void reoffer(n);
    await until('the room settles', () => settled(NAMES), 10_000);
    for (const n of NAMES) await hearsEveryone(n, NAMES, 8000);

    const victim = room.workerPid;
    const producersBefore = Object.fromEntries(NAMES.map((n) => [n, legs[n].producers.map((p) => p.id)]));
    let recovered: { legs: number; ms: number } | undefined;
    room.once('recovered', (info) => (recovered = info));
    let closed = false;
    room.once('closed', () => (closed = true));
    const before = { ...reoffers };
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');

    await until('the room recovers', () => recovered !== undefined, 10_000);
    await until(
      'every leg is re-offered and settled',
      () => NAMES.every((n) => reoffers[n] > before[n]) && settled(NAMES),
      10_000,
    );
    const reofferedMs = Date.now() - killedAt;
    assert.equal(closed, false, 'the room stays open');
    assert.equal(recovered!.legs, 3);
    for (const n of NAMES) {
      assert.equal(legs[n].closed, false);
      assert.notEqual(legs[n].workerPid, victim, `${n} is on a live worker`);
      assert.notDeepEqual(
        legs[n].producers.map((p) => p.id),
        producersBefore[n],
        `${n}'s producer was re-created`,
      );
    }
    // Everyone hears everyone through the new transports: the tones, and packets on the new producers/consumers.
    const heardAt: Record<string, number> = {};
    await Promise.all(
      NAMES.map(async (n) => {
        await hearsEveryone(n, NAMES, 10_000);
        heardAt[n] = Date.now() - killedAt;
      }),
    );
    for (const n of NAMES) {
      const stats = await legs[n].getStats();
      assert.equal(
        stats.iceState === 'connected' || stats.iceState === 'completed',
        true,
        `${n} ICE ${stats.iceState}`,
      );
      assert.equal(stats.dtlsState, 'connected');
      assert.ok(
        stats.packetsIn > 0 && stats.sections.filter((s) => s.consumer).every((s) => s.consumer!.packets > 0),
        `${n}: media flows on the new transport`,
      );
    }
    const restoredMs = Math.max(...Object.values(heardAt));
    t.diagnostic(
      `worker ${victim} killed: room rebuilt in ${recovered!.ms} ms on worker ${room.workerPid}, re-offers done after ${reofferedMs} ms, ` +
        `everyone hears everyone after ${restoredMs} ms (${NAMES.map((n) => `${n} ${heardAt[n]} ms`).join(', ')}); re-offers per leg: ` +
        NAMES.map((n) => `${n} ${reoffers[n] - before[n]}`).join(', '),
    );
    assert.deepEqual(failures, []);
    assert.ok(restoredMs < 10_000, `restored within 10 s (${restoredMs} ms)`);
  });

  it('a party whose browser dies (killed, no BYE) is reported vanished within the ICE consent timeout', async (t) => {
    assert.ok(room && !room.closed, 'needs the room of the previous test');
    let reason: string | undefined;
    const killedAt = Date.now();
    let vanishedAfter = 0;
    legs.cat.once('vanished', (r) => {
      reason = r;
      vanishedAfter = Date.now() - killedAt;
    });
    const otherVanished: string[] = [];
    for (const n of ['ann', 'ben'] as const) legs[n].once('vanished', (r) => otherVanished.push(`${n}:${r}`));
    const pids = await peers.cat.kill();
    await until('cat vanishes', () => reason !== undefined, (CONSENT_TIMEOUT_S + 5) * 1000);
    t.diagnostic(
      `cat's Chromium (${pids.length} processes) killed: 'vanished' (${reason}) after ${vanishedAfter} ms (consent timeout ${CONSENT_TIMEOUT_S} s)`,
    );
    assert.equal(reason, 'ice-consent-expired');
    assert.ok(vanishedAfter >= (CONSENT_TIMEOUT_S - 6) * 1000, 'not before the consent checks stopped for a while');
    assert.deepEqual(otherVanished, [], 'the others are alive');
    assert.equal(legs.cat.closed, false, 'the leg waits for the focus to end it');
    // The focus ends the call: the others still hear each other.
    legs.cat.close();
    for (const started = Date.now(); ;) {
      const stats = await Promise.all([legs.ann.getStats(), legs.ben.getStats()]);
      const catGone = stats.every((st) => st.sections.every((s) => s.consumer?.sourceLabel !== 'cat'));
      if (catGone && settled(['ann', 'ben'])) break;
      if (Date.now() - started > 10_000) assert.fail('ann and ben still consume cat, or are not re-offered');
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const n of ['ann', 'ben'] as const) await hearsEveryone(n, ['ann', 'ben'], 8000);
    room.close();
  });
});
