/**
 * Who owns a leg while the focus moves a party into a conference (issue: a party lost when the page
 * ended its old call during the adoption). Each test holds the party's answer to the focus's
 * re-INVITE and sends the racing request at one exact moment — before, during and after the adoption
 * — so the order is forced by the protocol, not by timing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  answerFor,
  webrtcLikeOffer,
  type IncomingRequest,
  type SipTestDialog,
  type SipTestUa,
} from '@conclave/sip-test-ua';
import type { Conference } from '@conclave/conference';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

const BOB = 'sip:bob@127.0.0.1';

interface Scene {
  alice: SipTestUa;
  bob: SipTestUa;
  call: SipTestDialog;
  bobCall: SipTestDialog;
  conf: SipTestDialog;
  confUri: string;
  conference: Conference;
  aliceHoldOffer: string;
  /** The focus's re-INVITEs of bob's leg as a conference member (Contact ;isfocus), held unanswered until the test answers them. */
  nextReinvite(): Promise<IncomingRequest>;
}

/** alice calls bob, creates a conference; bob's re-INVITEs are held for the test to answer. */
async function scene(stack: TestStack): Promise<Scene> {
  const bob = await stack.ua('bob');
  assert.equal((await bob.register()).final.status, 200);
  const waiting: Array<(r: IncomingRequest) => void> = [];
  const held: IncomingRequest[] = [];
  bob.on('request', (incoming) => {
    const req = incoming.request;
    if (req.method === 'INVITE' && !bob.dialogs.has(req.callId)) {
      const dialog = bob.acceptInvite(incoming, answerFor(req.body.toString()));
      void dialog;
      return;
    }
    if (req.method === 'INVITE' && !/;isfocus/.test(req.get('Contact') ?? '')) {
      // A re-offer of the 1:1 call itself (its media settling): not part of the race, answered at once.
      const dialog = bob.dialogs.get(req.callId);
      incoming.respond(200, 'OK', {
        body: answerFor(req.body.toString(), dialog?.identity),
        contentType: 'application/sdp',
      });
      return;
    }
    if (req.method === 'INVITE') {
      const w = waiting.shift();
      if (w) w(incoming);
      else held.push(incoming);
      return;
    }
    incoming.respond(200);
  });
  const alice = await stack.ua('alice');
  assert.equal((await alice.register()).final.status, 200);
  const aliceOffer = webrtcLikeOffer();
  const call = await alice.invite(BOB, aliceOffer);
  assert.equal(call.final.status, 200);
  const bobCall = [...bob.dialogs.values()][0]!;
  bobCall.autoAnswer = false;
  const conf = await alice.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
  assert.equal(conf.final.status, 200);
  const confUri = /<([^>]+)>;isfocus/.exec(conf.final.get('Contact')!)![1]!;
  const conference = stack.focus.conferences.registry.findByUri(confUri)!;
  return {
    alice,
    bob,
    call: call.dialog!,
    bobCall,
    conf: conf.dialog!,
    confUri,
    conference,
    // Same DTLS identity and SSRC, next session version, sendonly: a hold as a browser sends it.
    aliceHoldOffer: aliceOffer
      .replace(/a=sendrecv/g, 'a=sendonly')
      .replace(/^(o=\S+ \d+ )(\d+)/m, (_m, head: string, v: string) => `${head}${Number(v) + 1}`),
    nextReinvite: () => {
      const h = held.shift();
      return h ? Promise.resolve(h) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

function answerReinvite(s: Scene, incoming: IncomingRequest): void {
  incoming.respond(200, 'OK', {
    body: answerFor(incoming.request.body.toString(), s.bobCall.identity),
    contentType: 'application/sdp',
  });
}

function sipfrags(s: Scene): string[] {
  return s.alice.requestsFor(s.call.callId, 'NOTIFY').map((n) => n.body.toString().trim());
}

function bobEntry(s: Scene) {
  return s.conference.participants.find((p) => p.entity === BOB);
}

/** bob is in the conference for good: connected in the roster, his leg open in the conference room. */
async function assertBobStays(stack: TestStack, s: Scene): Promise<void> {
  await waitFor(() => bobEntry(s)?.status === 'connected', 'bob connected in the roster');
  await waitFor(() => stack.focus.calls.length === 0, 'the old call is over');
  const session = stack.focus.conferences.sessionFor(s.confUri)!;
  const member = session.members.find((m) => m.aor === BOB)!;
  assert.ok(member, 'bob is a member');
  assert.equal(member.leg.closed, false, "bob's leg is open");
  assert.equal(member.leg.room, session.room, "bob's leg is in the conference room");
  assert.equal(s.bob.dialogs.has(s.bobCall.callId), true, 'bob got no BYE');
  assert.equal(s.bob.requestsFor(s.bobCall.callId, 'BYE').length, 0, 'bob got no BYE');
}

async function cleanUp(stack: TestStack, s: Scene): Promise<void> {
  await s.conf.bye().catch(() => undefined);
  for (const d of s.bob.dialogs.values()) await d.bye().catch(() => undefined);
  await waitFor(() => stack.focus.conferences.registry.size === 0 && stack.focus.calls.length === 0, 'everything over');
}

for (const mode of ['intercept'] as const) {
  describe(`adoption races (${mode})`, () => {
    let stack: TestStack;
    before(async () => {
      stack = await startStack({ referMode: mode });
    });
    after(() => stack.close());

    test('the referrer sends REFER and BYE in the same instant: the party joins, or the call ends whole — never half', async () => {
      const s = await scene(stack);
      const refer = s.call.request('REFER', { headers: { 'Refer-To': `<${s.confUri}>` } });
      const bye = s.call.bye();
      const [r, b] = await Promise.all([refer, bye]);
      assert.equal(b.final.status, 200);
      if (r.final.status === 202) {
        // The REFER was taken first: bob's side belongs to the conference, the BYE ends only alice's side.
        answerReinvite(s, await s.nextReinvite());
        await assertBobStays(stack, s);
      } else {
        // The BYE was taken first: the call ended whole (bob got its BYE) and the REFER found no call.
        // (drachtio-srf itself answers 200 to an in-dialog request that it dispatches after the BYE.)
        assert.ok([481, 200].includes(r.final.status), `REFER answered ${r.final.status}`);
        assert.deepEqual(sipfrags(s), [], 'no progress reported for a REFER that was not carried out');
        await waitFor(
          () => s.bob.requestsFor(s.bobCall.callId, 'BYE').length === 1,
          'bob gets the BYE of the ended call',
        );
        assert.equal(bobEntry(s), undefined, 'no ghost bob in the roster');
      }
      await cleanUp(stack, s);
    });

    test("the referrer hangs up while the party's re-INVITE is pending: the party still joins", async () => {
      const s = await scene(stack);
      const refer = await s.call.request('REFER', { headers: { 'Refer-To': `<${s.confUri}>` } });
      assert.equal(refer.final.status, 202);
      const reinvite = await s.nextReinvite();
      assert.match(reinvite.request.get('Contact') ?? '', /;isfocus/);
      assert.equal((await s.call.bye()).final.status, 200);
      await waitFor(() => stack.focus.calls.length === 0, 'the old call is over');
      answerReinvite(s, reinvite);
      await assertBobStays(stack, s);
      await cleanUp(stack, s);
    });

    test('the referrer re-INVITEs (hold) during the adoption, then hangs up: the party still joins', async () => {
      const s = await scene(stack);
      const refer = await s.call.request('REFER', { headers: { 'Refer-To': `<${s.confUri}>` } });
      assert.equal(refer.final.status, 202);
      const reinvite = await s.nextReinvite();
      // The focus is re-offering alice's own leg too (bob left her call's room): on glare (491) a UA
      // retries once the focus's re-INVITE reached it (RFC 3261 §14.1).
      let hold = await s.call.reinvite(s.aliceHoldOffer);
      if (hold.final.status === 491) {
        await waitFor(() => s.call.reinvites.length > 0, "the focus's re-INVITE of alice's leg");
        hold = await s.call.reinvite(s.aliceHoldOffer);
      }
      assert.equal(
        hold.final.status,
        200,
        `the referrer still owns its own side and may hold it (got ${hold.final.status} ${hold.final.reason})`,
      );
      answerReinvite(s, reinvite);
      await waitFor(() => sipfrags(s).includes('SIP/2.0 200 OK'), 'sipfrag 200 after the re-INVITE was answered');
      await s.call.bye();
      await assertBobStays(stack, s);
      await cleanUp(stack, s);
    });

    test('the referrer hangs up after the move completed: the party stays', async () => {
      const s = await scene(stack);
      const refer = await s.call.request('REFER', { headers: { 'Refer-To': `<${s.confUri}>` } });
      assert.equal(refer.final.status, 202);
      answerReinvite(s, await s.nextReinvite());
      await waitFor(() => sipfrags(s).includes('SIP/2.0 200 OK'), 'sipfrag 200');
      assert.deepEqual(sipfrags(s), ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
      await s.call.bye();
      await assertBobStays(stack, s);
      await cleanUp(stack, s);
    });

    test('the party hangs up while its re-INVITE is pending: the referrer is told, the roster says departed', async () => {
      const s = await scene(stack);
      const refer = await s.call.request('REFER', { headers: { 'Refer-To': `<${s.confUri}>` } });
      assert.equal(refer.final.status, 202);
      const reinvite = await s.nextReinvite();
      assert.equal((await s.bobCall.bye()).final.status, 200);
      reinvite.respond(481, 'Call/Transaction Does Not Exist');
      await waitFor(() => sipfrags(s).some((f) => !f.startsWith('SIP/2.0 100')), 'a final sipfrag');
      const final = sipfrags(s).find((f) => !f.startsWith('SIP/2.0 100'))!;
      assert.match(final, /^SIP\/2\.0 4\d\d /, `a failure, got ${final}`);
      await waitFor(() => bobEntry(s) === undefined, 'bob off the roster');
      const departed = s.conference.departed.find((d) => d.entity === BOB);
      assert.ok(departed, 'bob listed as departed');
      assert.equal(departed.disconnectionMethod, 'departed');
      assert.equal(s.conference.size, 1, 'alice stays alone');
      await s.call.bye();
      await cleanUp(stack, s);
    });

    test('the party answers its re-INVITE 481 (it lost the dialog): failure sipfrag, roster says failed', async () => {
      const s = await scene(stack);
      const refer = await s.call.request('REFER', { headers: { 'Refer-To': `<${s.confUri}>` } });
      assert.equal(refer.final.status, 202);
      (await s.nextReinvite()).respond(481, 'Call/Transaction Does Not Exist');
      await waitFor(() => sipfrags(s).some((f) => !f.startsWith('SIP/2.0 100')), 'a final sipfrag');
      const final = sipfrags(s).find((f) => !f.startsWith('SIP/2.0 100'))!;
      assert.match(final, /^SIP\/2\.0 480 /, `480, got ${final}`);
      await waitFor(() => bobEntry(s) === undefined, 'bob off the roster');
      assert.equal(s.conference.departed.find((d) => d.entity === BOB)?.disconnectionMethod, 'failed');
      await s.call.bye();
      await cleanUp(stack, s);
    });
  });
}

describe('dial-out races', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ referMode: 'intercept' });
  });
  after(() => stack.close());

  test('the conference ends while a dial-out rings: the INVITE is cancelled, nothing is left', async () => {
    const carol = await stack.ua('carol');
    assert.equal((await carol.register()).final.status, 200);
    const ringing = new Promise<IncomingRequest>((resolve) => {
      carol.on('request', (incoming) => {
        if (incoming.request.method === 'INVITE') {
          incoming.respond(180, 'Ringing');
          resolve(incoming);
        } else incoming.respond(200);
      });
    });
    const alice = await stack.ua('alice');
    assert.equal((await alice.register()).final.status, 200);
    const conf = await alice.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
    assert.equal(conf.final.status, 200);
    const refer = await conf.dialog!.request('REFER', { headers: { 'Refer-To': '<sip:carol@127.0.0.1>' } });
    assert.equal(refer.final.status, 202);
    const invite = await ringing;
    const confUri = /<([^>]+)>;isfocus/.exec(conf.final.get('Contact')!)![1]!;
    const conference = stack.focus.conferences.registry.findByUri(confUri)!;
    await waitFor(
      () => conference.participants.some((p) => p.entity === 'sip:carol@127.0.0.1' && p.status === 'alerting'),
      'carol alerting',
    );
    await conf.dialog!.bye();
    await waitFor(
      () =>
        carol.received.some((m) => m.kind === 'request' && m.method === 'CANCEL' && m.callId === invite.request.callId),
      'CANCEL to carol',
    );
    invite.respond(487, 'Request Terminated');
    await waitFor(() => stack.focus.conferences.registry.size === 0, 'conference over');
    await waitFor(() => stack.server.stats().dialogs === 0, 'no dialog left in the SIP server');
  });
});
