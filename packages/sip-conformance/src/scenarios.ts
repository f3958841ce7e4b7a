/**
 * The scenarios, written once against the Peer interface and run for every peer × transport.
 * Each one: connect a fresh drachtio-srf app (through the tap), drive the peer, assert what both sides
 * saw, then compare the normalised transcript with golden/<scenario>--<peer>.txt.
 */
import assert from 'node:assert/strict';
import type { AppDialog, AppReq, AppRes } from './app.ts';
import type { RecordingResult } from './harness.ts';
import type { Peer } from '@conclave/test-peers';
import { answerTo, isWebrtc, offerFor } from './sdp.ts';

import { sleep, waitFor } from './util.ts';
import { closeApp, goldenName, recorded, serverIdle, type ScenarioContext } from './scenario-support.ts';

export { sleep, waitFor };

export {
  AppTrace,
  assertGolden,
  closeApp,
  goldenName,
  recorded,
  serverIdle,
  type ScenarioContext,
} from './scenario-support.ts';

// ---------------------------------------------------------------------------------------------
// UAS: the peer calls the app; 180, 200, ACK; the peer hangs up. Second call: the app hangs up.
// ---------------------------------------------------------------------------------------------
export async function uas(ctx: ScenarioContext): Promise<RecordingResult> {
  const { h, peer } = ctx;
  await peer.reset();
  const notes = [
    `${peer.label} calls the app twice: 180 + 200 (createUAS), ACK; first BYE from the peer, then BYE from the app`,
  ];
  return recorded(h, goldenName('uas', peer), notes, async (trace) => {
    const dialogs: AppDialog[] = [];
    const app = await h.app((srf) => {
      srf.invite(async (req: AppReq, res: AppRes) => {
        trace.add('invite');
        res.send(180);
        await sleep(20);
        const dlg = await srf.createUAS(req, res, { localSdp: answerTo(req.body), headers: { 'X-App': 'uas' } });
        dialogs.push(dlg);
        const n = dialogs.length;
        dlg.on('ack', () => trace.add(`ack${n}`));
        dlg.on('destroy', () => trace.add(`destroy${n}`));
      });
    });
    try {
      // Call 1: the peer hangs up.
      let m = peer.log.mark();
      await peer.call(h.uri('uas', peer.transport));
      await peer.log.wait('established', m);
      await trace.wait('ack1');
      await sleep(50);
      await peer.hangup();
      await trace.wait('destroy1');
      await peer.log.wait('closed', m);
      // Call 2: the app hangs up.
      m = peer.log.mark();
      await peer.call(h.uri('uas', peer.transport));
      await peer.log.wait('established', m);
      await trace.wait('ack2');
      await sleep(50);
      await dialogs[1]!.destroy();
      await peer.log.wait('closed', m);
      await serverIdle(h);
    } finally {
      await closeApp(h, app);
    }
  });
}

/** The same SDP with its o= version bumped (a re-offer a browser accepts: same ICE/DTLS identity). */
export function bumpVersion(sdp: string): string {
  return sdp.replace(/^(o=\S+ \S+ )(\d+)/m, (_m, head: string, v: string) => `${head}${Number(v) + 1}`);
}

/** Hang up if a call is still up after `ms` (peers differ in whether they end a transferred call). */
async function closedOrHangup(peer: Peer, since: number, ms: number): Promise<void> {
  try {
    await peer.log.wait('closed', since, ms, peer.label);
  } catch {
    await peer.hangup();
    await peer.log.wait('closed', since, 5000, peer.label);
  }
}

const PIDF = (state: 'open' | 'closed') =>
  [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:presence@127.0.0.1">',
    `<tuple id="t1"><status><basic>${state}</basic></status></tuple>`,
    '</presence>',
    '',
  ].join('\r\n');

// ---------------------------------------------------------------------------------------------
// Reference d (d-uas-invite), replayed: the peer calls, createUAS answers 200 with SDP and X-App, ACK,
// the peer hangs up.
// ---------------------------------------------------------------------------------------------
export async function uasReference(ctx: ScenarioContext): Promise<RecordingResult> {
  const { h, peer } = ctx;
  await peer.reset();
  const notes = [
    `reference d-uas-invite replayed: ${peer.label} calls, srf.createUAS(req, res, {localSdp, headers: {X-App: uas}}), ACK, BYE from the peer`,
  ];
  return recorded(h, `ref-d-uas--${peer.label}`, notes, async (trace) => {
    const app = await h.app((srf) => {
      srf.invite(async (req: AppReq, res: AppRes) => {
        const dlg = await srf.createUAS(req, res, { localSdp: answerTo(req.body), headers: { 'X-App': 'uas' } });
        dlg.on('ack', () => trace.add('ack'));
        dlg.on('destroy', () => trace.add('destroy'));
      });
    });
    try {
      const m = peer.log.mark();
      await peer.call(h.uri('uas', peer.transport));
      await peer.log.wait('established', m, 8000, peer.label);
      await trace.wait('ack');
      await sleep(100);
      await peer.hangup();
      await trace.wait('destroy');
      await peer.log.wait('closed', m, 5000, peer.label);
      await serverIdle(h);
    } finally {
      await closeApp(h, app);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// UAC: the app calls the peer (createUAC), re-INVITE (modify), INFO, BYE from the app.
// ---------------------------------------------------------------------------------------------
export async function uac(ctx: ScenarioContext): Promise<RecordingResult> {
  const { h, peer, webrtc } = ctx;
  await peer.reset();
  const notes = [
    `the app calls ${peer.label} (createUAC, auto-answer), re-INVITE (dialog.modify), INFO (application/dtmf-relay), BYE from the app`,
  ];
  return recorded(h, goldenName('uac', peer), notes, async (trace) => {
    const app = await h.app();
    try {
      const m = peer.log.mark();
      const offer = offerFor(webrtc);
      const dlg = await app.srf.createUAC(peer.uri, {
        localSdp: offer,
        headers: { From: '<sip:app@127.0.0.1>', 'X-App': 'uac' },
      });
      await peer.log.wait('established', m, 8000, peer.label);
      await sleep(50);
      trace.add('answered');
      const answer = await dlg.modify(bumpVersion(offer));
      assert.match(answer, /^v=0/m, 're-INVITE answered with SDP');
      trace.add('re-INVITE 200');
      const infoStatus = await finalStatus(dlg, {
        method: 'INFO',
        headers: { 'Content-Type': 'application/dtmf-relay' },
        body: 'Signal=5\r\nDuration=160\r\n',
      });
      trace.add(`INFO ${infoStatus}`);
      assert.equal(typeof infoStatus, 'number', `INFO got a final response (${infoStatus})`);
      await dlg.destroy();
      trace.add('BYE sent');
      await peer.log.wait('closed', m, 5000, peer.label);
      await serverIdle(h);
    } finally {
      await closeApp(h, app);
    }
  });
}

/**
 * Send an in-dialog request and resolve with the status of its final response (srf's promise resolves
 * on the first response, which may be a 100 Trying; its callback form is called for every response).
 */
function finalStatus(dlg: AppDialog, opts: Record<string, unknown>): Promise<number | string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 10_000);
    timer.unref();
    (dlg.request as unknown as (o: unknown, cb: (err: Error | null, res?: { status: number }) => void) => void)(
      opts,
      (err, res) => {
        if (err) {
          clearTimeout(timer);
          resolve(err.message);
        } else if (res && res.status >= 200) {
          clearTimeout(timer);
          resolve(res.status);
        }
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// B2BUA: peer A -> app (createB2BUA) -> peer B; A hangs up, the app ends B.
// ---------------------------------------------------------------------------------------------
export async function b2bua(ctx: ScenarioContext): Promise<RecordingResult> {
  const { h, peer } = ctx;
  const peerB = ctx.peerB!;
  await peer.reset();
  await peerB.reset();
  const notes = [
    `${peer.label} (A) calls the app, which calls ${peerB.label} (B) with createB2BUA (SDP passed through); A hangs up, the app sends BYE to B`,
  ];
  return recorded(h, `b2bua--${peer.label}--${peerB.label}`, notes, async (trace) => {
    const app = await h.app((srf) => {
      srf.invite(async (req: AppReq, res: AppRes) => {
        trace.add('invite');
        try {
          const { uas: a, uac: b } = await srf.createB2BUA(req, res, peerB.uri, {
            localSdpB: req.body,
            headers: { 'X-App': 'b2bua' },
          });
          trace.add('connected');
          a.on('destroy', () => {
            trace.add('a-bye');
            void b.destroy().then(() => trace.add('b-ended'));
          });
          b.on('destroy', () => {
            trace.add('b-bye');
            void a.destroy().then(() => trace.add('a-ended'));
          });
        } catch (err) {
          trace.add(`failed ${(err as { status?: number }).status ?? (err as Error).message}`);
        }
      });
    });
    try {
      const mA = peer.log.mark();
      const mB = peerB.log.mark();
      await peer.call(h.uri('b2b', peer.transport));
      await peerB.log.wait('established', mB, 8000, peerB.label);
      await peer.log.wait('established', mA, 8000, peer.label);
      await trace.wait('connected');
      await sleep(100);
      await peer.hangup();
      await trace.wait('b-ended');
      await peer.log.wait('closed', mA, 5000, peer.label);
      await peerB.log.wait('closed', mB, 5000, peerB.label);
      await serverIdle(h);
    } finally {
      await closeApp(h, app);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Proxy: peer A -> app (srf.proxyRequest with Record-Route) -> peer B; ACK and BYE follow the route.
// ---------------------------------------------------------------------------------------------
export async function proxy(ctx: ScenarioContext): Promise<RecordingResult> {
  const { h, peer } = ctx;
  const peerB = ctx.peerB!;
  await peer.reset();
  await peerB.reset();
  const notes = [
    `${peer.label} (A) calls the app, which proxies to ${peerB.label} (B) with recordRoute; A hangs up (BYE along the Record-Route)`,
  ];
  return recorded(h, `proxy--${peer.label}--${peerB.label}`, notes, async (trace) => {
    const app = await h.app((srf) => {
      srf.invite((req: AppReq, res: AppRes) => {
        trace.add('invite');
        void srf
          .proxyRequest(req, peerB.uri, { recordRoute: true, remainInDialog: true })
          .then((r: { finalStatus?: number }) => trace.add(`proxied ${r?.finalStatus ?? ''}`.trim()))
          .catch((err: Error) => {
            trace.add(`proxy failed ${err.message}`);
            if (!res.finalResponseSent) res.send(500);
          });
      });
    });
    try {
      const mA = peer.log.mark();
      const mB = peerB.log.mark();
      await peer.call(h.uri('proxy', peer.transport));
      await peerB.log.wait('established', mB, 8000, peerB.label);
      await peer.log.wait('established', mA, 8000, peer.label);
      await sleep(150);
      await peer.hangup();
      await peer.log.wait('closed', mA, 5000, peer.label);
      await peerB.log.wait('closed', mB, 5000, peerB.label);
      await serverIdle(h);
    } finally {
      await closeApp(h, app);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE/NOTIFY: the peer subscribes to presence; the app answers 202 and NOTIFYs (active, pidf);
// the peer unsubscribes (Expires: 0), srf answers 202 and the app sends the final NOTIFY (terminated).
// (Real peers re-subscribe at once after a notifier-side termination, e.g. linphone even after
// reason=noresource, which would make the transcript racy; the scripted UAC covers that case.)
// ---------------------------------------------------------------------------------------------
/** `startSubscriber` starts a dedicated peer that subscribes to target (for peers that only unsubscribe when they quit). */
export async function subscribe(
  ctx: ScenarioContext & { startSubscriber?: (target: string) => Promise<Peer>; finalNotifyUnanswered?: boolean },
): Promise<RecordingResult> {
  const { h } = ctx;
  const notes = [
    'the peer SUBSCRIBEs (Event: presence); the app: createUAS (202), NOTIFY active;expires=600 (pidf open); the peer unsubscribes (Expires: 0, srf answers 202), the app sends NOTIFY terminated',
  ];
  return recorded(h, `subscribe--${ctx.peer.label}`, notes, async (trace) => {
    const app = await h.app((srf) => {
      srf.subscribe(async (req: AppReq, res: AppRes) => {
        trace.add(`subscribe ${req.get('Event')} expires=${req.has('Expires') ? req.get('Expires') : ''}`);
        try {
          const dlg = await srf.createUAS(req, res, {
            headers: { Expires: req.has('Expires') ? req.get('Expires') : '600' },
          });
          trace.add('202');
          dlg.on('unsubscribe', async () => {
            trace.add('unsubscribe');
            const result = finalStatus(dlg, {
              method: 'NOTIFY',
              headers: {
                Event: 'presence',
                'Subscription-State': 'terminated',
                'Content-Type': 'application/pidf+xml',
              },
              body: PIDF('closed'),
            });
            if (ctx.finalNotifyUnanswered) {
              trace.add('notify2 sent');
              return;
            }
            trace.add(`notify2 ${await result}`);
          });
          trace.add(
            `notify1 ${await finalStatus(dlg, { method: 'NOTIFY', headers: { Event: 'presence', 'Subscription-State': 'active;expires=600', 'Content-Type': 'application/pidf+xml' }, body: PIDF('open') })}`,
          );
        } catch (err) {
          trace.add(`failed ${(err as Error).message}`);
        }
      });
    });
    let peer = ctx.peer;
    try {
      const target = h.uri('presence', ctx.peer.transport);
      const m = ctx.startSubscriber ? 0 : peer.log.mark();
      if (ctx.startSubscriber) peer = await ctx.startSubscriber(target);
      else await peer.subscribe(target);
      await trace.wait('notify1 200');
      if (peer.caps.notifyEvents) await peer.log.wait('notify', m, 5000, peer.label);
      await sleep(100);
      await peer.unsubscribe();
      await trace.wait(ctx.finalNotifyUnanswered ? 'notify2 sent' : 'notify2 200');
      await sleep(100);
      // An unanswered final NOTIFY keeps the dialog until its transaction times out (64*T1).
      if (!ctx.finalNotifyUnanswered) await serverIdle(h);
    } finally {
      await closeApp(h, app);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// REFER: the peer calls the app, then transfers (REFER); the app answers 202 and sends sipfrag NOTIFYs.
// ---------------------------------------------------------------------------------------------
export async function refer(ctx: ScenarioContext): Promise<RecordingResult> {
  const { h, peer } = ctx;
  await peer.reset();
  const notes = [
    `${peer.label} calls the app, then transfers the call (REFER to carol); the app answers 202, NOTIFY sipfrag 100 Trying (active) and 200 OK (terminated); the call then ends`,
  ];
  return recorded(h, goldenName('refer', peer), notes, async (trace) => {
    const app = await h.app((srf) => {
      srf.invite(async (req: AppReq, res: AppRes) => {
        const dlg = await srf.createUAS(req, res, { localSdp: answerTo(req.body) });
        trace.add('dialog');
        dlg.on('destroy', () => trace.add('destroy'));
        dlg.on('refer', async (rreq: AppReq, rres: AppRes) => {
          trace.add(`refer ${rreq.get('Refer-To')}`);
          rres.send(202);
          try {
            const frag = (line: string, state: string) =>
              finalStatus(dlg, {
                method: 'NOTIFY',
                headers: { Event: 'refer', 'Subscription-State': state, 'Content-Type': 'message/sipfrag;version=2.0' },
                body: `${line}\r\n`,
              });
            trace.add(`notify-trying ${await frag('SIP/2.0 100 Trying', 'active;expires=60')}`);
            await sleep(50);
            trace.add(`notify-ok ${await frag('SIP/2.0 200 OK', 'terminated;reason=noresource')}`);
          } catch (err) {
            trace.add(`notify failed ${(err as Error).message}`);
          }
        });
      });
    });
    try {
      const m = peer.log.mark();
      await peer.call(h.uri('transferor', peer.transport));
      await peer.log.wait('established', m, 8000, peer.label);
      await sleep(100);
      await peer.transfer(h.uri('carol', peer.transport));
      await waitFor(
        () => trace.items.some((i) => i.startsWith('notify-ok')),
        8000,
        `final NOTIFY answered (app saw: ${trace.items.join(', ')})`,
      );
      assert.ok(
        trace.items.some((i) => /^refer <?sip:carol@/.test(i)),
        `REFER with Refer-To carol (app saw: ${trace.items.join(', ')})`,
      );
      await closedOrHangup(peer, m, 800);
      await trace.wait('destroy');
      await serverIdle(h);
    } finally {
      await closeApp(h, app);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// CANCEL: the peer calls, the app rings (180) and answers 200 only after the CANCEL reached it —
// "CANCEL just before the app's 200": the server has already sent 487; the late 200 must not go out.
// ---------------------------------------------------------------------------------------------
export async function cancel(ctx: ScenarioContext): Promise<RecordingResult> {
  const { h, peer } = ctx;
  await peer.reset();
  const notes = [
    `${peer.label} calls, the app sends 180; the peer cancels; when the app learns of the CANCEL it tries a (late) 200, which the server must refuse`,
  ];
  return recorded(h, goldenName('cancel', peer), notes, async (trace) => {
    const app = await h.app((srf) => {
      srf.invite((req: AppReq, res: AppRes) => {
        trace.add('invite');
        res.send(180);
        req.on('cancel', () => {
          trace.add('cancel');
          try {
            res.send(200, { body: answerTo(req.body) }, (err: unknown) =>
              trace.add(err ? 'late-200 refused' : 'late-200 sent'),
            );
          } catch (err) {
            trace.add(`late-200 threw: ${(err as Error).message}`);
          }
        });
      });
    });
    try {
      const m = peer.log.mark();
      await peer.call(h.uri('cancel', peer.transport));
      await peer.log.wait('ringing', m, 8000, peer.label);
      await sleep(100);
      await peer.hangup();
      await trace.wait('cancel');
      await peer.log.wait('closed', m, 5000, peer.label);
      await sleep(300);
      assert.equal(peer.log.find('established', m), undefined, `${peer.label} must not see the call answered`);
      await serverIdle(h);
    } finally {
      await closeApp(h, app);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Glare: the peer re-INVITEs; before answering, the app re-INVITEs too, then answers the peer 491.
// The peer (if it detects glare) answers the app's re-INVITE 491; the app retries after a short
// random-range delay (RFC 3261 14.1: 0-2 s, the app does not own the Call-ID).
// ---------------------------------------------------------------------------------------------
export async function glare(
  ctx: ScenarioContext & { waitPeerRetryMs?: number; peerEndsCallOn491?: boolean },
): Promise<RecordingResult> {
  const { h, peer } = ctx;
  await peer.reset();
  const notes = [
    `${peer.label} calls the app; the peer re-INVITEs; the app, before answering it, re-INVITEs (dialog.modify) and then answers the peer's re-INVITE 491`,
    'the app retries its re-INVITE after 200 ms if it got 491; a later peer retry is answered 200',
  ];
  return recorded(h, goldenName('glare', peer), notes, async (trace) => {
    let dlg: AppDialog | undefined;
    const app = await h.app((srf) => {
      srf.invite(async (req: AppReq, res: AppRes) => {
        dlg = await srf.createUAS(req, res, { localSdp: answerTo(req.body) });
        trace.add('dialog');
        let glared = false;
        dlg.on('destroy', () => trace.add('destroy'));
        dlg.on('modify', async (mreq: AppReq, mres: AppRes) => {
          if (glared) {
            trace.add('peer-retry');
            mres.send(200, { body: dlg!.local.sdp, headers: { 'Content-Type': 'application/sdp' } });
            return;
          }
          glared = true;
          trace.add('peer-reinvite');
          // dialog.request rather than dialog.modify: srf 5.0.29's modify() never releases its
          // one-re-INVITE-at-a-time gate after a non-200 final response, so a retry would hang.
          const reinvite = () =>
            finalStatus(dlg!, {
              method: 'INVITE',
              body: bumpVersion(dlg!.local.sdp),
              headers: { 'Content-Type': 'application/sdp', Contact: dlg!.local.contact },
            });
          const own = reinvite();
          mres.send(491);
          const first = await own;
          trace.add(`own-${first}`);
          if (first === 491) {
            await sleep(200);
            trace.add(`own-retry-${await reinvite()}`);
          }
        });
      });
    });
    try {
      const m = peer.log.mark();
      await peer.call(h.uri('glare', peer.transport));
      await peer.log.wait('established', m, 8000, peer.label);
      await trace.wait('dialog');
      await sleep(100);
      await peer.reinvite();
      await trace.wait('peer-reinvite');
      await waitFor(
        () => trace.items.some((i) => i === 'own-200' || i.startsWith('own-retry')),
        8000,
        `the app's re-INVITE to complete (app saw: ${trace.items.join(', ')})`,
      );
      if (ctx.waitPeerRetryMs)
        await waitFor(() => trace.has('peer-retry'), ctx.waitPeerRetryMs, 'the peer to retry its re-INVITE').catch(() =>
          trace.add('no-peer-retry'),
        );
      if (ctx.peerEndsCallOn491) {
        // Documented peer behaviour (JsSIP): its re-INVITE failing ends the call.
        const closed = await peer.log.wait('closed', m, 5000, peer.label);
        trace.add(`peer ended the call: ${closed.detail ?? ''}`);
      } else {
        await sleep(100);
        assert.ok(
          !peer.log.find('closed', m),
          `${peer.label} must still be in the call after glare (events: ${peer.log.events
            .slice(m)
            .map((e) => e.type)
            .join(', ')})`,
        );
        await peer.hangup();
        await peer.log.wait('closed', m, 5000, peer.label);
      }
      await trace.wait('destroy');
      await serverIdle(h);
    } finally {
      await closeApp(h, app);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// PRACK (100rel), both directions: the peer calls and the app answers 183 reliably (Require: 100rel),
// waits for the PRACK, then 200; then the app calls the peer with Require: 100rel and srf PRACKs the
// peer's reliable 18x.
// ---------------------------------------------------------------------------------------------
export async function prack(ctx: ScenarioContext): Promise<RecordingResult> {
  const { h, peer, webrtc } = ctx;
  await peer.reset();
  const notes = [
    `${peer.label} calls the app (Supported: 100rel); the app sends 183 with Require: 100rel and SDP, the peer PRACKs, the app sends 200; the peer hangs up`,
    `then the app calls ${peer.label} with Require: 100rel (createUAC); the peer's reliable 18x is PRACKed by srf; the app hangs up`,
  ];
  return recorded(h, goldenName('prack', peer), notes, async (trace) => {
    const app = await h.app((srf) => {
      srf.invite((req: AppReq, res: AppRes) => {
        trace.add(`invite supported=${req.has('Supported') ? req.get('Supported') : ''}`);
        const answer = answerTo(req.body);
        res.send(
          183,
          { headers: { Require: '100rel', 'Content-Type': 'application/sdp' }, body: answer },
          () => {},
          () => {
            trace.add('prack');
            setTimeout(() => {
              void srf.createUAS(req, res, { localSdp: answer }).then(
                (dlg) => {
                  trace.add('uas-dialog');
                  dlg.on('destroy', () => trace.add('uas-destroy'));
                },
                (err: Error) => trace.add(`createUAS failed ${err.message}`),
              );
            }, 20);
          },
        );
      });
    });
    try {
      let m = peer.log.mark();
      await peer.call(h.uri('prack', peer.transport));
      await trace.wait('prack', 3000);
      await peer.log.wait('established', m, 8000, peer.label);
      await sleep(50);
      await peer.hangup();
      await trace.wait('uas-destroy');
      await peer.log.wait('closed', m, 5000, peer.label);

      m = peer.log.mark();
      const dlg = await app.srf.createUAC(peer.uri, {
        localSdp: offerFor(webrtc),
        headers: { Require: '100rel', Supported: '100rel' },
      });
      trace.add('uac-dialog');
      await peer.log.wait('established', m, 8000, peer.label);
      await sleep(50);
      await dlg.destroy();
      await peer.log.wait('closed', m, 5000, peer.label);
      await serverIdle(h);
    } finally {
      await closeApp(h, app);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Flow selection: after the peer has opened a TCP connection to the server from its SIP address (e.g.
// following a Record-Route with transport=tcp in the proxy scenario), a request to its plain (UDP) URI
// must still go over UDP. Checked on the app's `Msg sent` result (transport field) and on the wire.
// ---------------------------------------------------------------------------------------------
export async function udpTargetAfterTcp(ctx: ScenarioContext): Promise<RecordingResult> {
  const { h, peer } = ctx;
  await peer.reset();
  const notes = [
    `${peer.label} has a TCP connection open to the server; the app calls its UDP URI (createUAC), then hangs up`,
  ];
  return recorded(h, goldenName('udp-target-after-tcp', peer), notes, async (trace) => {
    const sentOver: string[] = [];
    const app = await h.app();
    try {
      const m = peer.log.mark();
      const dlg = await app.srf.createUAC(
        peer.uri,
        { localSdp: offerFor(false) },
        {
          cbRequest: (
            _err: unknown,
            req: { get?(n: string): string; stackTransport?: string; source?: string; protocol?: string },
          ) => {
            sentOver.push(String(req?.protocol ?? ''));
          },
        },
      );
      await peer.log.wait('established', m, 8000, peer.label);
      trace.add(`INVITE sent over ${sentOver.join(',') || '?'}`);
      await dlg.destroy();
      await peer.log.wait('closed', m, 5000, peer.label);
      assert.deepEqual(sentOver, ['udp'], `INVITE to ${peer.uri} must go over UDP (sent over ${sentOver.join(',')})`);
    } finally {
      await closeApp(h, app);
    }
  });
}

export { isWebrtc, offerFor };
