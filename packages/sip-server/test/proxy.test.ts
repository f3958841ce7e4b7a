/** srf.proxyRequest: serial and simultaneous forking, redirects, timeouts, Record-Route and in-dialog relay. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, type SipRequest } from '@conclave/sip-message';
import { SDP_A, SDP_B, SECRET, UdpPeer, connectSrf, sipText, sleep, startServer, waitFor } from './helpers.ts';

type Behaviour = 'answer' | 'busy' | 'notfound' | 'ring' | { redirect: string };

/** A UDP user agent with a fixed behaviour for new INVITEs/OPTIONS; answers CANCEL/BYE, records everything. */
async function agentUa(behaviour: Behaviour): Promise<{ peer: UdpPeer; got: SipRequest[]; uri: string }> {
  const peer = await new UdpPeer().bind();
  const got: SipRequest[] = [];
  const tag = `t${Math.random().toString(16).slice(2, 8)}`;
  peer.socket.on('message', (buf, rinfo) => {
    let m;
    try {
      m = parseMessage(buf);
    } catch {
      return;
    }
    if (m.kind !== 'request') return;
    got.push(m);
    const send = (status: string, req: SipRequest, extra: string[] = [], body = '', withTag = true) => {
      const to = withTag && !req.toTag ? `${req.get('to')};tag=${tag}` : req.get('to');
      const rr = req.getAll('record-route').map((r) => `Record-Route: ${r}`);
      peer.socket.send(
        Buffer.from(
          sipText(
            [
              `SIP/2.0 ${status}`,
              ...req.getAll('via').map((v) => `Via: ${v}`),
              ...rr,
              `From: ${req.get('from')}`,
              `To: ${to}`,
              `Call-ID: ${req.callId}`,
              `CSeq: ${req.get('cseq')}`,
              ...extra,
            ],
            body,
          ),
        ),
        rinfo.port,
        rinfo.address,
      );
    };
    const contact = `Contact: <sip:ua@127.0.0.1:${peer.port}>`;
    if (m.method === 'ACK') return;
    if (m.method === 'CANCEL') {
      send('200 OK', m);
      const inv = got.find((r) => r.method === 'INVITE' && r.callId === m.callId && !r.toTag)!;
      send('487 Request Terminated', inv);
      return;
    }
    if (m.method === 'BYE' || m.toTag) {
      send('200 OK', m);
      return;
    }
    if (m.method === 'INVITE') {
      if (got.filter((r) => r.method === 'INVITE' && r.callId === m.callId).length > 1) return; // retransmission
      send('180 Ringing', m, [contact]);
    }
    if (behaviour === 'answer')
      send('200 OK', m, [contact, 'Content-Type: application/sdp'], m.method === 'INVITE' ? SDP_B : '');
    else if (behaviour === 'busy') send('486 Busy Here', m);
    else if (behaviour === 'notfound') send('404 Not Found', m);
    else if (typeof behaviour === 'object') send('302 Moved Temporarily', m, [`Contact: <${behaviour.redirect}>`]);
  });
  return { peer, got, uri: `sip:ua@127.0.0.1:${peer.port}` };
}

function callerInvite(caller: UdpPeer, port: number, id: string): void {
  caller.send(
    sipText(
      [
        `INVITE sip:bob@127.0.0.1:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-${id};rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@127.0.0.1:${caller.port}>;tag=c-${id}`,
        `To: <sip:bob@127.0.0.1:${port}>`,
        `Call-ID: ${id}`,
        'CSeq: 1 INVITE',
        `Contact: <sip:carol@127.0.0.1:${caller.port}>`,
        'Content-Type: application/sdp',
      ],
      SDP_A,
    ),
    port,
  );
}

test('serial proxy: first target busy, second answers; 2xx relayed with only the caller Via; result reported to the app', async () => {
  const { server, addrs } = await startServer();
  const a = await agentUa('busy');
  const b = await agentUa('answer');
  let result: { connected: boolean; finalStatus: number; responses: unknown[] } | undefined;
  const app = await connectSrf(addrs.control, SECRET, (srf) => {
    srf.invite(async (req) => {
      result = await (
        srf as unknown as { proxyRequest(r: unknown, d: string[], o: unknown): Promise<typeof result> }
      ).proxyRequest(req, [a.uri, b.uri], { headers: { 'X-Proxied': 'yes' } });
    });
  });
  const caller = await new UdpPeer().bind();
  try {
    await sleep(30);
    callerInvite(caller, addrs.udp!.port, 'px-serial');
    const ok = await caller.waitResponse((r) => r.status === 200);
    assert.deepEqual(ok.getAll('via'), [
      `SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-px-serial;rport=${caller.port}`,
    ]);
    assert.equal(ok.body.toString(), SDP_B);
    assert.equal(caller.responses((r) => r.status === 486).length, 0, 'the busy answer was not passed upstream');
    const invA = a.got.find((r) => r.method === 'INVITE')!;
    const invB = b.got.find((r) => r.method === 'INVITE')!;
    assert.equal(invA.uri, a.uri);
    assert.equal(invB.uri, b.uri);
    assert.equal(invB.get('x-proxied'), 'yes');
    assert.equal(invB.get('max-forwards'), '69');
    assert.equal(invB.vias.length, 2);
    assert.equal(invB.get('call-id'), 'px-serial', 'a proxy keeps the Call-ID');
    await waitFor(() => a.got.some((r) => r.method === 'ACK'), 1000, 'ACK for 486 hop-by-hop');
    await waitFor(() => result, 2000, 'proxy result');
    assert.equal(result!.connected, true);
    assert.equal(result!.finalStatus, 200);
    assert.ok(result!.responses.length >= 1);
  } finally {
    app.close();
    for (const p of [a.peer, b.peer, caller]) p.close();
    await server.close();
  }
});

test('simultaneous proxy: the ringing branch is cancelled once another answers; Record-Route keeps us in the dialog', async () => {
  const { server, addrs } = await startServer();
  const a = await agentUa('ring');
  const b = await agentUa('answer');
  const app = await connectSrf(addrs.control, SECRET, (srf) => {
    srf.invite(
      (req) =>
        void (srf as unknown as { proxyRequest(r: unknown, d: string[], o: unknown): Promise<unknown> }).proxyRequest(
          req,
          [a.uri, b.uri],
          { forking: 'simultaneous', recordRoute: true },
        ),
    );
  });
  const caller = await new UdpPeer().bind();
  const port = addrs.udp!.port;
  try {
    await sleep(30);
    callerInvite(caller, port, 'px-sim');
    const ok = await caller.waitResponse((r) => r.status === 200);
    await waitFor(() => a.got.some((r) => r.method === 'CANCEL'), 2000, 'CANCEL to the ringing branch');
    const rr = ok.get('record-route');
    assert.equal(rr, `<sip:127.0.0.1:${port};lr>`);
    assert.equal(b.got.find((r) => r.method === 'INVITE')!.get('record-route'), rr);
    // The caller's ACK and BYE follow the route set through us to B.
    const inDialog = (method: string, cseq: number, branch: string) =>
      caller.send(
        sipText([
          `${method} sip:ua@127.0.0.1:${b.peer.port} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=${branch};rport`,
          'Max-Forwards: 70',
          `Route: ${rr}`,
          `From: <sip:carol@127.0.0.1:${caller.port}>;tag=c-px-sim`,
          `To: ${ok.get('to')}`,
          'Call-ID: px-sim',
          `CSeq: ${cseq} ${method}`,
        ]),
        port,
      );
    inDialog('ACK', 1, 'z9hG4bK-px-sim-ack');
    await waitFor(() => b.got.some((r) => r.method === 'ACK'), 2000, 'ACK relayed');
    inDialog('BYE', 2, 'z9hG4bK-px-sim-bye');
    const byeOk = await caller.waitResponse((r) => r.cseq.method === 'BYE');
    assert.equal(byeOk.status, 200);
    const bye = b.got.find((r) => r.method === 'BYE')!;
    assert.equal(bye.uri, `sip:ua@127.0.0.1:${b.peer.port}`);
    assert.equal(bye.get('route'), undefined, 'our Route entry was consumed');
  } finally {
    app.close();
    for (const p of [a.peer, b.peer, caller]) p.close();
    await server.close();
  }
});

test('proxy follows a 302 when asked; finalTimeout moves on; best final response when all fail', async () => {
  const { server, addrs } = await startServer();
  const b = await agentUa('answer');
  const redirector = await agentUa({ redirect: b.uri });
  const ringer = await agentUa('ring');
  const nf = await agentUa('notfound');
  const busy = await agentUa('busy');
  const app = await connectSrf(addrs.control, SECRET, (srf) => {
    const px = srf as unknown as { proxyRequest(r: unknown, d: string[], o: unknown): Promise<unknown> };
    srf.invite((req) => {
      const id = req.get('Call-ID');
      if (id === 'px-redirect') void px.proxyRequest(req, [redirector.uri], { followRedirects: true });
      else if (id === 'px-timeout') void px.proxyRequest(req, [ringer.uri, b.uri], { finalTimeout: '300ms' });
      else void px.proxyRequest(req, [nf.uri, busy.uri], {});
    });
  });
  const caller = await new UdpPeer().bind();
  const port = addrs.udp!.port;
  try {
    await sleep(30);
    callerInvite(caller, port, 'px-redirect');
    assert.equal((await caller.waitResponse((r) => r.get('call-id') === 'px-redirect' && r.status >= 200)).status, 200);
    callerInvite(caller, port, 'px-timeout');
    assert.equal(
      (await caller.waitResponse((r) => r.get('call-id') === 'px-timeout' && r.status >= 200, 3000)).status,
      200,
    );
    assert.ok(
      ringer.got.some((r) => r.method === 'CANCEL'),
      'ringing target cancelled after finalTimeout',
    );
    callerInvite(caller, port, 'px-fail');
    const fail = await caller.waitResponse((r) => r.get('call-id') === 'px-fail' && r.status >= 200);
    assert.equal(fail.status, 404);
  } finally {
    app.close();
    for (const p of [b.peer, redirector.peer, ringer.peer, nf.peer, busy.peer, caller]) p.close();
    await server.close();
  }
});
