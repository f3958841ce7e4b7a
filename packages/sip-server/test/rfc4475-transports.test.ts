/**
 * The RFC 4475 requests that depend on the transport: each is sent, unchanged, over UDP, TCP and WebSocket
 * to ONE server, one after the other, and must be answered on the transport it came over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { parseMessage, type SipMessage, type SipResponse } from '@conclave/sip-message';
import { TORTURE } from '../../sip-message/test/torture.ts';
import { SECRET, TcpPeer, UdpPeer, connectSrf, startServer, waitFor } from './helpers.ts';

const cases = TORTURE.filter((t) => /\b(inv2543|regaut01)\b/.test(t.name));

/** A raw SIP-over-WebSocket client (RFC 7118): one SIP message per text frame. */
async function wsClient(port: number): Promise<{ received: SipMessage[]; send(text: string): void; close(): void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, 'sip');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const received: SipMessage[] = [];
  ws.on('message', (d: Buffer) => received.push(parseMessage(d)));
  return { received, send: (text) => ws.send(text), close: () => ws.close() };
}

const finals = (msgs: Array<SipMessage | undefined>): SipResponse[] =>
  msgs.filter((m): m is SipResponse => !!m && m.kind === 'response' && m.status >= 200);

test('RFC 4475 regaut01 and inv2543 are answered over UDP, TCP and WS alike (same server, same bytes)', async () => {
  assert.equal(cases.length, 2, 'both torture cases are defined');
  const { server, addrs } = await startServer();
  const seen: string[] = [];
  const app = await connectSrf(addrs.control, SECRET, (srf) => {
    // The app answers like an authenticating registrar/focus would: a challenge.
    const challenge = (req: { get(h: string): string }, res: { send(s: number, o?: unknown): void }) => {
      seen.push(`${req.get('Call-ID')}`);
      res.send(401, { headers: { 'WWW-Authenticate': 'Digest realm="example.com", nonce="n", qop="auth"' } });
    };
    srf.register(challenge);
    srf.invite(challenge);
  });
  try {
    for (const tc of cases) {
      const udp = await new UdpPeer().bind();
      const tcp = await new TcpPeer().connect(addrs.tcp!.port);
      const ws = await wsClient(addrs.ws!.port);
      try {
        udp.sendRaw(Buffer.from(tc.text), addrs.udp!.port);
        await waitFor(
          () => udp.responses((r) => r.status >= 200).length > 0,
          3000,
          `${tc.name}: final response over UDP`,
        );
        tcp.socket.write(tc.text);
        await waitFor(() => finals(tcp.received).length > 0, 3000, `${tc.name}: final response over TCP`);
        ws.send(tc.text);
        await waitFor(() => finals(ws.received).length > 0, 3000, `${tc.name}: final response over WS`);
        for (const [transport, got] of [
          ['udp', udp.responses((r) => r.status >= 200)],
          ['tcp', finals(tcp.received)],
          ['ws', finals(ws.received)],
        ] as const) {
          assert.equal(got[0]!.status, 401, `${tc.name} over ${transport}`);
          assert.equal(
            got[0]!.get('call-id'),
            /Call-ID: (\S+)/.exec(tc.text)![1],
            `${tc.name} over ${transport}: its own response`,
          );
        }
        assert.ok(!udp.responses().some((r) => r.status === 400), `${tc.name}: no 400 over UDP`);
      } finally {
        udp.close();
        tcp.close();
        ws.close();
      }
    }
    // Each of the six requests reached the app: none was taken for a retransmission of another.
    assert.equal(seen.length, 6, `requests the app saw: ${seen.join(', ')}`);
  } finally {
    app.close();
    await server.close();
  }
});
