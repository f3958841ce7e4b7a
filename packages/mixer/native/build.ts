/**
 * Builds native/codecs.node (Opus + G.722 + PLC bindings) with the system C compiler against Debian's
 * libopus-dev and libspandsp-dev and the N-API headers shipped in the `node` npm package (no download:
 * node-gyp would fetch headers from the network). Idempotent: rebuilds only when codecs.c is newer.
 *   node packages/mixer/native/build.ts [--force]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const ADDON_PATH = join(here, 'build', 'codecs.node');

function nodeIncludeDir(): string {
  // process.execPath is <prefix>/bin/node; the headers are in <prefix>/include/node.
  const candidates = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'];
  const found = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
  if (!found) throw new Error(`node_api.h not found in ${candidates.join(', ')}`);
  return found;
}

function pkgConfig(flag: '--cflags' | '--libs'): string[] {
  try {
    return execFileSync('pkg-config', [flag, 'opus', 'spandsp'], { encoding: 'utf8' })
      .trim()
      .split(/\s+/)
      .filter(Boolean);
  } catch {
    throw new Error('libopus-dev and libspandsp-dev are needed: apt-get install -y libopus-dev libspandsp-dev');
  }
}

/** Builds the addon if it is missing or older than its source; returns its path. */
export function buildAddon(force = false): string {
  const source = join(here, 'codecs.c');
  if (!force && existsSync(ADDON_PATH) && statSync(ADDON_PATH).mtimeMs >= statSync(source).mtimeMs) return ADDON_PATH;
  mkdirSync(dirname(ADDON_PATH), { recursive: true });
  // Built under a private name and renamed: processes starting together never load a half-written file.
  const tmp = `${ADDON_PATH}.${process.pid}.tmp`;
  const args = [
    '-O2',
    '-std=c11',
    '-Wall',
    '-Wno-unused-parameter',
    '-shared',
    '-fPIC',
    '-fvisibility=hidden',
    `-I${nodeIncludeDir()}`,
    ...pkgConfig('--cflags'),
    source,
    '-o',
    tmp,
    ...pkgConfig('--libs'),
  ];
  execFileSync(process.env['CC'] ?? 'cc', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(tmp, ADDON_PATH);
  return ADDON_PATH;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`built ${buildAddon(process.argv.includes('--force'))}\n`);
}
