/** SIP over WebSocket (RFC 7118): JsSIP registration, requests back to `.invalid` contacts over the same connection. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import JsSIP from 'jssip';
import { parseMessage, type SipMessage, type SipRequest } from '@conclave/sip-message';
import {
  SDP_A,
  SDP_B,
  SECRET,
  WireTap,
  connectSrf,
  sipText,
  sleep,
  startServer,
  waitFor,
  type LooseSrf,
} from './helpers.ts';

// JsSIP in Node, as the transcripts ran it: `ws` as the global WebSocket; no WebRTC (INVITEs get 488).
(globalThis as Record<string, unknown>)['WebSocket'] = WebSocket;
(globalThis as Record<string, unknown>)['window'] ??= { RTCPeerConnection: undefined };

test('JsSIP REGISTER over WS, app OPTIONS/INVITE/MESSAGE to the .invalid contact over the same connection (transcript c)', async () => {
  const { server, addrs } = await startServer();
  const tap = await new WireTap(addrs.control).listen();
  const registered: string[] = [];
  const app = await connectSrf({ host: '127.0.0.1', port: tap.port }, SECRET, (srf: LooseSrf) => {
    srf.register((req, res) => {
      registered.push(req.get('Contact'));
      res.send(200, { headers: { Contact: req.get('Contact'), Expires: '300' } });
    });
    srf.message((_req, res) => res.send(200));
  });
  const wsUrl = `ws://127.0.0.1:${addrs.ws!.port}`;
  const socket = new JsSIP.WebSocketInterface(wsUrl);
  const ua = new JsSIP.UA({
    sockets: [socket],
    uri: 'sip:dave@127.0.0.1',
    register: true,
    register_expires: 300,
    user_agent: 'JsSIP-node',
  });
  let registeredOk = false;
  ua.on('registered', () => (registeredOk = true));
  ua.on('newRTCSession', () => {});
  // JsSIP leaves Timer H running after the ACK for its 488 (a JsSIP bug); keep its transactions to clear it.
  const jssipTxns: Array<{ H?: NodeJS.Timeout }> = [];
  (ua as unknown as { on(e: string, f: (d: { transaction: { H?: NodeJS.Timeout } }) => void): void }).on(
    'newTransaction',
    (d) => jssipTxns.push(d.transaction),
  );
  ua.start();
  try {
    await waitFor(() => registeredOk, 3000, 'JsSIP registered');
    const contact = /<([^>]+)>/.exec(registered[0]!)![1]!;
    assert.match(contact, /^sip:[a-z0-9]+@[a-z0-9]+\.invalid;transport=ws$/);
    const regFrame = tap.sipToApp().find((m) => m.fields[1] === 'sip' && m.sip.startsWith('REGISTER'))!;
    assert.equal(regFrame.fields[4], 'tcp', 'WebSocket is reported as tcp');
    assert.deepEqual(regFrame.fields.slice(10), ['127.0.0.1', String(addrs.ws!.port), '']);
    assert.match(
      regFrame.sip,
      new RegExp(
        `Via: SIP/2\\.0/WS [a-z0-9]+\\.invalid;branch=z9hG4bK\\d+;received=127\\.0\\.0\\.1;rport=${regFrame.fields[6]}\r\n`,
      ),
    );

    const optReq = await app.srf.request(contact, {
      method: 'OPTIONS',
      headers: { From: '<sip:app@127.0.0.1>', To: '<sip:dave@127.0.0.1>' },
    });
    const optRes = await new Promise<{ status: number }>((r) => optReq.on('response', r));
    assert.equal(optRes.status, 200);
    const optEcho = tap.sipToApp().find((m) => m.fields[1] === 'response' && m.sip.startsWith('OPTIONS'))!;
    assert.deepEqual(optEcho.fields.slice(6, 9), ['tcp', '127.0.0.1', regFrame.fields[6]]);
    assert.match(
      optEcho.sip,
      new RegExp(
        `^OPTIONS ${contact.replace(/\./g, '\\.')} SIP/2\\.0\r\nVia: SIP/2\\.0/WS 127\\.0\\.0\\.1:${addrs.ws!.port};branch=z9hG4bK[A-Za-z0-9]{13}\r\nMax-Forwards: 70\r\n`,
      ),
    );

    // No WebRTC in Node: JsSIP rejects the INVITE with 488, which proves it got there.
    await assert.rejects(
      app.srf.createUAC(contact, { localSdp: SDP_B }),
      (err: { status?: number }) => err.status === 488,
    );

    const msgOk = await new Promise<boolean>((resolve) => {
      ua.sendMessage('sip:focus@127.0.0.1', 'hello', {
        eventHandlers: { succeeded: () => resolve(true), failed: () => resolve(false) },
      });
    });
    assert.ok(msgOk);

    let unregistered = false;
    ua.on('unregistered', () => (unregistered = true));
    ua.unregister();
    await waitFor(() => unregistered, 2000, 'unregistered');
  } finally {
    ua.stop();
    for (const tr of jssipTxns) clearTimeout(tr.H);
    await sleep(50);
    app.close();
    tap.close();
    await server.close();
  }
});

/** A minimal SIP-over-WebSocket client. */
class WsSipClient {
  ws!: WebSocket;
  readonly received: SipMessage[] = [];
  readonly host = `${Math.random().toString(36).slice(2, 10)}.invalid`;
  readonly user = 'wsuser';

  async connect(url: string): Promise<this> {
    this.ws = new WebSocket(url, 'sip');
    await new Promise<void>((r, j) => {
      this.ws.once('open', () => r());
      this.ws.once('error', j);
    });
    this.ws.on('message', (d: Buffer) => this.received.push(parseMessage(d)));
    return this;
  }

  get contact(): string {
    return `sip:${this.user}@${this.host};transport=ws`;
  }

  send(text: string): void {
    this.ws.send(text);
  }

  reply(
    req: SipRequest,
    status: number,
    reason: string,
    toTag: string | undefined,
    extra: string[] = [],
    body = '',
  ): void {
    const to = toTag && !req.toTag ? `${req.get('to')};tag=${toTag}` : req.get('to')!;
    this.send(
      sipText(
        [
          `SIP/2.0 ${status} ${reason}`,
          ...req.getAll('via').map((v) => `Via: ${v}`),
          `From: ${req.get('from')}`,
          `To: ${to}`,
          `Call-ID: ${req.callId}`,
          `CSeq: ${req.get('cseq')}`,
          ...extra,
        ],
        body,
      ),
    );
  }

  wait<T extends SipMessage>(pred: (m: SipMessage) => boolean, ms = 2000): Promise<T> {
    return waitFor(() => this.received.find(pred) as T | undefined, ms, 'ws message');
  }

  close(): void {
    this.ws.close();
  }
}

test('raw WS client calls the app (createUAS) and the app calls it back; in-dialog requests use the WS flow', async () => {
  const { server, addrs } = await startServer();
  const destroyed: string[] = [];
  const app = await connectSrf(addrs.control, SECRET, (srf: LooseSrf) => {
    srf.invite(async (req, res) => {
      const dlg = await srf.createUAS(req, res, { localSdp: SDP_B });
      dlg.on('destroy', () => destroyed.push('uas'));
      setTimeout(() => dlg.destroy(), 50);
    });
  });
  const c = await new WsSipClient().connect(`ws://127.0.0.1:${addrs.ws!.port}`);
  try {
    c.send(
      sipText(
        [
          `INVITE sip:conf@127.0.0.1 SIP/2.0`,
          `Via: SIP/2.0/WS ${c.host};branch=z9hG4bK-ws-1`,
          'Max-Forwards: 69',
          `From: <sip:wsuser@127.0.0.1>;tag=wsf1`,
          'To: <sip:conf@127.0.0.1>',
          'Call-ID: ws-call-1',
          'CSeq: 1 INVITE',
          `Contact: <${c.contact}>`,
          'Content-Type: application/sdp',
        ],
        SDP_A,
      ),
    );
    const ok = await c.wait<SipMessage>((m) => m.kind === 'response' && m.status === 200);
    assert.equal(ok.get('contact'), `<sip:127.0.0.1:${addrs.ws!.port};transport=ws>`);
    assert.match(ok.getAll('via')[0]!, /;received=127\.0\.0\.1;rport=\d+$/);
    c.send(
      sipText([
        `ACK sip:127.0.0.1:${addrs.ws!.port};transport=ws SIP/2.0`,
        `Via: SIP/2.0/WS ${c.host};branch=z9hG4bK-ws-ack`,
        'Max-Forwards: 69',
        `From: <sip:wsuser@127.0.0.1>;tag=wsf1`,
        `To: ${ok.get('to')}`,
        'Call-ID: ws-call-1',
        'CSeq: 1 ACK',
      ]),
    );
    const bye = await c.wait<SipRequest>((m) => m.kind === 'request' && m.method === 'BYE');
    assert.equal(bye.uri, c.contact);
    assert.match(bye.getAll('via')[0]!, new RegExp(`^SIP/2\\.0/WS 127\\.0\\.0\\.1:${addrs.ws!.port};branch=`));
    c.reply(bye, 200, 'OK', undefined);
    await waitFor(() => destroyed.length === 0 && server.stats().dialogs === 0, 2000, 'dialog gone');

    // The app calls the WS client back at its .invalid contact (learned from the INVITE's Contact).
    const p = app.srf.createUAC(c.contact, { localSdp: SDP_B });
    const inv = await c.wait<SipRequest>(
      (m) => m.kind === 'request' && m.method === 'INVITE' && m.callId !== 'ws-call-1',
    );
    assert.equal(inv.uri, c.contact);
    assert.equal(inv.get('contact'), `<sip:127.0.0.1:${addrs.ws!.port};transport=ws>`);
    c.reply(inv, 180, 'Ringing', 'wst1', [`Contact: <${c.contact}>`]);
    c.reply(inv, 200, 'OK', 'wst1', [`Contact: <${c.contact}>`, 'Content-Type: application/sdp'], SDP_A);
    const dlg = await p;
    await c.wait<SipRequest>((m) => m.kind === 'request' && m.method === 'ACK' && m.callId === inv.callId);
    const done = dlg.destroy();
    const bye2 = await c.wait<SipRequest>((m) => m.kind === 'request' && m.method === 'BYE' && m.callId === inv.callId);
    c.reply(bye2, 200, 'OK', undefined);
    await done;

    // After the WS connection is gone the contact is unreachable: 503 from the server.
    c.close();
    await sleep(50);
    await assert.rejects(
      app.srf.createUAC(c.contact, { localSdp: SDP_B }),
      (err: { status?: number }) => err.status === 503,
    );
  } finally {
    c.close();
    app.close();
    await server.close();
  }
});

test('WS handshake answers 101 with Sec-WebSocket-Protocol: sip and no extensions', async () => {
  const { server, addrs } = await startServer();
  const net = await import('node:net');
  const s = net.connect({ host: '127.0.0.1', port: addrs.ws!.port });
  try {
    await new Promise<void>((r) => s.once('connect', () => r()));
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.write(
      [
        'GET / HTTP/1.1',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: Jvawu2GC9JIwgA0tFtiU/w==',
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
        'Sec-WebSocket-Protocol: sip',
        `Host: 127.0.0.1:${addrs.ws!.port}`,
        '',
        '',
      ].join('\r\n'),
    );
    await waitFor(() => data.includes('\r\n\r\n'), 2000, '101');
    assert.equal(
      data,
      [
        'HTTP/1.1 101 Switching Protocols',
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Accept: XErcNkG5Dr3xgC6fBpeu8J1h95M=',
        'Sec-WebSocket-Protocol: sip',
        '',
        '',
      ].join('\r\n'),
    );
  } finally {
    s.destroy();
    await server.close();
  }
});
