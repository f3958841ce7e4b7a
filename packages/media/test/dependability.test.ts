/**
 * Dependable conferences, media side, without browsers (real mediasoup workers, real UDP phones made
 * with fake-phone.ts, real GStreamer pipelines):
 * - MediaService.stats() counts, and closing rooms (also after a worker crash) brings them back to baseline;
 * - a plain leg whose phone stops sending RTP is 'vanished' ('no-media'), not while it is held;
 * - setOnHoldByFocus() on both leg kinds: sendonly / inactive in our offers and answers, re-offer requests.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@conclave/log';
import { MediaService, type MediaLeg, type MediaStats, type Room } from '@conclave/media';
import { CHROMIUM_OFFER, fakeAnswer, mlines, withDirection } from './sdp-helpers.ts';
import { FakePhone } from './fake-phone.ts';

const log = createLogger('media-test', { level: process.env['CONCLAVE_LOG_LEVEL'] === 'debug' ? 'debug' : 'error' });

/** Polls until `check` holds (state exposed by the objects under test); fails with `what` after `timeoutMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

/** Resolves on the leg's next 'renegotiationneeded'. */
function nextRenegotiation(leg: MediaLeg): Promise<void> {
  return new Promise((resolve) => leg.once('renegotiationneeded', () => resolve()));
}

function directions(sdp: string): string[] {
  return mlines(sdp)
    .filter((m) => m.port !== 0)
    .map((m) => m.direction ?? 'sendrecv');
}

describe('MediaService.stats(): counts, and nothing leaks', { timeout: 60_000 }, () => {
  let media: MediaService;
  const phones: FakePhone[] = [];
  before(async () => {
    // One transport per worker: a room's legs spread over both workers, with pipes between them.
    media = await MediaService.create({
      workers: 2,
      maxTransportsPerWorker: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 44000,
      rtcMaxPort: 44999,
      logger: log,
    });
  });
  after(() => {
    for (const p of phones) p.close();
    media?.close();
  });

  async function populate(room: Room, tag: string): Promise<void> {
    const a = await room.createWebRtcLeg({ label: `${tag}-a` });
    await a.applyRemoteOffer(CHROMIUM_OFFER.replace(/2873020227/g, String(1000 + phones.length)));
    await a.createLocalAnswer();
    const b = await room.createWebRtcLeg({ label: `${tag}-b` });
    await b.applyRemoteAnswer(fakeAnswer(await b.createLocalOffer()));
    const phone = await FakePhone.start(`${tag}-phone`, 700);
    phones.push(phone);
    const p = await room.createPlainRtpLeg({ label: `${tag}-p` });
    await p.applyRemoteOffer(phone.offer());
    phone.useRemote(await p.createLocalAnswer());
    phone.startSending();
    // Re-offers until every leg consumes every other.
    for (const leg of [a, b])
      if (leg.needsRenegotiation) await leg.applyRemoteAnswer(fakeAnswer(await leg.createLocalOffer()));
  }

  it('counts rooms, legs, mediasoup objects and mixer processes; closing the rooms returns every count to baseline', async (t) => {
    const baseline = media.stats();
    t.diagnostic(`baseline ${JSON.stringify(baseline)}`);
    assert.equal(baseline.workers, 2);
    assert.equal(baseline.rooms, 0);
    const r1 = await media.createRoom({ label: 'r1' });
    const r2 = await media.createRoom({ label: 'r2' });
    await populate(r1, 'r1');
    await populate(r2, 'r2');
    await until('every pipeline runs', () => media.stats().mixerProcesses >= 2);
    const busy = media.stats();
    t.diagnostic(`with two rooms ${JSON.stringify(busy)}`);
    assert.equal(busy.rooms, 2);
    assert.equal(busy.legs, 6);
    assert.ok(busy.routers >= 2 && busy.transports > 6, "the legs' transports and the pipes are counted");
    assert.ok(busy.producers >= 6 && busy.consumers >= 6);
    assert.equal(busy.workers, 2);
    r1.close();
    r2.close();
    let last: MediaStats = busy;
    const ms = await until('every count back at baseline', () => {
      last = media.stats();
      return JSON.stringify(last) === JSON.stringify(baseline);
    });
    t.diagnostic(`back at baseline ${ms} ms after closing (${JSON.stringify(last)})`);
  });

  it('after a worker crash (rooms rebuilt, worker replaced), closing the rooms still returns every count to baseline', async (t) => {
    const baseline = media.stats();
    const room = await media.createRoom({ label: 'crash' });
    await populate(room, 'crash');
    let recovered = false;
    room.once('recovered', () => (recovered = true));
    const replaced = new Promise((resolve) => media.once('workerreplaced', resolve));
    process.kill(room.workerPid, 'SIGKILL');
    await replaced;
    await until('the room recovered', () => recovered);
    assert.equal(media.stats().legs, 3);
    room.close();
    let last: MediaStats = baseline;
    await until('every count back at baseline', () => {
      last = media.stats();
      return JSON.stringify(last) === JSON.stringify(baseline);
    });
    t.diagnostic(`back at baseline after crash + close: ${JSON.stringify(last)}`);
  });

  it('every worker killed back to back, the second while the room is rebuilt on it: the room recovers on the replacements', async (t) => {
    const baseline = media.stats();
    const room = await media.createRoom({ label: 'crash-all' });
    await populate(room, 'crash-all');
    let recovered = false;
    let closedWith: string | undefined;
    room.once('recovered', () => (recovered = true));
    room.once('closed', (reason) => (closedWith = reason));
    const victims = media.workerPids;
    assert.equal(victims.length, 2);
    const replaced = new Promise<void>((resolve) => {
      let n = 0;
      media.on('workerreplaced', () => {
        if (++n === victims.length) resolve();
      });
    });
    // The second kill follows the first death at once: the room's rebuild picks that worker, which dies under it.
    media.once('workerdied', () =>
      process.kill(victims.find((pid) => pid !== room.workerPid) ?? victims[1]!, 'SIGKILL'),
    );
    process.kill(room.workerPid, 'SIGKILL');
    await replaced;
    await until('the room recovered', () => recovered || closedWith !== undefined, 10_000);
    assert.equal(closedWith, undefined, 'the room was not closed');
    assert.equal(media.stats().legs, 3);
    assert.ok(!victims.includes(room.workerPid), 'the room lives on a replacement worker');
    room.close();
    await until('every count back at baseline', () => JSON.stringify(media.stats()) === JSON.stringify(baseline));
    t.diagnostic(`recovered after both workers died: ${JSON.stringify(media.stats())}`);
  });
});

describe('vanished phones and hold by the focus', { timeout: 60_000 }, () => {
  let media: MediaService;
  const phones: FakePhone[] = [];
  const PLAIN_TIMEOUT_S = 1;
  before(async () => {
    media = await MediaService.create({
      workers: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 44000,
      rtcMaxPort: 44999,
      plainRtpTimeout: PLAIN_TIMEOUT_S,
      logger: log,
    });
  });
  after(() => {
    for (const p of phones) p.close();
    media?.close();
  });

  async function phoneLeg(room: Room, name: string) {
    const phone = await FakePhone.start(name, 700);
    phones.push(phone);
    const leg = await room.createPlainRtpLeg({ label: name });
    await leg.applyRemoteOffer(phone.offer());
    phone.useRemote(await leg.createLocalAnswer());
    return { phone, leg };
  }

  it('a phone that stops sending RTP is vanished (no-media) after plainRtpTimeout; silence while it holds does not count', async (t) => {
    const room = await media.createRoom({ label: 'vanish' });
    const { phone, leg } = await phoneLeg(room, 'ann');
    const vanished: string[] = [];
    let vanishedAt = 0;
    leg.on('vanished', (reason) => {
      vanished.push(reason);
      vanishedAt = Date.now();
    });
    phone.startSending();
    await until('RTP arrives', async () => (await leg.getStats()).fromPhone.packets > 50);
    // The phone holds (inactive) and stops sending: no 'vanished' for well over the timeout.
    await leg.applyRemoteOffer(phone.offer('inactive'));
    await leg.createLocalAnswer();
    phone.stopSending();
    await new Promise((r) => setTimeout(r, PLAIN_TIMEOUT_S * 2500));
    assert.deepEqual(vanished, [], 'a held phone may be silent');
    // It resumes but sends nothing: vanished.
    await leg.applyRemoteOffer(phone.offer('sendrecv'));
    await leg.createLocalAnswer();
    const resumedAt = Date.now();
    await until('vanished', () => vanished.length > 0, PLAIN_TIMEOUT_S * 1000 + 3000);
    const after = vanishedAt - resumedAt;
    t.diagnostic(
      `'vanished' (${vanished[0]}) ${after} ms after the phone should have sent again (timeout ${PLAIN_TIMEOUT_S} s)`,
    );
    assert.deepEqual(vanished, ['no-media']);
    assert.ok(after >= PLAIN_TIMEOUT_S * 1000 - 50, 'not before the timeout');
    assert.equal(leg.closed, false, 'the focus closes it');
    room.close();
  });

  it('a phone that keeps sending is never vanished', async () => {
    const room = await media.createRoom({ label: 'alive' });
    const { phone, leg } = await phoneLeg(room, 'ben');
    const vanished: string[] = [];
    leg.on('vanished', (reason) => vanished.push(reason));
    phone.startSending();
    await new Promise((r) => setTimeout(r, PLAIN_TIMEOUT_S * 2500));
    assert.deepEqual(vanished, []);
    phone.stopSending();
    await until('vanished once it stops', () => vanished.length === 1, PLAIN_TIMEOUT_S * 1000 + 3000);
    room.close();
  });

  it('setOnHoldByFocus on a browser leg: sendonly re-offer, inactive when the party holds too, sendrecv again when cleared', async () => {
    const room = await media.createRoom({ label: 'hold-webrtc' });
    const leg = await room.createWebRtcLeg({ label: 'cat' });
    await leg.applyRemoteOffer(CHROMIUM_OFFER);
    assert.deepEqual(directions(await leg.createLocalAnswer()), ['recvonly'], 'alone in the room: it only sends');
    const other = await room.createWebRtcLeg({ label: 'dan' });
    await other.applyRemoteAnswer(fakeAnswer(await other.createLocalOffer()));
    await until('cat consumes dan', () => leg.needsRenegotiation);
    await leg.applyRemoteAnswer(fakeAnswer(await leg.createLocalOffer()));
    assert.equal(leg.needsRenegotiation, false);

    const asked = nextRenegotiation(leg);
    await leg.setOnHoldByFocus(true);
    assert.equal(leg.heldByFocus, true);
    await asked;
    const holdOffer = await leg.createLocalOffer();
    assert.deepEqual(directions(holdOffer), ['sendonly'], 'we send, the party may not');
    await leg.applyRemoteAnswer(fakeAnswer(holdOffer, { sendOn: [] }));
    assert.equal(leg.needsRenegotiation, false);
    assert.equal(
      leg.producers.every((p) => p.paused),
      true,
      'nobody hears a party the focus holds',
    );
    // The party holds too (its re-INVITE is sendonly): our answer is inactive.
    await leg.applyRemoteOffer(withDirection(CHROMIUM_OFFER, 'sendonly'));
    assert.deepEqual(directions(await leg.createLocalAnswer()), ['inactive']);
    // Its resume while we still hold: sendonly.
    await leg.applyRemoteOffer(CHROMIUM_OFFER);
    assert.deepEqual(directions(await leg.createLocalAnswer()), ['sendonly']);

    const cleared = nextRenegotiation(leg);
    await leg.setOnHoldByFocus(false);
    await cleared;
    const resumeOffer = await leg.createLocalOffer();
    assert.deepEqual(directions(resumeOffer), ['sendrecv']);
    await leg.applyRemoteAnswer(fakeAnswer(resumeOffer));
    assert.equal(leg.needsRenegotiation, false);
    assert.equal(
      leg.producers.every((p) => !p.paused),
      true,
    );
    room.close();
  });

  it("setOnHoldByFocus on a plain leg: sendonly re-offer, inactive when the phone holds too, the phone's RTP is dropped meanwhile", async () => {
    const room = await media.createRoom({ label: 'hold-plain' });
    const { phone, leg } = await phoneLeg(room, 'eve');
    phone.startSending();
    await until('RTP arrives', async () => (await leg.getStats()).fromPhone.packets > 10);
    assert.equal(leg.needsRenegotiation, false);
    const vanished: string[] = [];
    leg.on('vanished', (reason) => vanished.push(reason));

    const asked = nextRenegotiation(leg);
    await leg.setOnHoldByFocus(true);
    await asked;
    assert.equal(leg.needsRenegotiation, true);
    const holdOffer = await leg.createLocalOffer();
    assert.deepEqual(directions(holdOffer), ['sendonly']);
    await leg.applyRemoteAnswer(phone.answer(holdOffer).replace('a=sendrecv', 'a=recvonly'));
    assert.equal(leg.needsRenegotiation, false);
    const dropped = (await leg.getStats()).fromPhone.dropped;
    await until(
      "the phone's RTP is dropped while held",
      async () => (await leg.getStats()).fromPhone.dropped > dropped + 5,
    );
    // A phone that answered recvonly may stop sending: not vanished.
    phone.stopSending();
    await new Promise((r) => setTimeout(r, PLAIN_TIMEOUT_S * 2500));
    assert.deepEqual(vanished, []);
    // The phone's own hold re-INVITE while we hold it: inactive.
    await leg.applyRemoteOffer(phone.offer('sendonly'));
    assert.deepEqual(directions(await leg.createLocalAnswer()), ['inactive']);

    const cleared = nextRenegotiation(leg);
    await leg.setOnHoldByFocus(false);
    await cleared;
    const resumeOffer = await leg.createLocalOffer();
    // The phone still holds us (its last offer was sendonly): RFC 3264 lets us offer sendrecv; it answers.
    assert.deepEqual(directions(resumeOffer), ['sendrecv']);
    await leg.applyRemoteAnswer(phone.answer(resumeOffer));
    assert.equal(leg.heldByFocus, false);
    assert.equal(leg.needsRenegotiation, false);
    room.close();
  });
});
