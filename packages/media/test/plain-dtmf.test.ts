/**
 * DTMF of plain RTP legs both ways (RFC 4733) and their stream across a codec change, with simulated phones (fake-phone.ts: G.711 and
 * telephone-event over real UDP) and a real mediasoup worker:
 * - a phone's digits become the leg's 'dtmf' events, once each and in order, never mixed as audio;
 * - leg.sendDtmf() puts telephone-events into the phone's stream: same SSRC, sequence continuing, the
 *   event's start timestamp in each of its packets, marker on the first, three end packets;
 * - false when the phone negotiated no telephone-event or is held; other characters are refused.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@conclave/log';
import { MediaService, type MediaLeg, type Room } from '@conclave/media';
import { FakePhone, waitForPhoneTones } from './fake-phone.ts';

const log = createLogger('media-test', { level: process.env['CONCLAVE_LOG_LEVEL'] === 'debug' ? 'debug' : 'error' });

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

describe('plain RTP legs: DTMF both ways (RFC 4733)', { timeout: 60_000 }, () => {
  let media: MediaService;
  let room: Room;
  const phones: FakePhone[] = [];
  const legs: MediaLeg[] = [];

  async function join(name: string, hz: number, offer?: (sdp: string) => string): Promise<[FakePhone, MediaLeg]> {
    const phone = await FakePhone.start(name, hz);
    phones.push(phone);
    const leg = await room.createPlainRtpLeg({ label: name });
    legs.push(leg);
    await leg.applyRemoteOffer(offer ? offer(phone.offer()) : phone.offer());
    phone.useRemote(await leg.createLocalAnswer());
    phone.startSending();
    return [phone, leg];
  }

  before(async () => {
    media = await MediaService.create({
      workers: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 45000,
      rtcMaxPort: 45999,
      logger: log,
    });
    room = await media.createRoom({ label: 'dtmf' });
  });
  after(() => {
    for (const p of phones) p.close();
    media?.close();
  });

  it("a phone's digits are the leg's 'dtmf' events, once each, in order; the other phone does not hear them", async (t) => {
    const [ann, annLeg] = await join('ann', 600);
    const [bob] = await join('bob', 1100);
    await waitForPhoneTones(bob, [600]);
    const digits: string[] = [];
    annLeg.on('dtmf', (d) => digits.push(d));
    ann.sendDtmf('1*9#0');
    const ms = await until('five digits', () => digits.length >= 5);
    t.diagnostic(`digits ${digits.join('')} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(digits, ['1', '*', '9', '#', '0']);
    const stats = await annLeg.getStats();
    assert.ok('fromPhone' in stats && stats.fromPhone.dtmf >= 5 * 7, 'every telephone-event packet is counted');
    assert.deepEqual(bob.events, [], 'telephone-events are not forwarded to the other phone');
    // The digits replaced ann's tone for ~0.6 s; ann is heard again afterwards.
    await waitForPhoneTones(bob, [600]);
  });

  it('sendDtmf(): RFC 4733 in the phone stream (same SSRC, sequence continues, start timestamp, marker, 3 ends)', async (t) => {
    const [ann, bob] = phones as [FakePhone, FakePhone];
    const annLeg = legs[0]!;
    const ssrcs = [...ann.ssrcs];
    const jumps = ann.seqJumps;
    const started = Date.now();
    assert.equal(await annLeg.sendDtmf('12#'), true);
    t.diagnostic(`three digits sent in ${Date.now() - started} ms`);
    await until('the last end packet arrives', () => ann.events.filter((e) => e.end).length >= 9, 2000);
    assert.deepEqual(ann.receivedDigits(), ['1', '2', '#']);
    assert.deepEqual([...ann.ssrcs], ssrcs, 'one SSRC: events and audio are one stream');
    assert.ok(ann.seqJumps - jumps <= 1, `sequence numbers continue (${ann.seqJumps - jumps} jumps)`);
    assert.deepEqual(new Set(ann.events.map((e) => e.payloadType)), new Set([101]), "the phone's telephone-event PT");
    const byEvent = new Map<number, (typeof ann.events)[number][]>();
    for (const e of ann.events) byEvent.set(e.ts, [...(byEvent.get(e.ts) ?? []), e]);
    assert.equal(byEvent.size, 3);
    for (const [, packets] of byEvent) {
      assert.equal(packets.filter((p) => p.marker).length, 1, 'marker on the first packet of an event only');
      assert.equal(packets[0]!.marker, true);
      assert.equal(packets.filter((p) => p.end).length, 3, 'three end packets');
      assert.equal(packets.at(-1)!.duration, 800, '100 ms at 8 kHz');
    }
    // The mix goes on after the digits.
    await waitForPhoneTones(ann, [1100]);
    // Two calls queue up in order.
    const [a, b] = await Promise.all([annLeg.sendDtmf('3'), annLeg.sendDtmf('4')]);
    assert.deepEqual([a, b], [true, true]);
    await until('both digits arrive', () => ann.receivedDigits().length >= 5, 2000);
    assert.deepEqual(ann.receivedDigits(), ['1', '2', '#', '3', '4']);
    assert.deepEqual(bob.events, [], 'only the addressed phone gets them');
  });

  it('sendDtmf() is false without telephone-event or while held; other characters are refused', async () => {
    const [, carl] = await join('carl', 1700, (sdp) =>
      sdp
        .replace(/ 101\r\n/, '\r\n')
        .replace(/a=rtpmap:101 .*\r\n/, '')
        .replace(/a=fmtp:101 .*\r\n/, ''),
    );
    assert.equal(await carl.sendDtmf('1'), false, 'no telephone-event negotiated: the focus sends SIP INFO');
    const annLeg = legs[0]!;
    await assert.rejects(annLeg.sendDtmf('1x'), RangeError);
    await assert.rejects(annLeg.sendDtmf(''), RangeError);
    const [ann] = phones as [FakePhone];
    await annLeg.applyRemoteOffer(ann.offer('sendonly'));
    await annLeg.createLocalAnswer();
    assert.equal(await annLeg.sendDtmf('5'), false, 'a held phone does not listen');
    await annLeg.applyRemoteOffer(ann.offer('sendrecv'));
    await annLeg.createLocalAnswer();
    assert.equal(await annLeg.sendDtmf('5'), true);
  });

  it("a re-INVITE that changes the codec (PCMU → PCMA): the phone's stream keeps its SSRC, the sequence continues", async () => {
    const [ann] = phones as [FakePhone];
    const annLeg = legs[0]!;
    const ssrcs = [...ann.ssrcs];
    const jumps = ann.seqJumps;
    await annLeg.applyRemoteOffer(ann.offer().replace('RTP/AVP 0 8 101', 'RTP/AVP 8 101'));
    const answer = await annLeg.createLocalAnswer();
    assert.match(answer, /^m=audio \d+ RTP\/AVP 8 101\r$/m);
    ann.useRemote(answer);
    await until('PCMA arrives', () => ann.payloadTypes.has(8));
    await waitForPhoneTones(ann, [1100]);
    assert.deepEqual([...ann.ssrcs], ssrcs, 'one SSRC across the codec change');
    assert.ok(ann.seqJumps - jumps <= 1, `sequence numbers continue (${ann.seqJumps - jumps} jumps)`);
    const stats = await annLeg.getStats();
    assert.ok('codec' in stats && stats.codec === 'PCMA/8000', 'PCMA negotiated');
    assert.equal(await annLeg.sendDtmf('7'), true, 'telephone-event still negotiated');
  });
});
