/**
 * Calls between users on the namespace cluster (Kamailio edge, Redis, Conclave nodes in network
 * namespaces, scripts/cluster/harness.ts): the pages register at the edge, a call from alice reaches a
 * node chosen by the edge's dispatcher, and that node's focus calls bob through the edge (which finds
 * him in usrloc), offering WebRTC because his usrloc contact is over WebSocket. Then the central
 * scenario (alice calls bob, holds, calls carol, clicks Conference) with the calls and the conference
 * possibly on different nodes, in both refer modes. Skipped with the reason unless root with ip netns,
 * kamailio and redis-server.
 *
 * Uses Playwright's own `test` (as cluster.spec.ts): the fixtures' leak check watches the standalone
 * instances, which this spec does not touch.
 */
import { test, expect } from '@playwright/test';
import { clusterSkipReason, startTestCluster, type TestCluster } from '../../scripts/cluster/harness.ts';
import {
  dial,
  expectHears,
  expectRegistered,
  hasTone,
  line,
  login,
  mergeIntoConference,
  openUserPage,
  settled,
  type UserPage,
} from '../support/phone.ts';
import { connectedEntries } from '../support/conference.ts';
import { TONES } from '../support/tones.ts';

const skip = clusterSkipReason();

/** Which node the edge relayed each INVITE from a user to (its trace: "relay INVITE <ruri> dst <node uri>"), since the cluster started. */
function invitesByNode(cluster: TestCluster): string[] {
  const byIp = new Map(cluster.ready.nodes.map((n) => [n.ip, n.id]));
  const out: string[] = [];
  for (const m of cluster.edgeLog(2000).matchAll(/trace: relay INVITE (sip:[^ ]+) dst sip:([0-9.]+)[^ ]* call-id/g)) {
    const node = byIp.get(m[2]!);
    const entry = `${m[1]!.replace(/@.*/, '')} -> ${node}`;
    // a digest retry is relayed again to the same node: once is enough
    if (node && out[out.length - 1] !== entry) out.push(entry);
  }
  return out;
}

const MODES = [
  { mode: 'intercept' as const, label: 'intercept (a party on another node is referred and dials in)' },
  { mode: 'pass-through' as const, label: 'pass-through (parties dial in)' },
];

for (const { mode, label } of MODES) {
  test.describe(`cluster calls, ${label}`, () => {
    let cluster: TestCluster | undefined;
    let alice: UserPage | undefined;
    let bob: UserPage | undefined;
    let carol: UserPage | undefined;

    test.beforeAll(async () => {
      if (skip) return;
      test.setTimeout(120_000);
      cluster = await startTestCluster({ nodes: 2, config: { conference: { referMode: mode } } });
    });

    test.afterAll(async () => {
      await cluster?.stop();
    });

    test.beforeEach(async () => {
      if (skip) return;
      const web = cluster!.ready.web;
      [alice, bob, carol] = await Promise.all([
        openUserPage('alice', '/', web),
        openUserPage('bob', '/', web),
        openUserPage('carol', '/', web),
      ]);
      await Promise.all([login(alice), login(bob), login(carol)]);
      await Promise.all([expectRegistered(alice), expectRegistered(bob), expectRegistered(carol)]);
    });

    test.afterEach(async () => {
      await Promise.all([alice?.close(), bob?.close(), carol?.close()]);
    });

    if (mode === 'intercept') {
      test('alice calls bob through the edge: the node calls him through the edge, each hears the other', async () => {
        test.skip(skip !== false, skip || '');
        const [a, b] = [alice!, bob!];
        const t0 = Date.now();
        await dial(a, 'bob');
        await expect(b.page.getByTestId('incoming-call')).toBeVisible({ timeout: 10_000 });
        const rang = Date.now() - t0;
        await b.page.getByTestId('answer-button').click();
        await expect(line(a, 'bob')).toHaveAttribute('data-state', 'active', { timeout: 10_000 });
        await expect(line(b, 'alice')).toHaveAttribute('data-state', 'active');
        const answered = Date.now() - t0;
        const bobHears = await expectHears(b, TONES.alice, 20_000);
        const aliceHears = await expectHears(a, TONES.bob, 20_000);
        expect(hasTone(bobHears, TONES.bob), `bob hears his own tone: ${bobHears.join(', ')}`).toBe(false);
        expect(hasTone(aliceHears, TONES.alice), `alice hears her own tone: ${aliceHears.join(', ')}`).toBe(false);
        console.log(
          `[cluster] alice -> bob: rang after ${rang} ms, active after ${answered} ms (incl. the click); ` +
            `edge relays: ${invitesByNode(cluster!).join(', ')}`,
        );

        await line(b, 'alice').getByTestId('hangup-button').click();
        await expect(a.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
        await expect(b.page.getByTestId('phone')).toHaveAttribute('data-idle', 'true');
      });
    }

    test('central scenario: hold one call, call another, click Conference: one roster, everyone hears everyone', async () => {
      test.skip(skip !== false, skip || '');
      const [a, b, c] = [alice!, bob!, carol!];
      const domain = cluster!.ready.domain;
      const clicked = await mergeIntoConference(a, b, c);
      await expect(connectedEntries(a)).toHaveCount(3, { timeout: 20_000 });
      const joined = Date.now() - clicked;
      for (const p of [b, c]) await expect(connectedEntries(p)).toHaveCount(3, { timeout: 10_000 });
      for (const p of [a, b, c]) {
        const entities = await connectedEntries(p).evaluateAll((els) =>
          els.map((e) => e.getAttribute('data-entity')).sort(),
        );
        expect(entities).toEqual([`sip:alice@${domain}`, `sip:bob@${domain}`, `sip:carol@${domain}`]);
      }
      await expectHears(a, TONES.bob, 20_000);
      await expectHears(a, TONES.carol, 20_000);
      await expectHears(b, TONES.alice, 20_000);
      await expectHears(b, TONES.carol, 20_000);
      await expectHears(c, TONES.alice, 20_000);
      await expectHears(c, TONES.bob, 20_000);
      console.log(
        `[cluster ${mode}] alice's roster showed three connected ${joined} ms after the click; ` +
          `edge relays: ${invitesByNode(cluster!).join(', ')}`,
      );

      await settled(b);
      await b.page
        .locator('[data-testid="line"]:not([data-state="ended"])')
        .first()
        .getByTestId('hangup-button')
        .click();
      await expect(connectedEntries(a)).toHaveCount(2, { timeout: 10_000 });
      await expect(connectedEntries(c)).toHaveCount(2, { timeout: 10_000 });
      await expectHears(c, TONES.alice, 20_000);
    });
  });
}
