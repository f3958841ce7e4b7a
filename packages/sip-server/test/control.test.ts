/** Control port: authenticate, route, ping, wrong secret, round-robin, framing garbage. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { SECRET, UdpPeer, WireTap, connectSrf, sipText, sleep, startServer, waitFor } from './helpers.ts';

function frame(payload: string): string {
  return `${Buffer.byteLength(payload)}#${payload}`;
}

/** Minimal raw control client: sends frames, collects payloads. */
async function rawControl(port: number): Promise<{ socket: net.Socket; payloads: string[]; closed: () => boolean }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const payloads: string[] = [];
  let buf = Buffer.alloc(0);
  let closed = false;
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    for (;;) {
      const h = buf.indexOf('#');
      if (h < 0) break;
      const len = Number(buf.subarray(0, h).toString());
      if (buf.length < h + 1 + len) break;
      payloads.push(buf.subarray(h + 1, h + 1 + len).toString('utf8'));
      buf = buf.subarray(h + 1 + len);
    }
  });
  return { socket, payloads, closed: () => closed };
}

test('authenticate / route / ping answer in drachtio format (transcript a)', async () => {
  const { server, addrs } = await startServer();
  const c = await rawControl(addrs.control.port);
  try {
    c.socket.write(frame('cf3ff436-7c32-4b4a-b60c-971f0eb768ed|authenticate|cymru|'));
    c.socket.write(frame('c34b620d|route|invite') + frame('a041fe91|route|register') + frame('3e8b79f8|ping'));
    await waitFor(() => c.payloads.length >= 4, 2000, 'responses');
    const [auth, r1, r2, pong] = c.payloads.map((p) => p.split('|'));
    assert.match(auth![0]!, /^[0-9a-f-]{36}$/);
    assert.deepEqual(auth!.slice(1, 4), ['response', 'cf3ff436-7c32-4b4a-b60c-971f0eb768ed', 'OK']);
    const hp = `ws/127.0.0.1:${addrs.ws!.port},tcp/127.0.0.1:${addrs.tcp!.port},udp/127.0.0.1:${addrs.udp!.port}`;
    assert.equal(auth![4], hp);
    assert.match(auth![5]!, /^v\d+\.\d+\.\d+/);
    assert.equal(auth![6], hp);
    assert.deepEqual(r1!.slice(1), ['response', 'c34b620d', 'OK']);
    assert.deepEqual(r2!.slice(1), ['response', 'a041fe91', 'OK']);
    assert.deepEqual(pong!.slice(1), ['response', '3e8b79f8', 'OK', 'pong']);
  } finally {
    c.socket.destroy();
    await server.close();
  }
});

test('wrong secret: NO|incorrect secret then the server closes the socket', async () => {
  const { server, addrs, log } = await startServer();
  const c = await rawControl(addrs.control.port);
  try {
    c.socket.write(frame('e5b833f1|authenticate|wrong|'));
    await waitFor(() => c.closed(), 2000, 'close');
    assert.equal(c.payloads.length, 1);
    assert.deepEqual(c.payloads[0]!.split('|').slice(1), ['response', 'e5b833f1', 'NO', 'incorrect secret']);
    assert.ok(log.lines.some((l) => l.includes('incorrect secret')));
  } finally {
    c.socket.destroy();
    await server.close();
  }
});

test('drachtio-srf connects, gets hostport and version; wrong secret fails to connect', async () => {
  const { server, addrs } = await startServer();
  const events: string[] = [];
  server.on('app:connected', (a) => events.push(`up ${a.id}`));
  server.on('app:disconnected', (a) => events.push(`down ${a.id}`));
  try {
    const app = await connectSrf(addrs.control);
    assert.match(app.hostport, /udp\/127\.0\.0\.1:\d+/);
    assert.match(app.version, /^v0\.9\./);
    app.close();
    await waitFor(() => events.length === 2, 2000, 'app events');
    assert.match(events[0]!, /^up /);
    assert.match(events[1]!, /^down /);
    await assert.rejects(connectSrf(addrs.control, 'wrong'), /failed to authenticate/);
  } finally {
    await server.close();
  }
});

test('garbage on the control port closes that connection only; server keeps working', async () => {
  const { server, addrs } = await startServer();
  const c = await rawControl(addrs.control.port);
  const app = await connectSrf(addrs.control);
  try {
    c.socket.write('this is not a frame at all, no hash sign anywhere in it');
    await waitFor(() => c.closed(), 2000, 'close');
    const c2 = await rawControl(addrs.control.port);
    c2.socket.write(frame('x1|authenticate|cymru|') + frame('x2|bogus|stuff') + frame('x3|ping'));
    await waitFor(() => c2.payloads.length >= 3, 2000, 'responses');
    assert.equal(c2.payloads[1]!.split('|')[3], 'NOK');
    assert.equal(c2.payloads[2]!.split('|')[4], 'pong');
    c2.socket.destroy();
  } finally {
    app.close();
    c.socket.destroy();
    await server.close();
  }
});

test('OPTIONS from a UDP peer reaches the app and its 200 goes out as in transcript b', async () => {
  const { server, addrs } = await startServer();
  const tap = await new WireTap(addrs.control).listen();
  const app = await connectSrf({ host: '127.0.0.1', port: tap.port }, SECRET, (srf) => {
    srf.options((_req, res) =>
      res.send(200, { headers: { Allow: 'INVITE, ACK, BYE, CANCEL, OPTIONS', 'X-App': 'options-test' } }),
    );
  });
  const peer = await new UdpPeer().bind();
  try {
    await sleep(50);
    const sipPort = addrs.udp!.port;
    peer.send(
      sipText([
        `OPTIONS sip:ping@127.0.0.1:${sipPort} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-b-1;rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@127.0.0.1:${peer.port}>;tag=ftag-b1`,
        `To: <sip:ping@127.0.0.1:${sipPort}>`,
        'Call-ID: scen-b-1@127.0.0.1',
        'CSeq: 1 OPTIONS',
        `Contact: <sip:carol@127.0.0.1:${peer.port}>`,
        'User-Agent: scripted-uac/1.0',
        'Accept: application/sdp',
      ]),
      sipPort,
    );
    const res = await peer.waitResponse((r) => r.status === 200);
    const lines = peer.received.find((x) => x.msg === res)!.raw.split('\r\n');
    assert.equal(lines[0], 'SIP/2.0 200 OK');
    assert.equal(lines[1], `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-b-1;rport=${peer.port}`);
    assert.equal(lines[2], `From: <sip:carol@127.0.0.1:${peer.port}>;tag=ftag-b1`);
    assert.match(lines[3]!, new RegExp(`^To: <sip:ping@127\\.0\\.0\\.1:${sipPort}>;tag=[A-Za-z0-9]{13}$`));
    assert.deepEqual(lines.slice(4), [
      'Call-ID: scen-b-1@127.0.0.1',
      'CSeq: 1 OPTIONS',
      'Allow: INVITE, ACK, BYE, CANCEL, OPTIONS',
      'Content-Length: 0',
      'X-App: options-test',
      '',
      '',
    ]);
    // No 100 Trying for OPTIONS.
    assert.equal(peer.responses((r) => r.status === 100).length, 0);

    await waitFor(
      () => tap.sipToApp().find((m) => m.fields[1] === 'response' && m.sip.startsWith('SIP/2.0 200')),
      2000,
      'echo',
    );
    const inbound = tap.sipToApp().find((m) => m.fields[1] === 'sip')!;
    const f = inbound.fields;
    assert.deepEqual(f.slice(1, 7), [
      'sip',
      'network',
      String(Buffer.byteLength(inbound.sip)),
      'udp',
      '127.0.0.1',
      String(peer.port),
    ]);
    assert.match(f[7]!, /^\d{2}:\d{2}:\d{2}\.\d{6}$/);
    assert.match(f[8]!, /^[0-9a-f-]{36}$/);
    assert.deepEqual(f.slice(9), ['', '127.0.0.1', String(sipPort), '']);
    assert.match(inbound.sip, new RegExp(`branch=z9hG4bK-b-1;rport=${peer.port}\r\n`));
    const echo = tap.sipToApp().find((m) => m.fields[1] === 'response' && m.sip.startsWith('SIP/2.0 200'))!;
    assert.deepEqual(echo.fields.slice(3, 7), ['OK', 'application', String(Buffer.byteLength(echo.sip)), '']);
    assert.deepEqual(echo.fields.slice(7, 9), ['127.0.0.1', String(peer.port)]);
    assert.equal(echo.fields[10], f[8]);
    assert.deepEqual(echo.fields.slice(11), ['', '', 'Msg sent:', '']);
    assert.equal(echo.sip, peer.received.find((x) => x.msg === res)!.raw);

    // A retransmitted OPTIONS is answered from the transaction, not sent to the app again.
    const before = tap.sipToApp().filter((m) => m.fields[1] === 'sip').length;
    peer.send(
      sipText([
        `OPTIONS sip:ping@127.0.0.1:${sipPort} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-b-1;rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@127.0.0.1:${peer.port}>;tag=ftag-b1`,
        `To: <sip:ping@127.0.0.1:${sipPort}>`,
        'Call-ID: scen-b-1@127.0.0.1',
        'CSeq: 1 OPTIONS',
      ]),
      sipPort,
    );
    await waitFor(() => peer.responses((r) => r.status === 200).length === 2, 2000, 'retransmitted 200');
    assert.equal(tap.sipToApp().filter((m) => m.fields[1] === 'sip').length, before);
  } finally {
    app.close();
    peer.close();
    tap.close();
    await server.close();
  }
});

test('several apps on one method share requests round-robin; no app → 503', async () => {
  const { server, addrs } = await startServer();
  const hits: string[] = [];
  const a = await connectSrf(addrs.control, SECRET, (srf) =>
    srf.options((_q, r) => {
      hits.push('a');
      r.send(200);
    }),
  );
  const b = await connectSrf(addrs.control, SECRET, (srf) =>
    srf.options((_q, r) => {
      hits.push('b');
      r.send(200);
    }),
  );
  const peer = await new UdpPeer().bind();
  try {
    await sleep(50);
    const send = (i: number, method = 'OPTIONS') =>
      peer.send(
        sipText([
          `${method} sip:x@127.0.0.1 SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-rr-${method}-${i};rport`,
          'Max-Forwards: 70',
          `From: <sip:p@127.0.0.1>;tag=rr${i}`,
          '<sip:x@127.0.0.1>'.replace(/^/, 'To: '),
          `Call-ID: rr-${method}-${i}`,
          `CSeq: 1 ${method}`,
        ]),
        addrs.udp!.port,
      );
    for (let i = 0; i < 4; i++) send(i);
    await waitFor(() => hits.length === 4, 2000, 'four requests');
    assert.deepEqual([...hits].sort(), ['a', 'a', 'b', 'b']);
    send(9, 'MESSAGE');
    const r = await peer.waitResponse((x) => x.cseq.method === 'MESSAGE');
    assert.equal(r.status, 503);
  } finally {
    a.close();
    b.close();
    peer.close();
    await server.close();
  }
});
