/**
 * A scripted UDP UAC for what real phones cannot be told to do (never ACK, CANCEL at an exact moment),
 * and the scripted flows of the reference drachtio recordings (g, h, i, k). The server runs with a small
 * T1 (injectable timers) so the ACK timeout takes ~1.3 s instead of 32 s.
 */
import { after, before, test } from 'node:test';
import { Harness } from '../src/harness.ts';
import { assertGolden } from '../src/scenarios.ts';
import {
  scriptedAckTimeout,
  scriptedCancel,
  scriptedCancelAfter200,
  scriptedCancelBefore200,
  scriptedRefer,
  scriptedSubscribe,
} from '../src/scripted-scenarios.ts';

const T1 = 20;
let h: Harness;

before(async () => {
  h = await Harness.start({ timers: { T1 } });
});

after(async () => {
  await h?.close();
});

test('CANCEL (reference g): server answers 200 + 487, app told, ACK absorbed', async () =>
  assertGolden(await scriptedCancel(h)));
test("CANCEL race: CANCEL just before the app's 200 — 487 wins, the late 200 is refused", async () =>
  assertGolden(await scriptedCancelBefore200(h)));
test("CANCEL race: CANCEL just after the app's 200 — no effect, the call proceeds", async () =>
  assertGolden(await scriptedCancelAfter200(h)));
test('REFER (reference h): 202 + sipfrag NOTIFY, BYE', async () => assertGolden(await scriptedRefer(h)));
test('SUBSCRIBE/NOTIFY (reference i): 202, NOTIFY active, NOTIFY terminated', async () =>
  assertGolden(await scriptedSubscribe(h)));
test('ACK timeout (reference k): 2xx retransmitted, BYE with Reason at 64*T1, app told', async () => {
  // A real drachtio-server has T1 = 500 ms: the same scenario then takes ~33 s.
  assertGolden(await scriptedAckTimeout(h, h.external ? 500 : T1));
});
