/**
 * /metrics: the Prometheus text of every layer's live counts, served to loopback and to admins, and
 * back at its baseline once a call and a conference are over (nothing leaks).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@conclave/log';
import { directoryAuthenticator } from '@conclave/admin-api';
import { answerFor, webrtcLikeOffer } from '@conclave/sip-test-ua';
import { startStack, type TestStack } from '../../focus/test/support/stack.ts';
import { waitFor } from '../../focus/test/support/wait.ts';
import { Metrics } from '../src/metrics.ts';

let stack: TestStack;
let server: Server;
let metrics: Metrics;
let url: string;

before(async () => {
  stack = await startStack();
  metrics = new Metrics({
    sources: { focus: () => stack.focus.stats(), media: () => stack.media.stats(), sip: () => stack.server.stats() },
    auth: directoryAuthenticator(stack.focus.directory),
    logger: createLogger('test', { level: 'error' }),
  });
  server = createServer((req, res) => {
    void metrics.handle(req, res).then((handled) => handled || res.writeHead(404).end());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
});

after(async () => {
  server.close();
  await stack.close();
});

/** The scraped gauges (unlabelled and labelled) as name{labels} → value. */
async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^(conclave_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m && !m[1]!.startsWith('conclave_process_')) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test('counts rise with a call and a conference and return to their baseline', async () => {
  const baseline = await scrape();
  for (const name of [
    'conclave_conferences',
    'conclave_calls',
    'conclave_sip_dialogs',
    'conclave_media_workers',
    'conclave_media_transports',
    'conclave_media_consumers',
    'conclave_media_mixer_processes',
  ]) {
    assert.ok(baseline.has(name), `${name} is exported`);
  }
  assert.equal(baseline.get('conclave_media_workers'), 1);

  const bob = await stack.ua('bob');
  assert.equal((await bob.register()).final.status, 200);
  bob.on('request', (incoming) => {
    if (incoming.request.method === 'INVITE' && !bob.dialogs.has(incoming.request.callId))
      bob.acceptInvite(incoming, answerFor(incoming.request.body.toString()));
    else incoming.respond(200);
  });
  const alice = await stack.ua('alice');
  const call = await alice.invite('sip:bob@127.0.0.1', webrtcLikeOffer());
  assert.equal(call.final.status, 200);
  const conf = await alice.invite('sip:conference@127.0.0.1', webrtcLikeOffer());
  assert.equal(conf.final.status, 200);

  const busy = await scrape();
  assert.equal(busy.get('conclave_calls'), 1);
  assert.equal(busy.get('conclave_conferences'), 1);
  assert.equal(busy.get('conclave_participants'), 1);
  assert.equal(busy.get('conclave_sip_dialogs'), 3, 'call (2 dialogs) + conference');
  assert.equal(busy.get('conclave_media_transports')! - baseline.get('conclave_media_transports')!, 3);
  assert.ok(busy.get('conclave_media_producers')! > baseline.get('conclave_media_producers')!);

  await call.dialog!.bye();
  await conf.dialog!.bye();
  const keys = [
    'conclave_calls',
    'conclave_conferences',
    'conclave_participants',
    'conclave_subscriptions',
    'conclave_sip_dialogs',
    'conclave_media_rooms',
    'conclave_media_legs',
    'conclave_media_transports',
    'conclave_media_producers',
    'conclave_media_consumers',
    'conclave_media_routers',
  ];
  // The BYEs' transactions end at once; wait until the server and media have forgotten both calls.
  await waitFor(
    () =>
      stack.focus.stats().calls === 0 && stack.focus.stats().conferences === 0 && stack.server.stats().dialogs === 0,
    'calls over',
  );
  const now = await scrape();
  for (const k of keys) assert.equal(now.get(k), baseline.get(k), `${k}: ${baseline.get(k)} → ${now.get(k)}`);
});

test('only loopback callers and admins may read it', () => {
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  assert.equal(metrics.authorized('127.0.0.1', undefined), true);
  assert.equal(metrics.authorized('::ffff:127.0.0.1', undefined), true);
  assert.equal(metrics.authorized('198.18.0.7', undefined), false);
  assert.equal(metrics.authorized('198.18.0.7', basic('alice', 'alice-secret')), false, 'a user is not an admin');
  assert.equal(metrics.authorized('198.18.0.7', basic('admin', 'wrong')), false);
  assert.equal(metrics.authorized('198.18.0.7', basic('admin', 'admin-secret')), true);
});
