/**
 * End to end with real parts: Debian's Chromium (one process per party, each with its own fake
 * microphone tone) ⇄ @conclave/media ⇄ mediasoup. SDP goes between the page and the legs exactly as
 * the focus would pass it through SIP (JsSIP-style, non-trickle). Hearing is proven by FFT on the
 * received tracks; silence (hold) by RTP packet counters.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'sdp-transform';
import { createLogger } from '@conclave/log';
import { MediaService, type Room, type WebRtcLeg } from '@conclave/media';
import { BrowserPeer, PageServer, ToneDir, waitForTones } from './browser-harness.ts';

const log = createLogger('media-test', { level: process.env['CONCLAVE_LOG_LEVEL'] === 'debug' ? 'debug' : 'warn' });

const TONES = { alice: 600, bob: 1000, carol: 1400, dave: 1800 } as const;
type Name = keyof typeof TONES;

function mlines(sdp: string) {
  return parse(sdp).media.map((m) => ({
    port: m.port,
    mid: m.mid === undefined ? undefined : String(m.mid),
    direction: m.direction,
    payloads: String(m.payloads),
    ext: (m.ext ?? []).map((e) => `${e.value}=${e.uri}`),
    ssrc: m.ssrcs?.[0]?.id,
  }));
}

function bundleOf(sdp: string): string[] {
  return String(parse(sdp).groups?.find((g) => g.type === 'BUNDLE')?.mids ?? '')
    .split(' ')
    .filter(Boolean);
}

/** mid → tone this leg should hear on it, from the server's view of who is consumed where. */
async function expectedTones(leg: WebRtcLeg): Promise<Record<string, number>> {
  const stats = await leg.getStats();
  const out: Record<string, number> = {};
  for (const s of stats.sections) {
    if (s.consumer && !s.closed) out[s.mid] = TONES[s.consumer.sourceLabel as Name];
  }
  return out;
}

async function midOf(leg: WebRtcLeg, source: Name): Promise<string> {
  const stats = await leg.getStats();
  const section = stats.sections.find((s) => !s.closed && s.consumer?.sourceLabel === source);
  assert.ok(section, `${leg.label} has no m-line carrying ${source}`);
  return section.mid;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('browser ⇄ media: 1:1, conference, hold, leave/recycle', { timeout: 90_000 }, () => {
  let tones: ToneDir;
  let server: PageServer;
  let media: MediaService;
  let room: Room;
  const peers = {} as Record<Name, BrowserPeer>;
  const legs = {} as Record<Name, WebRtcLeg>;
  const needed: string[] = [];

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
  async function reoffer(name: Name): Promise<{ offer: string; answer: string; ms: number }> {
    const started = Date.now();
    const offer = await legs[name].createLocalOffer();
    const answer = await peers[name].answer(offer);
    await legs[name].applyRemoteAnswer(answer);
    return { offer, answer, ms: Date.now() - started };
  }

  async function hearsEveryone(name: Name, t: { diagnostic(msg: string): void }): Promise<void> {
    const expected = await expectedTones(legs[name]);
    const { peaks, ms } = await waitForTones(peers[name], expected).catch(async (err) => {
      // Enough to tell a media problem (counters) from a page problem (decoded but not heard).
      t.diagnostic(`${name} server view: ${JSON.stringify((await legs[name].getStats()).sections)}`);
      t.diagnostic(`${name} browser inbound: ${JSON.stringify(await peers[name].call('inboundDetail'))}`);
      t.diagnostic(`${name} page: ${JSON.stringify(await peers[name].call('info'))}`);
      throw err;
    });
    t.diagnostic(
      `${name} hears ${Object.entries(expected)
        .map(([mid, hz]) => `mid ${mid}: ${peaks[mid]!.hz} Hz ${peaks[mid]!.db} dB (tone ${hz})`)
        .join(', ')} after ${ms} ms`,
    );
  }

  before(async () => {
    tones = await ToneDir.create();
    server = await PageServer.start();
    media = await MediaService.create({
      workers: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 41000,
      rtcMaxPort: 41999,
      logger: log,
    });
    room = await media.createRoom({ label: 'e2e' });
    room.on('renegotiationneeded', (leg) => needed.push(leg.label));
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

  it('1:1: browser offer + server offer, both parties hear each other on m-line 0', async (t) => {
    const started = Date.now();
    const offerA = await peers.alice.createOffer();
    legs.alice = await room.createWebRtcLeg({ label: 'alice' });
    await legs.alice.applyRemoteOffer(offerA);
    assert.equal(legs.alice.signalingState, 'have-remote-offer');

    legs.bob = await room.createWebRtcLeg({ label: 'bob' });
    const offerB = await legs.bob.createLocalOffer();
    const bobLines = mlines(offerB);
    assert.equal(bobLines.length, 1, 'a 1:1 offer has a single m-line');
    assert.equal(bobLines[0]!.direction, 'sendrecv');
    assert.ok(bobLines[0]!.ssrc, 'the consumer of alice is announced with a=ssrc');
    assert.match(offerB, /a=setup:actpass/);
    assert.match(offerB, /^a=ice-lite/m);
    const answerB = await peers.bob.answer(offerB);
    await legs.bob.applyRemoteAnswer(answerB);

    const answerA = await legs.alice.createLocalAnswer();
    const aliceLines = mlines(answerA);
    assert.equal(aliceLines.length, 1);
    assert.equal(aliceLines[0]!.direction, 'sendrecv');
    assert.deepEqual(aliceLines[0]!.ext, [], 'no a=extmap on the first answer (fix B)');
    assert.equal(aliceLines[0]!.payloads.split(' ')[0], '111', 'opus keeps PT 111');
    assert.match(answerA, /a=rtpmap:110 telephone-event\/48000/);
    assert.match(answerA, /a=fmtp:111 minptime=10;useinbandfec=1/);
    assert.match(answerA, /a=setup:passive/);
    assert.match(answerA, /a=msid:\S+ \S+/);
    await peers.alice.applyAnswer(answerA);
    t.diagnostic(`signalling for the 1:1 call took ${Date.now() - started} ms`);

    await hearsEveryone('alice', t);
    await hearsEveryone('bob', t);
    assert.deepEqual(await expectedTones(legs.alice), { '0': TONES.bob });
    assert.deepEqual(await expectedTones(legs.bob), { '0': TONES.alice });
    await sleep(50);
    assert.deepEqual(needed, [], 'a complete 1:1 needs no renegotiation');
  });

  it('a third party joins: re-offers add a sendonly m-line and everyone hears both others', async (t) => {
    legs.carol = await room.createWebRtcLeg({ label: 'carol' });
    const offerC = await legs.carol.createLocalOffer();
    const carolLines = mlines(offerC);
    assert.equal(carolLines.length, 2);
    assert.deepEqual(
      carolLines.map((l) => l.direction),
      ['sendrecv', 'sendonly'],
    );
    assert.equal(new Set(carolLines.map((l) => l.mid)).size, 2, 'unique mids');
    await legs.carol.applyRemoteAnswer(await peers.carol.answer(offerC));

    await waitNeeded(['alice', 'bob']);
    for (const name of ['alice', 'bob'] as const) {
      const { offer, ms } = await reoffer(name);
      const lines = mlines(offer);
      assert.equal(lines.length, 2, `${name}'s re-offer keeps m-line 0 and adds one`);
      assert.equal(lines[0]!.mid, '0');
      assert.equal(lines[0]!.direction, 'sendrecv');
      assert.deepEqual(lines[0]!.ext, [], 'm-line 0 still has no extmap');
      assert.equal(lines[1]!.direction, 'sendonly');
      assert.ok(
        lines[1]!.ext.includes('1=urn:ietf:params:rtp-hdrext:sdes:mid'),
        'consumer line uses router extension ids',
      );
      assert.ok(lines[1]!.ssrc);
      assert.match(offer, /a=setup:actpass/);
      t.diagnostic(`${name} re-offer round trip ${ms} ms`);
    }
    for (const name of ['alice', 'bob', 'carol'] as const) await hearsEveryone(name, t);
  });

  it('hold (JsSIP-style mangled offer): the held party hears nothing and nobody hears it; resume restores both', async (t) => {
    const heldEvent = new Promise<void>((resolve) => legs.alice.once('held', resolve));
    await legs.alice.applyRemoteOffer(await peers.alice.createOffer(true));
    await heldEvent;
    assert.equal(legs.alice.held, true);
    const answer = await legs.alice.createLocalAnswer();
    assert.deepEqual(
      mlines(answer).map((l) => l.direction),
      ['recvonly', 'inactive'],
    );
    // The paused consumers stay announced: Chromium tears a receive stream down when its a=ssrc goes
    // away, and when the same SSRC comes back the track's sink is not re-attached (WebAudio hears nothing).
    assert.ok(
      mlines(answer).every((l) => l.ssrc),
      'held lines keep their a=ssrc',
    );
    await peers.alice.applyAnswer(answer);

    const bobHearsAlice = await midOf(legs.bob, 'alice');
    const bobHearsCarol = await midOf(legs.bob, 'carol');
    const carolHearsAlice = await midOf(legs.carol, 'alice');
    await sleep(300);
    const before = {
      alice: await peers.alice.counters(),
      bob: await peers.bob.counters(),
      carol: await peers.carol.counters(),
      server: await legs.alice.getStats(),
    };
    await sleep(800);
    const afterHold = {
      alice: await peers.alice.counters(),
      bob: await peers.bob.counters(),
      carol: await peers.carol.counters(),
      server: await legs.alice.getStats(),
    };
    const delta = (a: Record<string, number>, b: Record<string, number>, mid: string) => (b[mid] ?? 0) - (a[mid] ?? 0);
    const aliceIn = Object.keys(afterHold.alice.inbound).reduce(
      (n, mid) => n + delta(before.alice.inbound, afterHold.alice.inbound, mid),
      0,
    );
    const figures = {
      aliceReceived: aliceIn,
      bobReceivedFromAlice: delta(before.bob.inbound, afterHold.bob.inbound, bobHearsAlice),
      carolReceivedFromAlice: delta(before.carol.inbound, afterHold.carol.inbound, carolHearsAlice),
      bobReceivedFromCarol: delta(before.bob.inbound, afterHold.bob.inbound, bobHearsCarol),
      aliceStillSent: afterHold.alice.sent - before.alice.sent,
      serverGotFromAlice: afterHold.server.packetsIn - before.server.packetsIn,
      serverSentToAlice: afterHold.server.packetsOut - before.server.packetsOut,
    };
    t.diagnostic(`packets over 800 ms on hold: ${JSON.stringify(figures)}`);
    assert.equal(figures.aliceReceived, 0, 'held party receives nothing');
    assert.equal(figures.serverSentToAlice, 0);
    assert.equal(figures.bobReceivedFromAlice, 0, 'bob does not hear the held party');
    assert.equal(figures.carolReceivedFromAlice, 0, 'carol does not hear the held party');
    assert.ok(figures.bobReceivedFromCarol > 20, 'the others still hear each other');
    assert.ok(figures.aliceStillSent > 20 && figures.serverGotFromAlice > 20, 'JsSIP keeps sending while on hold');

    const resumedEvent = new Promise<void>((resolve) => legs.alice.once('resumed', resolve));
    await legs.alice.applyRemoteOffer(await peers.alice.createOffer());
    await resumedEvent;
    const resumeAnswer = await legs.alice.createLocalAnswer();
    assert.deepEqual(
      mlines(resumeAnswer).map((l) => l.direction),
      ['sendrecv', 'sendonly'],
    );
    await peers.alice.applyAnswer(resumeAnswer);
    for (const name of ['alice', 'bob', 'carol'] as const) await hearsEveryone(name, t);
  });

  it('an ICE restart from the browser keeps the call (same DTLS role, media flows again)', async (t) => {
    const before = await legs.carol.getStats();
    const offer = await peers.carol.createOffer(false, true);
    await legs.carol.applyRemoteOffer(offer);
    const answer = await legs.carol.createLocalAnswer();
    assert.match(answer, /a=setup:passive/);
    await peers.carol.applyAnswer(answer);
    await hearsEveryone('carol', t);
    const after = await legs.carol.getStats();
    assert.equal(after.dtlsState, 'connected');
    assert.ok(after.packetsIn > before.packetsIn);
  });

  it('a party leaves (port 0) and a newcomer recycles the line with a new mid', async (t) => {
    const carolLinesBefore = (await legs.carol.getStats()).sections;
    legs.bob.close();
    await peers.bob.close();
    await waitNeeded(['alice', 'carol']);

    const a = await reoffer('alice');
    assert.deepEqual(
      mlines(a.offer).map((l) => [l.mid, l.direction]),
      [
        ['0', 'recvonly'],
        [mlines(a.offer)[1]!.mid, 'sendonly'],
      ],
    );
    const c = await reoffer('carol');
    const carolLines = mlines(c.offer);
    assert.equal(carolLines.length, carolLinesBefore.length, 'm-lines are never removed');
    const bobLine = carolLines.find((l) => l.port === 0);
    assert.ok(bobLine, "the leaving party's line goes to port 0");
    assert.ok(!bundleOf(c.offer).includes(bobLine.mid!), 'a port-0 line is not in BUNDLE');
    await hearsEveryone('alice', t);
    await hearsEveryone('carol', t);

    legs.dave = await room.createWebRtcLeg({ label: 'dave' });
    const offerD = await legs.dave.createLocalOffer();
    await legs.dave.applyRemoteAnswer(await peers.dave.answer(offerD));
    await waitNeeded(['alice', 'carol']);
    const a2 = await reoffer('alice');

    assert.equal(mlines(a2.offer)[0]!.direction, 'sendrecv', "the newcomer takes alice's free m-line 0");
    const c2 = await reoffer('carol');
    const recycled = mlines(c2.offer);
    assert.equal(recycled.length, carolLines.length, 'the port-0 line is recycled, not appended');
    const reused = recycled.find((l, i) => carolLines[i]!.port === 0 && l.port !== 0);
    assert.ok(reused, 'the port-0 line is open again');
    assert.notEqual(reused.mid, bobLine.mid, 'with a new mid');
    for (const name of ['alice', 'carol', 'dave'] as const) await hearsEveryone(name, t);
  });
});
