/**
 * Interop with a SIP phone nobody here wrote: baresip (Debian) registers through the embedded server
 * with digest authentication, and its plain-RTP call gets a clear 488 with a Warning (the focus bridges
 * WebRTC legs only; plain-RTP phones and the mixer are their own piece of work).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type TestStack } from './support/stack.ts';
import { Baresip } from './support/baresip.ts';
import { waitFor as waitUntil } from './support/wait.ts';

let stack: TestStack;
let baresip: Baresip;

before(async () => {
  stack = await startStack();
  baresip = await Baresip.start({
    account: `<sip:dave@127.0.0.1:${stack.sipPort};transport=udp>;auth_pass=dave-secret;regint=300`,
    sipPort: 25162,
    ctrlPort: 25444,
    rtpPorts: '25170-25190',
  });
});
after(async () => {
  baresip?.stop();
  await stack?.close();
});

function waitFor(predicate: () => boolean, what: string): Promise<void> {
  return waitUntil(predicate, what, 10_000, () => `baresip said:
${baresip.output.slice(-2000)}`);
}

test('baresip registers with digest authentication', async () => {
  await waitFor(() => stack.focus.registrar.isRegistered('dave'), "dave's registration");
  const binding = stack.focus.registrar.lookup('dave')!;
  assert.match(binding.contact, /^sip:dave(-[^@]+)?@127\.0\.0\.1:25162/, `contact ${binding.contact}`);
  assert.match(binding.userAgent ?? '', /baresip/i);
  // baresip's own view: it printed the registrar's 200 with its binding.
  await waitFor(() => /200 OK/.test(baresip.output), 'baresip to report 200 OK for its REGISTER');
});

test("baresip's plain-RTP call is refused with 488 and a Warning that says why", async () => {
  baresip.command('dial', `sip:conference@127.0.0.1:${stack.sipPort}`);
  await waitFor(() => baresip.events.some((e) => e.type === 'CALL_CLOSED'), 'the call to close');
  const closed = baresip.events.find((e) => e.type === 'CALL_CLOSED')!;
  assert.match(String(closed.param), /488/);
  assert.equal(stack.focus.conferences.registry.size, 0, 'no conference left behind');
});
