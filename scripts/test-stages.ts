/**
 * `npm test`'s stages, in order: lint, typecheck, unit, interop, e2e. Each stage's output goes through
 * untouched, and `stage <name>: <seconds> s` goes to stderr, so stdout ends exactly as the runner's
 * output does (CI reads node's test runner summary lines). The first stage that fails stops the run
 * with its exit code.
 *
 *   node scripts/test-stages.ts                 every stage
 *   node scripts/test-stages.ts unit interop    only these, in the order given
 *   node scripts/test-stages.ts --list interop  print the stage's test files and exit
 *
 * unit: every `packages/* /test` and `apps/* /test` test file that is not interop. interop: the tests
 * that drive real external peers — baresip, linphonec, Chromium outside Playwright — named
 * `*.interop.test.ts`, or listed in INTEROP below (files that predate the naming).
 */
import { spawn } from 'node:child_process';
import { globSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const TESTS = ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'];
const INTEROP = [
  '**/*.interop.test.ts',
  'packages/media/test/browser-*.test.ts',
  'apps/focus/test/interop-*.test.ts',
  'packages/sip-conformance/test/baresip.test.ts',
  'packages/sip-conformance/test/linphone.test.ts',
  'packages/sip-conformance/test/jssip-chromium.test.ts',
];

function files(patterns: string[]): string[] {
  const found = new Set<string>();
  for (const p of patterns)
    for (const f of globSync(p, { cwd: ROOT, exclude: (name) => name === 'node_modules' })) found.add(f);
  return [...found].sort();
}

function interopFiles(): string[] {
  const all = new Set(files(TESTS));
  return files(INTEROP).filter((f) => all.has(f));
}

function unitFiles(): string[] {
  const interop = new Set(interopFiles());
  return files(TESTS).filter((f) => !interop.has(f));
}

/** pnpm as the workspace pins it (scripts/pnpm.sh), whatever runs this script. */
const PNPM = ['bash', join(ROOT, 'scripts', 'pnpm.sh')];
const nodeTest = (list: () => string[]) => () => [
  process.execPath,
  '--test',
  '--test-concurrency=1',
  '--test-reporter=spec',
  ...list(),
];

const STAGES: Record<string, () => string[]> = {
  lint: () => [...PNPM, 'run', 'lint'],
  typecheck: () => [...PNPM, 'run', 'typecheck'],
  unit: nodeTest(unitFiles),
  interop: nodeTest(interopFiles),
  e2e: () => [...PNPM, 'run', 'test:e2e'],
};

function run(argv: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: 'inherit' });
    child.once('error', (err) => {
      process.stderr.write(`cannot run ${argv[0]}: ${err.message}\n`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args[0] === '--help' || args[0] === '-h') {
    process.stdout
      .write(`usage: node scripts/test-stages.ts [stage ...]   run these stages in order (default: ${Object.keys(STAGES).join(' ')})
       node scripts/test-stages.ts --list unit|interop   print a stage's test files
`);
    return 0;
  }
  if (args[0] === '--list') {
    const list = { unit: unitFiles, interop: interopFiles }[args[1] ?? ''];
    if (!list) {
      process.stderr.write('usage: test-stages.ts --list unit|interop\n');
      return 2;
    }
    process.stdout.write(list().join('\n') + '\n');
    return 0;
  }
  const names = args.length > 0 ? args : Object.keys(STAGES);
  const unknown = names.filter((n) => !(n in STAGES));
  if (unknown.length > 0) {
    process.stderr.write(`unknown stage(s) ${unknown.join(', ')}; stages: ${Object.keys(STAGES).join(', ')}\n`);
    return 2;
  }
  const times: string[] = [];
  for (const name of names) {
    const started = process.hrtime.bigint();
    const code = await run(STAGES[name]!());
    const line = `stage ${name}: ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s${code === 0 ? '' : ` (failed, exit code ${code})`}`;
    process.stderr.write(`${line}\n`);
    times.push(line);
    if (code !== 0) return code;
  }
  if (names.length > 1) process.stderr.write(`${times.join('\n')}\n`);
  return 0;
}

process.exit(await main());
