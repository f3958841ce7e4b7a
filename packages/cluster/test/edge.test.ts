/**
 * The Kamailio edge (deploy/kamailio.cfg) with a real kamailio, a real redis-server and nodes that are
 * plain UDP SIP endpoints (the focus is not needed to test routing).
 *
 * Ports: Kamailio and db_redis need TCP/UDP ports. Each run takes its own random address in 127.0.0.0/8
 * (every such address is loopback on Linux) and asks the kernel for a free port on it (bind 0), so
 * nothing collides with another test or with a Conclave on 127.0.0.1; the only window (port read back,
 * closed, then bound by Kamailio) is on an address no one else uses.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createLogger } from '@conclave/log';
import { parseMessage, SipResponse, type SipRequest } from '@conclave/sip-message';
import { SipTestUa } from '@conclave/sip-test-ua';
import {
  ConferenceClaims,
  KamailioEdge,
  NodeMembership,
  RedisServerProcess,
  checkEdgeConfig,
  connectRedis,
  writeEdgeTables,
  readUserLocations,
  mediaOfLocation,
  ICE_CONTACT_BFLAG,
} from '../src/index.ts';

const log = createLogger('test', { level: 'silent' });
const installed = (cmd: string, arg: string) => {
  try {
    execFileSync(cmd, [arg], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const haveKamailio = installed('kamailio', '-v');
const haveRedis = installed('redis-server', '--version');
const skipCheck = haveKamailio
  ? false
  : 'kamailio is not installed (Debian packages kamailio, kamailio-redis-modules, kamailio-websocket-modules; scripts/setup.sh installs them)';
const skip = !haveKamailio
  ? skipCheck
  : !haveRedis
    ? 'redis-server is not installed (scripts/setup.sh installs it)'
    : false;

test(
  'kamailio -c accepts deploy/kamailio.cfg (defaults, and with a node-facing address and a domain name)',
  { skip: skipCheck },
  async () => {
    const out = await checkEdgeConfig();
    assert.match(out, /config file ok/);
    const out2 = await checkEdgeConfig(undefined, {
      CONCLAVE_NODE_NET_IP: '127.0.0.1',
      CONCLAVE_SIP_PORT: '5999',
      CONCLAVE_DOMAIN: 'conf.example.test',
    });
    assert.match(out2, /config file ok/);
    assert.match(out2, /tcp: 127\.0\.0\.1 \[127\.0\.0\.1\]:5999/);
  },
);

const randomLoopback = () => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

/** A port free for both UDP and TCP on the address. */
async function freePort(host: string): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((ok) => server.listen(0, host, ok));
    const port = (server.address() as { port: number }).port;
    const udp = createSocket('udp4');
    const udpOk = await new Promise<boolean>((ok) => {
      udp.once('error', () => ok(false));
      udp.bind(port, host, () => ok(true));
    });
    udp.close();
    await new Promise((ok) => server.close(ok));
    if (udpOk) return port;
  }
}

/** A node stand-in: answers OPTIONS 200 (dispatcher probes) and everything else 486, and records requests. */
class FakeNode {
  readonly requests: SipRequest[] = [];
  readonly socket: Socket;
  readonly host: string;
  port = 0;
  #waiters: Array<(r: SipRequest) => void> = [];
  constructor(host: string) {
    this.host = host;
    this.socket = createSocket('udp4');
    this.socket.on('message', (data, rinfo) => {
      let msg;
      try {
        msg = parseMessage(data);
      } catch {
        return;
      }
      if (msg.kind !== 'request') return;
      if (msg.method === 'ACK') return;
      if (msg.method !== 'OPTIONS') {
        this.requests.push(msg);
        for (const w of this.#waiters.splice(0)) w(msg);
      }
      const res = new SipResponse(msg.method === 'OPTIONS' ? 200 : 486, msg.method === 'OPTIONS' ? 'OK' : 'Busy Here');
      for (const v of msg.getAll('Via')) res.append('Via', v);
      res.append('From', msg.get('From')!);
      res.append('To', `${msg.get('To')!}${/;tag=/.test(msg.get('To')!) ? '' : ';tag=node'}`);
      res.append('Call-ID', msg.callId);
      res.append('CSeq', msg.get('CSeq')!);
      res.setBody('');
      this.socket.send(res.toBuffer(), rinfo.port, rinfo.address);
    });
  }
  get uri(): string {
    return `sip:${this.host}:${this.port}`;
  }
  async start(): Promise<this> {
    await new Promise<void>((ok) => this.socket.bind(0, this.host, () => ok()));
    this.port = this.socket.address().port;
    return this;
  }
  nextRequest(): Promise<SipRequest> {
    return new Promise((ok) => this.#waiters.push(ok));
  }
  #closed = false;
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.socket.close();
  }
}

let redisServer: RedisServerProcess;
let redis: Redis;
let edge: KamailioEdge;
let nodeA: FakeNode;
let nodeB: FakeNode;
const edgeIp = randomLoopback();
const redisIp = randomLoopback();
const users = [
  { name: 'alice', password: 'alice-pw' },
  { name: 'bob', password: 'bob-pw' },
];
const cleanups: Array<() => Promise<void> | void> = [];

before(async () => {
  if (skip) return;
  redisServer = await RedisServerProcess.start({ log, tcp: { host: redisIp, port: await freePort(redisIp) } });
  redis = await connectRedis({ url: redisServer.url! }, log);
  await writeEdgeTables(redis, users, edgeIp);
  nodeA = await new FakeNode(randomLoopback()).start();
  nodeB = await new FakeNode(randomLoopback()).start();
  const sipPort = await freePort(edgeIp);
  edge = await KamailioEdge.start({
    log,
    edgeIp,
    sipPort,
    wsPort: await freePort(edgeIp),
    redisUrl: redisServer.url!,
    nodes: [nodeA.uri, nodeB.uri],
    children: 1,
  });
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await edge?.close();
  nodeA?.close();
  nodeB?.close();
  redis?.disconnect();
  await redisServer?.close();
});

/** Fails (instead of hanging) with the edge's last log lines when something never arrives. */
async function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, fail) => {
    timer = setTimeout(
      () =>
        fail(new Error(`${what}: nothing after ${ms} ms; edge log:\n${edge.output.split('\n').slice(-25).join('\n')}`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

async function ua(user: string, password: string): Promise<SipTestUa> {
  const u = await SipTestUa.create({
    user,
    password,
    domain: edgeIp,
    server: { host: edgeIp, port: edge.options.sipPort },
  });
  cleanups.push(() => u.close());
  return u;
}

test('REGISTER is challenged and stored by the edge, in Redis (usrloc db_mode 3)', { skip }, async (t) => {
  const alice = await ua('alice', 'alice-pw');
  const t0 = performance.now();
  const r = await alice.register(120);
  const ms = performance.now() - t0;
  assert.equal(r.final.status, 200, r.final.reason);
  assert.match(r.final.get('Contact') ?? '', /alice@127\.0\.0\.1/);
  const rows = await redis.keys('location:entry::*');
  const contacts = await Promise.all(rows.map((k) => redis.hget(k, 'contact')));
  assert.ok(
    contacts.some((c) => c?.includes(`alice@127.0.0.1:${alice.port}`)),
    `location row in Redis: ${contacts.join(', ')}`,
  );
  t.diagnostic(`REGISTER with digest through the edge: ${ms.toFixed(1)} ms (401 + 200)`);
  const wrong = await (await ua('bob', 'nope')).register(120);
  assert.equal(wrong.final.status, 401, 'a wrong password is challenged again');
});

test(
  "readUserLocations: a node reads a user's registrations from usrloc in Redis, with the media to offer",
  { skip },
  async (t) => {
    const bob = await ua('bob', 'bob-pw');
    assert.equal((await bob.register(120)).final.status, 200);
    const rows = await readUserLocations(redis, 'bob', edgeIp);
    const mine = rows.find((r) => r.contact.includes(`bob@127.0.0.1:${bob.port}`));
    assert.ok(mine, `bob's row: ${JSON.stringify(rows)}`);
    // the test agent registers with +sip.ice: the edge keeps it as a branch flag, the node offers WebRTC
    assert.equal(mine.media, 'webrtc');
    assert.ok(
      mine.expiresAt > Date.now() + 60_000 && mine.expiresAt <= Date.now() + 121_000,
      `expires ${mine.expiresAt}`,
    );
    t.diagnostic(`usrloc row: ${JSON.stringify(mine)}`);
    assert.deepEqual(await readUserLocations(redis, 'nobody', edgeIp), []);
    assert.equal((await bob.register(0)).final.status, 200);
    assert.equal(
      (await readUserLocations(redis, 'bob', edgeIp)).find((r) => r.contact === mine.contact),
      undefined,
    );
    assert.equal(mediaOfLocation({ contact: 'sip:x@h.invalid;transport=ws' }), 'webrtc');
    assert.equal(mediaOfLocation({ contact: 'sip:x@h.invalid', received: 'sip:127.0.0.1:5;transport=wss' }), 'webrtc');
    assert.equal(mediaOfLocation({ contact: 'sip:x@127.0.0.1:5060', cflags: 1 << 6 }), 'plain');
    assert.equal(mediaOfLocation({ contact: 'sip:x@127.0.0.1:5060', cflags: 1 << ICE_CONTACT_BFLAG }), 'webrtc');
  },
);

test('a request from a node to a registered user reaches the user through the edge’s location', { skip }, async () => {
  const bob = await ua('bob', 'bob-pw');
  assert.equal((await bob.register(120)).final.status, 200);
  const got = new Promise<SipRequest>((ok) =>
    bob.once('request', (incoming) => {
      incoming.respond(200);
      ok(incoming.request);
    }),
  );
  // nodeA sends a MESSAGE to sip:bob@<domain> via the edge (a node is trusted: no challenge)
  const msg =
    `MESSAGE sip:bob@${edgeIp} SIP/2.0\r\nVia: SIP/2.0/UDP ${nodeA.host}:${nodeA.port};branch=z9hG4bKnode1\r\nMax-Forwards: 70\r\n` +
    `From: <sip:focus@${edgeIp}>;tag=n1\r\nTo: <sip:bob@${edgeIp}>\r\nCall-ID: node-msg-1\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi`;
  nodeA.socket.send(msg, edge.options.sipPort, edgeIp);
  const request = await within(got, 'MESSAGE from a node to bob');
  assert.equal(request.method, 'MESSAGE');
  assert.equal(request.body.toString(), 'hi');
});

test(
  'requests for a conference URI go to the node holding its claim; unknown → 404; dead node → 480',
  { skip },
  async () => {
    const connB = await connectRedis({ url: redisServer.url! }, log);
    cleanups.push(() => void connB.disconnect());
    const membership = new NodeMembership({
      redis: connB,
      node: { id: 'node-b', sip: nodeB.uri, http: 'http://unused' },
      log,
    });
    await membership.start();
    cleanups.push(() => membership.close());
    const claims = new ConferenceClaims({ redis: connB, nodeId: 'node-b', log });
    cleanups.push(() => claims.close());
    assert.equal(await claims.claim('conf-abc123'), true);

    const alice = await ua('alice', 'alice-pw');
    for (const method of ['INVITE', 'SUBSCRIBE', 'REFER']) {
      const arrived = nodeB.nextRequest();
      const headers: Record<string, string> =
        method === 'SUBSCRIBE'
          ? { Event: 'conference', Expires: '600' }
          : method === 'REFER'
            ? { 'Refer-To': `<sip:bob@${edgeIp}>` }
            : {};
      const r = await alice.send(method, `sip:conf-abc123@${edgeIp}`, {
        headers,
        body: method === 'INVITE' ? 'v=0\r\n' : '',
        contentType: 'application/sdp',
      });
      assert.equal(
        r.final.status,
        486,
        `${method}: the node's answer comes back (${r.final.status} ${r.final.reason})`,
      );
      const req = await within(arrived, `${method} at node B`);
      assert.equal(req.method, method);
      assert.match(
        req.get('Record-Route') ?? '',
        new RegExp(edgeIp.replace(/\./g, '\\.')),
        'the edge stays in the dialog path',
      );
    }
    assert.equal(
      nodeA.requests.filter((r) => r.uri.includes('conf-abc123')).length,
      0,
      'nothing went to the other node',
    );

    const unknown = await alice.send('INVITE', `sip:conf-nope@${edgeIp}`, {
      body: 'v=0\r\n',
      contentType: 'application/sdp',
    });
    assert.equal(unknown.final.status, 404);

    await membership.close(); // the node's record is gone (as when its heartbeat stops)
    const gone = await alice.send('INVITE', `sip:conf-abc123@${edgeIp}`, {
      body: 'v=0\r\n',
      contentType: 'application/sdp',
    });
    assert.equal(gone.final.status, 480);
  },
);

test(
  'factory INVITEs are spread over the nodes; a dead node leaves the dispatcher set within 5 s',
  { skip },
  async (t) => {
    const alice = await ua('alice', 'alice-pw');
    const before = { a: nodeA.requests.length, b: nodeB.requests.length };
    for (let i = 0; i < 12; i++) {
      const r = await alice.send('INVITE', `sip:conference@${edgeIp}`, {
        body: 'v=0\r\n',
        contentType: 'application/sdp',
      });
      assert.equal(r.final.status, 486);
    }
    const a = nodeA.requests.length - before.a;
    const b = nodeB.requests.length - before.b;
    assert.equal(a + b, 12);
    assert.ok(a > 0 && b > 0, `both nodes got factory INVITEs (a ${a}, b ${b})`);
    t.diagnostic(`12 factory INVITEs: node A ${a}, node B ${b}`);

    const targets = await edge.dispatcherTargets();
    assert.deepEqual(targets.map((t) => t.flags[0]).sort(), ['A', 'A'], `both active: ${JSON.stringify(targets)}`);
    const t0 = performance.now();
    nodeA.close();
    let inactiveAfter = Infinity;
    // Watch the dispatcher's own state (kamcmd), 100 ms apart, up to 6 s.
    while (performance.now() - t0 < 6000) {
      const now = await edge.dispatcherTargets();
      if (now.find((t) => t.uri === nodeA.uri)?.flags.startsWith('I')) {
        inactiveAfter = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(inactiveAfter < 5000, `node A marked inactive after ${inactiveAfter.toFixed(0)} ms`);
    t.diagnostic(`dead node left the set after ${inactiveAfter.toFixed(0)} ms`);
    for (let i = 0; i < 6; i++) {
      const r = await alice.send('INVITE', `sip:conference@${edgeIp}`, {
        body: 'v=0\r\n',
        contentType: 'application/sdp',
      });
      assert.equal(r.final.status, 486, 'new conferences keep working on the other node');
    }
  },
);

test('SIP over WebSocket: the edge upgrades with the sip subprotocol and challenges a REGISTER', { skip }, async () => {
  const ws = new WebSocket(`ws://${edgeIp}:${edge.options.wsPort}`, 'sip');
  cleanups.push(() => ws.close());
  await new Promise<void>((ok, fail) => {
    ws.addEventListener('open', () => ok(), { once: true });
    ws.addEventListener('error', () => fail(new Error('WebSocket upgrade refused')), { once: true });
  });
  assert.equal(ws.protocol, 'sip');
  const reply = new Promise<string>((ok) => ws.addEventListener('message', (e) => ok(String(e.data)), { once: true }));
  ws.send(
    `REGISTER sip:${edgeIp} SIP/2.0\r\nVia: SIP/2.0/WS abc.invalid;branch=z9hG4bKws1\r\nMax-Forwards: 70\r\n` +
      `From: <sip:alice@${edgeIp}>;tag=w1\r\nTo: <sip:alice@${edgeIp}>\r\nCall-ID: ws-1\r\nCSeq: 1 REGISTER\r\n` +
      `Contact: <sip:x@abc.invalid;transport=ws>\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n`,
  );
  assert.match(await reply, /^SIP\/2\.0 401[^\n]*\n[\s\S]*WWW-Authenticate: Digest/);
});
