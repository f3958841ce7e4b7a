/**
 * Scenarios only a scripted UAC can drive: ACK timeout (a 2xx never ACKed), CANCEL racing the app's
 * 200 from either side, plus the reference recordings' scripted flows (CANCEL g, REFER h, SUBSCRIBE i),
 * written the same way so the transcripts compare with drachtio-server's reference recordings (../shared/drachtio-transcripts).
 */
import assert from 'node:assert/strict';
import type { AppDialog, AppReq, AppRes, LooseSrf } from './app.ts';
import type { Harness, RecordingResult } from './harness.ts';
import { ScriptedUac, type Peer } from '@conclave/test-peers';
import { closeApp, recorded, serverIdle, type AppTrace } from './scenarios.ts';
import { plainSdp } from './sdp.ts';
import { sleep, waitFor } from './util.ts';

const APP_SDP = plainSdp();

async function uacFor(h: Harness): Promise<ScriptedUac> {
  const uac = await new ScriptedUac(h.sip.udp).bind();
  h.roles.set(uac.port, 'scripted-uac');
  return uac;
}

/**
 * One scripted recording: a UAC bound for `h` (its port named in the transcript), an app `setup`
 * installs, then `drive`; the app and the UAC are closed whatever happens.
 */
async function scriptedRecording(
  h: Harness,
  name: string,
  notes: string[],
  setup: (srf: LooseSrf, trace: AppTrace) => void,
  drive: (uac: ScriptedUac, trace: AppTrace) => Promise<void>,
  opts?: { keepRetransmissions?: boolean },
): Promise<RecordingResult> {
  const uac = await uacFor(h);
  try {
    return await recorded(
      h,
      name,
      notes,
      async (trace) => {
        const app = await h.app((srf) => setup(srf, trace));
        try {
          await drive(uac, trace);
        } finally {
          await closeApp(h, app);
        }
      },
      opts,
    );
  } finally {
    uac.close();
  }
}

/** Reference g: INVITE, the app rings, CANCEL after the 180; the server answers 200 + 487 itself. */
export async function scriptedCancel(h: Harness): Promise<RecordingResult> {
  const notes = [
    'scripted UAC INVITE; the app sends 180 and waits; CANCEL 100 ms after the 180; ACK for the 487 (reference g-cancel)',
  ];
  return scriptedRecording(
    h,
    'cancel--scripted',
    notes,
    (srf, trace) => {
      srf.invite((req: AppReq, res: AppRes) => {
        trace.add('invite');
        res.send(180);
        req.on('cancel', () => trace.add('cancel'));
      });
    },
    async (uac, trace) => {
      uac.invite('g', 'bob');
      const ringing = await uac.waitResponse((r) => r.status === 180);
      await sleep(100);
      uac.cancel('g', 'bob');
      await uac.waitResponse((r) => r.cseq.method === 'CANCEL' && r.status === 200, 5000, '200 to CANCEL');
      const terminated = await uac.waitResponse((r) => r.status === 487, 5000, '487');
      assert.equal(terminated.toTag, ringing.toTag, '487 carries the To tag of the 180');
      uac.ackNon2xx('g', 'bob', terminated.toTag!);
      await trace.wait('cancel');
    },
  );
}

/**
 * CANCEL just before the app's 200: the UAC cancels the moment the 180 arrives and the app sends its 200
 * in the same instant; the CANCEL reaches the server first (UDP beats the app's two control-port hops),
 * so the server answers 200 + 487 and must refuse the app's 200: no 200 to the INVITE on the wire.
 */
export async function scriptedCancelBefore200(h: Harness): Promise<RecordingResult> {
  const notes = [
    'race: the scripted UAC sends CANCEL the moment the 180 arrives, and the app sends 200 at the same instant; the CANCEL wins, the late 200 is refused',
  ];
  let answer: (() => void) | undefined;
  return scriptedRecording(
    h,
    'cancel-race-before-200--scripted',
    notes,
    (srf, trace) => {
      srf.invite((req: AppReq, res: AppRes) => {
        trace.add('invite');
        res.send(180);
        req.on('cancel', () => trace.add('cancel'));
        answer = () =>
          res.send(200, { body: APP_SDP }, (err: unknown) => trace.add(err ? 'late-200 refused' : 'late-200 sent'));
      });
    },
    async (uac, trace) => {
      uac.invite('cb', 'bob');
      await uac.waitResponse((r) => r.status === 180);
      uac.cancel('cb', 'bob');
      answer!();
      const terminated = await uac.waitResponse((r) => r.status === 487, 5000, '487');
      uac.ackNon2xx('cb', 'bob', terminated.toTag!);
      // srf emits no 'cancel' here: it already considers the request answered; the app learns from the
      // refusal of its 200 (NOK from the server).
      await waitFor(() => trace.items.some((i) => i.startsWith('late-200')), 3000, 'the late 200 outcome');
      await sleep(100);
      assert.equal(
        uac.responses((r) => r.status === 200 && r.cseq.method === 'INVITE').length,
        0,
        'no 200 to the INVITE after 487',
      );
      assert.ok(
        trace.has('late-200 refused'),
        `the server refuses the app's late 200 (app saw: ${trace.items.join(', ')})`,
      );
    },
  );
}

/**
 * CANCEL just after the app's 200: the UAC receives the 200 and cancels anyway before ACKing. The
 * INVITE is already answered, so the CANCEL has no effect (RFC 3261 §9.2: 200 to the CANCEL, or 481
 * when the transaction is gone); the call goes on: ACK reaches the app, BYE ends it.
 */
export async function scriptedCancelAfter200(h: Harness): Promise<RecordingResult> {
  const notes = [
    'race: the app answers 200 at once; the scripted UAC sends CANCEL after receiving the 200, then ACK, then BYE; the CANCEL must not undo the call',
  ];
  let dlg: AppDialog | undefined;
  return scriptedRecording(
    h,
    'cancel-race-after-200--scripted',
    notes,
    (srf, trace) => {
      srf.invite(async (req: AppReq, res: AppRes) => {
        trace.add('invite');
        req.on('cancel', () => trace.add('cancel reached the app'));
        dlg = await srf.createUAS(req, res, { localSdp: APP_SDP });
        trace.add('dialog');
        dlg.on('ack', () => trace.add('ack'));
        dlg.on('destroy', () => trace.add('destroy'));
      });
    },
    async (uac, trace) => {
      uac.invite('ca', 'bob');
      const ok = await uac.waitResponse((r) => r.status === 200 && r.cseq.method === 'INVITE');
      uac.cancel('ca', 'bob');
      const cancelAnswer = await uac.waitResponse((r) => r.cseq.method === 'CANCEL', 5000, 'response to CANCEL');
      trace.add(`CANCEL answered ${cancelAnswer.status}`);
      assert.ok(
        cancelAnswer.status === 200 || cancelAnswer.status === 481,
        `CANCEL after 2xx answered 200 or 481, got ${cancelAnswer.status}`,
      );
      const target = ok.contacts[0]?.uri ?? `sip:${h.sip.udp.host}:${h.sip.udp.port}`;
      uac.inDialog('ca', 'bob', 'ACK', 1, ok.toTag!, target);
      await trace.wait('ack');
      await sleep(50);
      assert.equal(uac.responses((r) => r.status === 487).length, 0, 'no 487 after a 200');
      uac.inDialog('ca', 'bob', 'BYE', 2, ok.toTag!, target);
      await uac.waitResponse((r) => r.cseq.method === 'BYE', 5000, '200 to BYE');
      await trace.wait('destroy');
    },
  );
}

/** Reference h: INVITE/ACK, REFER; the app answers 202 and NOTIFYs sipfrag 200 (terminated); BYE. */
export async function scriptedRefer(h: Harness): Promise<RecordingResult> {
  const notes = [
    'scripted UAC INVITE/ACK, REFER (Refer-To, Referred-By); the app: 202, NOTIFY Event: refer, terminated;reason=noresource, sipfrag SIP/2.0 200 OK; 200 to the NOTIFY; BYE (reference h-refer-notify)',
  ];
  return scriptedRecording(
    h,
    'refer--scripted',
    notes,
    (srf, trace) => {
      srf.invite(async (req: AppReq, res: AppRes) => {
        const dlg = await srf.createUAS(req, res, { localSdp: APP_SDP });
        dlg.on('destroy', () => trace.add('destroy'));
        dlg.on('refer', (rreq: AppReq, rres: AppRes) => {
          trace.add(`refer ${rreq.get('Refer-To')}`);
          rres.send(202);
          void dlg
            .request({
              method: 'NOTIFY',
              headers: {
                Event: 'refer',
                'Subscription-State': 'terminated;reason=noresource',
                'Content-Type': 'message/sipfrag;version=2.0',
              },
              body: 'SIP/2.0 200 OK\r\n',
            })
            .then(() => trace.add('notify sent'));
        });
      });
    },
    async (uac, trace) => {
      uac.invite('h', 'bob');
      const ok = await uac.waitResponse((r) => r.status === 200 && r.cseq.method === 'INVITE');
      const target = ok.contacts[0]!.uri;
      uac.inDialog('h', 'bob', 'ACK', 1, ok.toTag!, target);
      await sleep(50);
      uac.inDialog('h', 'bob', 'REFER', 2, ok.toTag!, target, [
        `Contact: <sip:carol@${uac.me}>`,
        'Refer-To: <sip:transfer-target@127.0.0.1:5090>',
        `Referred-By: <sip:carol@${uac.me}>`,
      ]);
      await uac.waitResponse((r) => r.cseq.method === 'REFER' && r.status === 202, 5000, '202 to REFER');
      await uac.waitRequest((r) => r.method === 'NOTIFY', 5000, 'NOTIFY');
      await sleep(50);
      uac.inDialog('h', 'bob', 'BYE', 3, ok.toTag!, target);
      await uac.waitResponse((r) => r.cseq.method === 'BYE', 5000, '200 to BYE');
      await trace.wait('destroy');
    },
  );
}

/** Reference i: SUBSCRIBE → 202; NOTIFY active (pidf); then NOTIFY terminated;reason=timeout. */
export async function scriptedSubscribe(h: Harness): Promise<RecordingResult> {
  const notes = [
    'scripted UAC SUBSCRIBE Event: presence, Expires: 3600; the app: createUAS (202), NOTIFY active;expires=3600 (pidf), 100 ms later NOTIFY terminated;reason=timeout (no body); the UAC answers both 200 (reference i-subscribe-notify)',
  ];
  const pidf = (basic: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>\r\n<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:bob@127.0.0.1"><tuple id="t1"><status><basic>${basic}</basic></status></tuple></presence>\r\n`;

  return scriptedRecording(
    h,
    'subscribe--scripted',
    notes,
    (srf, trace) => {
      srf.subscribe(async (req: AppReq, res: AppRes) => {
        const dlg = await srf.createUAS(req, res, { headers: { Expires: req.get('Expires') } });
        trace.add('202');
        await dlg.request({
          method: 'NOTIFY',
          headers: {
            Event: 'presence',
            'Subscription-State': 'active;expires=3600',
            'Content-Type': 'application/pidf+xml',
          },
          body: pidf('open'),
        });
        trace.add('notify1');
        await sleep(100);
        await dlg.request({
          method: 'NOTIFY',
          headers: { Event: 'presence', 'Subscription-State': 'terminated;reason=timeout' },
        });
        trace.add('notify2');
      });
    },
    async (uac, trace) => {
      uac.subscribe('i', 'bob');
      await uac.waitResponse((r) => r.cseq.method === 'SUBSCRIBE' && r.status === 202, 5000, '202');
      // Distinct NOTIFYs by CSeq: with T1 = 20 ms a loaded machine may see the server retransmit one
      // before our 200 reaches it (legal, RFC 3261 §17.1.2; the transcript leaves repeats out too).
      const notifies = () => [
        ...new Map(uac.requests((r) => r.method === 'NOTIFY').map((r) => [r.cseq.seq, r] as const)).values(),
      ];
      await waitFor(() => notifies().length === 2, 5000, 'two NOTIFYs');
      const [n1, n2] = notifies();
      assert.equal(n2!.cseq.seq, n1!.cseq.seq + 1);
      await trace.wait('notify2');
    },
  );
}

/**
 * Reference k: a 2xx that is never ACKed. The server retransmits it (T1 doubling, capped at T2) and at
 * 64*T1 sends BYE with `Reason: SIP;cause=200;text="ACK timeout"`; the app's dialog is destroyed with
 * reason "ACK timeout". Run with a small T1 (the server's injectable timers) so it takes ~1.3 s.
 */
export async function scriptedAckTimeout(h: Harness, T1: number): Promise<RecordingResult> {
  const notes = [
    `scripted UAC INVITE, never ACKs the 200; server T1 = ${T1} ms: 2xx retransmitted, BYE with Reason at 64*T1; the UAC answers the BYE (reference k-no-ack-2xx-retransmit, there with T1 = 500 ms)`,
  ];
  let destroyedAt = 0;
  return scriptedRecording(
    h,
    'ack-timeout--scripted',
    notes,
    (srf, trace) => {
      srf.invite(async (req: AppReq, res: AppRes) => {
        const dlg = await srf.createUAS(req, res, { localSdp: APP_SDP });
        trace.add('dialog');
        dlg.on('destroy', (_msg: unknown, reason: string) => {
          destroyedAt = Date.now();
          trace.add(`destroy: ${reason}`);
        });
      });
    },
    async (uac, trace) => {
      const t0 = Date.now();
      uac.invite('k', 'noack');
      const bye = await uac.waitRequest((r) => r.method === 'BYE', 64 * T1 + 10_000, 'BYE after ACK timeout');
      const byeAt = uac.received.find((x) => x.msg === bye)!.at;
      assert.match(bye.get('reason') ?? '', /^SIP;cause=200;text="ACK timeout"$/);
      const oks = uac.received.filter((x) => x.msg.kind === 'response' && (x.msg as { status: number }).status === 200);
      // 11 copies at T1 = 500 ms in the reference; timer jitter on a busy machine may drop or add the last one.
      assert.ok(oks.length >= 9 && oks.length <= 12, `2xx sent ${oks.length} times`);
      assert.ok(byeAt - t0 >= 64 * T1 - 5, `BYE after 64*T1 (${byeAt - t0} ms)`);
      assert.equal(bye.cseq.seq, 2, 'BYE CSeq = INVITE CSeq + 1');
      await waitFor(() => destroyedAt > 0, 3000, 'dialog destroy');
      trace.add(`2xx copies: ${oks.length >= 9 && oks.length <= 12 ? '9..12' : oks.length}`);
      assert.ok(trace.has('destroy: ACK timeout'), `app told why (app saw: ${trace.items.join(', ')})`);
    },
    { keepRetransmissions: false },
  );
}

/** Reference f (f-b2bua), replayed: scripted UAC → app (createB2BUA, SDP passed through) → a real peer (B). */
export async function scriptedB2buaReference(h: Harness, peerB: Peer): Promise<RecordingResult> {
  const notes = [
    `reference f-b2bua replayed: scripted UAC calls bob, srf.createB2BUA(req, res, ${peerB.label}, {localSdpB: req.body, headers: {X-App: b2b}}), ACK, BYE from A after 300 ms, the app ends B`,
  ];
  return scriptedRecording(
    h,
    `ref-f-b2bua--scripted--${peerB.label}`,
    notes,
    (srf, trace) => {
      srf.invite(async (req: AppReq, res: AppRes) => {
        const { uas: a, uac: b } = await srf.createB2BUA(req, res, peerB.uri, {
          localSdpB: req.body,
          headers: { 'X-App': 'b2b' },
        });
        trace.add('connected');
        a.on('destroy', () => {
          trace.add('a-bye');
          void b.destroy().then(() => trace.add('b-ended'));
        });
      });
    },
    async (uac, trace) => {
      const mB = peerB.log.mark();
      uac.invite('f', 'bob');
      const ok = await uac.waitResponse((r) => r.status === 200 && r.cseq.method === 'INVITE', 8000, '200 to INVITE');
      const target = ok.contacts[0]!.uri;
      uac.inDialog('f', 'bob', 'ACK', 1, ok.toTag!, target);
      await peerB.log.wait('established', mB, 5000, peerB.label);
      await sleep(300);
      uac.inDialog('f', 'bob', 'BYE', 2, ok.toTag!, target);
      await uac.waitResponse((r) => r.cseq.method === 'BYE', 5000, '200 to BYE');
      await trace.wait('b-ended');
      await peerB.log.wait('closed', mB, 5000, peerB.label);
      await serverIdle(h);
    },
  );
}
