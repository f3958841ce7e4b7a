/**
 * The focus's digest middleware behind the embedded SIP server, over real UDP, TCP and WebSocket sockets:
 * RFC 4475 §3.3.7 (regaut01, an Authorization header in a scheme nobody knows) is a request without
 * credentials, so it is challenged (401), not refused as malformed (400).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import Srf from 'drachtio-srf';
import { createLogger } from '@conclave/log';
import { SipStreamFramer, parseMessage, type SipMessage, type SipResponse } from '@conclave/sip-message';
import { SipServer } from '@conclave/sip-server';
import { UserDirectory } from '../src/directory.ts';
import { createSipAuth } from '../src/sip-auth.ts';
import { methodHandlers, reply } from '../src/srf.ts';
import { waitFor } from './support/wait.ts';

const REGAUT01 = [
  'REGISTER sip:example.com SIP/2.0',
  'To: sip:j.user@example.com',
  'From: sip:j.user@example.com;tag=87321hj23128',
  'Max-Forwards: 8',
  'Call-ID: regaut01.0ha0isndaksdj',
  'CSeq: 9338 REGISTER',
  'Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKbiuiansd001',
  'Authorization: NoOneKnowsThisScheme opaque-data=here',
  'Content-Length:0',
  '',
  '',
].join('\r\n');

const finalOf = (msgs: SipMessage[]): SipResponse | undefined =>
  msgs.find((m): m is SipResponse => m.kind === 'response' && m.status >= 200);

test('REGISTER with an unknown Authorization scheme (RFC 4475 regaut01) is challenged over UDP, TCP and WS', async () => {
  const logger = createLogger('test', { level: 'warn' });
  const server = new SipServer({
    listen: {
      udp: { host: '127.0.0.1', port: 0 },
      tcp: { host: '127.0.0.1', port: 0 },
      ws: { host: '127.0.0.1', port: 0 },
    },
    control: { host: '127.0.0.1', port: 0, secret: 'test-secret' },
    logger: logger.child('sip-server'),
  });
  const addrs = await server.start();
  const srf = new Srf();
  const auth = createSipAuth({
    realm: '127.0.0.1',
    directory: new UserDirectory([{ name: 'alice', password: 'alice-secret' }], []),
    logger,
  });
  srf.use('register', auth);
  const registered: string[] = [];
  methodHandlers(srf).register((req, res) => {
    registered.push(req.get('Call-ID'));
    reply(res, 200);
  });
  await new Promise<void>((resolve, reject) => {
    srf.on('connect', (err: Error | null) => (err ? reject(err) : resolve()));
    void srf.connect({ host: '127.0.0.1', port: addrs.control.port, secret: 'test-secret' });
  });
  const udp = dgram.createSocket('udp4');
  const tcp = net.connect({ host: '127.0.0.1', port: addrs.tcp!.port });
  const ws = new WebSocket(`ws://127.0.0.1:${addrs.ws!.port}`, 'sip');
  const got: Record<'udp' | 'tcp' | 'ws', SipMessage[]> = { udp: [], tcp: [], ws: [] };
  try {
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    udp.on('message', (b) => got.udp.push(parseMessage(b)));
    await new Promise<void>((r, j) => tcp.once('connect', () => r()).once('error', j));
    const framer = new SipStreamFramer();
    tcp.on('data', (c: Buffer) => {
      for (const ev of framer.push(c)) if (ev.type === 'message') got.tcp.push(parseMessage(ev.data, { stream: true }));
    });
    await new Promise<void>((r, j) => {
      ws.addEventListener('open', () => r());
      ws.addEventListener('error', () => j(new Error('WebSocket failed to open')));
    });
    ws.addEventListener('message', (ev: MessageEvent) => got.ws.push(parseMessage(Buffer.from(String(ev.data)))));

    udp.send(Buffer.from(REGAUT01), addrs.udp!.port, '127.0.0.1');
    tcp.write(REGAUT01);
    ws.send(REGAUT01);
    for (const transport of ['udp', 'tcp', 'ws'] as const) {
      await waitFor(() => finalOf(got[transport]) !== undefined, `final response over ${transport}`, 5000);
      const res = finalOf(got[transport])!;
      assert.equal(res.status, 401, `regaut01 over ${transport}: ${res.status} ${res.reason}`);
      assert.match(
        res.get('www-authenticate') ?? '',
        /^Digest realm="127\.0\.0\.1", nonce="[^"]+", algorithm=(SHA-256|MD5), qop="auth"$/,
        `challenge over ${transport}`,
      );
    }
    assert.deepEqual(registered, [], 'nobody got registered');
  } finally {
    udp.close();
    tcp.destroy();
    ws.close();
    srf.disconnect();
    await server.close();
  }
});
