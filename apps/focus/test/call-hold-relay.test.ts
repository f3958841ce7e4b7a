/**
 * A B2BUA relays hold (issue 8 item 8): when alice holds, bob is re-INVITEd with the held direction
 * (his phone shows the hold); when she resumes, with sendrecv again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { answerFor, webrtcLikeOffer } from '@conclave/sip-test-ua';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

let stack: TestStack;
before(async () => {
  stack = await startStack();
});
after(() => stack.close());

function directionOf(sdp: string): string {
  return /^a=(sendrecv|sendonly|recvonly|inactive)/m.exec(sdp)?.[1] ?? 'sendrecv';
}

function nextVersion(sdp: string, direction: string): string {
  return sdp
    .replace(/a=(sendrecv|sendonly|recvonly|inactive)/g, `a=${direction}`)
    .replace(/^(o=\S+ \d+ )(\d+)/m, (_m, head: string, v: string) => `${head}${Number(v) + 1}`);
}

test("alice's hold reaches bob as a sendonly re-INVITE; her resume as sendrecv", async () => {
  const bob = await stack.ua('bob');
  assert.equal((await bob.register()).final.status, 200);
  bob.on('request', (incoming) => {
    if (incoming.request.method === 'INVITE' && !bob.dialogs.has(incoming.request.callId))
      bob.acceptInvite(incoming, answerFor(incoming.request.body.toString()));
    else incoming.respond(200);
  });
  const alice = await stack.ua('alice');
  const offer = webrtcLikeOffer();
  const call = await alice.invite('sip:bob@127.0.0.1', offer);
  assert.equal(call.final.status, 200);
  const bobCall = [...bob.dialogs.values()][0]!;

  const held = nextVersion(offer, 'sendonly');
  let r = await call.dialog!.reinvite(held);
  assert.equal(r.final.status, 200);
  assert.equal(directionOf(r.final.body.toString()), 'recvonly', 'alice is answered recvonly');
  await waitFor(() => bobCall.reinvites.length === 1, "bob's re-INVITE");
  const toBob = bobCall.reinvites[0]!;
  assert.match(directionOf(toBob.body.toString()), /^(sendonly|inactive)$/, 'bob is told he is on hold');

  const resumed = nextVersion(held, 'sendrecv');
  r = await call.dialog!.reinvite(resumed);
  assert.equal(r.final.status, 200);
  await waitFor(() => bobCall.reinvites.length === 2, "bob's second re-INVITE");
  assert.equal(directionOf(bobCall.reinvites[1]!.body.toString()), 'sendrecv', 'bob is resumed');

  await call.dialog!.bye();
  await waitFor(() => stack.focus.calls.length === 0, 'call over');
});
