/**
 * docs/admin-api.openapi.yaml: the OpenAPI document of the admin API as YAML, made from the route
 * schemas (never edited by hand). `pnpm --filter @conclave/admin-api run openapi` rewrites it;
 * test/openapi-document.test.ts fails when the committed file differs from what this makes.
 */
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ConferenceRegistry } from '@conclave/conference';
import { createLogger } from '@conclave/log';
import { AdminApi } from './admin-api.ts';

/** The file in the repository. */
export const OPENAPI_YAML_PATH = fileURLToPath(new URL('../../../docs/admin-api.openapi.yaml', import.meta.url));

/** The document as the YAML in docs/ (a header says where it comes from). */
export async function generateOpenApiYaml(): Promise<string> {
  // The document depends only on the routes: an API over an empty registry has them all.
  const logger = createLogger('openapi', { level: 'silent' });
  const registry = new ConferenceRegistry({ domain: 'conclave.example.com', logger });
  const api = new AdminApi({
    control: {
      registry,
      mute: unused,
      unmute: unused,
      kick: unused,
      lock: unused,
      unlock: unused,
      end: unused,
    },
    auth: { verify: () => false },
    domain: 'conclave.example.com',
    logger,
  });
  try {
    const document = await api.openApiDocument();
    return (
      '# Generated from the route schemas of packages/admin-api (served at /api/openapi.json): do not\n' +
      '# edit; run `pnpm --filter @conclave/admin-api run openapi` after changing them.\n' +
      stringify(document, { lineWidth: 0, aliasDuplicateObjects: false })
    );
  } finally {
    api.close();
    registry.close();
  }
}

function unused(): Promise<void> {
  return Promise.reject(new Error('not available while generating the OpenAPI document'));
}
