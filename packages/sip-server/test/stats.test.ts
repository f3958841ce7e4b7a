/** SipServer.stats(): the live counts /metrics exposes, during calls and back at their baseline after. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { parseMessage, type SipMessage, type SipRequest, type SipResponse } from '@conclave/sip-message';
import type { SipServerStats } from '../src/index.ts';
import {
  SDP_A,
  SDP_B,
  SECRET,
  UdpPeer,
  connectSrf,
  sipText,
  startServer,
  waitFor,
  type AppReq,
  type AppRes,
  type LooseSrf,
} from './helpers.ts';

/** What must be back to its value before the calls once their transactions' timers have run. */
const LIVE: Array<keyof SipServerStats> = [
  'transactions',
  'serverTransactions',
  'clientTransactions',
  'pendingInvites',
  'pendingRequests',
  'pendingSources',
  'dialogs',
  'proxyOperations',
  'flows',
  'timers',
];

function live(s: SipServerStats): Record<string, number> {
  return {
    ...Object.fromEntries(LIVE.map((k) => [k, s[k] as number])),
    ...Object.fromEntries(Object.entries(s.connections).map(([k, v]) => [`connections.${k}`, v])),
  };
}

test('stats(): transactions, pending INVITEs, dialogs and connections counted during calls, all back at baseline after', async () => {
  // T1 = 10 ms: every RFC 3261 timer (64*T1 = 640 ms at most) runs out quickly; nothing waits 32 s.
  const { server, addrs } = await startServer({ timers: { T1: 10 } });
  let release: (() => void) | undefined;
  const dialogs: Array<{ destroy(): Promise<void> }> = [];
  const app = await connectSrf(addrs.control, SECRET, (srf: LooseSrf) => {
    srf.invite(async (req: AppReq, res: AppRes) => {
      if (req.get('Call-ID') === 'stats-udp') await new Promise<void>((r) => (release = r));
      dialogs.push(await srf.createUAS(req, res, { localSdp: SDP_B }));
    });
  });
  const baseline = server.stats();
  assert.equal(baseline.apps, 1);
  assert.deepEqual(live(baseline), {
    ...Object.fromEntries(LIVE.map((k) => [k, 0])),
    'connections.tcp': 0,
    'connections.tls': 0,
    'connections.ws': 0,
    'connections.wss': 0,
  });
  const peer = await new UdpPeer().bind();
  const ws = new WebSocket(`ws://127.0.0.1:${addrs.ws!.port}`, 'sip');
  const wsGot: SipMessage[] = [];
  const wsOpen = new Promise<void>((r, j) => ws.once('open', () => r()).once('error', j));
  try {
    // 1. Incoming call over UDP; the app holds its answer: one pending INVITE.
    peer.send(
      sipText(
        [
          `INVITE sip:conf@127.0.0.1 SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-st-1;rport`,
          'Max-Forwards: 70',
          'From: <sip:carol@127.0.0.1>;tag=st1',
          'To: <sip:conf@127.0.0.1>',
          'Call-ID: stats-udp',
          'CSeq: 1 INVITE',
          `Contact: <sip:carol@127.0.0.1:${peer.port}>`,
          'Content-Type: application/sdp',
        ],
        SDP_A,
      ),
      addrs.udp!.port,
    );
    await waitFor(() => release, 2000, 'INVITE at the app');
    let s = server.stats();
    assert.equal(s.pendingInvites, 1);
    assert.equal(s.pendingRequests, 1);
    assert.equal(s.serverTransactions, 1);
    assert.equal(s.dialogs, 0);
    release!();
    const ok = await peer.waitResponse((r) => r.status === 200);
    s = server.stats();
    assert.equal(s.pendingInvites, 0);
    assert.equal(s.dialogs, 1);
    peer.send(
      sipText([
        `ACK sip:127.0.0.1:${addrs.udp!.port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-st-ack;rport`,
        'Max-Forwards: 70',
        'From: <sip:carol@127.0.0.1>;tag=st1',
        `To: ${ok.get('to')}`,
        'Call-ID: stats-udp',
        'CSeq: 1 ACK',
      ]),
      addrs.udp!.port,
    );

    // 2. Incoming call over WebSocket: one ws connection, a second dialog.
    await wsOpen;
    ws.on('message', (d: Buffer) => wsGot.push(parseMessage(d)));
    assert.deepEqual(server.stats().connections, { tcp: 0, tls: 0, ws: 1, wss: 0 });
    ws.send(
      sipText(
        [
          `INVITE sip:conf@127.0.0.1 SIP/2.0`,
          'Via: SIP/2.0/WS st.invalid;branch=z9hG4bK-st-2',
          'Max-Forwards: 70',
          'From: <sip:dave@127.0.0.1>;tag=st2',
          'To: <sip:conf@127.0.0.1>',
          'Call-ID: stats-ws',
          'CSeq: 1 INVITE',
          'Contact: <sip:dave@st.invalid;transport=ws>',
          'Content-Type: application/sdp',
        ],
        SDP_A,
      ),
    );
    const wsOk = await waitFor(
      () => wsGot.find((m): m is SipResponse => m.kind === 'response' && m.status === 200),
      2000,
      '200 over WS',
    );
    ws.send(
      sipText([
        `ACK sip:127.0.0.1:${addrs.ws!.port};transport=ws SIP/2.0`,
        'Via: SIP/2.0/WS st.invalid;branch=z9hG4bK-st-2ack',
        'Max-Forwards: 70',
        'From: <sip:dave@127.0.0.1>;tag=st2',
        `To: ${wsOk.get('to')}`,
        'Call-ID: stats-ws',
        'CSeq: 1 ACK',
      ]),
    );
    await waitFor(() => dialogs.length === 2, 2000, 'both dialogs at the app');
    assert.equal(server.stats().dialogs, 2);

    // 3. The app hangs up both: BYEs out (client transactions), answered by the peers.
    const hangups = dialogs.map((d) => d.destroy());
    const bye = await peer.waitRequest((r) => r.method === 'BYE');
    const wsBye = await waitFor(
      () => wsGot.find((m): m is SipRequest => m.kind === 'request' && m.method === 'BYE'),
      2000,
      'BYE over WS',
    );
    assert.ok(server.stats().clientTransactions >= 1, 'BYE client transactions are live');
    const answer = (req: SipRequest) =>
      sipText([
        `SIP/2.0 200 OK`,
        ...req.getAll('via').map((v) => `Via: ${v}`),
        `From: ${req.get('from')}`,
        `To: ${req.get('to')}`,
        `Call-ID: ${req.callId}`,
        `CSeq: ${req.get('cseq')}`,
      ]);
    peer.send(answer(bye), addrs.udp!.port);
    ws.send(answer(wsBye));
    await Promise.all(hangups);
    assert.equal(server.stats().dialogs, 0);
    ws.close();

    // 4. Once the transactions' timers have run (Timer J/K/L, 64*T1), every live count is back at its baseline.
    await waitFor(
      () => JSON.stringify(live(server.stats())) === JSON.stringify(live(baseline)),
      5000,
      `stats back at baseline: ${JSON.stringify(server.stats())}`,
    );
  } finally {
    ws.close();
    peer.close();
    app.close();
    await server.close();
  }
});
