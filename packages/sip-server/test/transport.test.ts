/** TCP transport, stream framing, malformed input: 400 with a reason, drops, and no crash. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SDP_A,
  SDP_B,
  SECRET,
  TcpPeer,
  UdpPeer,
  connectSrf,
  sipText,
  sleep,
  startServer,
  waitFor,
  type LooseSrf,
} from './helpers.ts';

test('TCP: INVITE in two chunks plus OPTIONS in the same segment, responses on the same connection, BYE back over it', async () => {
  const { server, addrs } = await startServer();
  const app = await connectSrf(addrs.control, SECRET, (srf: LooseSrf) => {
    srf.options((_q, r) => r.send(200));
    srf.invite(async (req, res) => {
      const dlg = await srf.createUAS(req, res, { localSdp: SDP_B });
      setTimeout(() => dlg.destroy(), 30);
    });
  });
  const c = await new TcpPeer().connect(addrs.tcp!.port);
  try {
    const inv = sipText(
      [
        `INVITE sip:bob@127.0.0.1:${addrs.tcp!.port};transport=tcp SIP/2.0`,
        `Via: SIP/2.0/TCP 10.9.9.9:5060;branch=z9hG4bK-tcp-1`,
        'Max-Forwards: 70',
        'From: <sip:carol@10.9.9.9>;tag=tcpf',
        `To: <sip:bob@127.0.0.1>`,
        'Call-ID: tcp-1',
        'CSeq: 1 INVITE',
        'Contact: <sip:carol@10.9.9.9:5060;transport=tcp>',
        'Content-Type: application/sdp',
      ],
      SDP_A,
    );
    const opt = sipText([
      `OPTIONS sip:bob@127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/TCP 10.9.9.9:5060;branch=z9hG4bK-tcp-2`,
      'Max-Forwards: 70',
      'From: <sip:carol@10.9.9.9>;tag=tcpo',
      'To: <sip:bob@127.0.0.1>',
      'Call-ID: tcp-2',
      'CSeq: 1 OPTIONS',
    ]);
    const all = '\r\n\r\n' + inv + opt;
    c.socket.write(all.slice(0, 77));
    await sleep(20);
    c.socket.write(all.slice(77));
    await waitFor(
      () => c.received.find((m) => m.kind === 'response' && m.status === 200 && m.cseq.method === 'INVITE'),
      2000,
      '200 INVITE',
    );
    await waitFor(
      () => c.received.find((m) => m.kind === 'response' && m.cseq.method === 'OPTIONS'),
      2000,
      '200 OPTIONS',
    );
    const ok = c.received.find((m) => m.kind === 'response' && m.status === 200 && m.cseq.method === 'INVITE')!;
    assert.equal(
      ok.getAll('via')[0],
      `SIP/2.0/TCP 10.9.9.9:5060;branch=z9hG4bK-tcp-1;received=127.0.0.1;rport=${c.localPort}`,
    );
    assert.equal(ok.get('contact'), `<sip:127.0.0.1:${addrs.tcp!.port};transport=tcp>`);
    c.send(
      sipText([
        `ACK sip:127.0.0.1:${addrs.tcp!.port};transport=tcp SIP/2.0`,
        `Via: SIP/2.0/TCP 10.9.9.9:5060;branch=z9hG4bK-tcp-ack`,
        'Max-Forwards: 70',
        'From: <sip:carol@10.9.9.9>;tag=tcpf',
        `To: ${ok.get('to')}`,
        'Call-ID: tcp-1',
        'CSeq: 1 ACK',
      ]),
    );
    // The app hangs up: the BYE must use the existing connection (the Contact's 10.9.9.9 is unreachable).
    const bye = await waitFor(
      () => c.received.find((m) => m.kind === 'request' && m.method === 'BYE'),
      2000,
      'BYE over TCP',
    );
    assert.equal(bye.kind === 'request' && bye.uri, 'sip:carol@10.9.9.9:5060;transport=tcp');
    assert.match(bye.getAll('via')[0]!, new RegExp(`^SIP/2\\.0/TCP 127\\.0\\.0\\.1:${addrs.tcp!.port};rport;branch=`));
  } finally {
    c.close();
    app.close();
    await server.close();
  }
});

test('malformed requests get 400 with the reason; garbage is dropped; the server keeps serving', async () => {
  const { server, addrs, log } = await startServer();
  const app = await connectSrf(addrs.control, SECRET, (srf: LooseSrf) => srf.options((_q, r) => r.send(200)));
  const peer = await new UdpPeer().bind();
  const port = addrs.udp!.port;
  try {
    // CSeq method mismatch → 400 with that reason.
    peer.send(
      sipText([
        `OPTIONS sip:x@127.0.0.1 SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-bad-1;rport`,
        'Max-Forwards: 70',
        'From: <sip:a@127.0.0.1>;tag=b1',
        'To: <sip:x@127.0.0.1>',
        'Call-ID: bad-1',
        'CSeq: 1 INVITE',
      ]),
      port,
    );
    const r1 = await peer.waitResponse((r) => r.get('call-id') === 'bad-1');
    assert.equal(r1.status, 400);
    assert.equal(r1.reason, 'CSeq method mismatch');
    assert.match(r1.getAll('via')[0]!, new RegExp(`rport=${peer.port}`));
    // Content-Length larger than the datagram → 400.
    peer.send(
      `OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-bad-2\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=b2\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: bad-2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 999\r\n\r\nshort`,
      port,
    );
    const r2 = await peer.waitResponse((r) => r.get('call-id') === 'bad-2');
    assert.equal(r2.status, 400);
    assert.equal(r2.reason, 'Bad Content-Length');
    // Pure garbage and a response to nothing: dropped silently.
    peer.sendRaw(Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]), port);
    peer.send(
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKnothing\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
      port,
    );
    // A missing Call-ID cannot be answered.
    peer.send(
      `OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-bad-3\r\nFrom: <sip:a@127.0.0.1>;tag=b3\r\nTo: <sip:x@127.0.0.1>\r\nCSeq: 1 OPTIONS\r\n\r\n`,
      port,
    );
    await sleep(100);
    assert.equal(peer.received.length, 2);
    assert.ok(log.lines.some((l) => l.includes('malformed SIP message') && l.includes('reason="Missing Call-ID"')));
    // Still alive.
    peer.send(
      sipText([
        `OPTIONS sip:x@127.0.0.1 SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-good;rport`,
        'Max-Forwards: 70',
        'From: <sip:a@127.0.0.1>;tag=g',
        'To: <sip:x@127.0.0.1>',
        'Call-ID: good',
        'CSeq: 1 OPTIONS',
      ]),
      port,
    );
    assert.equal((await peer.waitResponse((r) => r.get('call-id') === 'good')).status, 200);
    // TCP garbage closes only that connection.
    const c = await new TcpPeer().connect(addrs.tcp!.port);
    let closed = false;
    c.socket.on('close', () => (closed = true));
    c.socket.write('GARBAGE '.repeat(20000));
    await waitFor(() => closed, 2000, 'garbage TCP connection closed');
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});

test('Max-Forwards 0 → 483; oversized UDP request → 513', async () => {
  const { server, addrs } = await startServer({ limits: { maxMessageSize: 2000 } });
  const app = await connectSrf(addrs.control, SECRET, (srf: LooseSrf) => srf.options((_q, r) => r.send(200)));
  const peer = await new UdpPeer().bind();
  try {
    peer.send(
      sipText([
        `OPTIONS sip:x@127.0.0.1 SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-mf0`,
        'Max-Forwards: 0',
        'From: <sip:a@127.0.0.1>;tag=m',
        'To: <sip:x@127.0.0.1>',
        'Call-ID: mf0',
        'CSeq: 1 OPTIONS',
      ]),
      addrs.udp!.port,
    );
    assert.equal((await peer.waitResponse((r) => r.get('call-id') === 'mf0')).status, 483);
    peer.send(
      sipText([
        `OPTIONS sip:x@127.0.0.1 SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-big`,
        'Max-Forwards: 70',
        'From: <sip:a@127.0.0.1>;tag=m',
        'To: <sip:x@127.0.0.1>',
        'Call-ID: big',
        'CSeq: 1 OPTIONS',
        `X-Pad: ${'x'.repeat(3000)}`,
      ]),
      addrs.udp!.port,
    );
    const r = await peer.waitResponse((x) => x.get('call-id') === 'big');
    assert.equal(r.status, 513);
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});
