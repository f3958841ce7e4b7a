/** JsSIP 3.13.8 in Node (ws as the WebSocket) through the server's WebSocket transport, driven by real drachtio-srf apps. */
import { after, before, test } from 'node:test';
import { Harness } from '../src/harness.ts';
import { JSSIP_CAPS, JssipNodePeer } from '@conclave/test-peers';
import { assertGolden, b2bua, cancel, glare, proxy, refer, subscribe, uac, uas } from '../src/scenarios.ts';

let h: Harness;
let a: JssipNodePeer;
let b: JssipNodePeer;

before(async () => {
  h = await Harness.start();
  await h.registrar();
  const wsUrl = `ws://${h.sip.ws.host}:${h.sip.ws.port}`;
  a = h.addPeer(await JssipNodePeer.start({ wsUrl, user: 'nodea' }));
  b = h.addPeer(await JssipNodePeer.start({ wsUrl, user: 'nodeb', label: 'jssip-node-b' }));
  await h.quiet();
});

after(async () => {
  await h?.close();
});

const ctx = () => ({ h, peer: a, peerB: b, webrtc: false });
test('UAS: jssip-node calls the app over WS; BYE from each side', async () => assertGolden(await uas(ctx())));
test('UAC: the app calls jssip-node at its registered .invalid Contact; re-INVITE, INFO, BYE', async () =>
  assertGolden(await uac(ctx())));
test('B2BUA: jssip-node -> app -> jssip-node-b', async () => assertGolden(await b2bua(ctx())));
test('proxy: jssip-node -> app (proxyRequest, Record-Route) -> jssip-node-b', async () =>
  assertGolden(await proxy(ctx())));
test('SUBSCRIBE/NOTIFY: jssip-node (ua.subscribe) subscribes, the app notifies', async () =>
  assertGolden(await subscribe(ctx())));
test('REFER: jssip-node transfers its call (session.refer); the app answers 202 + sipfrag NOTIFYs', async () =>
  assertGolden(await refer(ctx())));
test("CANCEL: jssip-node cancels a ringing call; the app's late 200 is refused", async () =>
  assertGolden(await cancel(ctx())));
test('PRACK: jssip-node', { skip: JSSIP_CAPS.notes.prack! }, () => {});
test('glare: jssip-node and the app re-INVITE at once (491)', async () =>
  assertGolden(await glare({ ...ctx(), peerEndsCallOn491: true })));
