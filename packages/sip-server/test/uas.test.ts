/** Incoming calls: createUAS with ACK and BYE, CANCEL, ACK timeout, REFER/NOTIFY, SUBSCRIBE/NOTIFY. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
  type LooseSrf,
} from './helpers.ts';

function invite(peer: UdpPeer, sipPort: number, id: string, user = 'bob', extra: string[] = [], cseq = 1): string {
  const text = sipText(
    [
      `INVITE sip:${user}@127.0.0.1:${sipPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-${id}-1;rport`,
      'Max-Forwards: 70',
      `From: <sip:carol@127.0.0.1:${peer.port}>;tag=ftag-${id}`,
      `To: <sip:${user}@127.0.0.1:${sipPort}>`,
      `Call-ID: scen-${id}@127.0.0.1`,
      `CSeq: ${cseq} INVITE`,
      `Contact: <sip:carol@127.0.0.1:${peer.port}>`,
      'User-Agent: scripted-uac/1.0',
      ...extra,
      'Content-Type: application/sdp',
    ],
    SDP_A,
  );
  peer.send(text, sipPort);
  return text;
}

function inDialog(
  peer: UdpPeer,
  sipPort: number,
  id: string,
  method: string,
  cseq: number,
  toTag: string,
  target: string,
  extra: string[] = [],
  body = '',
): void {
  peer.send(
    sipText(
      [
        `${method} ${target} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-${id}-${method.toLowerCase()}-${cseq};rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@127.0.0.1:${peer.port}>;tag=ftag-${id}`,
        `To: <sip:bob@127.0.0.1:${sipPort}>;tag=${toTag}`,
        `Call-ID: scen-${id}@127.0.0.1`,
        `CSeq: ${cseq} ${method}`,
        ...extra,
      ],
      body,
    ),
    sipPort,
  );
}

/** An app that answers every INVITE with createUAS and records 'dialog', 'ack' and 'destroy' in `events`. */
function answeringApp(control: { host: string; port: number }, events: string[], headers: Record<string, string> = {}) {
  return connectSrf(control, SECRET, (srf) => {
    srf.invite(async (req, res) => {
      const dlg = await srf.createUAS(req, res, { localSdp: SDP_B, headers });
      events.push('dialog');
      dlg.on('ack', () => events.push('ack'));
      dlg.on('destroy', () => events.push('destroy'));
    });
  });
}

test('UAS INVITE: 100 Trying before the app sees it, 200 with default Contact, ACK and BYE forwarded (transcript d)', async () => {
  const { server, addrs } = await startServer();
  const tap = await new WireTap(addrs.control).listen();
  const events: string[] = [];
  const app = await answeringApp({ host: '127.0.0.1', port: tap.port }, events, { 'X-App': 'uas' });
  const peer = await new UdpPeer().bind();
  const sipPort = addrs.udp!.port;
  try {
    await sleep(30);
    invite(peer, sipPort, 'd', 'uas');
    const trying = await peer.waitResponse((r) => r.status === 100);
    assert.equal(trying.toTag, undefined);
    const tryingRaw = peer.received.find((x) => x.msg === trying)!.raw;
    assert.equal(
      tryingRaw,
      [
        'SIP/2.0 100 Trying',
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-d-1;rport=${peer.port}`,
        `From: <sip:carol@127.0.0.1:${peer.port}>;tag=ftag-d`,
        `To: <sip:uas@127.0.0.1:${sipPort}>`,
        'Call-ID: scen-d@127.0.0.1',
        'CSeq: 1 INVITE',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    const ok = await peer.waitResponse((r) => r.status === 200);
    const okLines = peer.received.find((x) => x.msg === ok)!.raw.split('\r\n');
    assert.deepEqual(okLines.slice(5, 10), [
      'CSeq: 1 INVITE',
      `Contact: <sip:127.0.0.1:${sipPort}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(SDP_B)}`,
      'X-App: uas',
    ]);
    const toTag = ok.toTag!;
    assert.match(toTag, /^[A-Za-z0-9]{13}$/);
    // The 100 went out before the INVITE reached the app.
    const inviteFrame = tap.sipToApp().find((m) => m.fields[1] === 'sip' && m.sip.startsWith('INVITE'))!;
    assert.ok(inviteFrame);
    const dialogId = 'scen-d@127.0.0.1;from-tag=ftag-d';
    const echo = await waitFor(
      () => tap.sipToApp().find((m) => m.fields[1] === 'response' && m.sip.startsWith('SIP/2.0 200')),
      2000,
      'echo',
    );
    assert.deepEqual(echo.fields.slice(6, 9), ['udp', '127.0.0.1', String(peer.port)]);
    assert.deepEqual(echo.fields.slice(10), [inviteFrame.fields[8], dialogId, '', 'Msg sent:', '']);

    inDialog(peer, sipPort, 'd', 'ACK', 1, toTag, `sip:127.0.0.1:${sipPort}`);
    await waitFor(() => events.includes('ack'), 2000, 'ack event');
    const ackFrame = tap.sipToApp().find((m) => m.fields[1] === 'sip' && m.sip.startsWith('ACK'))!;
    assert.equal(ackFrame.fields[4], '', 'ACK for 2xx has an empty transport field');
    assert.equal(ackFrame.fields[8], inviteFrame.fields[8], 'ACK carries the INVITE transaction id');
    assert.equal(ackFrame.fields[9], dialogId);
    // No more 2xx retransmissions once ACKed.
    const count = peer.responses((r) => r.status === 200).length;
    await sleep(700);
    assert.equal(peer.responses((r) => r.status === 200).length, count);

    inDialog(peer, sipPort, 'd', 'BYE', 2, toTag, `sip:127.0.0.1:${sipPort}`);
    const byeOk = await peer.waitResponse((r) => r.cseq.method === 'BYE');
    assert.equal(byeOk.status, 200);
    await waitFor(() => events.includes('destroy'), 2000, 'destroy');
    const byeFrame = tap.sipToApp().find((m) => m.fields[1] === 'sip' && m.sip.startsWith('BYE'))!;
    assert.equal(byeFrame.fields[4], 'udp');
    assert.equal(byeFrame.fields[9], dialogId);
    const byeEcho = await waitFor(
      () => tap.sipToApp().find((m) => m.fields[1] === 'response' && m.sip.includes('CSeq: 2 BYE')),
      2000,
      'bye echo',
    );
    assert.deepEqual(byeEcho.fields.slice(6, 7), ['']);
    assert.deepEqual(byeEcho.fields.slice(11), ['', '', 'Msg sent:', ''], 'dialog is gone once BYE is answered');
    await waitFor(() => server.stats().dialogs === 0, 1000, 'dialog removed');
  } finally {
    app.close();
    peer.close();
    tap.close();
    await server.close();
  }
});

test('an INVITE with CSeq 0 whose ACK carries another CSeq (JsSIP does that) still confirms the dialog', async () => {
  // JsSIP 3.13.8 picks a random initial CSeq in 0..9999 and treats 0 as "none": its ACK then gets a new
  // random CSeq. One call in 10,000 would otherwise never see its ACK and end after 32 s.
  const { server, addrs } = await startServer();
  const events: string[] = [];
  const app = await answeringApp(addrs.control, events);
  const peer = await new UdpPeer().bind();
  const sipPort = addrs.udp!.port;
  try {
    await sleep(30);
    invite(peer, sipPort, 'cs0', 'uas', [], 0);
    const ok = await peer.waitResponse((r) => r.status === 200);
    inDialog(peer, sipPort, 'cs0', 'ACK', 4711, ok.toTag!, `sip:127.0.0.1:${sipPort}`);
    await waitFor(() => events.includes('ack'), 2000, 'ack event');
    const count = peer.responses((r) => r.status === 200).length;
    await sleep(700);
    assert.equal(peer.responses((r) => r.status === 200).length, count, 'no 2xx retransmissions once ACKed');
    inDialog(peer, sipPort, 'cs0', 'BYE', 4712, ok.toTag!, `sip:127.0.0.1:${sipPort}`);
    assert.equal((await peer.waitResponse((r) => r.cseq.method === 'BYE')).status, 200);
    await waitFor(() => events.includes('destroy'), 2000, 'destroy');
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});

test('CANCEL: server answers 200 + 487 itself with the 180 To-tag, then tells the app (transcript g)', async () => {
  const { server, addrs } = await startServer();
  const tap = await new WireTap(addrs.control).listen();
  let cancelled = false;
  const app = await connectSrf({ host: '127.0.0.1', port: tap.port }, SECRET, (srf) => {
    srf.invite((req, res) => {
      res.send(180);
      req.on('cancel', () => (cancelled = true));
    });
  });
  const peer = await new UdpPeer().bind();
  const sipPort = addrs.udp!.port;
  try {
    await sleep(30);
    invite(peer, sipPort, 'g');
    const ringing = await peer.waitResponse((r) => r.status === 180);
    const tag = ringing.toTag!;
    peer.send(
      sipText([
        `CANCEL sip:bob@127.0.0.1:${sipPort} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-g-1;rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@127.0.0.1:${peer.port}>;tag=ftag-g`,
        `To: <sip:bob@127.0.0.1:${sipPort}>`,
        'Call-ID: scen-g@127.0.0.1',
        'CSeq: 1 CANCEL',
      ]),
      sipPort,
    );
    const c200 = await peer.waitResponse((r) => r.cseq.method === 'CANCEL');
    const r487 = await peer.waitResponse((r) => r.status === 487);
    assert.equal(c200.status, 200);
    assert.equal(c200.toTag, tag);
    assert.equal(r487.toTag, tag);
    assert.equal(r487.cseq.method, 'INVITE');
    const order = peer.received.map((x) => (x.msg.kind === 'response' ? `${x.msg.status} ${x.msg.cseq.method}` : ''));
    assert.deepEqual(order, ['100 INVITE', '180 INVITE', '200 CANCEL', '487 INVITE']);
    await waitFor(() => cancelled, 2000, 'cancel event');
    const inviteFrame = tap.sipToApp().find((m) => m.fields[1] === 'sip' && m.sip.startsWith('INVITE'))!;
    const cancelFrame = tap.sipToApp().find((m) => m.fields[1] === 'sip' && m.sip.startsWith('CANCEL'))!;
    assert.equal(cancelFrame.fields[8], inviteFrame.fields[8]);
    assert.equal(cancelFrame.fields[9], 'scen-g@127.0.0.1;from-tag=ftag-g');
    // The ACK for the 487 is absorbed; the 487 stops being retransmitted.
    peer.send(
      sipText([
        `ACK sip:bob@127.0.0.1:${sipPort} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-g-1;rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@127.0.0.1:${peer.port}>;tag=ftag-g`,
        `To: <sip:bob@127.0.0.1:${sipPort}>;tag=${tag}`,
        'Call-ID: scen-g@127.0.0.1',
        'CSeq: 1 ACK',
      ]),
      sipPort,
    );
    await sleep(700);
    assert.equal(peer.responses((r) => r.status === 487).length, 1);
    assert.equal(tap.sipToApp().filter((m) => m.fields[1] === 'sip' && m.sip.startsWith('ACK')).length, 0);
  } finally {
    app.close();
    peer.close();
    tap.close();
    await server.close();
  }
});

test('2xx without ACK: retransmitted with T1 doubling capped at T2, then BYE with Reason and an unsolicited message (transcript k)', async () => {
  const { server, addrs } = await startServer({ timers: { T1: 20 } });
  const tap = await new WireTap(addrs.control).listen();
  let destroyReason = '';
  const app = await connectSrf({ host: '127.0.0.1', port: tap.port }, SECRET, (srf) => {
    srf.invite(async (req, res) => {
      const dlg = await srf.createUAS(req, res, { localSdp: SDP_B });
      dlg.on('destroy', (_bye: unknown, reason: string) => (destroyReason = reason));
    });
  });
  const peer = await new UdpPeer().bind();
  const sipPort = addrs.udp!.port;
  try {
    await sleep(30);
    invite(peer, sipPort, 'k', 'noack');
    const bye = await peer.waitRequest((r) => r.method === 'BYE', 3000);
    const oks = peer.received.filter((x) => x.msg.kind === 'response' && x.msg.status === 200);
    // Original + 10 retransmissions at 20, 40, 80, 160 ms then every T2 = 160 ms (T2 scales with T1: 4 s at 500 ms),
    // i.e. 11 copies as in the transcript; a loaded machine may delay the last one past 64*T1.
    assert.ok(oks.length >= 10 && oks.length <= 11, `copies: ${oks.length}`);
    const gaps = oks.slice(1).map((x, i) => x.at - oks[i]!.at);
    assert.ok(
      gaps[0]! < gaps[2]! && gaps[2]! < gaps[4]! && gaps.slice(4).every((g) => g >= 140 && g < 400),
      `gaps ${gaps.join(',')}`,
    );
    assert.equal(bye.uri, `sip:carol@127.0.0.1:${peer.port}`);
    assert.equal(bye.cseq.seq, 2);
    assert.equal(bye.get('reason'), 'SIP;cause=200;text="ACK timeout"');
    assert.equal(bye.get('from'), `<sip:noack@127.0.0.1:${sipPort}>;tag=${oks[0]!.msg.toTag}`);
    assert.equal(bye.get('to'), `<sip:carol@127.0.0.1:${peer.port}>;tag=ftag-k`);
    const raw = peer.received.find((x) => x.msg === bye)!.raw.split('\r\n');
    assert.match(
      raw[1]!,
      new RegExp(`^Via: SIP/2\\.0/UDP 127\\.0\\.0\\.1:${sipPort};rport;branch=z9hG4bK[A-Za-z0-9]{13}$`),
    );
    assert.deepEqual(raw.slice(2, 3), ['Max-Forwards: 70']);
    await waitFor(() => destroyReason === 'ACK timeout', 2000, 'app sees the BYE');
    const unsolicited = tap.sipToApp().find((m) => m.fields[1] === 'sip' && m.fields[2] === 'application')!;
    assert.deepEqual(unsolicited.fields.slice(4, 7), ['udp', '127.0.0.1', String(sipPort)]);
    assert.deepEqual(unsolicited.fields.slice(8), ['unsolicited', 'scen-k@127.0.0.1;from-tag=ftag-k', '']);
    // The peer answers the BYE; nothing is left behind.
    peer.send(
      sipText([
        'SIP/2.0 200 OK',
        `Via: ${bye.getAll('via')[0]}`,
        `From: ${bye.get('from')}`,
        `To: ${bye.get('to')}`,
        'Call-ID: scen-k@127.0.0.1',
        'CSeq: 2 BYE',
      ]),
      sipPort,
    );
    await waitFor(
      () => {
        const s = server.stats();
        return s.dialogs === 0 && s.clientTransactions === 0 && s.serverTransactions === 0;
      },
      3000,
      'state drained',
    );
  } finally {
    app.close();
    peer.close();
    tap.close();
    await server.close();
  }
});

test('in-dialog REFER → 202 + NOTIFY with CSeq = INVITE CSeq + 1 to the Contact (transcript h)', async () => {
  const { server, addrs } = await startServer();
  const app = await connectSrf(addrs.control, SECRET, (srf: LooseSrf) => {
    srf.invite(async (req, res) => {
      const dlg = await srf.createUAS(req, res, { localSdp: SDP_B });
      dlg.on('refer', async (_req: unknown, r: { send(status: number): void }) => {
        r.send(202);
        await dlg.request({
          method: 'NOTIFY',
          headers: {
            Event: 'refer',
            'Subscription-State': 'terminated;reason=noresource',
            'Content-Type': 'message/sipfrag;version=2.0',
          },
          body: 'SIP/2.0 200 OK\r\n',
        });
      });
    });
  });
  const peer = await new UdpPeer().bind();
  const sipPort = addrs.udp!.port;
  try {
    await sleep(30);
    invite(peer, sipPort, 'h');
    const ok = await peer.waitResponse((r) => r.status === 200);
    const tag = ok.toTag!;
    inDialog(peer, sipPort, 'h', 'ACK', 1, tag, `sip:127.0.0.1:${sipPort}`);
    inDialog(peer, sipPort, 'h', 'REFER', 2, tag, `sip:127.0.0.1:${sipPort}`, [
      `Contact: <sip:carol@127.0.0.1:${peer.port}>`,
      'Refer-To: <sip:transfer-target@127.0.0.1:5090>',
      `Referred-By: <sip:carol@127.0.0.1:${peer.port}>`,
    ]);
    const accepted = await peer.waitResponse((r) => r.cseq.method === 'REFER');
    assert.equal(accepted.status, 202);
    const notify = await peer.waitRequest((r) => r.method === 'NOTIFY');
    assert.equal(notify.uri, `sip:carol@127.0.0.1:${peer.port}`);
    assert.equal(notify.cseq.seq, 2);
    assert.equal(notify.get('to'), `<sip:carol@127.0.0.1:${peer.port}>;tag=ftag-h`);
    assert.equal(notify.get('from'), `<sip:bob@127.0.0.1:${sipPort}>;tag=${tag}`);
    const raw = peer.received.find((x) => x.msg === notify)!.raw;
    assert.match(
      raw,
      /CSeq: 2 NOTIFY\r\nEvent: refer\r\nSubscription-State: terminated;reason=noresource\r\nContent-Type: message\/sipfrag;version=2\.0\r\nContent-Length: 16\r\n\r\nSIP\/2\.0 200 OK\r\n$/,
    );
    peer.send(
      sipText([
        'SIP/2.0 200 OK',
        `Via: ${notify.getAll('via')[0]}`,
        `From: ${notify.get('from')}`,
        `To: ${notify.get('to')}`,
        'Call-ID: scen-h@127.0.0.1',
        'CSeq: 2 NOTIFY',
      ]),
      sipPort,
    );
    await sleep(50);
    assert.equal(server.stats().dialogs, 1, 'a terminated REFER subscription does not end the INVITE dialog');
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});

test('SUBSCRIBE → 202 with Contact, NOTIFYs CSeq 2 and 3, dialog ends with terminated NOTIFY (transcript i)', async () => {
  const { server, addrs } = await startServer();
  const app = await connectSrf(addrs.control, SECRET, (srf: LooseSrf) => {
    srf.subscribe(async (req, res) => {
      const dlg = await srf.createUAS(req, res, { headers: { Expires: req.get('Expires') } });
      await dlg.request({
        method: 'NOTIFY',
        headers: {
          Event: 'presence',
          'Subscription-State': 'active;expires=3600',
          'Content-Type': 'application/pidf+xml',
        },
        body: '<presence/>',
      });
      await dlg.request({
        method: 'NOTIFY',
        headers: { Event: 'presence', 'Subscription-State': 'terminated;reason=timeout' },
      });
    });
  });
  const peer = await new UdpPeer().bind();
  const sipPort = addrs.udp!.port;
  // Auto-answer NOTIFYs.
  const answered = new Set<number>();
  const timer = setInterval(() => {
    for (const n of peer.requests((r) => r.method === 'NOTIFY')) {
      if (answered.has(n.cseq.seq)) continue;
      answered.add(n.cseq.seq);
      peer.send(
        sipText([
          'SIP/2.0 200 OK',
          `Via: ${n.getAll('via')[0]}`,
          `From: ${n.get('from')}`,
          `To: ${n.get('to')}`,
          `Call-ID: ${n.callId}`,
          `CSeq: ${n.cseq.seq} NOTIFY`,
        ]),
        sipPort,
      );
    }
  }, 5);
  try {
    await sleep(30);
    peer.send(
      sipText([
        `SUBSCRIBE sip:bob@127.0.0.1:${sipPort} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-i-1;rport`,
        'Max-Forwards: 70',
        `From: <sip:carol@127.0.0.1:${peer.port}>;tag=ftag-i1`,
        `To: <sip:bob@127.0.0.1:${sipPort}>`,
        'Call-ID: scen-i-1@127.0.0.1',
        'CSeq: 1 SUBSCRIBE',
        `Contact: <sip:carol@127.0.0.1:${peer.port}>`,
        'Event: presence',
        'Expires: 3600',
        'Accept: application/pidf+xml',
      ]),
      sipPort,
    );
    const r202 = await peer.waitResponse((r) => r.cseq.method === 'SUBSCRIBE');
    assert.equal(r202.status, 202);
    const lines = peer.received.find((x) => x.msg === r202)!.raw.split('\r\n');
    assert.deepEqual(lines.slice(5, 9), [
      'CSeq: 1 SUBSCRIBE',
      `Contact: <sip:127.0.0.1:${sipPort}>`,
      'Expires: 3600',
      'Content-Length: 0',
    ]);
    assert.equal(peer.responses((r) => r.status === 100).length, 0);
    await waitFor(() => answered.size === 2, 2000, 'two NOTIFYs');
    assert.deepEqual([...answered], [2, 3]);
    await waitFor(() => server.stats().dialogs === 0, 2000, 'subscription dialog removed');
  } finally {
    clearInterval(timer);
    app.close();
    peer.close();
    await server.close();
  }
});

test('in-dialog request for an unknown dialog gets 481; retransmitted INVITE is absorbed', async () => {
  const { server, addrs } = await startServer();
  let invites = 0;
  const app = await connectSrf(addrs.control, SECRET, (srf: LooseSrf) => {
    srf.invite((_req, res) => {
      invites++;
      setTimeout(() => res.send(486), 100);
    });
  });
  const peer = await new UdpPeer().bind();
  const sipPort = addrs.udp!.port;
  try {
    await sleep(30);
    inDialog(peer, sipPort, 'x', 'BYE', 5, 'nosuchtag', `sip:127.0.0.1:${sipPort}`);
    const r = await peer.waitResponse((x) => x.cseq.method === 'BYE');
    assert.equal(r.status, 481);
    invite(peer, sipPort, 'rtx');
    await peer.waitResponse((x) => x.status === 100);
    invite(peer, sipPort, 'rtx');
    await waitFor(() => peer.responses((x) => x.status === 100).length === 2, 1000, 'second 100');
    const busy = await peer.waitResponse((x) => x.status === 486);
    assert.equal(invites, 1);
    // 486 is retransmitted (Timer G) until ACKed.
    await waitFor(() => peer.responses((x) => x.status === 486).length >= 2, 2000, '486 retransmission');
    inDialog(peer, sipPort, 'rtx', 'ACK', 1, busy.toTag!, `sip:bob@127.0.0.1:${sipPort}`);
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});
