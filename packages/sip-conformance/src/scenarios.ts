/**
 * The scenarios, written once against the Peer interface and run for every peer × transport.
 * Each one: connect a fresh drachtio-srf app (through the tap), drive the peer, assert what both sides
 * saw, then compare the normalised transcript with golden/<scenario>--<peer>.txt.
 */
import assert from 'node:assert/strict';
import type { AppDialog, AppReq, AppRes, ConnectedApp } from './app.ts';
import type { Harness, RecordingResult } from './harness.ts';
import type { Peer } from './peers/peer.ts';
import { answerTo, isWebrtc, offerFor } from './sdp.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(fn: () => T | undefined | false | null, ms = 5000, what = 'condition'): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Whatever happened on the app side, in order (asserted by scenarios, printed on failure). */
export class AppTrace {
  readonly items: string[] = [];
  add(s: string): void {
    this.items.push(s);
  }
  has(s: string): boolean {
    return this.items.includes(s);
  }
  wait(s: string, ms = 8000): Promise<true> {
    return waitFor(() => this.has(s), ms, `app event '${s}' (app saw: ${this.items.join(', ')})`);
  }
}

export interface ScenarioContext {
  h: Harness;
  peer: Peer;
  /** Second peer for B2BUA / proxy (the B leg). */
  peerB?: Peer;
  /** Webrtc-shaped SDP needed by the peer (Chromium). */
  webrtc: boolean;
}

export function goldenName(scenario: string, peer: Peer): string {
  return `${scenario}--${peer.label}`;
}

/** Fail with the transcript diff, after the scenario's own assertions. */
export function assertGolden(r: RecordingResult): void {
  if (r.diff) assert.fail(`transcript differs from golden:\n${r.diff}`);
}

/**
 * Run a scenario body while recording; on failure the error carries the transcript so far (and the
 * last server log lines), which is what one needs to see what went wrong on the wire.
 */
export async function recorded(h: Harness, name: string, notes: string[], body: () => Promise<void>, opts: { keepRetransmissions?: boolean } = {}): Promise<RecordingResult> {
  const rec = h.record(name, { notes, ...opts });
  try {
    await body();
  } catch (err) {
    const e = err as Error;
    const transcript = await rec.render().catch((x: Error) => `(no transcript: ${x.message})`);
    const peerOut = h.peerOutputs().slice(-4000);
    e.message += `\n--- peer output (tail) ---\n${peerOut}\n--- transcript so far ---\n${transcript}\n--- last server log lines ---\n${h.logLines.slice(-25).join('\n')}`;
    throw e;
  }
  return rec.finish();
}

/**
 * Wait until the server holds no dialog (embedded server only). Completed transactions legitimately
 * linger (Timer J/K, 64*T1 on UDP), so they are not counted.
 */
export async function serverIdle(h: Harness, ms = 3000): Promise<void> {
  if (!h.server) return;
  await waitFor(() => h.server!.stats().dialogs === 0, ms, `no dialogs left in the server (stats ${JSON.stringify(h.server.stats())})`);
}

/** Close the app and wait until the server (or the tap) has seen it go. */
export async function closeApp(h: Harness, app: ConnectedApp): Promise<void> {
  app.close();
  await sleep(30);
}

// ---------------------------------------------------------------------------------------------
// UAS: the peer calls the app; 180, 200, ACK; the peer hangs up. Second call: the app hangs up.
// ---------------------------------------------------------------------------------------------
export async function uas(ctx: ScenarioContext): Promise<RecordingResult> {
  const { h, peer } = ctx;
  await peer.reset();
  const notes = [`${peer.label} calls the app twice: 180 + 200 (createUAS), ACK; first BYE from the peer, then BYE from the app`];
  return recorded(h, goldenName('uas', peer), notes, async () => {
    const trace = new AppTrace();
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

export { isWebrtc, offerFor };
