/**
 * A focus whose users are located elsewhere (a cluster node: users register at the edge): the callee's
 * INVITE goes to the user's address of record through the locator's outbound proxy, with the media the
 * locator says; no location → 480 without sending anything; the proxy's 404 (no contact) → 480.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { webrtcLikeAnswer, webrtcLikeOffer, type SipTestUa } from '@conclave/sip-test-ua';
import type { CallTarget } from '../src/index.ts';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

let stack: TestStack;
/** Plays the edge: the "proxy" the focus sends bob's and dave's INVITEs to. */
let edge: SipTestUa | undefined;
const located: string[] = [];

before(async () => {
  stack = await startStack({
    locateUser: (user): Promise<CallTarget | undefined> => {
      located.push(user);
      if (!edge || (user !== 'bob' && user !== 'dave')) return Promise.resolve(undefined);
      return Promise.resolve({
        contact: `sip:${user}@127.0.0.1`,
        proxy: `sip:127.0.0.1:${edge.port};transport=udp;lr`,
        media: 'webrtc',
      });
    },
  });
  edge = await stack.ua('bob');
});
after(async () => {
  await stack.close();
});

test('the callee is called at its address of record through the proxy, with the media the locator gave', async () => {
  const alice = await stack.ua('alice');
  let requestUri = '';
  edge!.on('request', (incoming) => {
    if (incoming.request.method !== 'INVITE') return incoming.respond(200);
    requestUri = incoming.request.uri;
    if (incoming.request.uri.startsWith('sip:dave@')) return incoming.respond(404, 'Not Found');
    assert.match(incoming.request.body.toString(), /UDP\/TLS\/RTP\/SAVPF/, 'a WebRTC offer');
    edge!.acceptInvite(incoming, webrtcLikeAnswer());
  });
  const call = await alice.invite('sip:bob@127.0.0.1', webrtcLikeOffer());
  assert.equal(call.final.status, 200);
  assert.equal(requestUri, 'sip:bob@127.0.0.1');
  assert.equal(stack.focus.registrar.isRegistered('bob'), false, 'nobody registered at this focus');
  assert.equal((await call.dialog!.bye()).final.status, 200);
  await waitFor(() => stack.focus.calls.length === 0);

  // The proxy found no contact (404): the caller hears "offline", as from a single machine.
  const noContact = await alice.invite('sip:dave@127.0.0.1', webrtcLikeOffer());
  assert.equal(noContact.final.status, 480);
  assert.equal(requestUri, 'sip:dave@127.0.0.1');
  // No location at all: 480 without any INVITE leaving the focus.
  const offline = await alice.invite('sip:carol@127.0.0.1', webrtcLikeOffer());
  assert.equal(offline.final.status, 480);
  assert.equal(requestUri, 'sip:dave@127.0.0.1');
  assert.deepEqual(located, ['bob', 'dave', 'carol']);
  edge!.removeAllListeners('request');
});
