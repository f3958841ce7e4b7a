/** baresip (Debian 1.0.0, headless) over UDP and TCP through the server, driven by real drachtio-srf apps. */
import { after, before, test } from 'node:test';
import { Harness } from '../src/harness.ts';
import { BaresipPeer } from '../src/peers/baresip.ts';
import { assertGolden, uas } from '../src/scenarios.ts';

let h: Harness;
const peers: Record<'udp' | 'tcp', BaresipPeer> = {} as Record<'udp' | 'tcp', BaresipPeer>;

before(async () => {
  h = await Harness.start();
  const [udp, tcp] = await Promise.all([BaresipPeer.start({ user: 'alice', transport: 'udp' }), BaresipPeer.start({ user: 'bob', transport: 'tcp' })]);
  peers.udp = h.addPeer(udp);
  peers.tcp = h.addPeer(tcp);
});

after(async () => {
  await h?.close();
});

for (const transport of ['udp', 'tcp'] as const) {
  test(`UAS: baresip-${transport} calls the app, both sides hang up`, async () => {
    assertGolden(await uas({ h, peer: peers[transport], webrtc: false }));
  });
}
