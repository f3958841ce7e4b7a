import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DtmfReceiver,
  RoomMixer,
  RtpPacketizer,
  beep,
  createDecoder,
  parseRtp,
  parseTelephoneEvent,
  telephoneEventPayloads,
} from '../src/index.ts';
import { log, TonePhone, toneAmplitude } from './helpers.ts';

test('RFC 4733 payloads for a digit: growing duration, three end packets, one timestamp', () => {
  const payloads = telephoneEventPayloads('#', 100, 8000, 20);
  const events = payloads.map((p) => parseTelephoneEvent(p)!);
  assert.deepEqual(
    events.map((e) => e.duration),
    [160, 320, 480, 640, 800, 800, 800],
  );
  assert.deepEqual(
    events.map((e) => e.end),
    [false, false, false, false, true, true, true],
  );
  assert.ok(events.every((e) => e.digit === '#' && e.event === 11 && e.volume === 10));
  assert.throws(() => telephoneEventPayloads('x'), /not a DTMF digit/);
  // Sent through a packetizer: same SSRC and timestamp for the whole event, sequence continuing.
  const rtp = new RtpPacketizer({ payloadType: 0, clockRate: 8000 });
  rtp.packetize(Buffer.alloc(160), 20);
  const start = rtp.timestamp;
  const packets = payloads.map((p, i) => parseRtp(rtp.packetizeWith(p, 101, start, i === 0))!);
  assert.ok(packets.every((p) => p.timestamp === start && p.payloadType === 101 && p.ssrc === rtp.ssrc));
  assert.equal(packets[0]!.marker, true);
  for (let i = 1; i < packets.length; i++)
    assert.equal(packets[i]!.sequenceNumber, (packets[i - 1]!.sequenceNumber + 1) & 0xffff);
});

test('a DtmfReceiver reports each digit once and in order, whatever is repeated, lost or late', () => {
  const rx = new DtmfReceiver();
  const got: string[] = [];
  let ts = 5000;
  for (const digit of ['1', '2', '#', '2']) {
    const payloads = telephoneEventPayloads(digit, 120);
    // The event's first packet is lost for '#'.
    for (const [i, p] of payloads.entries()) {
      if (digit === '#' && i === 0) continue;
      const d = rx.push(ts, p);
      if (d !== undefined) got.push(d);
    }
    // A late retransmission of the previous event's end.
    if (digit === '#') assert.equal(rx.push(ts - 2000, telephoneEventPayloads('2')[0]!), undefined);
    ts += 2000;
  }
  assert.deepEqual(got, ['1', '2', '#', '2']);
  assert.equal(rx.push(ts, Buffer.from([200, 0x80, 0, 160])), undefined, 'not a DTMF event');
  assert.equal(rx.push(ts, Buffer.from([1, 2])), undefined, 'too short');
});

test("a phone's RFC 4733 digits reach the mixer as dtmf events and are not mixed as audio", () => {
  const mixer = new RoomMixer({ log });
  try {
    const input = mixer.addInput('phone', 'PCMU', { telephoneEventPayloadType: 101 });
    const digits: string[] = [];
    mixer.on('dtmf', (i, d) => digits.push(`${i.id}:${d}`));
    const rtp = new RtpPacketizer({ payloadType: 0, clockRate: 8000 });
    for (const digit of ['*', '6']) {
      const start = rtp.timestamp;
      for (const [i, p] of telephoneEventPayloads(digit, 80).entries())
        assert.equal(input.pushRtp(rtp.packetizeWith(p, 101, start, i === 0)), true);
      rtp.skip(100);
    }
    assert.deepEqual(digits, ['phone:*', 'phone:6']);
    assert.equal(input.stats.packets, 0, 'no telephone-event went to the jitter buffer');
    assert.equal(input.pushRtp(rtp.packetize(Buffer.alloc(160, 0xff), 20)), true, 'audio still taken (static PT 0)');
    assert.equal(
      input.pushRtp(rtp.packetizeWith(Buffer.alloc(160), 8, rtp.timestamp, false)),
      false,
      'PCMA is not this input',
    );
  } finally {
    mixer.close();
  }
});

test('a tone played to one output is heard there only, and that output goes back to the shared payload', () => {
  const mixer = new RoomMixer({ log });
  try {
    const talker = new TonePhone(mixer.addInput('t', 'PCMU'), 'PCMU', 400, 6000);
    const heard = new Map<string, Buffer[]>();
    const outputs = ['a', 'b'].map((id) => {
      heard.set(id, []);
      const input = mixer.addInput(id, 'PCMU');
      return {
        output: mixer.addOutput(id, 'PCMU', { ownInput: input, onPayload: (p) => heard.get(id)!.push(p) }),
        phone: new TonePhone(input, 'PCMU', 0, 0),
      };
    });
    const tick = (k: number): void => {
      const now = (k + 1) * 20;
      for (const p of [talker, ...outputs.map((o) => o.phone)]) p.send(now - 5);
      mixer.tick(now);
    };
    let k = 0;
    for (; k < 10; k++) tick(k);
    outputs[0]!.output.playTone(beep(1000, 100));
    for (let i = 0; i < 5; i++) tick(k++);
    // Decode each stream from its start with its own decoder (the resampler's history must be continuous).
    const decodeAll = (id: string): Int16Array[] => {
      const dec = createDecoder('PCMU');
      return heard
        .get(id)!
        .map((p) => Int16Array.from(dec.decode(p)!))
        .slice(-5);
    };
    const a = decodeAll('a');
    const b = decodeAll('b');
    assert.ok(toneAmplitude(a[2]!, 1000) > 6000, `a hears the beep at ${toneAmplitude(a[2]!, 1000).toFixed(0)}`);
    assert.ok(toneAmplitude(a[2]!, 400) > 5000, 'and still the talker');
    assert.ok(toneAmplitude(b[2]!, 1000) < 100, 'b does not hear it');
    for (let i = 0; i < 3; i++) tick(k++);
    assert.equal(outputs[0]!.output.hasTone, false);
    assert.equal(heard.get('a')!.at(-1), heard.get('b')!.at(-1), 'a shares the payload again');
  } finally {
    mixer.close();
  }
});
