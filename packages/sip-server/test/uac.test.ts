/** Outgoing calls: createUAC, re-INVITE, INFO, BYE, CANCEL, failures, timeouts, B2BUA. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, type SipRequest } from '@conclave/sip-message';
import {
  SDP_A,
  SDP_B,
  SECRET,
  UdpPeer,
  WireTap,
  connectSrf,
  sipText,
  sleep,
  startServer,
  waitFor,
  type AppResponse,
  type LooseSrf,
} from './helpers.ts';

interface UasBehaviour {
  /** Final status for new INVITEs (default 200); 0 = never answer. */
  finalStatus?: number;
  /** Delay before the final response, ms. */
  delay?: number;
  ring?: boolean;
  /** Drop the first N INVITE copies (to exercise Timer A retransmission). */
  dropInvites?: number;
}

/** A scripted UDP user agent answering INVITE/re-INVITE/INFO/BYE/CANCEL the way baresip does. */
function scriptedUas(peer: UdpPeer, b: UasBehaviour = {}): { acks: SipRequest[]; requests: SipRequest[] } {
  const acks: SipRequest[] = [];
  const requests: SipRequest[] = [];
  const tags = new Map<string, string>();
  const answered = new Set<string>();
  let dropped = 0;
  const reply = (
    req: SipRequest,
    status: number,
    reason: string,
    to: string,
    rinfo: { address: string; port: number },
    extra: string[] = [],
    body = '',
  ) => {
    const vias = req
      .getAll('via')
      .map((v, i) => (i === 0 ? v.replace(/;rport(?!=)/, `;rport=${rinfo.port};received=${rinfo.address}`) : v));
    const text = sipText(
      [
        `SIP/2.0 ${status} ${reason}`,
        ...vias.map((v) => `Via: ${v}`),
        `From: ${req.get('from')}`,
        `To: ${to}`,
        `Call-ID: ${req.callId}`,
        `CSeq: ${req.get('cseq')}`,
        'Server: scripted-uas/1.0',
        ...extra,
      ],
      body,
    );
    peer.socket.send(Buffer.from(text), rinfo.port, rinfo.address);
  };
  peer.socket.on('message', (buf, rinfo) => {
    let m;
    try {
      m = parseMessage(buf);
    } catch {
      return;
    }
    if (m.kind !== 'request') return;
    requests.push(m);
    const contact = [`Contact: <sip:alice-0x55af@127.0.0.1:${peer.port}>`];
    if (m.method === 'ACK') {
      acks.push(m);
      return;
    }
    if (m.method === 'INVITE' && !m.toTag) {
      if (dropped < (b.dropInvites ?? 0)) {
        dropped++;
        return;
      }
      const key = m.callId;
      if (answered.has(key)) return; // retransmission
      answered.add(key);
      const tag = `uas${Math.random().toString(16).slice(2, 10)}`;
      tags.set(key, tag);
      const to = `${m.get('to')};tag=${tag}`;
      if (b.ring !== false) reply(m, 180, 'Ringing', to, rinfo, contact);
      const status = b.finalStatus ?? 200;
      if (status === 0) return;
      setTimeout(() => {
        if (!answered.has(key)) return;
        if (status === 200) reply(m, 200, 'Answering', to, rinfo, [...contact, 'Content-Type: application/sdp'], SDP_A);
        else reply(m, status, status === 486 ? 'Busy Here' : 'Failed', to, rinfo);
      }, b.delay ?? 0);
      return;
    }
    if (m.method === 'CANCEL') {
      const tag = tags.get(m.callId) ?? 'x';
      answered.delete(m.callId);
      reply(m, 200, 'OK', `${m.get('to')};tag=${tag}`, rinfo);
      // the 487 for the INVITE itself
      const inv = requests.find((r) => r.method === 'INVITE' && r.callId === m.callId)!;
      reply(inv, 487, 'Request Terminated', `${inv.get('to')};tag=${tag}`, rinfo);
      return;
    }
    reply(
      m,
      200,
      'OK',
      m.get('to')!,
      rinfo,
      m.method === 'INVITE' ? [...contact, 'Content-Type: application/sdp'] : [],
      m.method === 'INVITE' ? SDP_A : '',
    );
  });
  return { acks, requests };
}

test('createUAC, re-INVITE, INFO, BYE against a UDP UA (transcript e)', async () => {
  const { server, addrs } = await startServer();
  const tap = await new WireTap(addrs.control).listen();
  const app = await connectSrf({ host: '127.0.0.1', port: tap.port });
  const peer = await new UdpPeer().bind();
  const uas = scriptedUas(peer);
  const sipPort = addrs.udp!.port;
  try {
    const dlg = await app.srf.createUAC(`sip:alice@127.0.0.1:${peer.port}`, {
      localSdp: SDP_B,
      headers: { From: '<sip:app@127.0.0.1>', 'X-App': 'uac' },
    });
    const inv = uas.requests[0]!;
    const raw = peer.received.find((x) => x.msg.kind === 'request' && x.msg.method === 'INVITE')!.raw.split('\r\n');
    assert.equal(raw[0], `INVITE sip:alice@127.0.0.1:${peer.port} SIP/2.0`);
    assert.match(
      raw[1]!,
      new RegExp(`^Via: SIP/2\\.0/UDP 127\\.0\\.0\\.1:${sipPort};rport;branch=z9hG4bK[A-Za-z0-9]{13}$`),
    );
    assert.equal(raw[2], 'Max-Forwards: 70');
    assert.match(raw[3]!, /^From: <sip:app@127\.0\.0\.1>;tag=[A-Za-z0-9]{13}$/);
    assert.equal(raw[4], `To: <sip:alice@127.0.0.1:${peer.port}>`);
    assert.match(raw[5]!, /^Call-ID: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(raw[6]!, /^CSeq: \d+ INVITE$/);
    assert.deepEqual(raw.slice(7, 11), [
      `Contact: <sip:127.0.0.1:${sipPort}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(SDP_B)}`,
      'X-App: uac',
    ]);
    const seq = inv.cseq.seq;
    await waitFor(() => uas.acks.length === 1, 2000, 'ACK');
    const ack = uas.acks[0]!;
    assert.equal(ack.uri, `sip:alice-0x55af@127.0.0.1:${peer.port}`, 'ACK goes to the remote target');
    assert.equal(ack.cseq.seq, seq);
    assert.notEqual(
      ack.topVia!.params.find(([n]) => n === 'branch')![1],
      inv.topVia!.params.find(([n]) => n === 'branch')![1],
    );
    // Dialog ids: srf learned them from the wire.
    assert.equal(dlg.id, `${inv.callId};from-tag=${inv.fromTag}`);

    await dlg.modify(SDP_B.replace('a=sendrecv', 'a=sendonly'));
    const reinvite = uas.requests.find((r) => r.method === 'INVITE' && r.toTag)!;
    assert.equal(reinvite.uri, `sip:alice-0x55af@127.0.0.1:${peer.port}`);
    assert.equal(reinvite.cseq.seq, seq + 1);
    assert.equal(reinvite.get('contact'), `<sip:127.0.0.1:${sipPort}>`);
    await waitFor(() => uas.acks.length === 2, 2000, 'ACK for re-INVITE');
    assert.equal(uas.acks[1]!.cseq.seq, seq + 1);

    const infoRes = await dlg.request({
      method: 'INFO',
      headers: { 'Content-Type': 'application/dtmf-relay' },
      body: 'Signal=5\r\nDuration=160\r\n',
    });
    assert.equal(infoRes.status, 200);
    const info = uas.requests.find((r) => r.method === 'INFO')!;
    assert.equal(info.cseq.seq, seq + 2);
    assert.equal(info.body.toString(), 'Signal=5\r\nDuration=160\r\n');

    await dlg.destroy();
    const bye = uas.requests.find((r) => r.method === 'BYE')!;
    assert.equal(bye.cseq.seq, seq + 3);
    assert.equal(bye.uri, `sip:alice-0x55af@127.0.0.1:${peer.port}`);
    await waitFor(() => server.stats().dialogs === 0, 1000, 'dialog gone');
    // Wire shape of the responses srf got for its requests.
    const inviteEcho = tap.sipToApp().find((m) => m.fields[1] === 'response' && m.sip.startsWith('INVITE'))!;
    assert.deepEqual(inviteEcho.fields.slice(3, 9), [
      'OK',
      'application',
      String(Buffer.byteLength(inviteEcho.sip)),
      'udp',
      '127.0.0.1',
      String(sipPort),
    ]);
    assert.equal(inviteEcho.fields[11], 'Msg sent:');
    const ringing = tap.sipToApp().find((m) => m.fields[1] === 'sip' && m.sip.startsWith('SIP/2.0 180'))!;
    assert.deepEqual(ringing.fields.slice(2, 7), [
      'network',
      String(Buffer.byteLength(ringing.sip)),
      'udp',
      '127.0.0.1',
      String(peer.port),
    ]);
    assert.equal(ringing.fields[8], inviteEcho.fields[10]);
    assert.equal(ringing.fields[9], dlg.id);
    assert.equal(ringing.fields.length, 11);
  } finally {
    app.close();
    peer.close();
    tap.close();
    await server.close();
  }
});

test('non-2xx final response is ACKed by the server; srf gets a SipError and its ACK is absorbed', async () => {
  const { server, addrs } = await startServer();
  const app = await connectSrf(addrs.control);
  const peer = await new UdpPeer().bind();
  const uas = scriptedUas(peer, { finalStatus: 486 });
  try {
    await assert.rejects(
      app.srf.createUAC(`sip:busy@127.0.0.1:${peer.port}`, { localSdp: SDP_B }),
      (err: { status?: number }) => err.status === 486,
    );
    await waitFor(() => uas.acks.length >= 1, 1000, 'ACK');
    const ack = uas.acks[0]!;
    const inv = uas.requests.find((r) => r.method === 'INVITE')!;
    assert.equal(
      ack.topVia!.params.find(([n]) => n === 'branch')![1],
      inv.topVia!.params.find(([n]) => n === 'branch')![1],
      'non-2xx ACK reuses the INVITE branch',
    );
    assert.match(ack.get('to')!, /;tag=uas/);
    await sleep(100);
    assert.equal(uas.acks.length, 1, 'the app ACK was not sent on');
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});

test('CANCEL of an app INVITE (srf req.cancel) as srf sends it', async () => {
  const { server, addrs } = await startServer();
  const app = await connectSrf(addrs.control);
  const peer = await new UdpPeer().bind();
  const uas = scriptedUas(peer, { finalStatus: 0 });
  try {
    let inviteReq: { cancel(): void } | undefined;
    const p = app.srf.createUAC(
      `sip:alice@127.0.0.1:${peer.port}`,
      { localSdp: SDP_B },
      {
        cbRequest: (_err: unknown, req: { cancel(): void }) => (inviteReq = req),
        cbProvisional: () => inviteReq!.cancel(),
      },
    );
    await assert.rejects(p, (err: { status?: number }) => err.status === 487);
    const cancel = uas.requests.find((r) => r.method === 'CANCEL')!;
    const inv = uas.requests.find((r) => r.method === 'INVITE')!;
    assert.equal(cancel.uri, inv.uri);
    assert.equal(cancel.cseq.seq, inv.cseq.seq);
    assert.equal(cancel.get('from'), inv.get('from'));
    assert.equal(cancel.get('to'), inv.get('to'));
    assert.equal(cancel.getAll('via')[0], inv.getAll('via')[0]);
    await waitFor(() => uas.acks.length === 1, 1000, 'ACK for 487');
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});

test('UDP INVITE retransmission (Timer A) and Timer B → 408 to the app', async () => {
  const { server, addrs } = await startServer({ timers: { T1: 10 } });
  const app = await connectSrf(addrs.control);
  const peer = await new UdpPeer().bind();
  scriptedUas(peer, { dropInvites: 2 });
  const silent = await new UdpPeer().bind();
  try {
    const dlg = await app.srf.createUAC(`sip:alice@127.0.0.1:${peer.port}`, { localSdp: SDP_B });
    assert.equal(peer.requests((r) => r.method === 'INVITE').length, 3, 'two retransmissions before the answer');
    await dlg.destroy();
    const started = Date.now();
    await assert.rejects(
      app.srf.createUAC(`sip:nobody@127.0.0.1:${silent.port}`, { localSdp: SDP_B }),
      (err: { status?: number }) => err.status === 408,
    );
    assert.ok(Date.now() - started >= 600, 'Timer B is 64*T1');
    const copies = silent.requests((r) => r.method === 'INVITE').length;
    assert.ok(copies >= 6 && copies <= 8, `INVITE copies: ${copies}`);
    // non-INVITE: Timer E/F
    const sent = await app.srf.request(`sip:nobody@127.0.0.1:${silent.port}`, { method: 'OPTIONS' });
    const optionsRes = await new Promise<AppResponse>((r) => sent.on('response', r));
    assert.equal(optionsRes.status, 408);
    await waitFor(() => server.stats().clientTransactions === 0, 2000, 'client transactions drained');
  } finally {
    app.close();
    peer.close();
    silent.close();
    await server.close();
  }
});

test('B2BUA between two raw UDP endpoints; BYE from A ends B (transcript f)', async () => {
  const { server, addrs } = await startServer();
  const peerB = await new UdpPeer().bind();
  const uasB = scriptedUas(peerB);
  const app = await connectSrf(addrs.control, SECRET, (srf: LooseSrf) => {
    srf.invite(async (req, res) => {
      const { uas, uac } = await srf.createB2BUA(req, res, `sip:alice@127.0.0.1:${peerB.port}`, {
        localSdpB: req.body,
        headers: { 'X-App': 'b2b', from: 'sip:carol@localhost', contact: 'sip:carol@localhost' },
      });
      uas.on('destroy', () => uac.destroy());
      uac.on('destroy', () => uas.destroy());
    });
  });
  const peerA = await new UdpPeer().bind();
  const sipPort = addrs.udp!.port;
  try {
    await sleep(30);
    peerA.send(
      sipText(
        [
          `INVITE sip:bob@127.0.0.1:${sipPort} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${peerA.port};branch=z9hG4bK-f-1;rport`,
          'Max-Forwards: 70',
          `From: <sip:carol@127.0.0.1:${peerA.port}>;tag=ftag-f1`,
          `To: <sip:bob@127.0.0.1:${sipPort}>`,
          'Call-ID: scen-f-1@127.0.0.1',
          'CSeq: 1 INVITE',
          `Contact: <sip:carol@127.0.0.1:${peerA.port}>`,
          'Content-Type: application/sdp',
        ],
        SDP_A,
      ),
      sipPort,
    );
    const ringing = await peerA.waitResponse((r) => r.status === 180);
    const ok = await peerA.waitResponse((r) => r.status === 200);
    assert.equal(ok.toTag, ringing.toTag);
    assert.equal(ok.body.toString(), SDP_A);
    const bInvite = uasB.requests.find((r) => r.method === 'INVITE')!;
    assert.notEqual(bInvite.callId, 'scen-f-1@127.0.0.1');
    assert.match(
      bInvite.get('from')!,
      new RegExp(`^<sip:carol@127\\.0\\.0\\.1:${sipPort}>;tag=[A-Za-z0-9]{13}$`),
      'localhost replaced by the server address',
    );
    assert.equal(bInvite.get('contact'), `<sip:carol@127.0.0.1:${sipPort}>`);
    assert.equal(bInvite.get('x-app'), 'b2b');
    await waitFor(() => uasB.acks.length === 1, 1000, 'B-leg ACK');
    peerA.send(
      sipText([
        `ACK sip:127.0.0.1:${sipPort} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peerA.port};branch=z9hG4bK-f-ack;rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@127.0.0.1:${peerA.port}>;tag=ftag-f1`,
        `To: <sip:bob@127.0.0.1:${sipPort}>;tag=${ok.toTag}`,
        'Call-ID: scen-f-1@127.0.0.1',
        'CSeq: 1 ACK',
      ]),
      sipPort,
    );
    await sleep(50);
    peerA.send(
      sipText([
        `BYE sip:127.0.0.1:${sipPort} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peerA.port};branch=z9hG4bK-f-bye;rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@127.0.0.1:${peerA.port}>;tag=ftag-f1`,
        `To: <sip:bob@127.0.0.1:${sipPort}>;tag=${ok.toTag}`,
        'Call-ID: scen-f-1@127.0.0.1',
        'CSeq: 2 BYE',
      ]),
      sipPort,
    );
    const byeOk = await peerA.waitResponse((r) => r.cseq.method === 'BYE');
    assert.equal(byeOk.status, 200);
    await waitFor(() => uasB.requests.find((r) => r.method === 'BYE'), 2000, 'B-leg BYE');
    const byeB = uasB.requests.find((r) => r.method === 'BYE')!;
    assert.equal(byeB.cseq.seq, bInvite.cseq.seq + 1);
    await waitFor(() => server.stats().dialogs === 0, 2000, 'dialogs gone');
    // No 2xx retransmissions to A after its ACK.
    assert.equal(peerA.responses((r) => r.status === 200 && r.cseq.method === 'INVITE').length, 1);
  } finally {
    app.close();
    peerA.close();
    peerB.close();
    await server.close();
  }
});
