/**
 * A browser-less check of a running cluster (`npm run cluster`) through its edge, at the SIP level:
 * alice creates a conference at the factory, its claim appears in Redis, bob dials the conference URI
 * and lands on the same node (the only one that knows the conference), the roster NOTIFY lists both,
 * and once both hang up the claim is released. Prints each step; exits 1 on the first failure.
 *
 *   node scripts/cluster/sip-check.ts [--edge 127.0.0.1:5060] [--redis redis://198.18.0.1:6379/0]
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../../packages/log/src/index.ts';
import { connectRedis } from '../../packages/cluster/src/index.ts';
import { SipTestUa, webrtcLikeOffer } from '../../packages/sip-test-ua/src/index.ts';

const HELP = `node scripts/cluster/sip-check.ts [options]

SIP-level check of a running cluster through its edge (see packages/cluster/README.md).

Options:
  --edge <host:port>   the edge's SIP over UDP (default 127.0.0.1:5060)
  --redis <url>        the cluster's Redis (default redis://198.18.0.1:6379/0)
  --domain <domain>    SIP domain (default: the edge's host)
  --user <name:pass>   conference creator (default alice:alice-secret)
  --joiner <name:pass> second party (default bob:bob-secret)
  -h, --help           this help
`;

export interface SipCheckOptions {
  edge: { host: string; port: number };
  redisUrl: string;
  domain: string;
  creator: { user: string; password: string };
  joiner: { user: string; password: string };
  /** One line per step. */
  say?: (line: string) => void;
}

export interface SipCheckReport {
  conferenceUri: string;
  conferenceId: string;
  /** The node holding the claim while the conference ran. */
  nodeId: string;
  nodeSip: string;
  /** ms from the factory INVITE to its 200, and from the joiner's INVITE to its 200 */
  createMs: number;
  joinMs: number;
}

export async function sipCheck(options: SipCheckOptions): Promise<SipCheckReport> {
  const say = options.say ?? (() => {});
  const redis = await connectRedis({ url: options.redisUrl }, createLogger('sip-check'));
  const ua = (who: { user: string; password: string }) =>
    SipTestUa.create({ ...who, domain: options.domain, server: options.edge });
  const creator = await ua(options.creator);
  const joiner = await ua(options.joiner);
  try {
    const factory = `sip:conference@${options.domain}`;
    let t0 = performance.now();
    const created = await creator.invite(factory, webrtcLikeOffer());
    const createMs = Math.round(performance.now() - t0);
    if (created.final.status !== 200 || !created.dialog)
      throw new Error(`INVITE ${factory}: ${created.final.status} ${created.final.reason}`);
    const conferenceUri = created.dialog.remoteTarget;
    const conferenceId = /^sips?:(conf-[a-z0-9]+)@/i.exec(conferenceUri)?.[1];
    if (!conferenceId) throw new Error(`the focus's Contact is not a conference URI: ${conferenceUri}`);
    say(`INVITE ${factory} as ${options.creator.user}: 200 in ${createMs} ms, conference ${conferenceUri}`);
    say(`  Record-Route: ${created.final.getAll('Record-Route').join(', ')}`);

    const nodeId = await redis.get(`conclave:conference:${conferenceId}`);
    if (!nodeId) throw new Error(`no claim for ${conferenceId} in Redis`);
    const nodeSip = (await redis.hget(`conclave:node:${nodeId}`, 'sip')) ?? '';
    say(
      `claim in Redis: conclave:conference:${conferenceId} = ${nodeId} (pttl ${await redis.pttl(`conclave:conference:${conferenceId}`)} ms), node sip ${nodeSip}`,
    );

    t0 = performance.now();
    const joined = await joiner.invite(`sip:${conferenceId}@${options.domain}`, webrtcLikeOffer());
    const joinMs = Math.round(performance.now() - t0);
    if (joined.final.status !== 200 || !joined.dialog)
      throw new Error(
        `INVITE ${conferenceUri} as ${options.joiner.user}: ${joined.final.status} ${joined.final.reason}`,
      );
    say(
      `INVITE ${conferenceUri} as ${options.joiner.user}: 200 in ${joinMs} ms (only ${nodeId} knows this conference)`,
    );

    const sub = await joiner.subscribe(`sip:${conferenceId}@${options.domain}`, 'conference');
    if (sub.final.status >= 300 || !sub.dialog)
      throw new Error(`SUBSCRIBE ${conferenceUri}: ${sub.final.status} ${sub.final.reason}`);
    const both = await until(
      () =>
        joiner
          .requestsFor(sub.dialog!.callId, 'NOTIFY')
          .some((n) =>
            [options.creator.user, options.joiner.user].every((u) => n.body.toString().includes(`sip:${u}@`)),
          ),
      5000,
    );
    if (!both) throw new Error('no roster NOTIFY listing both parties within 5 s');
    say(`SUBSCRIBE conference: ${sub.final.status}; a NOTIFY lists ${options.creator.user} and ${options.joiner.user}`);

    const unsub = await sub.dialog.request('SUBSCRIBE', { headers: { Event: 'conference', Expires: '0' } });
    const byeJoiner = await joined.dialog.bye();
    const byeCreator = await created.dialog.bye();
    say(
      `in-dialog through the edge: un-SUBSCRIBE ${unsub.final.status}, BYE ${byeJoiner.final.status}, BYE ${byeCreator.final.status}`,
    );
    if ([unsub, byeJoiner, byeCreator].some((r) => r.final.status >= 300))
      throw new Error('an in-dialog request failed through the edge');
    const released = await until(async () => (await redis.get(`conclave:conference:${conferenceId}`)) === null, 3000);
    if (!released) throw new Error(`the claim of ${conferenceId} is still there after the conference ended`);
    say(`claim released: conclave:conference:${conferenceId} is gone`);
    return { conferenceUri, conferenceId, nodeId, nodeSip, createMs, joinMs };
  } finally {
    creator.close();
    joiner.close();
    redis.disconnect();
  }
}

/** Polls a condition (state held by other processes: nothing to subscribe to). */
async function until(predicate: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function credentials(value: string, fallback: { user: string; password: string }) {
  if (!value) return fallback;
  const [user, ...rest] = value.split(':');
  return { user: user!, password: rest.join(':') };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      edge: { type: 'string', default: '127.0.0.1:5060' },
      redis: { type: 'string', default: 'redis://198.18.0.1:6379/0' },
      domain: { type: 'string' },
      user: { type: 'string', default: '' },
      joiner: { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const [host, port] = values.edge.split(':');
  try {
    const report = await sipCheck({
      edge: { host: host!, port: Number(port ?? 5060) },
      redisUrl: values.redis,
      domain: values.domain ?? host!,
      creator: credentials(values.user, { user: 'alice', password: 'alice-secret' }),
      joiner: credentials(values.joiner, { user: 'bob', password: 'bob-secret' }),
      say: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`ok: conference ${report.conferenceId} ran on ${report.nodeId}\n`);
  } catch (err) {
    process.stderr.write(`sip-check: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
