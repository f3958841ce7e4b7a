/** deploy/docker-compose.yml parses, has the services of the cluster, and uses the edge config the namespace cluster runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const deploy = new URL('../../../deploy/', import.meta.url);

test('docker-compose.yml: kamailio on deploy/kamailio.cfg, redis, three nodes, optional drachtio-server', () => {
  const doc = parse(readFileSync(new URL('docker-compose.yml', deploy), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      { volumes?: string[]; environment?: Record<string, string>; profiles?: string[]; command?: string[] }
    >;
  };
  const names = Object.keys(doc.services).sort();
  assert.deepEqual(names, ['drachtio-1', 'kamailio', 'node-1', 'node-2', 'node-3', 'redis']);
  assert.ok(
    doc.services['kamailio']!.volumes!.some((v) => v.startsWith('./kamailio.cfg:')),
    'the same kamailio.cfg',
  );
  assert.ok(doc.services['kamailio']!.environment!['CONCLAVE_REDIS_DB_URL']?.startsWith('redis://'));
  assert.deepEqual(doc.services['drachtio-1']!.profiles, ['drachtio']);
  for (const n of ['node-1', 'node-2', 'node-3']) {
    assert.equal(doc.services[n]!.environment!['CONCLAVE_NODE_ID'], n, 'anchor merge gives each node its id and Redis');
    assert.ok(doc.services[n]!.environment!['CONCLAVE_REDIS_URL']);
  }
  const list = readFileSync(new URL('dispatcher.list', deploy), 'utf8')
    .split('\n')
    .filter((l) => /^1 /.test(l));
  assert.equal(list.length, 3, 'one dispatcher entry per node');
});
