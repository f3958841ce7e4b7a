/**
 * The focus over real sockets: digest authentication, the registrar's rules, call routing answers, and
 * a B2BUA call whose both legs are answered from mediasoup.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { webrtcLikeAnswer, webrtcLikeOffer, type IncomingRequest } from '@conclave/sip-test-ua';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

let stack: TestStack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

test('REGISTER is challenged, then accepted with the binding and its expiry', async () => {
  const alice = await stack.ua('alice', { userAgent: 'Linphone/5.1 (test)' });
  const r = await alice.register(300);
  assert.equal(r.final.status, 200);
  // The first attempt was challenged with SHA-256 (not an MD5-only agent).
  const challenge = alice.received.find((m) => m.kind === 'response' && m.status === 401);
  assert.ok(challenge && challenge.kind === 'response');
  assert.match(
    challenge.get('WWW-Authenticate')!,
    /^Digest realm="127\.0\.0\.1", nonce="[^"]+", algorithm=SHA-256, qop="auth"$/,
  );
  assert.match(
    r.final.get('Contact')!,
    new RegExp(`<sip:alice@127\\.0\\.0\\.1:${alice.port};transport=udp>;expires=(300|299)`),
  );
  assert.ok(stack.focus.registrar.isRegistered('alice'));
  const off = await alice.register(0);
  assert.equal(off.final.status, 200);
  assert.equal(stack.focus.registrar.isRegistered('alice'), false);
});

test('MD5-only user agents are challenged with MD5 and authenticate', async () => {
  const bob = await stack.ua('bob', { userAgent: 'JsSIP 3.13.8' });
  const r = await bob.register(300);
  assert.equal(r.final.status, 200);
  const challenge = bob.received.find((m) => m.kind === 'response' && m.status === 401);
  assert.ok(challenge && challenge.kind === 'response');
  assert.match(challenge.get('WWW-Authenticate')!, /algorithm=MD5/);
  await bob.register(0);
});

test("wrong password and someone else's address are refused", async () => {
  const mallory = await stack.ua('carol', { password: 'guessing' });
  const wrong = await mallory.register();
  assert.equal(wrong.final.status, 403);
  assert.match(wrong.final.reason, /wrong user name or password/);

  const alice = await stack.ua('alice');
  const other = await alice.send('REGISTER', 'sip:127.0.0.1', { headers: { To: '<sip:bob@127.0.0.1>' } });
  assert.equal(other.final.status, 403);
  const unknown = await stack.ua('zed', { password: 'whatever-pass' });
  assert.equal((await unknown.register()).final.status, 403);
  assert.equal(stack.focus.registrar.isRegistered('bob'), false);
});

test('calls to unknown and offline users, and an unbridgeable SDP, get clear answers', async () => {
  const alice = await stack.ua('alice');
  const unknown = await alice.invite('sip:nobody@127.0.0.1', webrtcLikeOffer());
  assert.equal(unknown.final.status, 404);
  const offline = await alice.invite('sip:dave@127.0.0.1', webrtcLikeOffer());
  assert.equal(offline.final.status, 480);

  const erin = await stack.ua('erin');
  assert.equal((await erin.register()).final.status, 200);
  // A phone offering only G.722 (neither Opus nor G.711): nothing to bridge it with.
  const g722Only =
    'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n';
  const bad = await alice.invite('sip:erin@127.0.0.1', g722Only);
  assert.equal(bad.final.status, 488);
  assert.match(bad.final.get('Warning')!, /^399 127\.0\.0\.1 ".+"$/);
  await erin.register(0);
});

test('a B2BUA call: both legs get mediasoup SDP, BYE on one side ends the other', async () => {
  const alice = await stack.ua('alice');
  const bob = await stack.ua('bob');
  assert.equal((await bob.register()).final.status, 200);
  let bobInvite: IncomingRequest | undefined;
  const bobAnswer = webrtcLikeAnswer();
  const aliceOffer = webrtcLikeOffer();
  bob.on('request', (incoming) => {
    if (incoming.request.method !== 'INVITE') return incoming.respond(200);
    bobInvite = incoming;
    incoming.respond(180, 'Ringing');
    setTimeout(() => bob.acceptInvite(incoming, bobAnswer), 50);
  });
  const call = await alice.invite('sip:bob@127.0.0.1', aliceOffer);
  assert.equal(call.final.status, 200);
  assert.ok(
    call.provisional.some((p) => p.status === 180),
    'alice saw ringing',
  );
  // What bob got: an offer from mediasoup (ICE-lite, DTLS), and alice's identity.
  const offer = bobInvite!.request.body.toString();
  assert.match(offer, /a=ice-lite/);
  assert.match(offer, /a=fingerprint:sha-256 /);
  assert.match(offer, /UDP\/TLS\/RTP\/SAVPF/);
  assert.match(bobInvite!.request.get('From')!, /<sip:alice@127\.0\.0\.1>/);
  // What alice got: an answer from mediasoup too, never bob's own SDP.
  const answer = call.final.body.toString();
  assert.match(answer, /a=ice-lite/);
  assert.match(answer, /a=setup:passive/);
  const ufrag = (sdp: string) => /a=ice-ufrag:(\S+)/.exec(sdp)![1]!;
  assert.notEqual(ufrag(answer), ufrag(bobAnswer), "alice must not get bob's ICE credentials");
  assert.notEqual(ufrag(offer), ufrag(aliceOffer), "bob must not get alice's ICE credentials");
  assert.notEqual(ufrag(answer), ufrag(offer), 'each leg has its own mediasoup transport');
  assert.equal(stack.focus.calls.length, 1);

  const bobDialog = bob.dialogs.values().next().value!;
  const byeSeen = new Promise((ok) => bobDialog.once('bye', ok));
  const bye = await call.dialog!.bye();
  assert.equal(bye.final.status, 200);
  await byeSeen;
  await waitFor(() => stack.focus.calls.length === 0);
  bob.removeAllListeners('request');
  await bob.register(0);
});

test('CANCEL while the callee rings: the callee sees CANCEL, the caller gets 487', async () => {
  const alice = await stack.ua('alice');
  const bob = await stack.ua('bob');
  await bob.register();
  let sawCancel = false;
  bob.on('request', (incoming) => {
    if (incoming.request.method === 'INVITE') {
      incoming.respond(180, 'Ringing');
      bob.once('request', (next) => {
        if (next.request.method === 'CANCEL') {
          sawCancel = true;
          next.respond(200);
          incoming.respond(487, 'Request Terminated');
        }
      });
    }
  });
  const invite = alice.invite('sip:bob@127.0.0.1', webrtcLikeOffer());
  await waitFor(
    () => stack.focus.calls.length === 1 && alice.received.some((m) => m.kind === 'response' && m.status === 180),
  );
  const inviteReq = alice.received.find((m) => m.kind === 'response' && m.status === 180)!;
  // CANCEL for the INVITE: same branch, same Call-ID, CSeq number with method CANCEL.
  const original = await Promise.race([invite.then(() => undefined), new Promise((r) => setTimeout(r, 20))]);
  assert.equal(original, undefined);
  const cancel = `CANCEL sip:bob@127.0.0.1 SIP/2.0\r\nVia: ${inviteReq.get('Via')}\r\nMax-Forwards: 70\r\nFrom: ${inviteReq.get('From')}\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: ${inviteReq.callId}\r\nCSeq: ${inviteReq.cseq.seq} CANCEL\r\nContent-Length: 0\r\n\r\n`;
  alice.sendRaw(cancel);
  const result = await invite;
  assert.equal(result.final.status, 487);
  await waitFor(() => sawCancel).catch((e) => {
    console.log(
      'bob received:',
      bob.received.map((m) => (m.kind === 'request' ? m.method : m.status)),
    );
    throw e;
  });
  await waitFor(() => stack.focus.calls.length === 0);
  bob.removeAllListeners('request');
  await bob.register(0);
});
