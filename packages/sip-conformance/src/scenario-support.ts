/**
 * What every scenario is built on (split out of scenarios.ts): the app-side trace, the scenario context,
 * recording with the transcript attached to failures, the golden check, and waiting for the server or
 * the app to go quiet.
 */
import assert from 'node:assert/strict';
import type { ConnectedApp } from './app.ts';
import type { Harness, RecordingResult } from './harness.ts';
import type { Peer } from '@conclave/test-peers';
import { sleep, waitFor } from './util.ts';

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
export async function recorded(
  h: Harness,
  name: string,
  notes: string[],
  body: (trace: AppTrace) => Promise<void>,
  opts: { keepRetransmissions?: boolean } = {},
): Promise<RecordingResult> {
  const rec = h.record(name, { notes, ...opts });
  const trace = new AppTrace();
  try {
    await body(trace);
  } catch (err) {
    const e = err as Error;
    const transcript = await rec.render().catch((x: Error) => `(no transcript: ${x.message})`);
    const peerOut = h.peerOutputs().slice(-4000);
    const report = `\n--- app trace ---\n${trace.items.join(', ')}\n--- peer output (tail) ---\n${peerOut}\n--- transcript so far ---\n${transcript}\n--- last server log lines ---\n${h.logLines.slice(-25).join('\n')}`;
    e.message += report;
    // The runner prints the stack (captured when the error was made), so extend it too.
    if (e.stack) e.stack += report;
    throw e;
  }
  return rec.finish(trace.items.length > 0 ? [`app trace: ${trace.items.join(', ')}`] : []);
}

/**
 * Wait until the server holds no dialog (embedded server only). Completed transactions legitimately
 * linger (Timer J/K, 64*T1 on UDP), so they are not counted.
 */
export async function serverIdle(h: Harness, ms = 3000): Promise<void> {
  if (!h.server) return;
  await waitFor(
    () => h.server!.stats().dialogs === 0,
    ms,
    `no dialogs left in the server (stats ${JSON.stringify(h.server.stats())})`,
  );
}

/** Close the app and wait until the server (or the tap) has seen it go. */
export async function closeApp(h: Harness, app: ConnectedApp): Promise<void> {
  await h.quiet();
  app.close();
  await sleep(30);
}
