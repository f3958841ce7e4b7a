/** linphonec (Debian 5.1, headless) over UDP and TCP through the server, driven by real drachtio-srf apps. */
import { after, before, describe, test } from 'node:test';
import { missing } from '../src/environment.ts';
import { Harness } from '../src/harness.ts';
import { LINPHONE_CAPS } from '@conclave/test-peers';
import { LinphonePeer } from '../src/peers/linphone.ts';
import {
  assertGolden,
  b2bua,
  cancel,
  glare,
  prack,
  proxy,
  refer,
  subscribe,
  uac,
  uas,
  udpTargetAfterTcp,
} from '../src/scenarios.ts';

describe('linphonec 5.1 (Debian)', { skip: missing('linphonec') }, () => {
  let h: Harness;
  const peers = {} as Record<'udp' | 'tcp', LinphonePeer>;
  const other = { udp: 'tcp', tcp: 'udp' } as const;
  const ctx = (t: 'udp' | 'tcp') => ({ h, peer: peers[t], peerB: peers[other[t]], webrtc: false });

  before(async () => {
    h = await Harness.start();
    const [udp, tcp] = await Promise.all([
      LinphonePeer.start({ user: 'lina', transport: 'udp' }),
      LinphonePeer.start({ user: 'lino', transport: 'tcp' }),
    ]);
    peers.udp = h.addPeer(udp);
    peers.tcp = h.addPeer(tcp);
  });

  after(async () => {
    await h?.close();
  });

  for (const t of ['udp', 'tcp'] as const) {
    test(`UAS: linphone-${t} calls the app; BYE from each side`, async () => assertGolden(await uas(ctx(t))));
    test(`UAC: the app calls linphone-${t}; re-INVITE, INFO, BYE`, async () => assertGolden(await uac(ctx(t))));
    test(`B2BUA: linphone-${t} -> app -> linphone-${other[t]}`, async () => assertGolden(await b2bua(ctx(t))));
    test(`REFER: linphone-${t} transfers its call; the app answers 202 + sipfrag NOTIFYs`, async () =>
      assertGolden(await refer(ctx(t))));
    test(`CANCEL: linphone-${t} cancels a ringing call; the app's late 200 is refused`, async () =>
      assertGolden(await cancel(ctx(t))));
    test(`PRACK: linphone-${t} with 100rel, both directions`, async () => assertGolden(await prack(ctx(t))));
    // linphone answers the crossing re-INVITE 491; its own pause is then abandoned (no retry).
    test(`glare: linphone-${t} and the app re-INVITE at once (491)`, async () =>
      assertGolden(await glare({ ...ctx(t), waitPeerRetryMs: 0 })));
  }

  test('proxy: linphone-tcp -> app (proxyRequest, Record-Route) -> linphone-udp', async () =>
    assertGolden(await proxy(ctx('tcp'))));
  test('proxy: linphone-udp -> app (proxyRequest, Record-Route) -> linphone-tcp', async () =>
    assertGolden(await proxy(ctx('udp'))));
  // linphonec (UDP-only) follows the Record-Route over TCP from an ephemeral port, which it also puts in
  // its Via: no alias collides with its UDP address, so this passes even with server issue 2.
  test('flow selection: the app calls linphone-udp at its UDP URI after it used TCP', async () => {
    assertGolden(await udpTargetAfterTcp(ctx('udp')));
  });
  // Last (it leaves the server retransmitting an unanswered NOTIFY for 64*T1): linphonec unsubscribes only
  // when it quits, and does not answer the final NOTIFY (terminated) that follows its unsubscribe.
  test('SUBSCRIBE/NOTIFY: linphone-udp (friend add) subscribes, the app notifies', async () => {
    assertGolden(
      await subscribe({
        ...ctx('udp'),
        finalNotifyUnanswered: true,
        startSubscriber: async (target) => {
          const watcher = h.addPeer(
            await LinphonePeer.start({ user: 'watcher', transport: 'udp' }),
            'linphone-udp-watcher',
          );
          await watcher.subscribe(target);
          return watcher;
        },
      }),
    );
  });
  test('SUBSCRIBE/NOTIFY: linphone-tcp', { skip: LINPHONE_CAPS.notes.subscribe! }, () => {});
});
