/**
 * Writes docs/admin-api.openapi.yaml from the route schemas:
 *   pnpm --filter @conclave/admin-api run openapi
 */
import { writeFileSync } from 'node:fs';
import { OPENAPI_YAML_PATH, generateOpenApiYaml } from './openapi-yaml.ts';

if (process.argv.includes('--help')) {
  process.stdout.write('usage: node packages/admin-api/src/openapi-cli.ts\n  writes docs/admin-api.openapi.yaml\n');
} else {
  writeFileSync(OPENAPI_YAML_PATH, await generateOpenApiYaml());
  process.stdout.write(`wrote ${OPENAPI_YAML_PATH}\n`);
}
