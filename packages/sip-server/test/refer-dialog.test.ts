/**
 * A REFER from outside any dialog, answered 2xx by the app, creates a dialog (the implicit subscription,
 * RFC 3515 §2.4.4, RFC 6665 §4.2) exactly as a SUBSCRIBE does: the app gets its id with the 202, sends
 * its progress NOTIFYs in it, and the dialog ends with the final NOTIFY (accepted, or timed out).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SECRET,
  UdpPeer,
  WireTap,
  connectSrf,
  sipText,
  waitFor,
  startServer,
  type AppDialog,
  type LooseSrf,
} from './helpers.ts';

function refer(peer: UdpPeer, sipPort: number, id: string): void {
  peer.send(
    sipText([
      `REFER sip:conf-1@127.0.0.1:${sipPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-${id}-1;rport`,
      'Max-Forwards: 70',
      `From: <sip:carol@127.0.0.1:${peer.port}>;tag=ftag-${id}`,
      `To: <sip:conf-1@127.0.0.1:${sipPort}>`,
      `Call-ID: scen-${id}@127.0.0.1`,
      'CSeq: 7 REFER',
      `Contact: <sip:carol@127.0.0.1:${peer.port}>`,
      'Refer-To: <sip:dave@127.0.0.1:5090>',
      `Referred-By: <sip:carol@127.0.0.1:${peer.port}>`,
    ]),
    sipPort,
  );
}

/** An app that accepts every REFER with createUAS and reports progress: 100 Trying, then 200 OK (final). */
function referApp(control: { host: string; port: number }, done: (err?: unknown) => void) {
  return connectSrf(control, SECRET, (srf: LooseSrf) => {
    srf.refer(async (req, res) => {
      try {
        const dlg: AppDialog = await srf.createUAS(req, res, { headers: {} });
        const notify = (state: string, frag: string) =>
          dlg.request({
            method: 'NOTIFY',
            headers: {
              Event: 'refer;id=7',
              'Subscription-State': state,
              'Content-Type': 'message/sipfrag;version=2.0',
            },
            body: `${frag}\r\n`,
          });
        await notify('active;expires=60', 'SIP/2.0 100 Trying');
        await notify('terminated;reason=noresource', 'SIP/2.0 200 OK');
        done();
      } catch (err) {
        done(err);
      }
    });
  });
}

/** 200 OK to a NOTIFY the peer received. */
function answer(peer: UdpPeer, sipPort: number, n: ReturnType<UdpPeer['requests']>[number]): void {
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

test('out-of-dialog REFER → 202 with a dialog id; the refer NOTIFYs go out in that dialog; the final one ends it', async () => {
  const { server, addrs } = await startServer();
  const tap = await new WireTap(addrs.control).listen();
  const outcome: unknown[] = [];
  const app = await referApp({ host: '127.0.0.1', port: tap.port }, (err) => outcome.push(err ?? 'ok'));
  const peer = await new UdpPeer().bind();
  const sipPort = addrs.udp!.port;
  const answered = new Set<number>();
  const timer = setInterval(() => {
    for (const n of peer.requests((r) => r.method === 'NOTIFY' && !answered.has(r.cseq.seq))) {
      answered.add(n.cseq.seq);
      answer(peer, sipPort, n);
    }
  }, 5);
  try {
    refer(peer, sipPort, 'r1');
    const accepted = await peer.waitResponse((r) => r.cseq.method === 'REFER');
    assert.equal(accepted.status, 202);
    assert.equal(accepted.get('contact'), `<sip:127.0.0.1:${sipPort}>`);
    const toTag = accepted.toTag!;
    assert.ok(toTag);

    const dialogId = 'scen-r1@127.0.0.1;from-tag=ftag-r1';
    const echo = await waitFor(
      () => tap.sipToApp().find((m) => m.fields[1] === 'response' && m.sip.startsWith('SIP/2.0 202')),
      2000,
      "the 202's echo",
    );
    assert.equal(echo.fields[11], dialogId, 'the 202 reports the dialog it created');

    await waitFor(() => outcome.length > 0, 3000, 'both NOTIFYs answered');
    assert.deepEqual(outcome, ['ok']);
    const notifies = peer.requests((r) => r.method === 'NOTIFY');
    assert.equal(notifies.length, 2);
    assert.deepEqual(
      notifies.map((n) => [n.cseq.seq, n.body.toString()]),
      [
        [8, 'SIP/2.0 100 Trying\r\n'],
        [9, 'SIP/2.0 200 OK\r\n'],
      ],
    );
    for (const n of notifies) {
      assert.equal(n.uri, `sip:carol@127.0.0.1:${peer.port}`, "to the REFER's Contact");
      assert.equal(n.callId, 'scen-r1@127.0.0.1');
      assert.equal(n.get('from'), `<sip:conf-1@127.0.0.1:${sipPort}>;tag=${toTag}`);
      assert.equal(n.get('to'), `<sip:carol@127.0.0.1:${peer.port}>;tag=ftag-r1`);
      assert.equal(n.get('event'), 'refer;id=7');
      assert.equal(n.get('content-type'), 'message/sipfrag;version=2.0');
    }
    assert.equal(
      tap.sipToApp().filter((m) => m.fields[1] === 'response' && m.sip.startsWith('NOTIFY')).length,
      2,
      'both NOTIFYs echoed to the app as sent',
    );
    await waitFor(() => server.stats().dialogs === 0, 2000, 'the subscription dialog forgotten');
  } finally {
    clearInterval(timer);
    app.close();
    tap.close();
    peer.close();
    await server.close();
  }
});

test('a REFER dialog whose final NOTIFY is never answered ends when that NOTIFY times out', async () => {
  const { server, addrs } = await startServer({ timers: { T1: 5 } });
  const outcome: unknown[] = [];
  const app = await referApp(addrs.control, (err) => outcome.push(err ?? 'ok'));
  const peer = await new UdpPeer().bind();
  const sipPort = addrs.udp!.port;
  try {
    refer(peer, sipPort, 'r2');
    assert.equal((await peer.waitResponse((r) => r.cseq.method === 'REFER')).status, 202);
    // Answer only the first NOTIFY (100 Trying): the final one times out.
    answer(peer, sipPort, await peer.waitRequest((r) => r.method === 'NOTIFY'));
    await peer.waitRequest((r) => r.method === 'NOTIFY' && r.cseq.seq === 9);
    assert.equal(server.stats().dialogs, 1, 'the subscription is still on');
    await waitFor(() => outcome.length > 0, 3000, 'the final NOTIFY answered (408 from the server)');
    await waitFor(() => server.stats().dialogs === 0, 2000, 'the subscription dialog forgotten');
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});

test('a REFER accepted with Refer-Sub: false creates no dialog (RFC 4488)', async () => {
  const { server, addrs } = await startServer();
  const tap = await new WireTap(addrs.control).listen();
  const app = await connectSrf({ host: '127.0.0.1', port: tap.port }, SECRET, (srf: LooseSrf) => {
    srf.refer((_req, res) => res.send(202, { headers: { 'Refer-Sub': 'false' } }));
  });
  const peer = await new UdpPeer().bind();
  try {
    refer(peer, addrs.udp!.port, 'r3');
    const accepted = await peer.waitResponse((r) => r.cseq.method === 'REFER');
    assert.equal(accepted.status, 202);
    assert.equal(accepted.get('refer-sub'), 'false');
    const echo = await waitFor(
      () => tap.sipToApp().find((m) => m.fields[1] === 'response' && m.sip.startsWith('SIP/2.0 202')),
      2000,
      "the 202's echo",
    );
    assert.equal(echo.fields[11], '', 'no dialog id');
    assert.equal(server.stats().dialogs, 0);
  } finally {
    app.close();
    tap.close();
    peer.close();
    await server.close();
  }
});
