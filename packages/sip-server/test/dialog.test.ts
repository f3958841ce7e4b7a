/** Dialog objects and their table (pure logic: flows and the app are stand-ins that record what is sent). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, type SipRequest } from '@conclave/sip-message';
import type { AppConnection } from '../src/control/app-connection.ts';
import { Dialog, dialogIdOf } from '../src/dialog.ts';
import { DialogTable } from '../src/dialogs.ts';
import { TimerSet, resolveTimers } from '../src/timers.ts';
import { ServerTransaction } from '../src/transactions.ts';
import type { Flow, TransportName } from '../src/transport/flow.ts';
import { testLogger } from './helpers.ts';

function fakeFlow(transport: TransportName, port: number): Flow & { sent: Buffer[]; close(): void } {
  let closed = false;
  const sent: Buffer[] = [];
  return {
    id: `${transport}|127.0.0.1|${port}`,
    transport,
    local: { host: '127.0.0.1', port: 5999 },
    remote: { host: '127.0.0.1', port },
    reliable: transport !== 'udp',
    get closed() {
      return closed;
    },
    sent,
    send: (data: Buffer) => {
      sent.push(data);
      return true;
    },
    close: () => {
      closed = true;
    },
  };
}

const app = { closed: false } as unknown as AppConnection;

function request(method: string, cseq: number, extra: string[] = []): SipRequest {
  const text = [
    `${method} sip:bob@127.0.0.1:5999 SIP/2.0`,
    'Via: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bK-d1',
    'Max-Forwards: 70',
    'From: <sip:alice@127.0.0.1>;tag=remote1',
    'To: <sip:bob@127.0.0.1>;tag=local1',
    'Call-ID: dlg-test',
    `CSeq: ${cseq} ${method}`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const msg = parseMessage(Buffer.from(text));
  assert.equal(msg.kind, 'request');
  return msg;
}

function uasDialog(flow: Flow): Dialog {
  return new Dialog({
    id: dialogIdOf('dlg-test', 'remote1'),
    role: 'uas',
    method: 'INVITE',
    callId: 'dlg-test',
    localTag: 'local1',
    remoteTag: 'remote1',
    localHeader: '<sip:bob@127.0.0.1>;tag=local1',
    remoteHeader: '<sip:alice@127.0.0.1>;tag=remote1',
    remoteTarget: 'sip:alice@127.0.0.1:6000',
    routeSet: ['<sip:proxy.example;lr>'],
    localSeq: 1,
    remoteSeq: 1,
    flow,
    app,
  });
}

test('the table finds a dialog by id and by tags, re-indexes a new remote tag, and forgets it once it closes', () => {
  const table = new DialogTable();
  const d = uasDialog(fakeFlow('udp', 6000));
  let closedEvents = 0;
  table.add(d);
  d.on('closed', () => closedEvents++);
  assert.equal(table.get(d.id), d);
  assert.equal(table.match('dlg-test', 'local1', 'remote1'), d);
  table.setRemoteTag(d, 'remote2');
  assert.equal(table.match('dlg-test', 'local1', 'remote1'), undefined);
  assert.equal(table.match('dlg-test', 'local1', 'remote2'), d);
  assert.deepEqual(table.ownedBy(app), [d]);
  d.close();
  d.close();
  assert.equal(d.closed, true);
  assert.equal(closedEvents, 1, 'closed is reported once');
  assert.equal(table.size, 0);
  assert.equal(table.get(d.id), undefined);
  assert.equal(table.match('dlg-test', 'local1', 'remote2'), undefined);
});

test('requests from the network move the remote CSeq and target; a live connection is kept over a new flow', () => {
  const tcp = fakeFlow('tcp', 6001);
  const d = uasDialog(tcp);
  d.receivedRequest(request('INFO', 5, ['Contact: <sip:alice@10.0.0.9>']), fakeFlow('udp', 6000));
  assert.equal(d.remoteSeq, 5);
  assert.equal(d.remoteTarget, 'sip:alice@127.0.0.1:6000', 'INFO is no target refresh');
  assert.equal(d.flow, tcp, 'the open TCP connection stays');
  d.receivedRequest(request('UPDATE', 3, ['Contact: <sip:alice@10.0.0.9>']), tcp);
  assert.equal(d.remoteSeq, 5, 'an older CSeq does not move it back');
  assert.equal(d.remoteTarget, 'sip:alice@10.0.0.9');
  tcp.close();
  const udp = fakeFlow('udp', 6000);
  d.receivedRequest(request('INFO', 6), udp);
  assert.equal(d.flow, udp, 'a closed connection is replaced');
});

test('requests built in the dialog take the next CSeq (ACK the INVITE one), the route set and the remote target', () => {
  const flow = fakeFlow('udp', 6000);
  const d = uasDialog(flow);
  const info = d.buildRequest('INFO', flow);
  assert.equal(info.uri, 'sip:alice@127.0.0.1:6000');
  assert.equal(info.get('cseq'), '2 INFO');
  assert.equal(info.get('route'), '<sip:proxy.example;lr>');
  assert.equal(info.get('from'), '<sip:bob@127.0.0.1>;tag=local1');
  assert.equal(info.get('to'), '<sip:alice@127.0.0.1>;tag=remote1');
  d.inviteAnswered(7, 200);
  assert.equal(d.buildRequest('ACK', flow).get('cseq'), '7 ACK');
  assert.equal(d.buildRequest('BYE', flow).get('cseq'), '3 BYE');
});

test('UAC: the last ACK is re-sent for a retransmitted 2xx of the same INVITE only', () => {
  const flow = fakeFlow('udp', 6000);
  const d = uasDialog(flow);
  d.inviteAnswered(4, 200);
  d.ackSent(Buffer.from('ACK 4'), flow);
  assert.equal(d.state, 'confirmed');
  d.resendAck(3);
  assert.equal(flow.sent.length, 0);
  d.resendAck(4);
  assert.deepEqual(flow.sent.map(String), ['ACK 4']);
});

test('a BYE ends any dialog, a terminating NOTIFY only a subscription (SUBSCRIBE or out-of-dialog REFER)', () => {
  const flow = fakeFlow('udp', 6000);
  const d = uasDialog(flow);
  const notify = request('NOTIFY', 2, ['Event: refer', 'Subscription-State: terminated;reason=noresource']);
  assert.equal(d.endedBy(request('BYE', 2)), true);
  assert.equal(d.endedBy(notify), false, 'a REFER subscription lives in the INVITE dialog');
  for (const method of ['SUBSCRIBE', 'REFER']) {
    const sub = new Dialog({
      id: 'sub',
      role: 'uac',
      method,
      callId: 'dlg-test',
      localTag: 'local1',
      remoteTag: 'remote1',
      localHeader: '',
      remoteHeader: '',
      remoteTarget: 'sip:alice@127.0.0.1',
      routeSet: [],
      localSeq: 1,
      remoteSeq: 0,
      flow,
      app,
    });
    assert.equal(sub.endedBy(notify), true, method);
    assert.equal(sub.endedBy(request('NOTIFY', 3, ['Subscription-State: active'])), false, method);
  }
});

test('UAS: the 2xx waits for its ACK (CSeq 0 INVITEs accept any ACK CSeq); no ACK means ackTimeout', async () => {
  const timerSet = new TimerSet();
  const ctx = { timerSet, timers: resolveTimers({ T1: 5 }), log: testLogger().logger };
  try {
    const flow = fakeFlow('udp', 6000);
    const d = uasDialog(flow);
    const invite = new ServerTransaction('k1', request('INVITE', 0), flow, app, ctx);
    invite.sendResponse(Buffer.from('SIP/2.0 200 OK'), 200);
    d.awaitAck(invite);
    assert.equal(d.pendingAck, invite);
    assert.equal(d.ackReceived(request('ACK', 1234), flow, ctx.log), invite, 'JsSIP re-draws a CSeq 0');
    assert.equal(d.pendingAck, undefined);
    assert.equal(d.state, 'confirmed');
    assert.equal(d.ackReceived(request('ACK', 1234), flow, ctx.log), undefined, 'a copy');

    const reinvite = new ServerTransaction('k2', request('INVITE', 2), flow, app, ctx);
    reinvite.sendResponse(Buffer.from('SIP/2.0 200 OK'), 200);
    const timedOut = new Promise<void>((resolve) => d.once('ackTimeout', resolve));
    d.awaitAck(reinvite);
    assert.equal(d.ackReceived(request('ACK', 1), flow, ctx.log), undefined, 'a stale ACK');
    await timedOut;
    assert.equal(d.pendingAck, undefined);
    assert.equal(reinvite.state, 'terminated');
    assert.ok(flow.sent.length > 1, 'the 2xx was retransmitted while waiting');
  } finally {
    timerSet.close();
  }
});
