/**
 * Import cycles in the workspace's sources (`packages/* /src`, `apps/* /src`), found by madge. Part of
 * `pnpm lint`: exits 1 and prints each cycle when there is one, 0 when there is none.
 *
 * Type-only imports count: a cycle of types is still two modules that cannot be understood (or moved)
 * one without the other. Workspace packages (`@conclave/log`, ...) resolve to their `src/index.ts` (the
 * `exports` of their package.json), so a cycle through another package is found too.
 *
 *   node scripts/check-cycles.ts          the check
 *   node scripts/check-cycles.ts --graph  also print every module's imports (JSON)
 */
import { globSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['packages/*/src', 'apps/*/src'];

/** The part of madge 8's API used here (it ships no type declarations). */
interface MadgeResult {
  circular(): string[][];
  obj(): Record<string, string[]>;
  warnings(): { skipped: string[] };
}
type Madge = (
  paths: string[],
  config: {
    baseDir: string;
    fileExtensions: string[];
    excludeRegExp: RegExp[];
    tsConfig: { compilerOptions: ts.CompilerOptions };
  },
) => Promise<MadgeResult>;

interface PackageJson {
  name?: string;
  exports?: string | Record<string, string>;
}

/** `@conclave/<name>` → its entry file, from each workspace package's `exports` ('.'). */
function workspacePaths(): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const file of globSync(['packages/*/package.json', 'apps/*/package.json'], { cwd: ROOT })) {
    const pkg = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as PackageJson;
    const entry = typeof pkg.exports === 'string' ? pkg.exports : pkg.exports?.['.'];
    if (pkg.name && entry) paths[pkg.name] = [join(dirname(file), entry)];
  }
  return paths;
}

/** The workspace's compiler options (tsconfig.base.json), plus the workspace packages as paths. */
function compilerOptions(): ts.CompilerOptions {
  const file = join(ROOT, 'tsconfig.base.json');
  const read = ts.readConfigFile(file, (f) => ts.sys.readFile(f));
  if (read.error) throw new Error(`${file}: ${ts.flattenDiagnosticMessageText(read.error.messageText, '\n')}`);
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, undefined, file);
  return { ...parsed.options, baseUrl: ROOT, paths: workspacePaths() };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(
      'usage: node scripts/check-cycles.ts [--graph]   import cycles in packages/*/src, apps/*/src\n',
    );
    return 0;
  }
  const madge = createRequire(import.meta.url)('madge') as { default?: Madge } & Madge;
  const run = madge.default ?? madge;
  const dirs = globSync(SOURCES, { cwd: ROOT }).sort();
  const result = await run(
    dirs.map((d) => join(ROOT, d)),
    {
      baseDir: ROOT,
      fileExtensions: ['ts', 'tsx'],
      excludeRegExp: [/node_modules/, /\.d\.ts$/],
      tsConfig: { compilerOptions: compilerOptions() },
    },
  );
  const graph = result.obj();
  if (args.includes('--graph')) process.stdout.write(`${JSON.stringify(graph, null, 2)}\n`);
  const cycles = result.circular();
  const files = Object.keys(graph).length;
  if (cycles.length === 0) {
    process.stdout.write(`no import cycles (${files} modules in ${SOURCES.join(', ')})\n`);
    return 0;
  }
  process.stdout.write(`${cycles.length} import cycle(s) (${files} modules in ${SOURCES.join(', ')}):\n`);
  for (const [i, cycle] of cycles.entries()) {
    const names = cycle.map((f) => relative(ROOT, join(ROOT, f)));
    process.stdout.write(`  ${i + 1}) ${[...names, names[0]].join(' > ')}\n`);
  }
  process.stdout.write('Break each one: move what both sides need into a module of its own, or invert the import.\n');
  return 1;
}

process.exit(await main());
