/**
 * Browsers against the namespace cluster (Kamailio edge, Redis, Conclave nodes in network namespaces,
 * started by scripts/cluster/harness.ts beside the standalone instances): both pages register at the
 * edge over WebSocket, a conference created at the factory lands on a node that claims it in Redis,
 * the second party dials its URI and reaches the same node, and both hear each other through that
 * node's mediasoup. Skipped with the reason unless root with ip netns, kamailio and redis-server.
 *
 * Uses Playwright's own `test`, not the fixtures' one: their leak check watches the standalone
 * instances, which this spec does not touch.
 */
import { test, expect } from '@playwright/test';
import { createLogger } from '../../packages/log/src/index.ts';
import { connectRedis } from '../../packages/cluster/src/index.ts';
import { clusterSkipReason, startTestCluster, type TestCluster } from '../../scripts/cluster/harness.ts';
import { dial, expectHears, expectRegistered, login, openUserPage, type UserPage } from '../support/phone.ts';
import { TONES } from '../support/tones.ts';

type Redis = Awaited<ReturnType<typeof connectRedis>>;

const skip = clusterSkipReason();
let cluster: TestCluster | undefined;
let redis: Redis | undefined;
let alice: UserPage | undefined;
let bob: UserPage | undefined;

test.beforeAll(async () => {
  if (skip) return;
  test.setTimeout(120_000);
  cluster = await startTestCluster({ nodes: 2 });
  redis = await connectRedis({ url: cluster.ready.redis.url }, createLogger('e2e-cluster', { level: 'silent' }));
});

test.afterAll(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

test.afterEach(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
});

test('through the edge: a conference lands on a node that claims it, the second party joins by URI, both hear each other', async () => {
  test.skip(skip !== false, skip || '');
  const { ready } = cluster!;
  [alice, bob] = await Promise.all([openUserPage('alice', '/', ready.web), openUserPage('bob', '/', ready.web)]);
  const a = alice;
  const b = bob;
  await Promise.all([login(a), login(b)]);
  await Promise.all([expectRegistered(a), expectRegistered(b)]);
  expect(await a.page.evaluate(() => fetch('/config.json').then((r) => r.json()))).toMatchObject({
    wsUri: `ws://${ready.edge.ip}:${ready.edge.wsPort}`,
  });

  await dial(a, `sip:conference@${ready.domain}`);
  const card = a.page.getByTestId('conference');
  await expect(card).toHaveAttribute('data-uri', /sip:conf-[a-z0-9]+@/, { timeout: 20_000 });
  const uri = (await card.getAttribute('data-uri'))!;
  const conferenceId = /sip:(conf-[a-z0-9]+)@/.exec(uri)![1]!;
  const nodeId = await redis!.get(`conclave:conference:${conferenceId}`);
  expect(
    ready.nodes.map((n) => n.id),
    `claimed by a node of the cluster`,
  ).toContain(nodeId);

  await dial(b, uri);
  await expect(b.page.locator('[data-testid="line"][data-state="active"]')).toHaveCount(1, { timeout: 20_000 });
  await expect(a.page.getByTestId('roster-entry')).toHaveCount(2, { timeout: 15_000 });
  await expectHears(a, TONES.bob, 20_000);
  await expectHears(b, TONES.alice, 20_000);

  await b.page.getByTestId('hangup-button').first().click();
  await a.page.getByTestId('hangup-button').first().click();
  await expect
    .poll(() => redis!.get(`conclave:conference:${conferenceId}`), { timeout: 10_000, message: 'claim released' })
    .toBeNull();
});

test('a node killed mid-conference: its parties’ pages end the call within 10 s, new conferences work on the other node', async () => {
  test.skip(skip !== false, skip || '');
  test.setTimeout(90_000);
  const { ready } = cluster!;
  [alice, bob] = await Promise.all([openUserPage('alice', '/', ready.web), openUserPage('bob', '/', ready.web)]);
  const a = alice;
  const b = bob;
  await Promise.all([login(a), login(b)]);
  await Promise.all([expectRegistered(a), expectRegistered(b)]);
  await dial(a, `sip:conference@${ready.domain}`);
  const card = a.page.getByTestId('conference');
  await expect(card).toHaveAttribute('data-uri', /sip:conf-[a-z0-9]+@/, { timeout: 20_000 });
  const uri = (await card.getAttribute('data-uri'))!;
  const conferenceId = /sip:(conf-[a-z0-9]+)@/.exec(uri)![1]!;
  await dial(b, uri);
  await expect(a.page.getByTestId('roster-entry')).toHaveCount(2, { timeout: 15_000 });
  await expectHears(b, TONES.alice, 20_000);
  const nodeId = await redis!.get(`conclave:conference:${conferenceId}`);
  const victim = ready.nodes.find((n) => n.id === nodeId)!;
  expect(victim, `claimed by a node of the cluster (${nodeId})`).toBeTruthy();

  // The edge ends the dead node's calls (deploy/kamailio.cfg, event_route[dispatcher:dst-down]): a BYE
  // over each page's WebSocket, so both pages go idle; nothing waits for ever.
  const killed = Date.now();
  process.kill(victim.pid, 'SIGKILL');
  await Promise.all(
    [a, b].map(async (p) => {
      await expect(p.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true', { timeout: 10_000 });
      console.log(`${p.user}'s page idle ${Date.now() - killed} ms after the node was killed`);
    }),
  );

  // New conferences work on the other node (the ended conference's card may still be on the page).
  await dial(a, `sip:conference@${ready.domain}`);
  const newConference = async () => {
    const uris = await a.page
      .getByTestId('conference')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-uri') ?? ''));
    return uris.map((u) => /sip:(conf-[a-z0-9]+)@/.exec(u)?.[1]).find((id) => id && id !== conferenceId) ?? '';
  };
  await expect.poll(newConference, { timeout: 20_000, message: 'a new conference' }).not.toBe('');
  const second = await newConference();
  await expect
    .poll(() => redis!.get(`conclave:conference:${second}`), { message: `claim of ${second}` })
    .not.toBeNull();
  expect(await redis!.get(`conclave:conference:${second}`)).not.toBe(victim.id);
  await a.page.getByTestId('hangup-button').first().click();
});
