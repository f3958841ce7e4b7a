/**
 * JsSIP 3.13.8 for a browser page, without a bundler: the npm package ships CommonJS only (no dist),
 * so its module graph (jssip/lib, debug's browser build, events, sdp-transform, ms) is collected here
 * and wrapped in a tiny CommonJS loader that defines `window.JsSIP`.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let cached: string | undefined;

/** Resolve like a browser bundler: the package's "browser" field wins, core names map to npm packages. */
function resolveFrom(fromFile: string, spec: string): string {
  if (spec.startsWith('.')) {
    const base = join(dirname(fromFile), spec);
    for (const candidate of [base, `${base}.js`, join(base, 'index.js')]) {
      if (statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
    }
    throw new Error(`cannot resolve ${spec} from ${fromFile}`);
  }
  const req = createRequire(fromFile);
  // `events/` (trailing slash) forces the npm package over Node's core module of the same name.
  const pkgJson = req.resolve(`${spec}/package.json`);
  const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { main?: string; browser?: string | Record<string, string> };
  const entry = typeof pkg.browser === 'string' ? pkg.browser : (pkg.main ?? 'index.js');
  return resolveFrom(join(dirname(pkgJson), 'x.js'), entry.startsWith('.') ? entry : `./${entry}`);
}

export function jssipBundle(): string {
  if (cached) return cached;
  const root = createRequire(import.meta.url).resolve('jssip');
  const modules = new Map<string, { id: number; code: string; deps: Record<string, number> }>();
  const visit = (file: string): number => {
    const known = modules.get(file);
    if (known) return known.id;
    const text = readFileSync(file, 'utf8');
    const code = file.endsWith('.json') ? `module.exports = ${text};` : text;
    const entry = { id: modules.size, code, deps: {} as Record<string, number> };
    modules.set(file, entry);
    if (file.endsWith('.json')) return entry.id;
    for (const m of code.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      entry.deps[m[1]!] = visit(resolveFrom(file, m[1]!));
    }
    return entry.id;
  };
  const main = visit(root);
  const defs = [...modules.values()].map(
    (m) => `${m.id}: [function (require, module, exports) {\n${m.code}\n}, ${JSON.stringify(m.deps)}]`,
  );
  cached = `(function () {
var defs = {${defs.join(',\n')}};
var cache = {};
function load(id) {
  if (cache[id]) return cache[id].exports;
  var module = { exports: {} };
  cache[id] = module;
  var def = defs[id];
  def[0](function (name) {
    if (!(name in def[1])) throw new Error('jssip bundle: unknown module ' + name);
    return load(def[1][name]);
  }, module, module.exports);
  return module.exports;
}
window.JsSIP = load(${main});
})();
`;
  return cached;
}
