/**
 * Glare between the focus's re-offer and the party's own offer (RFC 3261 §14.1/§14.2). A browser that
 * holds or resumes while the focus re-offers (someone joined) answers the focus's re-INVITE 491 and
 * expects its own re-INVITE answered; JsSIP also answers 491 to any re-INVITE that arrives while its
 * own is outstanding. The focus must then answer the party's offer first and offer again after a
 * back-off — retrying while the party's offer waits would meet 491 each time and lose the party.
 * The order is forced by holding the focus's re-INVITE unanswered, not by timing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { answerFor, webrtcLikeOffer, type IncomingRequest } from '@conclave/sip-test-ua';
import { startStack, type TestStack } from './support/stack.ts';
import { waitFor } from './support/wait.ts';

const mLines = (sdp: string) => (sdp.match(/^m=/gm) ?? []).length;

/** The focus's re-INVITEs in one dialog, each once (UDP retransmissions dropped), in arrival order. */
class ReinviteInbox {
  readonly #seen = new Set<number>();
  readonly #queued: IncomingRequest[] = [];
  readonly #waiting: Array<(r: IncomingRequest) => void> = [];
  /** While set, a re-INVITE is answered 491 at once, as JsSIP does with an INVITE of its own outstanding. */
  ownOfferPending = false;
  refusedWhilePending = 0;

  accept(incoming: IncomingRequest): void {
    const seq = incoming.request.cseq.seq;
    if (this.#seen.has(seq)) return;
    this.#seen.add(seq);
    if (this.ownOfferPending) {
      this.refusedWhilePending++;
      incoming.respond(491, 'Request Pending');
      return;
    }
    const w = this.#waiting.shift();
    if (w) w(incoming);
    else this.#queued.push(incoming);
  }

  next(what: string, timeoutMs = 8000): Promise<IncomingRequest> {
    const q = this.#queued.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.#waiting.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }
}

describe('re-offer glare', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  test("the party's own re-INVITE crosses the focus's re-offer: the party answers 491, its offer is answered, the focus offers again", async () => {
    const alice = await stack.ua('alice');
    assert.equal((await alice.register()).final.status, 200);
    const offer = webrtcLikeOffer();
    const created = await alice.invite('sip:conference@127.0.0.1', offer);
    assert.equal(created.final.status, 200);
    const conf = created.dialog!;
    conf.autoAnswer = false;
    const confUri = /<([^>]+)>;isfocus/.exec(created.final.get('Contact')!)![1]!;
    const inbox = new ReinviteInbox();
    alice.on('request', (incoming) => {
      if (incoming.request.method === 'INVITE' && incoming.request.callId === conf.callId) inbox.accept(incoming);
      else incoming.respond(200);
    });
    const answer = (incoming: IncomingRequest) =>
      incoming.respond(200, 'OK', {
        body: answerFor(incoming.request.body.toString(), conf.identity),
        contentType: 'application/sdp',
      });
    const join = async (user: string) => {
      const ua = await stack.ua(user);
      assert.equal((await ua.register()).final.status, 200);
      const r = await ua.invite(confUri, webrtcLikeOffer());
      assert.equal(r.final.status, 200);
      return r.dialog!;
    };

    // bob dials in: his audio goes on alice's own line (one m-line still).
    const bobDialog = await join('bob');
    const forBob = await inbox.next("the focus's re-offer for bob");
    answer(forBob);
    // carol dials in: alice needs a second m-line; she holds the focus's re-INVITE unanswered.
    const carolDialog = await join('carol');
    const first = await inbox.next("the focus's re-offer for carol");
    const negotiated = mLines(forBob.request.body.toString());
    assert.equal(mLines(first.request.body.toString()), negotiated + 1, "the focus's re-offer adds carol's line");

    // alice re-offers (a resume, a device change) from the negotiation she knows: it crosses the focus's.
    const ownOffer = offer.replace(/^(o=\S+ \d+ )(\d+)/m, (_m, head: string, v: string) => `${head}${Number(v) + 1}`);
    inbox.ownOfferPending = true;
    const own = conf.reinvite(ownOffer);
    first.respond(491, 'Request Pending');
    const ownResult = await own;
    inbox.ownOfferPending = false;
    assert.equal(
      ownResult.final.status,
      200,
      `alice's offer is answered (got ${ownResult.final.status} ${ownResult.final.reason})`,
    );
    assert.equal(mLines(ownResult.final.body.toString()), negotiated, 'the answer matches her offer');
    assert.equal(inbox.refusedWhilePending, 0, 'the focus did not offer again while her offer waited');

    // After its back-off the focus offers again with carol's line; alice answers it.
    const second = await inbox.next("the focus's second re-offer for carol");
    assert.ok(second.request.cseq.seq > first.request.cseq.seq, 'a new re-INVITE');
    assert.equal(mLines(second.request.body.toString()), negotiated + 1);
    answer(second);

    const session = stack.focus.conferences.sessionFor(confUri)!;
    const member = session.members.find((m) => m.aor === 'sip:alice@127.0.0.1')!;
    await waitFor(
      () => member.leg.signalingState === 'stable' && !member.leg.needsRenegotiation,
      "alice's leg negotiated with carol's audio",
    );
    const conference = stack.focus.conferences.registry.findByUri(confUri)!;
    assert.equal(
      conference.participants.find((p) => p.entity === 'sip:alice@127.0.0.1')?.status,
      'connected',
      'alice stays',
    );
    assert.equal(alice.requestsFor(conf.callId, 'BYE').length, 0, 'alice got no BYE');

    await bobDialog.bye();
    await carolDialog.bye();
    await conf.bye();
    await waitFor(() => stack.focus.conferences.registry.size === 0, 'the conference is over');
  });
});
