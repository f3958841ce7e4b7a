/**
 * RFC 4733 DTMF through the focus (issue 9 items 3-4), over real SIP and RTP sockets: a plain-RTP phone
 * that negotiated telephone-event gets a browser's INFO key in its RTP as telephone-events, and a
 * phone's own telephone-event `*6` in a conference toggles its mute like an INFO `*6`.
 */
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { answerFor, webrtcLikeOffer, type SipTestUa } from '@conclave/sip-test-ua';
import type { SipRequest } from '@conclave/sip-message';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

let stack: TestStack;
before(async () => {
  stack = await startStack();
});
after(() => stack.close());

const EVENTS = '0123456789*#ABCD';

/** A plain-RTP phone's media: one UDP socket, PCMU + telephone-event/8000 (PT 101) offered. */
class RtpPhone {
  readonly socket: dgram.Socket;
  /** Telephone-event packets received: payload type and event code. */
  readonly events: { payloadType: number; event: number; end: boolean; ts: number }[] = [];
  #remote: { address: string; port: number } | undefined;
  #seq = 1000;
  #ts = 5000;
  readonly #ssrc = 0x1234567;
  #eventPt = -1;

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (buf) => this.#onRtp(buf));
  }

  static async start(): Promise<RtpPhone> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RtpPhone(socket);
  }

  offer(): string {
    return [
      'v=0',
      'o=phone 1 1 IN IP4 127.0.0.1',
      's=call',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.socket.address().port} RTP/AVP 0 101`,
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      'a=sendrecv',
      '',
    ].join('\r\n');
  }

  /** The focus's answer: where to send, and the telephone-event PT it took. */
  useAnswer(sdp: string): number {
    const port = /^m=audio (\d+)/m.exec(sdp);
    const ip = /^c=IN IP4 (\S+)/m.exec(sdp);
    const pt = /^a=rtpmap:(\d+) telephone-event\/8000/im.exec(sdp);
    assert.ok(port && ip && pt, `answer without audio or telephone-event:\n${sdp}`);
    this.#remote = { address: ip[1]!, port: Number(port[1]) };
    this.#eventPt = Number(pt[1]);
    return this.#eventPt;
  }

  /** Digits received (one per event timestamp), in order. */
  digits(): string {
    const seen = new Set<number>();
    let out = '';
    for (const e of this.events) {
      if (seen.has(e.ts)) continue;
      seen.add(e.ts);
      out += EVENTS[e.event] ?? '?';
    }
    return out;
  }

  #packet(pt: number, marker: boolean, ts: number, payload: Buffer): Buffer {
    const h = Buffer.alloc(12);
    h[0] = 0x80;
    h[1] = (marker ? 0x80 : 0) | pt;
    h.writeUInt16BE(this.#seq++ & 0xffff, 2);
    h.writeUInt32BE(ts >>> 0, 4);
    h.writeUInt32BE(this.#ssrc, 8);
    return Buffer.concat([h, payload]);
  }

  #send(buf: Buffer): void {
    const r = this.#remote!;
    this.socket.send(buf, r.port, r.address);
  }

  /** Sends silence (PCMU) then each digit as telephone-events (100 ms, end sent 3 times), paced at 20 ms. */
  async sendDigits(digits: string): Promise<void> {
    const tick = () => new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 5; i++) {
      this.#send(this.#packet(0, i === 0, this.#ts, Buffer.alloc(160, 0xff)));
      this.#ts += 160;
      await tick();
    }
    for (const d of digits) {
      const event = EVENTS.indexOf(d);
      const start = this.#ts;
      for (let i = 1; i <= 8; i++) {
        const end = i >= 6;
        const p = Buffer.from([event, (end ? 0x80 : 0) | 10, 0, 0]);
        p.writeUInt16BE(Math.min(i, 5) * 160, 2);
        this.#send(this.#packet(this.#eventPt, i === 1, start, p));
        await tick();
      }
      this.#ts += 5 * 160;
      for (let i = 0; i < 3; i++) {
        this.#send(this.#packet(0, false, this.#ts, Buffer.alloc(160, 0xff)));
        this.#ts += 160;
        await tick();
      }
    }
  }

  #onRtp(buf: Buffer): void {
    if (buf.length < 12 || buf[0]! >> 6 !== 2) return;
    const pt = buf[1]! & 0x7f;
    if (pt !== this.#eventPt) return;
    let off = 12 + 4 * (buf[0]! & 0x0f);
    if (buf[0]! & 0x10) off += 4 + 4 * buf.readUInt16BE(off + 2);
    if (buf.length < off + 4) return;
    this.events.push({ payloadType: pt, event: buf[off]!, end: (buf[off + 1]! & 0x80) !== 0, ts: buf.readUInt32BE(4) });
  }

  close(): void {
    this.socket.close();
  }
}

/** A registered UA that answers the focus's INVITEs like a browser and keeps every INFO it gets. */
async function browser(user: string): Promise<{ ua: SipTestUa; infos: SipRequest[] }> {
  const ua = await stack.ua(user);
  assert.equal((await ua.register()).final.status, 200);
  const infos: SipRequest[] = [];
  ua.on('request', (incoming) => {
    const { request } = incoming;
    if (request.method === 'INVITE' && !ua.dialogs.has(request.callId)) {
      ua.acceptInvite(incoming, answerFor(request.body.toString()));
      return;
    }
    if (request.method === 'INFO') infos.push(request);
    incoming.respond(200);
  });
  return { ua, infos };
}

test('two-party call: a browser’s INFO keys reach a plain phone as RFC 4733, its RFC 4733 keys reach the browser', async () => {
  const bob = await browser('bob');
  const phone = await RtpPhone.start();
  const carol = await stack.ua('carol');
  const call = await carol.invite('sip:bob@127.0.0.1', phone.offer());
  assert.equal(call.final.status, 200);
  const eventPt = phone.useAnswer(call.final.body.toString());
  const bobDialog = [...bob.ua.dialogs.values()][0]!;

  for (const d of '5*') {
    const info = await bobDialog.request('INFO', {
      body: `Signal=${d}\r\nDuration=160\r\n`,
      contentType: 'application/dtmf-relay',
    });
    assert.equal(info.final.status, 200);
  }
  await waitFor(
    () => phone.digits() === '5*',
    'telephone-events at the phone',
    8000,
    () => JSON.stringify(phone.events),
  );
  assert.ok(phone.events.every((e) => e.payloadType === eventPt));
  assert.deepEqual([...new Set(phone.events.map((e) => e.event))], [5, 10]);
  assert.ok(
    phone.events.some((e) => e.end),
    'the event ends',
  );

  // The other way: the phone's telephone-events reach the browser as INFO.
  await phone.sendDigits('7#');
  await waitFor(
    () => bob.infos.length >= 2,
    "bob's INFOs",
    8000,
    () => bob.infos.map((r) => r.body.toString()).join('|'),
  );
  assert.deepEqual(
    bob.infos.map((r) => /Signal=(\S)/.exec(r.body.toString())?.[1]),
    ['7', '#'],
  );

  await call.dialog!.bye();
  await waitFor(() => stack.focus.calls.length === 0, 'call over');
  phone.close();
});

test('conference: a phone’s RFC 4733 *6 mutes it in the roster, and again unmutes it', async () => {
  const alice = await browser('alice');
  const created = await alice.ua.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
  assert.equal(created.final.status, 200);
  const uri = /^<([^>]+)>;isfocus$/.exec(created.final.get('Contact')!)![1]!;
  const phone = await RtpPhone.start();
  const carol = await stack.ua('carol');
  const join = await carol.invite(uri, phone.offer());
  assert.equal(join.final.status, 200);
  phone.useAnswer(join.final.body.toString());
  const session = stack.focus.conferences.sessions.find((s) => s.conference.uri === uri)!;
  const carolInRoster = () => session.conference.participants.find((p) => p.entity === 'sip:carol@127.0.0.1');
  await waitFor(() => carolInRoster()?.status === 'connected', 'carol in');

  await phone.sendDigits('*6');
  await waitFor(() => carolInRoster()?.mutedByFocus === true, 'carol muted by her *6');
  assert.equal(carolInRoster()!.mutedBy, 'sip:carol@127.0.0.1');
  assert.equal(session.member(carolInRoster()!.id)!.leg.mutedByFocus, true);

  await phone.sendDigits('*6');
  await waitFor(() => carolInRoster()?.mutedByFocus === false, 'carol unmuted');
  assert.equal(alice.infos.length, 0, 'no key relayed');

  await join.dialog!.bye();
  await created.dialog!.bye();
  await waitFor(() => stack.focus.conferences.registry.size === 0, 'conference over');
  phone.close();
});
