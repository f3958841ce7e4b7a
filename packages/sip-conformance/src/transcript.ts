/**
 * Golden wire transcripts: the drachtio control-port frames and the SIP on the wire of one scenario,
 * normalised so that two runs (or the embedded server and a real drachtio-server) can be compared.
 *
 * Normalisation replaces what is random or run-specific by placeholders, consistently within one
 * transcript (so "the ACK carries the INVITE's branch" stays visible): Call-IDs, tags, branches, UUIDs
 * (drachtio transaction ids, message ids), `.invalid` hosts and random URI users of WebSocket clients,
 * ports (known ones by role: `<S.udp>`, `<baresip-udp>`, …; others `<pN>`), times, lengths, CSeq numbers
 * (as `<csN+k>`, relative to the first CSeq seen for that Call-ID), SDP bodies (reduced to m= and direction
 * lines). Retransmissions (byte-identical repeats) are marked and left out of the comparison.
 *
 * The comparison is on the *shape*: per channel (SIP, control) and per Call-ID, the sequence of
 * direction + start line + header names in order (placeholder numbers dropped).
 */

export interface RawEntry {
  /** Epoch milliseconds. */
  t: number;
  channel: 'sip' | 'control';
  /** SIP: `in`/`out` relative to the server; control: app->server / server->app. */
  dir: 'in' | 'out' | 'app->server' | 'server->app';
  transport?: 'udp' | 'tcp' | 'ws';
  kind?: 'sip' | 'http' | 'ws' | 'crlf';
  conn?: number;
  serverPort?: number;
  remotePort?: number;
  text: string;
}

export interface Block {
  head: string;
  lines: string[];
  /** Identical to an earlier message in the same direction on the same flow. */
  retransmission: boolean;
}

export interface NormaliseOptions {
  /** Port number → role name (`S.udp`, `baresip-udp`, …). */
  ports: Map<number, string>;
  /** Prefix block heads with `+seconds` since the first entry (failure reports; never in golden files). */
  times?: boolean;
}

interface ParsedSip {
  start: string;
  headers: Array<[string, string]>;
  body: string;
}

const COMPACT: Record<string, string> = {
  i: 'call-id',
  f: 'from',
  t: 'to',
  v: 'via',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  e: 'content-encoding',
  k: 'supported',
  s: 'subject',
  o: 'event',
  r: 'refer-to',
  b: 'referred-by',
  u: 'allow-events',
  x: 'session-expires',
};

function parseSip(text: string): ParsedSip | undefined {
  const end = text.indexOf('\r\n\r\n');
  const headText = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + 4);
  const lines = headText.split('\r\n');
  const start = lines.shift() ?? '';
  if (!/^(SIP\/2\.0 \d{3}|[A-Za-z]+ \S+ SIP\/2\.0)/.test(start)) return undefined;
  const headers: Array<[string, string]> = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      headers[headers.length - 1]![1] += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return { start, headers, body };
}

function headerKey(name: string): string {
  const n = name.toLowerCase();
  return COMPACT[n] ?? n;
}

function header(p: ParsedSip, name: string): string | undefined {
  return p.headers.find(([n]) => headerKey(n) === name)?.[1];
}

/** Numbered placeholders, assigned in order of first appearance. */
class Tokens {
  readonly #map = new Map<string, string>();
  readonly #counts = new Map<string, number>();

  name(kind: string, value: string): string {
    const key = `${kind}\u0000${value}`;
    let v = this.#map.get(key);
    if (!v) {
      const n = (this.#counts.get(kind) ?? 0) + 1;
      this.#counts.set(kind, n);
      v = `<${kind}${n}>`;
      this.#map.set(key, v);
    }
    return v;
  }
}

/** State shared by every message of one transcript. */
class Normaliser {
  readonly tokens = new Tokens();
  /** Literal value → placeholder, applied to every text (longest first). */
  readonly literals = new Map<string, string>();
  readonly cseqBases = new Map<string, number[]>();
  readonly #ports: Map<number, string>;
  #cseqBaseCount = 0;
  readonly #cseqBaseNames = new Map<string, string>();

  constructor(ports: Map<number, string>) {
    this.#ports = ports;
  }

  port(p: string | number): string {
    const n = Number(p);
    const role = this.#ports.get(n);
    if (role) return `<${role}>`;
    return this.tokens.name('p', String(n));
  }

  learnSip(p: ParsedSip): void {
    const callId = header(p, 'call-id');
    if (callId) this.#literal(callId, this.tokens.name('call', callId));
    for (const h of ['from', 'to']) {
      const v = header(p, h);
      const tag = v && /;\s*tag=([^;>\s]+)/i.exec(v)?.[1];
      if (tag) this.#literal(tag, this.tokens.name('tag', tag));
    }
    for (const [n, v] of p.headers) {
      if (headerKey(n) !== 'via') continue;
      for (const m of v.matchAll(/branch=([^;,\s]+)/gi))
        this.#literal(
          m[1]!,
          m[1]!.startsWith('z9hG4bK') ? `z9hG4bK${this.tokens.name('br', m[1]!)}` : this.tokens.name('br', m[1]!),
        );
    }
    this.#learnFreeText(p.start + '\n' + p.headers.map(([n, v]) => `${n}: ${v}`).join('\n'));
  }

  #learnFreeText(text: string): void {
    for (const m of text.matchAll(/sip:([A-Za-z0-9]+)@([a-z0-9]+)\.invalid/g)) {
      this.#literal(m[1]!, this.tokens.name('wsuser', m[1]!));
    }
    for (const m of text.matchAll(/\b([a-z0-9]{8,})\.invalid\b/g))
      this.#literal(m[1]!, this.tokens.name('wshost', m[1]!));
  }

  #literal(value: string, placeholder: string): void {
    if (value.length >= 3 && !this.literals.has(value)) this.literals.set(value, placeholder);
  }

  learnControl(payload: string): void {
    const nl = payload.indexOf('\r\n');
    const leader = nl < 0 ? payload : payload.slice(0, nl);
    const f = leader.split('|');
    // Transaction ids, in the positions drachtio uses them (message ids are rendered as <id>/<req>).
    if (f[1] === 'sip' && f[2] === 'network' && f[8] && f[8] !== 'unsolicited')
      this.#literal(f[8], this.tokens.name('tx', f[8]));
    if (f[1] === 'sip' && f[2] === 'application' && f[8] && f[8] !== 'unsolicited')
      this.#literal(f[8], this.tokens.name('tx', f[8]));
    if (f[1] === 'sip' && f[2] && f[2] !== 'network' && f[2] !== 'application')
      this.#literal(f[2], this.tokens.name('tx', f[2]));
    if (f[1] === 'response' && f[4] === 'application' && f[10]) this.#literal(f[10], this.tokens.name('tx', f[10]));
    if (nl >= 0) {
      const sip = parseSip(payload.slice(nl + 2));
      if (sip) this.learnSip(sip);
    }
  }

  /** Replace learned literals, then generic patterns (UUIDs, times, ports, pointers). */
  text(s: string): string {
    const keys = [...this.literals.keys()].sort((a, b) => b.length - a.length);
    if (keys.length > 0) {
      const re = new RegExp(keys.map(escapeRe).join('|'), 'g');
      s = s.replace(re, (m) => this.literals.get(m)!);
    }
    s = s.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, (m) =>
      this.tokens.name('uuid', m.toLowerCase()),
    );
    s = s.replace(/-0x[0-9a-f]{6,}/g, '-0x<ptr>');
    s = s.replace(
      /\b(\d{1,3}(?:\.\d{1,3}){3}|localhost|<wshost\d+>\.invalid|\[[0-9a-f:]+\]):(\d{2,5})\b/gi,
      (_m, host: string, port: string) => `${host}:${this.port(port)}`,
    );
    s = s.replace(/\b(rport|port)=(\d{2,5})\b/g, (_m, k: string, port: string) => `${k}=${this.port(port)}`);
    s = s.replace(/\b\d\d:\d\d:\d\d\.\d{3,6}\b/g, '<time>');
    return s;
  }

  cseq(callId: string | undefined, value: string): string {
    const m = /^(\d+)(\s+.*)$/.exec(value.trim());
    if (!m) return value;
    const n = Number(m[1]);
    const key = callId ?? '';
    let bases = this.cseqBases.get(key);
    if (!bases) this.cseqBases.set(key, (bases = []));
    let base = bases.find((b) => n >= b && n - b < 1000);
    if (base === undefined) {
      base = n;
      bases.push(n);
    }
    const bkey = `${key}\u0000${base}`;
    let name = this.#cseqBaseNames.get(bkey);
    if (!name) {
      name = `cs${++this.#cseqBaseCount}`;
      this.#cseqBaseNames.set(bkey, name);
    }
    return `<${name}+${n - base}>${m[2]}`;
  }

  rseq(value: string): string {
    return value.replace(/\d+/, (d) => this.tokens.name('rseq', d));
  }

  sip(text: string): string[] {
    const p = parseSip(text);
    if (!p) return this.text(text).split(/\r?\n/);
    const callId = header(p, 'call-id');
    const out: string[] = [this.text(p.start)];
    for (const [name, value] of p.headers) {
      const k = headerKey(name);
      let v: string;
      if (k === 'cseq') v = this.cseq(callId, value);
      else if (k === 'content-length') v = value.trim() === '0' ? '0' : '<n>';
      else if (k === 'rseq') v = this.tokens.name('rseq', value.trim());
      else if (k === 'rack')
        v = value.replace(
          /^(\d+)\s+(\d+)(.*)$/,
          (_m, r: string, c: string, rest: string) => `${this.tokens.name('rseq', r)} ${this.cseq(callId, c + rest)}`,
        );
      else if (k === 'date') v = '<date>';
      else if (k === 'timestamp') v = '<timestamp>';
      else if (k === 'event') v = this.text(value).replace(/;id=\d+/, ';id=<n>');
      else if (k === 'subscription-state') v = value.replace(/expires=\d+/, 'expires=<n>');
      else if (k === 'user-agent' || k === 'server') v = value;
      else v = this.text(value);
      out.push(`${name}: ${v}`);
    }
    if (p.body.length > 0) {
      out.push('');
      out.push(...this.body(p.body, header(p, 'content-type')));
    }
    return out;
  }

  body(body: string, contentType: string | undefined): string[] {
    const ct = (contentType ?? '').toLowerCase();
    if (ct.startsWith('application/sdp') || body.startsWith('v=0')) {
      const lines = body
        .split(/\r?\n/)
        .filter((l) => /^m=/.test(l) || /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l));
      return ['[sdp]', ...lines.map((l) => l.replace(/^m=(\w+) \d+/, 'm=$1 <port>'))];
    }
    return this.text(body)
      .split(/\r?\n/)
      .filter((l, i, a) => !(i === a.length - 1 && l === ''));
  }

  control(payload: string): string[] {
    const nl = payload.indexOf('\r\n');
    const leader = nl < 0 ? payload : payload.slice(0, nl);
    const f = leader.split('|');
    if (f.length > 0) f[0] = '<id>';
    const type = f[1];
    if (type === 'response') {
      f[2] = '<req>';
      if (f[3] === 'OK' && f[4] && /\//.test(f[4])) {
        // authenticate OK: hostports | version | hostports
        if (f[5] !== undefined) f[5] = '<version>';
      }
      if (f[4] === 'application' || f[4] === 'network') {
        // sip result (`application`) or proxy progress (`network`): len|transport|addr|port|time|…
        normaliseSipLeader(f, 5);
        if (f[8] && /^\d+$/.test(f[8])) f[8] = this.port(f[8]);
      }
    } else if (type === 'authenticate') {
      f[2] = '<secret>';
    } else if (type === 'sip' && (f[2] === 'network' || f[2] === 'application')) {
      normaliseSipLeader(f, 3);
      if (f[6] && /^\d+$/.test(f[6])) f[6] = this.port(f[6]);
      if (f[11] && /^\d+$/.test(f[11])) f[11] = this.port(f[11]);
    }
    const head = this.text(f.join('|'));
    const out = [head];
    if (nl >= 0) out.push(...this.sip(payload.slice(nl + 2)));
    return out;
  }
}

/** `len|transport|addr|port|time|…` starting at index i: the length varies with placeholders. */
function normaliseSipLeader(f: string[], i: number): void {
  if (f[i] !== undefined && /^\d+$/.test(f[i])) f[i] = '<len>';
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isPing(payload: string): boolean {
  const f = payload.split('|');
  return f[1] === 'ping' || (f[1] === 'response' && f[3] === 'OK' && f[4] === 'pong');
}

/** Normalise a slice of capture into blocks (time-ordered). */
export function normalise(entries: RawEntry[], opts: NormaliseOptions): Block[] {
  return normaliseWithNotes(entries, opts, []).blocks;
}

/** Same, and normalise free-text notes (e.g. an app trace with URIs) with the same placeholders. */
export function normaliseWithNotes(
  entries: RawEntry[],
  opts: NormaliseOptions,
  notes: string[],
): { blocks: Block[]; notes: string[] } {
  const n = new Normaliser(opts.ports);
  // Learn placeholders in a canonical order (SIP channel first, then control) so numbering does not
  // depend on how the two channels interleave.
  const sip = entries.filter((e) => e.channel === 'sip');
  const ctl = entries.filter((e) => e.channel === 'control' && !isPing(e.text));
  for (const e of sip) {
    if (e.kind === 'sip') {
      const p = parseSip(e.text);
      if (p) n.learnSip(p);
    }
  }
  for (const e of ctl) n.learnControl(e.text);
  // Assign port placeholders in canonical order too.
  for (const e of sip) {
    if (e.serverPort !== undefined) n.port(e.serverPort);
    if (e.remotePort !== undefined) n.port(e.remotePort);
  }
  const ordered = [...sip, ...ctl].sort((a, b) => a.t - b.t);
  const seen = new Set<string>();
  const blocks: Block[] = [];
  const t0 = ordered[0]?.t ?? 0;
  for (const e of ordered) {
    const at = opts.times ? `+${((e.t - t0) / 1000).toFixed(3)} ` : '';
    if (e.channel === 'control') {
      blocks.push({
        head: `${at}CTRL ${e.dir} (conn ${e.conn ?? 0})`,
        lines: n.control(e.text),
        retransmission: false,
      });
      continue;
    }
    const T = (e.transport ?? 'udp').toUpperCase();
    const server = n.port(e.serverPort ?? 0);
    const remote = n.port(e.remotePort ?? 0);
    const route = e.dir === 'in' ? `${remote} -> ${server}` : `${server} -> ${remote}`;
    const what = e.kind === 'sip' ? 'SIP' : e.kind === 'http' ? 'HTTP' : e.kind === 'ws' ? 'WSCTL' : 'CRLF';
    const key = `${e.dir}|${e.transport}|${e.remotePort}|${e.text}`;
    const retransmission = e.kind === 'sip' && seen.has(key);
    seen.add(key);
    let lines: string[];
    if (e.kind === 'sip') lines = n.sip(e.text);
    else if (e.kind === 'http')
      lines = e.text
        .split('\r\n')
        .filter((l) => l !== '')
        .map((l) => n.text(l.replace(/^(Sec-WebSocket-(?:Key|Accept)):.*/i, '$1: <key>')));
    else lines = [e.text];
    blocks.push({
      head: `${at}${what} ${T} ${route}${retransmission ? ' (retransmission)' : ''}`,
      lines,
      retransmission,
    });
  }
  return { blocks, notes: notes.map((x) => n.text(x)) };
}

export function renderGolden(title: string, notes: string[], blocks: Block[]): string {
  const out = [
    `# ${title}`,
    ...notes.map((l) => `# ${l}`),
    '# Normalised transcript (see packages/sip-conformance/README.md); UPDATE_GOLDEN=1 rewrites it.',
    '',
  ];
  for (const b of blocks) {
    out.push(`=== ${b.head}`);
    out.push(...b.lines);
    out.push('');
  }
  return out.join('\n');
}

export function parseGolden(text: string): Block[] {
  const blocks: Block[] = [];
  let cur: Block | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('=== ')) {
      cur = { head: line.slice(4), lines: [], retransmission: line.endsWith('(retransmission)') };
      blocks.push(cur);
    } else if (cur) {
      cur.lines.push(line);
    }
  }
  for (const b of blocks) while (b.lines.length > 0 && b.lines[b.lines.length - 1] === '') b.lines.pop();
  return blocks;
}

/** Drop placeholder numbers: shapes compare structure, not which random value was which. */
function unnumber(s: string): string {
  return s.replace(/<([a-z][a-z.-]*?)\d+>/gi, '<$1>').replace(/<cs\d+\+(\d+)>/g, '<cs+$1>');
}

export interface Shape {
  /** `sip <call>` / `control <call>` / `control -` → lines. */
  groups: Map<string, string[]>;
}

/** The comparable structure of a transcript. */
export function shapeOf(blocks: Block[], opts: { keepRetransmissions?: boolean } = {}): Shape {
  const groups = new Map<string, string[]>();
  for (const b of blocks) {
    if (b.retransmission && !opts.keepRetransmissions) continue;
    if (b.head.startsWith('CRLF')) continue;
    const channel = b.head.startsWith('CTRL') ? 'control' : 'sip';
    let sipLines = b.lines;
    let leader = '';
    if (channel === 'control') {
      leader = b.lines[0] ?? '';
      sipLines = b.lines.slice(1);
    }
    const callLine = sipLines.find((l) => /^(call-id|i)\s*:/i.test(l));
    const call = callLine ? callLine.replace(/^[^:]+:\s*/, '') : '-';
    // One sequence per Call-ID and flow direction (SIP), or per Call-ID, direction and frame type
    // (control): messages in different sequences are concurrent (a proxy's two legs, glare), so their
    // relative order is not part of the shape.
    const head0 = b.head.replace(/ \(retransmission\)$/, '').replace(/^\+[\d.]+ /, '');
    const sub =
      channel === 'control' ? `${head0.replace(/ \(conn \d+\)$/, '')} ${leader.split('|')[1] ?? ''}` : unnumber(head0);
    const headShape = head0.replace(/ \(conn \d+\)$/, '');
    const key = `${channel} ${call} ${sub}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    const names: string[] = [];
    for (const l of sipLines.slice(1)) {
      if (l === '') break;
      const c = l.indexOf(':');
      if (c > 0) names.push(l.slice(0, c).toLowerCase());
    }
    const bodyKind = sipLines.includes('[sdp]') ? ' +sdp' : '';
    const head = headShape;
    let line = channel === 'control' ? `${head} ${leaderShape(leader)}` : head;
    if (sipLines.length > 0 && sipLines[0]) line += ` :: ${sipLines[0]}`;
    if (names.length > 0) line += ` [${names.join(',')}]`;
    line += bodyKind;
    g.push(unnumber(line));
  }
  return { groups };
}

/**
 * The control leader as compared. A refusal's reason is not compared: which of two equivalent reasons
 * the server gives can depend on timing (e.g. a late 200 after CANCEL: "final response already sent"
 * before the ACK of the 487 arrived, "unknown transaction id" after).
 */
function leaderShape(leader: string): string {
  return leader.replace(/\|NOK\|.*$/, '|NOK|<reason>');
}

/** Differences between two shapes (undefined when equal), as a readable report. */
export function diffShapes(expected: Shape, actual: Shape): string | undefined {
  const out: string[] = [];
  const keys = [...new Set([...expected.groups.keys(), ...actual.groups.keys()])];
  for (const k of keys) {
    const e = expected.groups.get(k) ?? [];
    const a = actual.groups.get(k) ?? [];
    if (e.join('\n') === a.join('\n')) continue;
    out.push(`--- group ${unnumber(k)}`);
    const n = Math.max(e.length, a.length);
    for (let i = 0; i < n; i++) {
      if (e[i] === a[i]) continue;
      out.push(`  #${i} expected: ${e[i] ?? '(nothing)'}`);
      out.push(`  #${i} actual:   ${a[i] ?? '(nothing)'}`);
    }
  }
  return out.length > 0 ? out.join('\n') : undefined;
}
