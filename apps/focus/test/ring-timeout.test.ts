/**
 * A called party that rings and never answers: after the ring timeout the focus CANCELs its INVITE
 * and tells the caller 480 "no answer"; for a dial-out (REFER to the focus), the roster says failed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { webrtcLikeOffer, type IncomingRequest } from '@conclave/sip-test-ua';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

const RING_TIMEOUT_MS = 600;
let stack: TestStack;

before(async () => {
  stack = await startStack({ ringTimeoutMs: RING_TIMEOUT_MS });
});
after(() => stack.close());

/** bob rings (180) and never answers; a CANCEL is answered 200 and the INVITE 487, as a phone does. */
function ringForever(bob: Awaited<ReturnType<TestStack['ua']>>): { cancelled: () => boolean } {
  let cancelled = false;
  const ringing = new Map<string, IncomingRequest>();
  bob.on('request', (incoming) => {
    const req = incoming.request;
    if (req.method === 'INVITE') {
      ringing.set(req.callId, incoming);
      incoming.respond(180, 'Ringing');
    } else if (req.method === 'CANCEL') {
      cancelled = true;
      incoming.respond(200);
      ringing.get(req.callId)?.respond(487, 'Request Terminated');
    } else {
      incoming.respond(200);
    }
  });
  return { cancelled: () => cancelled };
}

test('a 1:1 call nobody answers: CANCEL to the callee after the ring timeout, 480 "no answer" to the caller', async () => {
  const alice = await stack.ua('alice');
  const bob = await stack.ua('bob');
  await bob.register();
  const bobRings = ringForever(bob);
  const started = Date.now();
  const result = await alice.invite('sip:bob@127.0.0.1', webrtcLikeOffer());
  assert.equal(result.final.status, 480);
  assert.match(result.final.reason, /no answer/);
  assert.ok(Date.now() - started >= RING_TIMEOUT_MS, 'not before the ring timeout');
  assert.equal(bobRings.cancelled(), true, 'the callee got a CANCEL');
  await waitFor(() => stack.focus.calls.length === 0, 'the call is gone');
  assert.equal(stack.server.stats().pendingInvites, 0, 'no INVITE left pending in the SIP server');
  bob.removeAllListeners('request');
  await bob.register(0);
});

test('a dial-out nobody answers: CANCEL after the ring timeout, the REFER fails, the roster says failed', async () => {
  const alice = await stack.ua('alice');
  const carol = await stack.ua('carol');
  await carol.register();
  const carolRings = ringForever(carol);
  const conf = await alice.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
  assert.equal(conf.final.status, 200);
  const confUri = /<([^>]+)>;isfocus/.exec(conf.final.get('Contact')!)![1]!;
  const conference = stack.focus.conferences.registry.findByUri(confUri)!;
  const refer = await conf.dialog!.request('REFER', { headers: { 'Refer-To': '<sip:carol@127.0.0.1>' } });
  assert.equal(refer.final.status, 202);
  await waitFor(() => carolRings.cancelled(), 'carol got a CANCEL');
  await waitFor(() => conference.departed.some((d) => d.entity === 'sip:carol@127.0.0.1'), 'carol listed as departed');
  const carolEntry = conference.departed.find((d) => d.entity === 'sip:carol@127.0.0.1')!;
  assert.equal(carolEntry.disconnectionMethod, 'failed');
  const frags = alice.requestsFor(conf.dialog!.callId, 'NOTIFY').map((n) => n.body.toString().trim());
  await waitFor(
    () => alice.requestsFor(conf.dialog!.callId, 'NOTIFY').some((n) => /^SIP\/2\.0 480/.test(n.body.toString())),
    `a 480 sipfrag (got ${frags.join(' | ')})`,
  );
  await conf.dialog!.bye();
  await waitFor(() => stack.focus.conferences.registry.size === 0, 'the conference is over');
  assert.equal(stack.server.stats().pendingInvites, 0, 'no INVITE left pending in the SIP server');
  carol.removeAllListeners('request');
  await carol.register(0);
});
