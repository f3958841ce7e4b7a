/** Outbound connection mode: the server connects to an app that called srf.listen(). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import Srf from 'drachtio-srf';
import { SDP_A, SDP_B, SECRET, UdpPeer, sipText, startServer, waitFor, type LooseSrf } from './helpers.ts';

test('srf.listen(): the server connects, authenticates, hands the INVITE over; in-dialog BYE follows; unreachable app → 480', async () => {
  let target: { host: string; port: number } | undefined;
  const { server, addrs, log } = await startServer({ outbound: () => target ?? { host: '127.0.0.1', port: 1 } });
  const srf = new Srf() as unknown as LooseSrf & { listen(o: unknown): net.Server; endSession(r: unknown): void };
  const ended: string[] = [];
  srf.invite(async (req, res) => {
    const dlg = await srf.createUAS(req, res, { localSdp: SDP_B });
    dlg.on('destroy', () => ended.push(req.get('Call-ID')));
  });
  const listener = srf.listen({ host: '127.0.0.1', port: 0, secret: SECRET });
  await new Promise<void>((r) => (listener.listening ? r() : listener.once('listening', () => r())));
  const peer = await new UdpPeer().bind();
  const port = addrs.udp!.port;
  const invite = (id: string) =>
    peer.send(
      sipText(
        [
          `INVITE sip:bob@127.0.0.1:${port} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-${id};rport`,
          'Max-Forwards: 70',
          `From: <sip:carol@127.0.0.1:${peer.port}>;tag=f-${id}`,
          `To: <sip:bob@127.0.0.1:${port}>`,
          `Call-ID: ${id}`,
          'CSeq: 1 INVITE',
          `Contact: <sip:carol@127.0.0.1:${peer.port}>`,
          'Content-Type: application/sdp',
        ],
        SDP_A,
      ),
      port,
    );
  try {
    // Nobody listens on port 1: 480 Temporarily Unavailable.
    invite('ob-fail');
    const fail = await peer.waitResponse((r) => r.get('call-id') === 'ob-fail' && r.status >= 200);
    assert.equal(fail.status, 480);

    target = { host: '127.0.0.1', port: (listener.address() as net.AddressInfo).port };
    invite('ob-1');
    const ok = await peer.waitResponse((r) => r.get('call-id') === 'ob-1' && r.status === 200);
    assert.ok(log.lines.some((l) => l.includes('outbound app connection authenticated')));
    const inDialog = (method: string, cseq: number) =>
      peer.send(
        sipText([
          `${method} sip:127.0.0.1:${port} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-ob-${method};rport`,
          'Max-Forwards: 70',
          `From: <sip:carol@127.0.0.1:${peer.port}>;tag=f-ob-1`,
          `To: ${ok.get('to')}`,
          'Call-ID: ob-1',
          `CSeq: ${cseq} ${method}`,
        ]),
        port,
      );
    inDialog('ACK', 1);
    inDialog('BYE', 2);
    assert.equal((await peer.waitResponse((r) => r.cseq.method === 'BYE')).status, 200);
    await waitFor(() => ended.includes('ob-1'), 2000, 'dialog destroyed in the app');
  } finally {
    peer.close();
    listener.close();
    for (const s of (
      srf as unknown as { _app: { client: { mapServer: Map<net.Socket, unknown> } } }
    )._app.client.mapServer.keys())
      s.destroy();
    await server.close();
  }
});
