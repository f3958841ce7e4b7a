/** JsSIP 3.13.8 in Chromium (playwright-core, /usr/bin/chromium) through the server's WebSocket transport, driven by real drachtio-srf apps. */
import { after, before, describe, test } from 'node:test';
import { missing } from '../src/environment.ts';
import { Harness } from '../src/harness.ts';
import { JSSIP_CAPS, JssipBrowser, type JssipBrowserPeer } from '@conclave/test-peers';
import { assertGolden, b2bua, cancel, glare, proxy, refer, subscribe, uac, uas } from '../src/scenarios.ts';

describe('JsSIP in Chromium', { skip: missing(process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium') }, () => {
  let h: Harness;
  let browser: JssipBrowser;
  let a: JssipBrowserPeer;
  let b: JssipBrowserPeer;

  before(async () => {
    h = await Harness.start();
    await h.registrar();
    browser = await JssipBrowser.start();
    h.defer(() => browser.close());
    const wsUrl = `ws://${h.sip.ws.host}:${h.sip.ws.port}`;
    a = h.addPeer(await browser.peer({ wsUrl, user: 'chroma' }));
    b = h.addPeer(await browser.peer({ wsUrl, user: 'chromb', label: 'jssip-chromium-b' }));
    await h.quiet();
  });

  after(async () => {
    await h?.close();
  });

  const ctx = () => ({ h, peer: a, peerB: b, webrtc: true });
  test('UAS: jssip-chromium calls the app over WS; BYE from each side', async () => assertGolden(await uas(ctx())));
  test('UAC: the app calls jssip-chromium at its registered .invalid Contact; re-INVITE, INFO, BYE', async () =>
    assertGolden(await uac(ctx())));
  test('B2BUA: jssip-chromium -> app -> jssip-chromium-b', async () => assertGolden(await b2bua(ctx())));
  test('proxy: jssip-chromium -> app (proxyRequest, Record-Route) -> jssip-chromium-b', async () =>
    assertGolden(await proxy(ctx())));
  test('SUBSCRIBE/NOTIFY: jssip-chromium (ua.subscribe) subscribes, the app notifies', async () =>
    assertGolden(await subscribe(ctx())));
  test('REFER: jssip-chromium transfers its call (session.refer); the app answers 202 + sipfrag NOTIFYs', async () =>
    assertGolden(await refer(ctx())));
  test("CANCEL: jssip-chromium cancels a ringing call; the app's late 200 is refused", async () =>
    assertGolden(await cancel(ctx())));
  test('PRACK: jssip-chromium', { skip: JSSIP_CAPS.notes.prack! }, () => {});
  test('glare: jssip-chromium and the app re-INVITE at once (491)', async () =>
    assertGolden(await glare({ ...ctx(), peerEndsCallOn491: true })));
});
