/** baresip (Debian 1.0.0, headless) over UDP and TCP through the server, driven by real drachtio-srf apps. */
import { after, before, describe, test } from 'node:test';
import { missing } from '../src/environment.ts';
import { Harness } from '../src/harness.ts';
import { BaresipPeer } from '../src/peers/baresip.ts';
import {
  assertGolden,
  b2bua,
  cancel,
  glare,
  proxy,
  refer,
  subscribe,
  uac,
  uas,
  uasReference,
  udpTargetAfterTcp,
} from '../src/scenarios.ts';
import { scriptedB2buaReference } from '../src/scripted-scenarios.ts';

describe('baresip 1.0.0 (Debian)', { skip: missing('baresip') }, () => {
  let h: Harness;
  const peers = {} as Record<'udp' | 'tcp', BaresipPeer>;
  const other = { udp: 'tcp', tcp: 'udp' } as const;
  const ctx = (t: 'udp' | 'tcp') => ({ h, peer: peers[t], peerB: peers[other[t]], webrtc: false });

  before(async () => {
    h = await Harness.start();
    const [udp, tcp] = await Promise.all([
      BaresipPeer.start({ user: 'alice', transport: 'udp' }),
      BaresipPeer.start({ user: 'bob', transport: 'tcp' }),
    ]);
    peers.udp = h.addPeer(udp);
    peers.tcp = h.addPeer(tcp);
  });

  after(async () => {
    await h?.close();
  });

  for (const t of ['udp', 'tcp'] as const) {
    test(`UAS: baresip-${t} calls the app; BYE from each side`, async () => assertGolden(await uas(ctx(t))));
    test(`UAC: the app calls baresip-${t}; re-INVITE, INFO, BYE`, async () => assertGolden(await uac(ctx(t))));
    test(`B2BUA: baresip-${t} -> app -> baresip-${other[t]}`, async () => assertGolden(await b2bua(ctx(t))));
    test(`SUBSCRIBE/NOTIFY: baresip-${t} (presence module) subscribes, the app notifies`, async () => {
      assertGolden(
        await subscribe({
          ...ctx(t),
          startSubscriber: async (target) =>
            h.addPeer(
              await BaresipPeer.start({
                user: `watcher${t}`,
                transport: t,
                contacts: [`"Presence" <${target}>;presence=p2p`],
              }),
              `baresip-${t}-watcher`,
            ),
        }),
      );
    });
    test(`REFER: baresip-${t} transfers its call; the app answers 202 + sipfrag NOTIFYs`, async () =>
      assertGolden(await refer(ctx(t))));
    test(`CANCEL: baresip-${t} cancels a ringing call; the app's late 200 is refused`, async () =>
      assertGolden(await cancel(ctx(t))));
    test(`PRACK: baresip-${t}`, { skip: peersCapsNote() }, () => {});
    // baresip answers the crossing re-INVITE 491 and does not retry its own (no RFC 3261 §14.1 retry).
    test(`glare: baresip-${t} and the app re-INVITE at once (491)`, async () =>
      assertGolden(await glare({ ...ctx(t), waitPeerRetryMs: 0 })));
  }

  // Replays of the reference recordings d-uas-invite and f-b2bua (compare-reference.ts).
  test('reference d: baresip-udp calls, createUAS, BYE from baresip', async () =>
    assertGolden(await uasReference(ctx('udp'))));
  test('reference f: scripted UAC -> app (createB2BUA) -> baresip-udp', async () =>
    assertGolden(await scriptedB2buaReference(h, peers.udp)));

  // Last: the proxy's Record-Route (transport=tcp towards a TCP callee) makes a UDP caller open a TCP
  // connection to the server, which then changes how the server reaches that caller (see the next test).
  test('proxy: baresip-tcp -> app (proxyRequest, Record-Route) -> baresip-udp', async () =>
    assertGolden(await proxy(ctx('tcp'))));
  test('proxy: baresip-udp -> app (proxyRequest, Record-Route) -> baresip-tcp', async () =>
    assertGolden(await proxy(ctx('udp'))));
  test('flow selection: the app calls baresip-udp at its UDP URI after it opened a TCP connection', async () => {
    assertGolden(await udpTargetAfterTcp(ctx('udp')));
  });

  function peersCapsNote(): string {
    return 'baresip 1.0.0 / libre 1.1 has no 100rel support (no PRACK, ignores Require: 100rel)';
  }
});
