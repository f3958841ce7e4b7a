/**
 * `pnpm bench cluster`: conferences created and joined per second at the SIP level through the cluster's
 * Kamailio edge, with 1 node and with 3 nodes in the same run, their ratio, and the edge's added latency
 * per request (the same INVITE sent straight to a node vs through the edge). See bench/README.md.
 *
 * Each cluster is the namespace cluster of `npm run cluster` (scripts/cluster/harness.ts: its own
 * instance, an edge on a random 127.0.0.0/8 address); needs root, kamailio and redis-server.
 *
 * Load: `--concurrency` workers, each in a loop for `--duration` seconds: a creator sends a factory INVITE
 * (digest challenge answered, plain RTP offer) → 200 + ACK; a joiner INVITEs the conference URI → 200 +
 * ACK; both hang up (BYE). One iteration = one conference created and joined.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SipTestUa } from '../../packages/sip-test-ua/src/index.ts';
import { clusterSkipReason, startTestCluster, type TestCluster } from '../../scripts/cluster/harness.ts';

const HELP = `pnpm bench cluster [-- options]

  --duration <s>         seconds of load per cluster size (default 15)
  --concurrency <n>      parallel create-and-join loops (default 8)
  --latency-samples <n>  sequential INVITEs for the edge's added latency, per path (default 30)
  --sizes <list>         node counts, comma-separated (default 1,3)
  --rounds <n>           measure the sizes in turn this many times (default 2; medians are compared)
  --json <file>          also write the results as JSON
`;

interface Figures {
  nodes: number;
  conferences: number;
  failures: number;
  seconds: number;
  perSecond: number;
  /** Conference creation (factory INVITE incl. its 401 round) and join, ms. */
  createMs: Stats;
  joinMs: Stats;
  latency: { edgeMs: Stats; directMs: Stats } | undefined;
  /** Share of the machine's CPU time that was busy during the load (every process, not only ours). */
  machineBusy: number;
}

/** /proc/stat's first line: [busy, total] jiffies of all cores. */
function cpuTimes(): [number, number] {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return [total - idle, total];
}

interface Stats {
  p50: number;
  p90: number;
  mean: number;
  n: number;
}

const say = (line: string) =>
  process.stderr.write(`[bench cluster ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** A plain RTP phone's offer (G.711 + telephone-event), as baresip sends it. */
function plainRtpOffer(ip: string, port: number): string {
  return [
    'v=0',
    `o=- ${port} 1 IN IP4 ${ip}`,
    's=-',
    `c=IN IP4 ${ip}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0 8 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  return { p50: at(0.5), p90: at(0.9), mean, n: sorted.length };
}

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];

async function ua(
  user: string,
  server: { host: string; port: number },
  domain: string,
  localAddress?: string,
): Promise<SipTestUa> {
  return SipTestUa.create({
    user,
    password: `${user}-secret`,
    domain,
    server,
    ...(localAddress ? { localAddress } : {}),
  });
}

/** One conference created at the factory and joined by URI, then both leave. Times in ms. */
async function createAndJoin(
  creator: SipTestUa,
  joiner: SipTestUa,
  domain: string,
  rtpPort: number,
): Promise<{ createMs: number; joinMs: number; conferenceId: string }> {
  const t0 = performance.now();
  const created = await creator.invite(`sip:conference@${domain}`, plainRtpOffer('127.0.0.1', rtpPort), {
    timeoutMs: 15_000,
  });
  const t1 = performance.now();
  if (created.final.status !== 200 || !created.dialog)
    throw new Error(`factory INVITE: ${created.final.status} ${created.final.reason}`);
  const conferenceId = /^sips?:(conf-[a-z0-9]+)@/.exec(created.dialog.remoteTarget)?.[1];
  if (!conferenceId) throw new Error(`no conference URI in the Contact: ${created.dialog.remoteTarget}`);
  const joined = await joiner.invite(`sip:${conferenceId}@${domain}`, plainRtpOffer('127.0.0.1', rtpPort + 2), {
    timeoutMs: 15_000,
  });
  const t2 = performance.now();
  try {
    if (joined.final.status !== 200 || !joined.dialog)
      throw new Error(`join INVITE: ${joined.final.status} ${joined.final.reason}`);
    await joined.dialog.bye();
  } finally {
    await created.dialog.bye();
  }
  return { createMs: t1 - t0, joinMs: t2 - t1, conferenceId };
}

async function measureLatency(cluster: TestCluster, samples: number): Promise<{ edgeMs: Stats; directMs: Stats }> {
  const { ready } = cluster;
  const node = ready.nodes[0]!;
  const viaEdge = await ua('alice', { host: ready.edge.ip, port: ready.edge.sipPort }, ready.domain);
  // Straight to node 1's SIP port from the bridge address (the edge's node-facing side).
  const direct = await ua('alice', { host: node.ip, port: 5060 }, ready.domain, ready.edge.nodeNetIp);
  const edgeMs: number[] = [];
  const directMs: number[] = [];
  try {
    // Alternate the paths so that the machine's load drifts equally over both.
    for (let i = 0; i < samples; i++) {
      for (const [agent, into] of [
        [viaEdge, edgeMs],
        [direct, directMs],
      ] as const) {
        const t0 = performance.now();
        const r = await agent.invite(`sip:conference@${ready.domain}`, plainRtpOffer('127.0.0.1', 40_000 + 2 * i), {
          timeoutMs: 15_000,
        });
        const ms = performance.now() - t0;
        if (r.final.status !== 200 || !r.dialog) throw new Error(`latency INVITE: ${r.final.status}`);
        into.push(ms);
        await r.dialog.bye();
      }
    }
  } finally {
    viaEdge.close();
    direct.close();
  }
  return { edgeMs: stats(edgeMs), directMs: stats(directMs) };
}

async function measureCluster(
  nodes: number,
  opts: { duration: number; concurrency: number; latencySamples: number },
): Promise<Figures> {
  say(`starting a namespace cluster with ${nodes} node(s)`);
  const cluster = await startTestCluster({ nodes, startTimeoutMs: 180_000 });
  const { ready } = cluster;
  const server = { host: ready.edge.ip, port: ready.edge.sipPort };
  const agents: SipTestUa[] = [];
  try {
    say(`ready: edge ${ready.edge.ip}:${ready.edge.sipPort}, nodes ${ready.nodes.map((n) => n.ip).join(' ')}`);
    // Warm-up: a few conferences through each node's code paths (JIT, mediasoup workers, TCP to the nodes).
    const warmCreator = await ua('alice', server, ready.domain);
    const warmJoiner = await ua('bob', server, ready.domain);
    agents.push(warmCreator, warmJoiner);
    for (let i = 0; i < 3 * nodes; i++) await createAndJoin(warmCreator, warmJoiner, ready.domain, 30_000 + 4 * i);

    const createMs: number[] = [];
    const joinMs: number[] = [];
    let failures = 0;
    let done = 0;
    const started = performance.now();
    const cpuBefore = cpuTimes();
    const end = started + opts.duration * 1000;
    const workers = Array.from({ length: opts.concurrency }, async (_, w) => {
      const creator = await ua(USERS[w % USERS.length]!, server, ready.domain);
      const joiner = await ua(USERS[(w + 1) % USERS.length]!, server, ready.domain);
      agents.push(creator, joiner);
      let k = 0;
      while (performance.now() < end) {
        try {
          const r = await createAndJoin(creator, joiner, ready.domain, 32_000 + 200 * w + 4 * (k++ % 50));
          createMs.push(r.createMs);
          joinMs.push(r.joinMs);
          done++;
        } catch (err) {
          failures++;
          if (failures <= 5) say(`failure: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    });
    await Promise.all(workers);
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = cpuTimes();
    const machineBusy = (cpuAfter[0] - cpuBefore[0]) / Math.max(1, cpuAfter[1] - cpuBefore[1]);
    say(`${nodes} node(s): ${done} conferences created and joined in ${seconds.toFixed(1)} s, ${failures} failed`);
    const latency = opts.latencySamples > 0 ? await measureLatency(cluster, opts.latencySamples) : undefined;
    return {
      nodes,
      conferences: done,
      failures,
      seconds,
      perSecond: done / seconds,
      createMs: stats(createMs),
      joinMs: stats(joinMs),
      latency,
      machineBusy,
    };
  } finally {
    for (const a of agents) a.close();
    await cluster.stop();
  }
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');

function render(results: Figures[]): string {
  const lines = [
    '',
    '| nodes | conferences created+joined | failed | seconds | per second | create p50/p90 ms | join p50/p90 ms | INVITE via edge p50 | direct p50 | edge adds (p50) | machine CPU busy |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const l = r.latency;
    lines.push(
      `| ${r.nodes} | ${r.conferences} | ${r.failures} | ${f1(r.seconds)} | ${f1(r.perSecond)} | ${f1(r.createMs.p50)} / ${f1(r.createMs.p90)} | ${f1(r.joinMs.p50)} / ${f1(r.joinMs.p90)} | ${l ? f1(l.edgeMs.p50) : '-'} | ${l ? f1(l.directMs.p50) : '-'} | ${l ? f1(l.edgeMs.p50 - l.directMs.p50) : '-'} | ${Math.round(r.machineBusy * 100)}% |`,
    );
  }
  const median = (nodes: number) => {
    const rates = results
      .filter((r) => r.nodes === nodes)
      .map((r) => r.perSecond)
      .sort((a, b) => a - b);
    return rates.length === 0 ? undefined : rates[Math.floor((rates.length - 1) / 2)]!;
  };
  const one = median(1);
  const three = median(3);
  if (one !== undefined && three !== undefined && one > 0) {
    const ratio = three / one;
    lines.push(
      '',
      `median conferences/s: 1 node ${f1(one)}, 3 nodes ${f1(three)}; 3 nodes / 1 node: ${ratio.toFixed(2)}x (target >= 2.5x) ${ratio >= 2.5 ? 'MET' : 'NOT MET'}`,
    );
  }
  lines.push(
    '',
    'A factory INVITE is two requests through the edge (the 401 challenge, then the authenticated INVITE):',
    'the edge adds half the "edge adds" figure per request.',
  );
  return lines.join('\n');
}

export async function runClusterBench(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        duration: { type: 'string', default: '15' },
        concurrency: { type: 'string', default: '8' },
        'latency-samples': { type: 'string', default: '30' },
        sizes: { type: 'string', default: '1,3' },
        rounds: { type: 'string', default: '2' },
        json: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
    return 2;
  }
  if (values['help']) {
    process.stdout.write(HELP);
    return 0;
  }
  const skip = clusterSkipReason();
  if (skip) {
    process.stderr.write(`bench cluster: cannot run here: ${skip}\n`);
    return 1;
  }
  const opts = {
    duration: Number(values['duration']),
    concurrency: Number(values['concurrency']),
    latencySamples: Number(values['latency-samples']),
  };
  const rounds = Number(values['rounds']);
  const sizes = String(values['sizes'])
    .split(',')
    .map((s) => Number(s.trim()));
  if (
    [opts.duration, opts.concurrency, rounds, ...sizes].some((n) => !Number.isInteger(n) || n < 1) ||
    !Number.isInteger(opts.latencySamples) ||
    opts.latencySamples < 0
  ) {
    process.stderr.write(`bench cluster: options must be positive integers\n\n${HELP}`);
    return 2;
  }
  const results: Figures[] = [];
  // In turn (1, 3, 1, 3...): the machine's load drifts over all sizes alike.
  for (let round = 0; round < rounds; round++)
    for (const nodes of sizes) results.push(await measureCluster(nodes, opts));
  process.stdout.write(render(results) + '\n');
  if (typeof values['json'] === 'string') {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(values['json'], JSON.stringify({ results }, null, 2) + '\n');
  }
  return results.some((r) => r.conferences === 0) ? 1 : 0;
}
