/**
 * Calls to users from the nodes of a namespace cluster (scripts/cluster/harness.ts): users register at
 * the edge, so a node calls them through the edge (its usrloc lookup), for a call's callee and for a
 * dial-out by REFER; a user with no registration gets 480 from the node. Needs root (ip netns),
 * kamailio and redis-server; skipped with the reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipTestUa, webrtcLikeAnswer, webrtcLikeOffer, type IncomingRequest } from '@conclave/sip-test-ua';
import { clusterSkipReason, startTestCluster } from '../../../scripts/cluster/harness.ts';

const skip = clusterSkipReason();

test(
  'a node calls users through the edge: the callee of a call, a dial-out by REFER; offline users get 480',
  { skip, timeout: 120_000 },
  async (t) => {
    const cluster = await startTestCluster({ nodes: 2 });
    const uas: SipTestUa[] = [];
    try {
      const { ready } = cluster;
      const ua = async (user: string) => {
        const u = await SipTestUa.create({
          user,
          password: `${user}-secret`,
          domain: ready.domain,
          server: { host: ready.edge.ip, port: ready.edge.sipPort },
        });
        uas.push(u);
        assert.equal((await u.register(120)).final.status, 200, `${user} registers at the edge`);
        return u;
      };
      const [alice, bob] = [await ua('alice'), await ua('bob')];
      const invites: IncomingRequest[] = [];
      bob.on('request', (incoming) => {
        if (incoming.request.method !== 'INVITE') return incoming.respond(200);
        invites.push(incoming);
        bob.acceptInvite(incoming, webrtcLikeAnswer());
      });
      alice.on('request', (incoming) => incoming.respond(200));

      const t0 = performance.now();
      const call = await alice.invite(`sip:bob@${ready.domain}`, webrtcLikeOffer());
      assert.equal(call.final.status, 200, `${call.final.status} ${call.final.reason}\n${cluster.edgeLog()}`);
      t.diagnostic(`alice -> bob through the edge and a node: 200 in ${(performance.now() - t0).toFixed(0)} ms`);
      // bob registered with +sip.ice: the node read it from usrloc and offered WebRTC
      assert.match(invites[0]!.request.body.toString(), /UDP\/TLS\/RTP\/SAVPF/);
      // in-dialog from the user to the node that anchors the call (edge: node-facing socket)
      assert.equal((await call.dialog!.bye()).final.status, 200);

      const offline = await alice.invite(`sip:carol@${ready.domain}`, webrtcLikeOffer());
      assert.equal(offline.final.status, 480);

      const conference = await alice.invite(`sip:conference@${ready.domain}`, webrtcLikeOffer());
      assert.equal(conference.final.status, 200);
      const t1 = performance.now();
      const invited = new Promise<void>((ok) => bob.once('request', () => ok()));
      const refer = await conference.dialog!.request('REFER', { headers: { 'Refer-To': `<sip:bob@${ready.domain}>` } });
      assert.equal(refer.final.status, 202);
      await invited;
      t.diagnostic(
        `dial-out to bob through the edge: INVITE ${(performance.now() - t1).toFixed(0)} ms after the REFER`,
      );
      assert.match(invites[1]!.request.get('From') ?? '', /sip:conf-/);
      const referOffline = await conference.dialog!.request('REFER', {
        headers: { 'Refer-To': `<sip:carol@${ready.domain}>` },
      });
      assert.equal(referOffline.final.status, 480);
      assert.equal((await conference.dialog!.bye()).final.status, 200);
    } finally {
      for (const u of uas) u.close();
      await cluster.stop();
    }
  },
);
