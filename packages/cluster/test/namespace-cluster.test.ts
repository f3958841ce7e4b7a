/**
 * The whole cluster as `npm run cluster` starts it — Kamailio edge, redis-server, Conclave nodes in
 * network namespaces — driven at the SIP level through the edge: a conference created at the factory
 * lands on a node and is claimed, a second request for its URI reaches the same node, and when that
 * node is killed its record and claim expire while new conferences keep working on the other node.
 *
 * Needs root (ip netns), kamailio and redis-server; skipped with the reason otherwise. It runs beside a
 * live `npm run cluster`: its own instance (namespaces cnclv<k>-*, subnet 198.18.<k>.0/24), an edge on a
 * random 127.0.0.0/8 address with ports from bind 0 on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createLogger } from '@conclave/log';
import { SipTestUa, webrtcLikeOffer } from '@conclave/sip-test-ua';
import type { SipTestDialog } from '@conclave/sip-test-ua';
import { connectRedis } from '../src/index.ts';
import { clusterSkipReason, startTestCluster } from '../../../scripts/cluster/harness.ts';
import { sipCheck } from '../../../scripts/cluster/sip-check.ts';

const skip = clusterSkipReason();

const CLAIM_TTL_MS = 2000;
/** The node record's TTL (NodeMembership's default). */
const NODE_TTL_MS = 3000;
/** The dead node's parties get their BYE within this (deploy/kamailio.cfg event_route[dispatcher:dst-down]). */
const PARTIES_ENDED_WITHIN_MS = 8000;

test(
  'namespace cluster: conferences are claimed by the node they land on, reached there by URI, and survive a node loss',
  { skip, timeout: 120_000 },
  async () => {
    const cluster = await startTestCluster({ nodes: 2, config: { cluster: { claimTtlMs: CLAIM_TTL_MS } } });
    const { ready, instance } = cluster;
    const tail = () => `${cluster.output().split('\n').slice(-30).join('\n')}\n--- edge:\n${cluster.edgeLog()}`;
    const log = createLogger('test', { level: 'silent' });
    const closers: Array<() => void> = [];
    try {
      assert.equal(ready.nodes.length, 2);
      assert.match(ready.nodes[0]!.ip, new RegExp(`^198\\.18\\.${instance}\\.11$`));
      const server = { host: ready.edge.ip, port: ready.edge.sipPort };
      const redis = await connectRedis({ url: ready.redis.url }, log);
      closers.push(() => redis.disconnect());
      const ua = async (user: string) => {
        const u = await SipTestUa.create({ user, password: `${user}-secret`, domain: ready.domain, server });
        closers.push(() => u.close());
        return u;
      };

      // 1. Through the edge: created at the factory → claimed by its node; joined by URI on that node;
      //    roster NOTIFY and in-dialog requests routed back; released when it ends.
      const report = await sipCheck({
        edge: server,
        redisUrl: ready.redis.url,
        domain: ready.domain,
        creator: { user: 'alice', password: 'alice-secret' },
        joiner: { user: 'bob', password: 'bob-secret' },
      });
      assert.ok(
        ready.nodes.some((n) => n.id === report.nodeId && n.sip === report.nodeSip),
        `claimed by one of the cluster's nodes: ${report.nodeId}`,
      );

      // 2. Node loss: the node hosting a live conference is killed.
      const carol = await ua('carol');
      const live = await carol.invite(`sip:conference@${ready.domain}`, webrtcLikeOffer());
      assert.equal(live.final.status, 200, `factory INVITE: ${live.final.status} ${live.final.reason}`);
      const conferenceId = /^sip:(conf-[a-z0-9]+)@/.exec(live.dialog!.remoteTarget)![1]!;
      const claimKey = `conclave:conference:${conferenceId}`;
      const ownerId = await redis.get(claimKey);
      const victim = ready.nodes.find((n) => n.id === ownerId);
      const survivor = ready.nodes.find((n) => n.id !== ownerId)!;
      assert.ok(victim, `the conference is claimed by a node of the cluster (${ownerId})`);
      // a second party joins it by URI; a conference on the other node must not be touched
      const frank = await ua('bob');
      const joined = await frank.invite(`sip:${conferenceId}@${ready.domain}`, webrtcLikeOffer());
      assert.equal(joined.final.status, 200, `join by URI: ${joined.final.status} ${joined.final.reason}`);
      const other = await otherNodeConference(ua, ready.domain, redis, survivor.id);
      const partyEnded = (dialog: SipTestDialog) =>
        new Promise<number>((ok) => dialog.once('bye', () => ok(Date.now() - killedAt)));
      const carolEnded = partyEnded(live.dialog!);
      const frankEnded = partyEnded(joined.dialog!);
      let otherEnded = false;
      other.dialog.once('bye', () => (otherEnded = true));
      const killedAt = Date.now();
      process.kill(victim.pid, 'SIGKILL');

      // New conferences keep working: every attempt from the kill on gets a 200 (the edge fails over
      // from the dead node), and they land on the survivor.
      const dave = await ua('dave');
      for (let attempt = 0; attempt < 3; attempt++) {
        const t0 = Date.now();
        const created = await dave.invite(`sip:conference@${ready.domain}`, webrtcLikeOffer());
        assert.equal(
          created.final.status,
          200,
          `new conference ${Date.now() - killedAt} ms after the kill\n--- edge:\n${cluster.edgeLog()}`,
        );
        assert.ok(Date.now() - t0 < 5000, `answered within 5 s (${Date.now() - t0} ms)`);
        const id = /^sip:(conf-[a-z0-9]+)@/.exec(created.dialog!.remoteTarget)![1]!;
        assert.equal(await redis.get(`conclave:conference:${id}`), survivor.id);
        await created.dialog!.bye();
      }

      // The dead node's record goes within its TTL, its claim within the claim TTL.
      assert.ok(
        await until(async () => (await redis.exists(`conclave:node:${victim.id}`)) === 0, NODE_TTL_MS + 2000),
        'node record expired',
      );
      assert.ok(
        await until(async () => (await redis.exists(claimKey)) === 0, CLAIM_TTL_MS + 2000),
        `claim of ${conferenceId} expired`,
      );
      const expiredAfter = Date.now() - killedAt;
      assert.ok(expiredAfter < Math.max(NODE_TTL_MS, CLAIM_TTL_MS) + 2000, `expired after ${expiredAfter} ms`);
      // The dead node's parties get a BYE from the edge (dispatcher:dst-down → their dialogs time out):
      // within probe interval 1 s + probe timeout 2 s + grace 3 s + timer step 1 s (+ 2 s for the load).
      const ended = await Promise.race([
        Promise.all([carolEnded, frankEnded]),
        new Promise<undefined>((ok) => setTimeout(() => ok(undefined), PARTIES_ENDED_WITHIN_MS + 2000).unref()),
      ]);
      assert.ok(ended, `both parties of the dead node's conference got a BYE\n--- edge:\n${cluster.edgeLog(3000)}`);
      console.log(`node loss: parties ended ${ended.join(' ms, ')} ms after the kill`);
      assert.ok(Math.max(...ended) < PARTIES_ENDED_WITHIN_MS, `ended within ${PARTIES_ENDED_WITHIN_MS} ms`);
      // the survivor's conference was not ended and still answers in-dialog requests
      assert.equal(otherEnded, false, 'the other node’s conference keeps its party');
      const rejoin = await dave.invite(`sip:${other.id}@${ready.domain}`, webrtcLikeOffer());
      assert.equal(rejoin.final.status, 200, `joining the other node's conference: ${rejoin.final.status}`);
      await rejoin.dialog!.bye();
      await other.dialog.bye();
      const erin = await ua('erin');
      const late = await erin.invite(`sip:${conferenceId}@${ready.domain}`, webrtcLikeOffer());
      assert.equal(late.final.status, 404, 'the dead node’s conference is gone (not routed to a dead node)');
      assert.match(
        cluster.output(),
        new RegExp(`node \\d \\(${victim.ip.replace(/\./g, '\\.')}, pid ${victim.pid}\\) exited`),
      );

      // 3. Ctrl-C: everything stops and the namespaces are removed.
      assert.equal(await cluster.stop(), 0, tail());
      const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.startsWith(`cnclv${instance}-`));
      assert.deepEqual(left, [], 'namespaces removed');
    } finally {
      for (const c of closers.reverse()) c();
      await cluster.stop();
    }
  },
);

/**
 * A conference created at the factory that landed on the given node (the dispatcher hashes over the
 * Call-ID, so a few tries find one); the others are hung up.
 */
async function otherNodeConference(
  ua: (user: string) => Promise<SipTestUa>,
  domain: string,
  redis: { get(key: string): Promise<string | null> },
  nodeId: string,
): Promise<{ dialog: SipTestDialog; id: string }> {
  const gina = await ua('alice');
  for (let attempt = 0; attempt < 20; attempt++) {
    const created = await gina.invite(`sip:conference@${domain}`, webrtcLikeOffer());
    assert.equal(created.final.status, 200, `factory INVITE: ${created.final.status}`);
    const id = /^sip:(conf-[a-z0-9]+)@/.exec(created.dialog!.remoteTarget)![1]!;
    if ((await redis.get(`conclave:conference:${id}`)) === nodeId) return { dialog: created.dialog!, id };
    await created.dialog!.bye();
  }
  throw new Error(`no conference landed on ${nodeId} in 20 tries`);
}

/** Polls state held by other processes (Redis, files): there is nothing to subscribe to. */
async function until(predicate: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
