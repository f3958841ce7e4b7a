/** baresip (Debian 1.0.0, headless) over UDP and TCP through the server, driven by real drachtio-srf apps. */
import { after, before, test } from 'node:test';
import { Harness } from '../src/harness.ts';
import { BaresipPeer } from '../src/peers/baresip.ts';
import { assertGolden, b2bua, cancel, glare, proxy, refer, subscribe, uac, uas } from '../src/scenarios.ts';

let h: Harness;
const peers = {} as Record<'udp' | 'tcp', BaresipPeer>;
const other = { udp: 'tcp', tcp: 'udp' } as const;

before(async () => {
  h = await Harness.start();
  const [udp, tcp] = await Promise.all([BaresipPeer.start({ user: 'alice', transport: 'udp' }), BaresipPeer.start({ user: 'bob', transport: 'tcp' })]);
  peers.udp = h.addPeer(udp);
  peers.tcp = h.addPeer(tcp);
});

after(async () => {
  await h?.close();
});

for (const t of ['udp', 'tcp'] as const) {
  const ctx = () => ({ h, peer: peers[t], peerB: peers[other[t]], webrtc: false });
  test(`UAS: baresip-${t} calls the app; BYE from each side`, async () => assertGolden(await uas(ctx())));
  test(`UAC: the app calls baresip-${t}; re-INVITE, INFO, BYE`, async () => assertGolden(await uac(ctx())));
  test(`B2BUA: baresip-${t} -> app -> baresip-${other[t]}`, async () => assertGolden(await b2bua(ctx())));
  test(`proxy: baresip-${t} -> app (proxyRequest, Record-Route) -> baresip-${other[t]}`, async () => assertGolden(await proxy(ctx())));
  test(`SUBSCRIBE/NOTIFY: baresip-${t} (presence module) subscribes, the app notifies`, async () => {
    assertGolden(await subscribe({
      ...ctx(),
      startSubscriber: async (target) => h.addPeer(await BaresipPeer.start({ user: `watcher${t}`, transport: t, contacts: [`"Presence" <${target}>;presence=p2p`] }), `baresip-${t}-watcher`),
    }));
  });
  test(`REFER: baresip-${t} transfers its call; the app answers 202 + sipfrag NOTIFYs`, async () => assertGolden(await refer(ctx())));
  test(`CANCEL: baresip-${t} cancels a ringing call; the app's late 200 is refused`, async () => assertGolden(await cancel(ctx())));
  test(`glare: baresip-${t} and the app re-INVITE at once (491)`, async () => assertGolden(await glare({ ...ctx(), waitPeerRetryMs: 0 })));
}
