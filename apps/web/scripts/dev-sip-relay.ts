/**
 * dev-sip-relay: a tiny SIP-over-WebSocket registrar + relay for developing the page without the
 * Conclave server (no media anchoring, no focus: browsers talk RTP directly over loopback).
 *
 *   node apps/web/scripts/dev-sip-relay.ts [--port 8188]
 *   CONCLAVE_WS_URI=ws://127.0.0.1:8188 vite preview   (or vite dev)
 *
 * Users alice, bob, carol, dave, erin (password "<name>-secret"), digest-authenticated REGISTER.
 * Scripted failures for UI work: calling "busy" -> 486, "nomedia" -> 488 + Warning,
 * "locked" -> 403 Conference Locked, an unknown name -> 404, a known but offline user -> 480.
 * Not part of the product; a development aid only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h' },
    port: { type: 'string', default: '8188' },
    quiet: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'usage: node apps/web/scripts/dev-sip-relay.ts [--port 8188] [--quiet]\nA SIP-over-WebSocket registrar and relay for developing the page without the Conclave server.\n',
  );
  process.exit(0);
}
const port = Number(values.port);
const USERS = new Set(['alice', 'bob', 'carol', 'dave', 'erin']);
const REALM = 'conclave-dev';

interface Message {
  startLine: string;
  headers: Array<[string, string]>;
  body: string;
  isRequest: boolean;
  method: string;
  ruri: string;
  status: number;
}

const COMPACT: Record<string, string> = {
  v: 'via',
  f: 'from',
  t: 'to',
  m: 'contact',
  i: 'call-id',
  l: 'content-length',
  c: 'content-type',
};

function parse(raw: string): Message | null {
  const split = raw.indexOf('\r\n\r\n');
  if (split === -1) return null;
  const lines = raw.slice(0, split).split('\r\n');
  const startLine = lines.shift() ?? '';
  const headers: Array<[string, string]> = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.push([COMPACT[name] ?? name, line.slice(colon + 1).trim()]);
  }
  const isRequest = !startLine.startsWith('SIP/2.0');
  const parts = startLine.split(' ');
  return {
    startLine,
    headers,
    body: raw.slice(split + 4),
    isRequest,
    method: isRequest ? (parts[0] ?? '') : '',
    ruri: isRequest ? (parts[1] ?? '') : '',
    status: isRequest ? 0 : Number(parts[1]),
  };
}

const header = (m: Message, name: string): string | undefined => m.headers.find(([n]) => n === name)?.[1];
const all = (m: Message, name: string): string[] => m.headers.filter(([n]) => n === name).map(([, v]) => v);
const userOf = (uri: string): string => /sips?:([^@;>]+)@/i.exec(uri)?.[1] ?? '';
const branchOf = (via: string | undefined): string => /branch=([^;,\s]+)/i.exec(via ?? '')?.[1] ?? '';
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

function reply(ws: WebSocket, req: Message, status: number, reason: string, extra: string[] = []): void {
  const to = header(req, 'to') ?? '';
  const lines = [
    `SIP/2.0 ${status} ${reason}`,
    ...all(req, 'via').map((v) => `Via: ${v}`),
    `From: ${header(req, 'from') ?? ''}`,
    `To: ${/;tag=/.test(to) || status === 100 ? to : `${to};tag=${randomBytes(4).toString('hex')}`}`,
    `Call-ID: ${header(req, 'call-id') ?? ''}`,
    `CSeq: ${header(req, 'cseq') ?? ''}`,
    ...extra,
    'Server: conclave-dev-relay',
    'Content-Length: 0',
    '',
    '',
  ];
  ws.send(lines.join('\r\n'));
}

const registrations = new Map<string, WebSocket>(); // AOR user -> connection
const contacts = new Map<string, WebSocket>(); // contact user (JsSIP random token) -> connection
const transactions = new Map<string, WebSocket>(); // Via branch -> connection the request came from
const nonces = new Set<string>();

function learnContacts(m: Message, ws: WebSocket): void {
  for (const c of all(m, 'contact')) {
    const user = userOf(c);
    if (user) contacts.set(user, ws);
  }
}

function checkDigest(req: Message, user: string): boolean {
  const auth = header(req, 'authorization');
  if (!auth) return false;
  const field = (k: string): string => new RegExp(`${k}="?([^",]+)"?`, 'i').exec(auth)?.[1] ?? '';
  if (!nonces.has(field('nonce')) || field('username') !== user) return false;
  const ha1 = md5(`${user}:${REALM}:${user}-secret`);
  const ha2 = md5(`${req.method}:${field('uri')}`);
  const qop = field('qop');
  const expected = qop
    ? md5(`${ha1}:${field('nonce')}:${field('nc')}:${field('cnonce')}:${qop}:${ha2}`)
    : md5(`${ha1}:${field('nonce')}:${ha2}`);
  return expected === field('response');
}

function onRequest(req: Message, raw: string, ws: WebSocket): void {
  if (req.method === 'REGISTER') {
    const user = userOf(header(req, 'to') ?? '');
    if (!USERS.has(user)) return reply(ws, req, 403, 'Forbidden');
    if (!checkDigest(req, user)) {
      const nonce = randomBytes(8).toString('hex');
      nonces.add(nonce);
      return reply(ws, req, 401, 'Unauthorized', [
        `WWW-Authenticate: Digest realm="${REALM}", nonce="${nonce}", algorithm=MD5, qop="auth"`,
      ]);
    }
    const expires = Number(header(req, 'expires') ?? /expires=(\d+)/.exec(header(req, 'contact') ?? '')?.[1] ?? 600);
    if (expires === 0) registrations.delete(user);
    else registrations.set(user, ws);
    learnContacts(req, ws);
    const contact = (header(req, 'contact') ?? '').replace(/;expires=\d+/, '');
    log(`REGISTER ${user} expires=${expires}`);
    return reply(ws, req, 200, 'OK', expires === 0 ? [] : [`Contact: ${contact};expires=${expires}`]);
  }
  learnContacts(req, ws);
  const target = userOf(req.ruri);
  const dest = contacts.get(target) ?? registrations.get(target);
  if (!dest || dest.readyState !== dest.OPEN) {
    if (req.method === 'ACK') return;
    if (req.method === 'INVITE') {
      if (target === 'busy') return reply(ws, req, 486, 'Busy Here');
      if (target === 'nomedia')
        return reply(ws, req, 488, 'Not Acceptable Here', [
          'Warning: 399 conclave-dev "no common audio codec (the other side offered only G.729)"',
        ]);
      if (target === 'locked') return reply(ws, req, 403, 'Conference Locked');
    }
    return reply(ws, req, USERS.has(target) ? 480 : 404, USERS.has(target) ? 'Temporarily Unavailable' : 'Not Found');
  }
  if (req.method !== 'ACK') transactions.set(branchOf(all(req, 'via')[0]), ws);
  log(`${req.method} -> ${target}`);
  dest.send(raw);
}

function onResponse(res: Message, raw: string, ws: WebSocket): void {
  learnContacts(res, ws);
  const origin = transactions.get(branchOf(all(res, 'via')[0]));
  if (origin && origin.readyState === origin.OPEN) origin.send(raw);
  log(`${res.status} <- ${header(res, 'cseq') ?? ''}`);
}

function log(line: string): void {
  if (!values.quiet) process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
});
/** A frame's text (ws hands out a Buffer by default, fragments or an ArrayBuffer on request). */
function frameText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString();
}

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    const raw = frameText(data);
    if (raw.trim() === '') return; // keep-alive
    const m = parse(raw);
    if (!m) return;
    if (m.isRequest) onRequest(m, raw, ws);
    else onResponse(m, raw, ws);
  });
  ws.on('close', () => {
    for (const [k, v] of registrations) if (v === ws) registrations.delete(k);
    for (const [k, v] of contacts) if (v === ws) contacts.delete(k);
  });
});
wss.on('listening', () => process.stdout.write(`dev-sip-relay listening on ws://127.0.0.1:${port}\n`));
const stop = (): void => {
  for (const c of wss.clients) c.terminate();
  wss.close(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
