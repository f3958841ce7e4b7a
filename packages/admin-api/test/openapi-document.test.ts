/**
 * The OpenAPI document: served at /api/openapi.json (public), and docs/admin-api.openapi.yaml is
 * exactly what the route schemas generate (run `pnpm --filter @conclave/admin-api run openapi`).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConferenceRegistry } from '@conclave/conference';
import { createLogger } from '@conclave/log';
import { AdminApi } from '../src/admin-api.ts';
import { OPENAPI_YAML_PATH, generateOpenApiYaml } from '../src/openapi-yaml.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('docs/admin-api.openapi.yaml is the generated document (regenerate it with `pnpm --filter @conclave/admin-api run openapi`)', async () => {
  const generated = await generateOpenApiYaml();
  const committed = readFileSync(OPENAPI_YAML_PATH, 'utf8');
  assert.equal(
    committed,
    generated,
    'docs/admin-api.openapi.yaml is stale: run `pnpm --filter @conclave/admin-api run openapi`',
  );
});

test('GET /api/openapi.json serves the document without credentials; other methods get 405', async () => {
  const logger = createLogger('test', { level: 'silent' });
  const registry = new ConferenceRegistry({ domain: 'conclave.test', logger });
  const unused = () => Promise.reject(new Error('unused'));
  const api = new AdminApi({
    control: { registry, mute: unused, unmute: unused, kick: unused, lock: unused, unlock: unused, end: unused },
    auth: { verify: () => false },
    domain: 'conclave.test',
    logger,
  });
  const server = createServer((req, res) => {
    void api.handle(req, res).then((mine) => {
      if (!mine) res.writeHead(404).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  cleanups.push(() => {
    api.close();
    registry.close();
    server.closeAllConnections();
    return new Promise<void>((ok) => server.close(() => ok()));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/openapi.json`;

  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const served = (await res.json()) as Record<string, unknown>;
  const fromYaml = parseYaml(readFileSync(OPENAPI_YAML_PATH, 'utf8')) as Record<string, unknown>;
  assert.deepEqual(served, fromYaml);

  const post = await fetch(url, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET');
});
