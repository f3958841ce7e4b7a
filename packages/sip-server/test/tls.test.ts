/** SIP over TLS and secure WebSocket with a configured certificate, plus CRLF keep-alives. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import WebSocket from 'ws';
import { SipStreamFramer, parseMessage, type SipMessage } from '@conclave/sip-message';
import { SECRET, TcpPeer, connectSrf, sipText, sleep, startServer, waitFor } from './helpers.ts';

function selfSigned(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sip-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const options = (port: number, via: string) =>
  sipText([
    `OPTIONS sip:x@127.0.0.1:${port} SIP/2.0`,
    `Via: ${via}`,
    'Max-Forwards: 70',
    'From: <sip:a@example.com>;tag=t1',
    'To: <sip:x@127.0.0.1>',
    `Call-ID: tls-${Math.random()}`,
    'CSeq: 1 OPTIONS',
  ]);

test('TLS and WSS listeners with a configured certificate carry SIP; the app sees transport tls', async () => {
  const creds = selfSigned();
  const { server, addrs } = await startServer({
    listen: { tls: { host: '127.0.0.1', port: 0, tls: creds }, wss: { host: '127.0.0.1', port: 0, tls: creds } },
  });
  const protocols: string[] = [];
  const app = await connectSrf(addrs.control, SECRET, (srf) =>
    srf.options((req, res) => {
      protocols.push(req.protocol);
      res.send(200);
    }),
  );
  assert.match(app.hostport, /^wss\/127\.0\.0\.1:\d+,tls\/127\.0\.0\.1:\d+$/);
  const sock = tls.connect({ host: '127.0.0.1', port: addrs.tls!.port, ca: creds.cert });
  const ws = new WebSocket(`wss://127.0.0.1:${addrs.wss!.port}`, 'sip', { ca: creds.cert });
  const wsOpen = new Promise<void>((res, j) => {
    ws.once('open', () => res());
    ws.once('error', j);
  });
  try {
    await new Promise<void>((r, j) => {
      sock.once('secureConnect', () => r());
      sock.once('error', j);
    });
    const framer = new SipStreamFramer();
    const got: SipMessage[] = [];
    sock.on('data', (c: Buffer) => {
      for (const e of framer.push(c)) if (e.type === 'message') got.push(parseMessage(e.data, { stream: true }));
    });
    sock.write(options(addrs.tls!.port, 'SIP/2.0/TLS client.example.com;branch=z9hG4bK-tls1'));
    const r = await waitFor(() => got[0], 2000, 'TLS response');
    assert.equal(r.kind === 'response' && r.status, 200);
    assert.match(r.getAll('via')[0]!, /;received=127\.0\.0\.1;rport=\d+$/);

    await wsOpen;
    assert.equal(ws.protocol, 'sip');
    const wsGot: SipMessage[] = [];
    ws.on('message', (d: Buffer) => wsGot.push(parseMessage(d)));
    ws.send(options(addrs.wss!.port, 'SIP/2.0/WSS abc.invalid;branch=z9hG4bK-wss1'));
    const w = await waitFor(() => wsGot[0], 2000, 'WSS response');
    assert.equal(w.kind === 'response' && w.status, 200);
    assert.deepEqual(protocols, ['tls', 'tls']);
  } finally {
    sock.destroy();
    ws.terminate();
    app.close();
    await server.close();
  }
});

test('CRLF keep-alive: a CRLFCRLF ping on TCP gets a CRLF pong; the connection stays usable', async () => {
  const { server, addrs } = await startServer();
  const c = await new TcpPeer().connect(addrs.tcp!.port);
  let raw = '';
  c.socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
  try {
    c.socket.write('\r\n\r\n');
    await waitFor(() => raw === '\r\n', 2000, 'pong');
    c.socket.write('\r\n\r\n\r\n\r\n');
    await waitFor(() => raw === '\r\n\r\n\r\n', 2000, 'two more pongs');
    await sleep(20);
    assert.equal(c.socket.destroyed, false);
  } finally {
    c.close();
    await server.close();
  }
});
