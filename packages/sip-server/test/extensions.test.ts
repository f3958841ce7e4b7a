/** Phase 2 SIP extensions: cdr events, PRACK/100rel both ways, early UPDATE, Replaces and session timers pass-through. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, type SipRequest } from '@conclave/sip-message';
import { SDP_A, SDP_B, SECRET, UdpPeer, connectSrf, sipText, sleep, startServer, waitFor } from './helpers.ts';

function inviteText(peer: UdpPeer, id: string, extra: string[] = []): string {
  return sipText(
    [
      `INVITE sip:bob@127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-${id}-1;rport`,
      'Max-Forwards: 70',
      `From: <sip:carol@127.0.0.1:${peer.port}>;tag=f-${id}`,
      '<sip:bob@127.0.0.1>'.replace(/^/, 'To: '),
      `Call-ID: ${id}@127.0.0.1`,
      'CSeq: 1 INVITE',
      `Contact: <sip:carol@127.0.0.1:${peer.port}>`,
      ...extra,
      'Content-Type: application/sdp',
    ],
    SDP_A,
  );
}

function inDialogText(
  peer: UdpPeer,
  id: string,
  method: string,
  cseq: number,
  toTag: string,
  extra: string[] = [],
  body = '',
): string {
  return sipText(
    [
      `${method} sip:127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-${id}-${method}-${cseq};rport`,
      'Max-Forwards: 70',
      `From: <sip:carol@127.0.0.1:${peer.port}>;tag=f-${id}`,
      `To: <sip:bob@127.0.0.1>;tag=${toTag}`,
      `Call-ID: ${id}@127.0.0.1`,
      `CSeq: ${cseq} ${method}`,
      ...extra,
    ],
    body,
  );
}

test('cdr:attempt / cdr:start / cdr:stop for an incoming call (drachtio format)', async () => {
  const { server, addrs } = await startServer();
  const cdrs: string[] = [];
  const app = await connectSrf(addrs.control, SECRET, (srf) => {
    srf.on('cdr:attempt', (source: string, time: string, msg: { method: string }) =>
      cdrs.push(`attempt ${source} ${msg.method} ${/^\d\d:\d\d:\d\d\.\d{6}$/.test(time)}`),
    );
    srf.on('cdr:start', (source: string, _time: string, role: string, msg: { status: number }) =>
      cdrs.push(`start ${source} ${role} ${msg.status}`),
    );
    srf.on('cdr:stop', (source: string, _time: string, reason: string, msg: { method?: string; status?: number }) =>
      cdrs.push(`stop ${source} ${reason} ${msg.method ?? msg.status}`),
    );
    srf.invite((req, res) => {
      if (req.get('Call-ID').startsWith('cdr-busy')) res.send(486);
      else void srf.createUAS(req, res, { localSdp: SDP_B });
    });
  });
  const peer = await new UdpPeer().bind();
  try {
    await sleep(50);
    peer.send(inviteText(peer, 'cdr-ok'), addrs.udp!.port);
    const ok = await peer.waitResponse((r) => r.status === 200);
    peer.send(inDialogText(peer, 'cdr-ok', 'ACK', 1, ok.toTag!), addrs.udp!.port);
    await sleep(30);
    peer.send(inDialogText(peer, 'cdr-ok', 'BYE', 2, ok.toTag!), addrs.udp!.port);
    await peer.waitResponse((r) => r.cseq.method === 'BYE');
    peer.send(inviteText(peer, 'cdr-busy'), addrs.udp!.port);
    await peer.waitResponse((r) => r.status === 486);
    await waitFor(() => cdrs.length === 5, 2000, 'five cdrs');
    assert.deepEqual(cdrs, [
      'attempt network INVITE true',
      'start application uas 200',
      'stop network normal-release BYE',
      'attempt network INVITE true',
      'stop application call-rejected 486',
    ]);
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});

test('100rel as UAS: RSeq added, reliable 183 retransmitted until PRACK, PRACK reaches the app', async () => {
  const { server, addrs } = await startServer({ timers: { T1: 20 } });
  let prackSeen = false;
  const app = await connectSrf(addrs.control, SECRET, (srf) => {
    srf.invite((_req, res) => {
      res.send(
        183,
        { headers: { Require: '100rel', 'Content-Type': 'application/sdp' }, body: SDP_B },
        () => {},
        () => {
          prackSeen = true;
          setTimeout(() => res.send(200, { body: SDP_B }), 20);
        },
      );
    });
  });
  const peer = await new UdpPeer().bind();
  try {
    await sleep(50);
    peer.send(inviteText(peer, 'rel', ['Supported: 100rel']), addrs.udp!.port);
    const p183 = await peer.waitResponse((r) => r.status === 183);
    const rseq = Number(p183.get('rseq'));
    assert.ok(rseq > 0, 'RSeq present');
    assert.equal(p183.get('require'), '100rel');
    await waitFor(() => peer.responses((r) => r.status === 183).length >= 3, 2000, 'retransmitted 183');
    peer.send(inDialogText(peer, 'rel', 'PRACK', 2, p183.toTag!, [`RAck: ${rseq} 1 INVITE`]), addrs.udp!.port);
    const prackOk = await peer.waitResponse((r) => r.cseq.method === 'PRACK');
    assert.equal(prackOk.status, 200);
    assert.ok(prackSeen);
    await peer.waitResponse((r) => r.status === 200 && r.cseq.method === 'INVITE');
    const n = peer.responses((r) => r.status === 183).length;
    await sleep(200);
    assert.equal(peer.responses((r) => r.status === 183).length, n, 'no 183 after PRACK');
    peer.send(inDialogText(peer, 'rel', 'ACK', 1, p183.toTag!), addrs.udp!.port);
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});

test('100rel as UAC: srf PRACKs a reliable 183 to its Contact with RAck and the next CSeq', async () => {
  const { server, addrs } = await startServer();
  const app = await connectSrf(addrs.control);
  const peer = await new UdpPeer().bind();
  const got: SipRequest[] = [];
  peer.socket.on('message', (buf, rinfo) => {
    const m = parseMessage(buf);
    if (m.kind !== 'request') return;
    got.push(m);
    const vias = m.getAll('via').map((v) => `Via: ${v}`);
    const base = (status: string, to: string, extra: string[] = [], body = '') =>
      sipText(
        [
          `SIP/2.0 ${status}`,
          ...vias,
          `From: ${m.get('from')}`,
          `To: ${to}`,
          `Call-ID: ${m.callId}`,
          `CSeq: ${m.get('cseq')}`,
          ...extra,
        ],
        body,
      );
    const contact = `Contact: <sip:uas@127.0.0.1:${peer.port}>`;
    if (m.method === 'INVITE') {
      peer.socket.send(
        base(
          '183 Session Progress',
          `${m.get('to')};tag=rel-uas`,
          [contact, 'Require: 100rel', 'RSeq: 77', 'Content-Type: application/sdp'],
          SDP_A,
        ),
        rinfo.port,
        rinfo.address,
      );
    } else if (m.method === 'PRACK') {
      peer.socket.send(base('200 OK', m.get('to')!), rinfo.port, rinfo.address);
      const inv = got.find((r) => r.method === 'INVITE')!;
      const invVias = inv.getAll('via').map((v) => `Via: ${v}`);
      peer.socket.send(
        sipText(
          [
            'SIP/2.0 200 OK',
            ...invVias,
            `From: ${inv.get('from')}`,
            `To: ${inv.get('to')};tag=rel-uas`,
            `Call-ID: ${inv.callId}`,
            `CSeq: ${inv.get('cseq')}`,
            contact,
            'Content-Type: application/sdp',
          ],
          SDP_A,
        ),
        rinfo.port,
        rinfo.address,
      );
    } else if (m.method === 'BYE') {
      peer.socket.send(base('200 OK', m.get('to')!), rinfo.port, rinfo.address);
    }
  });
  try {
    const dlg = await app.srf.createUAC(`sip:uas@127.0.0.1:${peer.port}`, {
      localSdp: SDP_B,
      headers: { Supported: '100rel' },
    });
    const inv = got.find((r) => r.method === 'INVITE')!;
    const prack = got.find((r) => r.method === 'PRACK')!;
    assert.equal(prack.uri, `sip:uas@127.0.0.1:${peer.port}`);
    assert.equal(prack.get('rack'), `77 ${inv.cseq.seq} INVITE`);
    assert.equal(prack.cseq.seq, inv.cseq.seq + 1);
    assert.equal(prack.toTag, 'rel-uas');
    await waitFor(() => got.some((r) => r.method === 'ACK'), 1000, 'ACK');
    assert.equal(got.find((r) => r.method === 'ACK')!.cseq.seq, inv.cseq.seq);
    await dlg.destroy();
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});

test('UPDATE in an early dialog reaches the app (req.on("update")); Replaces and session-timer headers pass through', async () => {
  const { server, addrs } = await startServer();
  const seen: Record<string, string> = {};
  const app = await connectSrf(addrs.control, SECRET, (srf) => {
    srf.invite((req, res) => {
      seen['replaces'] = req.get('Replaces');
      seen['session-expires'] = req.get('Session-Expires');
      req.on('update', (ureq: { body: string }, ures: { send(s: number, o: unknown): void }) => {
        seen['update'] = ureq.body.slice(0, 3);
        ures.send(200, { body: SDP_B, headers: { 'Content-Type': 'application/sdp' } });
        setTimeout(
          () => res.send(200, { body: SDP_B, headers: { 'Session-Expires': '1800;refresher=uac', Require: 'timer' } }),
          20,
        );
      });
      res.send(180);
    });
  });
  const peer = await new UdpPeer().bind();
  try {
    await sleep(50);
    peer.send(
      inviteText(peer, 'upd', [
        'Replaces: old-call@host;to-tag=a;from-tag=b',
        'Session-Expires: 1800',
        'Min-SE: 90',
        'Supported: timer',
      ]),
      addrs.udp!.port,
    );
    const ringing = await peer.waitResponse((r) => r.status === 180);
    peer.send(
      inDialogText(
        peer,
        'upd',
        'UPDATE',
        2,
        ringing.toTag!,
        [`Contact: <sip:carol@127.0.0.1:${peer.port}>`, 'Content-Type: application/sdp'],
        SDP_A,
      ),
      addrs.udp!.port,
    );
    const upd = await peer.waitResponse((r) => r.cseq.method === 'UPDATE');
    assert.equal(upd.status, 200);
    const ok = await peer.waitResponse((r) => r.status === 200 && r.cseq.method === 'INVITE');
    assert.equal(ok.get('session-expires'), '1800;refresher=uac');
    assert.equal(ok.get('require'), 'timer');
    assert.deepEqual(seen, { replaces: 'old-call@host;to-tag=a;from-tag=b', 'session-expires': '1800', update: 'v=0' });
    peer.send(inDialogText(peer, 'upd', 'ACK', 1, ok.toTag!), addrs.udp!.port);
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});
