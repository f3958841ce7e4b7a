/**
 * An INVITE the server sent for an app can become unanswerable: its dialog ended (the peer sent BYE
 * but left our re-INVITE at 100 Trying, as a page ending its call does) or its connection closed.
 * The server must end those transactions with a response to the app — 487 and 503 — instead of
 * keeping them (and the app's promise) pending forever.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { parseMessage, type SipMessage, type SipRequest, type SipResponse } from '@conclave/sip-message';
import {
  SDP_A,
  SDP_B,
  SECRET,
  connectSrf,
  sipText,
  startServer,
  waitFor,
  type AppDialog,
  type AppReq,
  type AppRes,
  type LooseSrf,
} from './helpers.ts';

/** The outcome, or a clear failure instead of a hang. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_r, j) => (timer = setTimeout(() => j(new Error(`${what}: no outcome within ${ms} ms`)), ms)),
  );
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A WebSocket peer with one confirmed call to the app; the app's dialog is returned. */
async function callOverWs(callId: string) {
  const { server, addrs } = await startServer({ timers: { T1: 10 } });
  const dialogs: AppDialog[] = [];
  const app = await connectSrf(addrs.control, SECRET, (srf: LooseSrf) => {
    srf.invite(async (req: AppReq, res: AppRes) => {
      dialogs.push(await srf.createUAS(req, res, { localSdp: SDP_B }));
    });
  });
  const ws = new WebSocket(`ws://127.0.0.1:${addrs.ws!.port}`, 'sip');
  const got: SipMessage[] = [];
  await new Promise<void>((r, j) => ws.once('open', () => r()).once('error', j));
  ws.on('message', (d: Buffer) => got.push(parseMessage(d)));
  const from = `From: <sip:dave@127.0.0.1>;tag=${callId}`;
  ws.send(
    sipText(
      [
        'INVITE sip:conf@127.0.0.1 SIP/2.0',
        `Via: SIP/2.0/WS ua.invalid;branch=z9hG4bK-${callId}-1`,
        'Max-Forwards: 70',
        from,
        'To: <sip:conf@127.0.0.1>',
        `Call-ID: ${callId}`,
        'CSeq: 1 INVITE',
        'Contact: <sip:dave@ua.invalid;transport=ws>',
        'Content-Type: application/sdp',
      ],
      SDP_A,
    ),
  );
  const ok = await waitFor(
    () => got.find((m): m is SipResponse => m.kind === 'response' && m.status === 200),
    2000,
    '200 over WS',
  );
  const to = `To: ${ok.get('to')}`;
  ws.send(
    sipText([
      `ACK sip:127.0.0.1:${addrs.ws!.port};transport=ws SIP/2.0`,
      `Via: SIP/2.0/WS ua.invalid;branch=z9hG4bK-${callId}-ack`,
      'Max-Forwards: 70',
      from,
      to,
      `Call-ID: ${callId}`,
      'CSeq: 1 ACK',
    ]),
  );
  await waitFor(() => dialogs.length > 0, 2000, 'dialog at the app');
  const dialog = dialogs[0]!;
  /** The app re-INVITEs; the peer answers only 100 Trying. */
  const reinvite = async () => {
    const outcome = dialog.modify(SDP_B).then(
      () => 'answered',
      (err: { status?: number }) => err.status,
    );
    const req = await waitFor(
      () => got.find((m): m is SipRequest => m.kind === 'request' && m.method === 'INVITE'),
      2000,
      're-INVITE over WS',
    );
    ws.send(
      sipText([
        'SIP/2.0 100 Trying',
        ...req.getAll('via').map((v) => `Via: ${v}`),
        `From: ${req.get('from')}`,
        `To: ${req.get('to')}`,
        `Call-ID: ${callId}`,
        `CSeq: ${req.get('cseq')}`,
      ]),
    );
    await waitFor(
      () => server.stats().pendingInvites === 1 && server.stats().clientTransactions === 1,
      2000,
      'the re-INVITE pending at 100 Trying',
    );
    return { outcome }; // wrapped: an async function returning a promise would wait for it
  };
  const close = async () => {
    ws.close();
    app.close();
    await server.close();
  };
  return { server, ws, from, to, callId, addrs, reinvite, close };
}

test('the peer ends the dialog with a re-INVITE at 100 Trying: the app gets 487 and nothing stays pending', async () => {
  const c = await callOverWs('unans-bye');
  try {
    const { outcome } = await c.reinvite();
    c.ws.send(
      sipText([
        `BYE sip:127.0.0.1:${c.addrs.ws!.port};transport=ws SIP/2.0`,
        'Via: SIP/2.0/WS ua.invalid;branch=z9hG4bK-unans-bye-bye',
        'Max-Forwards: 70',
        c.from,
        c.to,
        `Call-ID: ${c.callId}`,
        'CSeq: 2 BYE',
      ]),
    );
    assert.equal(await within(outcome, 3000, 'the re-INVITE'), 487);
    await waitFor(
      () => c.server.stats().pendingInvites === 0 && c.server.stats().dialogs === 0,
      2000,
      `nothing pending: ${JSON.stringify(c.server.stats())}`,
    );
  } finally {
    await c.close();
  }
});

test('the connection closes with a re-INVITE at 100 Trying: the app gets 503 and nothing stays pending', async () => {
  const c = await callOverWs('unans-close');
  try {
    const { outcome } = await c.reinvite();
    c.ws.close();
    assert.equal(await within(outcome, 3000, 'the re-INVITE'), 503);
    await waitFor(
      () => c.server.stats().pendingInvites === 0,
      2000,
      `nothing pending: ${JSON.stringify(c.server.stats())}`,
    );
  } finally {
    await c.close();
  }
});

test('a WebSocket callee rings (180, early dialog) and its connection closes: the app gets 503, no dialog is left', async () => {
  const { server, addrs } = await startServer({ timers: { T1: 10 } });
  const app = await connectSrf(addrs.control, SECRET);
  const ws = new WebSocket(`ws://127.0.0.1:${addrs.ws!.port}`, 'sip');
  const got: SipMessage[] = [];
  await new Promise<void>((r, j) => ws.once('open', () => r()).once('error', j));
  ws.on('message', (d: Buffer) => got.push(parseMessage(d)));
  try {
    // The callee's connection is known by its alias once it sent something over it.
    ws.send(
      sipText([
        'OPTIONS sip:127.0.0.1 SIP/2.0',
        'Via: SIP/2.0/WS callee.invalid;branch=z9hG4bK-ring-opt',
        'Max-Forwards: 70',
        'From: <sip:eve@127.0.0.1>;tag=o1',
        'To: <sip:127.0.0.1>',
        'Call-ID: ring-opt',
        'CSeq: 1 OPTIONS',
        'Contact: <sip:eve@callee.invalid;transport=ws>',
      ]),
    );
    const outcome = (
      app.srf.createUAC('sip:eve@callee.invalid;transport=ws', { localSdp: SDP_B }) as Promise<unknown>
    ).then(
      () => 'answered',
      (err: { status?: number }) => err.status,
    );
    const invite = await waitFor(
      () => got.find((m): m is SipRequest => m.kind === 'request' && m.method === 'INVITE'),
      2000,
      'INVITE over WS',
    );
    ws.send(
      sipText([
        'SIP/2.0 180 Ringing',
        ...invite.getAll('via').map((v) => `Via: ${v}`),
        `From: ${invite.get('from')}`,
        `To: ${invite.get('to')};tag=callee1`,
        `Call-ID: ${invite.callId}`,
        `CSeq: ${invite.get('cseq')}`,
        'Contact: <sip:eve@callee.invalid;transport=ws>',
      ]),
    );
    await waitFor(() => server.stats().dialogs === 1, 2000, 'the early dialog');
    ws.close();
    assert.equal(await within(outcome, 3000, 'the INVITE'), 503);
    await waitFor(
      () => server.stats().pendingInvites === 0 && server.stats().dialogs === 0,
      2000,
      `nothing left: ${JSON.stringify(server.stats())}`,
    );
  } finally {
    ws.close();
    app.close();
    await server.close();
  }
});
