/**
 * Compare golden transcripts with the recordings of a real drachtio-server (reference material outside
 * the repository: `../shared/drachtio-transcripts` next to the clone, or under CONCLAVE_SHARED_DIR), where
 * the scenarios overlap. Each reference .jsonl is read into the
 * same entry model, normalised with the same code, and both shapes are diffed (per Call-ID and flow
 * direction, like the golden check). Prints a markdown report:
 *
 *   node packages/sip-conformance/src/compare-reference.ts [referenceDir] > /tmp/reference-diff.md
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GOLDEN_DIR } from './harness.ts';
import { normalise, parseGolden, renderGolden, shapeOf, type RawEntry, type Shape } from './transcript.ts';

/** The clone's parent folder holds `shared/` (reference material); CONCLAVE_SHARED_DIR names it elsewhere. */
const SHARED_DIR =
  process.env['CONCLAVE_SHARED_DIR'] ?? join(fileURLToPath(new URL('../../../', import.meta.url)), '..', 'shared');
const REFERENCE_DIR = process.argv[2] ?? join(SHARED_DIR, 'drachtio-transcripts');

/** reference scenario → golden it overlaps with, and what differs in the scenario itself. */
const PAIRS: Array<{ ref: string; golden: string; caveat: string }> = [
  {
    ref: 'd-uas-invite',
    golden: 'ref-d-uas--baresip-udp',
    caveat: 'same flow (baresip hangs up after 100 ms instead of 3 s)',
  },
  { ref: 'e-uac-modify-info-bye', golden: 'uac--baresip-udp', caveat: 'same flow' },
  {
    ref: 'f-b2bua',
    golden: 'ref-f-b2bua--scripted--baresip-udp',
    caveat: 'same flow (BYE from A after 300 ms instead of 2 s)',
  },
  { ref: 'g-cancel', golden: 'cancel--scripted', caveat: 'same flow (CANCEL 100 ms instead of 1 s after the 180)' },
  { ref: 'h-refer-notify', golden: 'refer--scripted', caveat: 'same flow' },
  {
    ref: 'i-subscribe-notify',
    golden: 'subscribe--scripted',
    caveat: 'same flow (second NOTIFY after 100 ms instead of 1 s)',
  },
  {
    ref: 'k-no-ack-2xx-retransmit',
    golden: 'ack-timeout--scripted',
    caveat: 'same flow, T1 = 20 ms instead of 500 ms',
  },
];

interface RefLine {
  t: number;
  what: string;
  text: string;
}

const ROLE_BY_NAME: Record<string, string> = {
  baresip: 'baresip-udp',
  'scripted-uac': 'scripted-uac',
  drachtio: 'S',
  'drachtio-ws': 'S.ws',
};

/** The reference's `what` labels → the golden entry model. */
export function referenceEntries(lines: RefLine[]): { entries: RawEntry[]; roles: Map<number, string> } {
  const roles = new Map<number, string>([
    [5080, 'S'],
    [8089, 'S.ws'],
  ]);
  const entries: RawEntry[] = [];
  for (const l of lines) {
    let m = /^WIRE (app->server|server->app) \(conn (\d+)\)/.exec(l.what);
    if (m) {
      entries.push({
        t: l.t * 1000,
        channel: 'control',
        dir: m[1] as 'app->server' | 'server->app',
        conn: Number(m[2]) - 1,
        text: l.text,
      });
      continue;
    }
    m = /^(SIP|HTTP) (?:(UDP|TCP|WS) )?(\S+?):(\d+) -> (\S+?):(\d+)(?: \(ws opcode (\d+))?/.exec(l.what);
    if (!m) continue;
    const [, what, transport, srcName, srcPort, dstName, dstPort, opcode] = m;
    for (const [name, port] of [
      [srcName!, srcPort!],
      [dstName!, dstPort!],
    ] as const) {
      const role = ROLE_BY_NAME[name];
      if (role && !roles.has(Number(port))) roles.set(Number(port), role);
    }
    const inbound = dstName!.startsWith('drachtio');
    const kind = what === 'HTTP' ? 'http' : opcode && opcode !== '1' ? 'ws' : 'sip';
    const text = kind === 'ws' ? (opcode === '8' ? 'close' : `opcode-${opcode}`) : l.text;
    entries.push({
      t: l.t * 1000,
      channel: 'sip',
      dir: inbound ? 'in' : 'out',
      transport: (what === 'HTTP' ? 'ws' : transport!.toLowerCase()) as 'udp' | 'tcp' | 'ws',
      kind,
      serverPort: Number(inbound ? dstPort : srcPort),
      remotePort: Number(inbound ? srcPort : dstPort),
      text,
    });
  }
  return { entries, roles };
}

/** Header lines of every message (start lines and control leaders included, bodies excluded). */
function headerLines(blocks: ReturnType<typeof parseGolden>): string[] {
  const out: string[] = [];
  for (const b of blocks) {
    if (b.retransmission) continue;
    for (const l of b.lines) {
      if (l === '') break;
      // srf writes header names in lowercase; compare values, not the app's spelling.
      out.push(l.replace(/^([A-Za-z-]+):/, (_m, n: string) => `${n.toLowerCase()}:`));
    }
  }
  return out;
}

function shapeLines(shape: Shape): Map<string, string[]> {
  return shape.groups;
}

/** Lines in `a` not in `b` (multiset difference), per group key. */
function missing(a: Map<string, string[]>, b: Map<string, string[]>): string[] {
  const out: string[] = [];
  const bAll = new Map<string, number>();
  for (const lines of b.values()) for (const l of lines) bAll.set(l, (bAll.get(l) ?? 0) + 1);
  for (const lines of a.values()) {
    for (const l of lines) {
      const n = bAll.get(l) ?? 0;
      if (n > 0) bAll.set(l, n - 1);
      else out.push(l);
    }
  }
  return out;
}

function main(): void {
  if (!existsSync(REFERENCE_DIR)) {
    process.stderr.write(
      `reference transcripts not found in ${REFERENCE_DIR} (pass a folder, or set CONCLAVE_SHARED_DIR)\n`,
    );
    process.exitCode = 2;
    return;
  }
  const out: string[] = ['# Golden transcripts vs the real drachtio-server recordings', ''];
  for (const pair of PAIRS) {
    const lines = readFileSync(join(REFERENCE_DIR, `${pair.ref}.jsonl`), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as RefLine);
    const { entries, roles } = referenceEntries(lines);
    const refBlocks = normalise(entries, { ports: roles });
    // Ping frames and the app's authenticate/route preamble are normalised the same way on both sides.
    const refShape = shapeOf(parseGolden(renderGolden(pair.ref, [], refBlocks)));
    const gold = shapeOf(parseGolden(readFileSync(join(GOLDEN_DIR, `${pair.golden}.txt`), 'utf8')));
    out.push(`## ${pair.ref} ↔ ${pair.golden}`, '', `Scenario difference: ${pair.caveat}.`, '');
    const onlyRef = missing(shapeLines(refShape), shapeLines(gold));
    const onlyOurs = missing(shapeLines(gold), shapeLines(refShape));
    if (onlyRef.length === 0 && onlyOurs.length === 0)
      out.push('Same messages (direction, start line, header names and order).', '');
    if (onlyRef.length) out.push('Only in the drachtio recording:', '', ...onlyRef.map((l) => `- \`${l}\``), '');
    if (onlyOurs.length) out.push('Only in ours:', '', ...onlyOurs.map((l) => `- \`${l}\``), '');
    // Header values (normalised), ignoring bodies (SDP and pidf are the apps' and peers' choices).
    const refValues = headerLines(parseGolden(renderGolden(pair.ref, [], refBlocks)));
    const ourValues = headerLines(parseGolden(readFileSync(join(GOLDEN_DIR, `${pair.golden}.txt`), 'utf8')));
    const valuesOnlyRef = missing(new Map([['', refValues]]), new Map([['', ourValues]]));
    const valuesOnlyOurs = missing(new Map([['', ourValues]]), new Map([['', refValues]]));
    if (valuesOnlyRef.length || valuesOnlyOurs.length) {
      out.push('Header lines that differ (normalised values, any message):', '');
      for (const l of [...new Set(valuesOnlyRef)]) out.push(`- drachtio: \`${l}\``);
      for (const l of [...new Set(valuesOnlyOurs)]) out.push(`- ours: \`${l}\``);
      out.push('');
    } else {
      out.push('Header values (normalised) are the same too.', '');
    }
  }
  process.stdout.write(out.join('\n') + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) main();
