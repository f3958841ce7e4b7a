import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  SipParseError,
  SipRequest,
  SipResponse,
  SipStreamFramer,
  canonicalHeaderName,
  formatNameAddr,
  formatSipUri,
  formatVia,
  getParam,
  normalizeHeaderName,
  parseMessage,
  parseNameAddr,
  parseSipUri,
  parseVia,
  parseViaList,
  splitHeaderList,
} from '../src/index.ts';
import { TORTURE } from './torture.ts';

test('header names: compact forms, case-insensitive, canonical spelling', () => {
  const compact: Record<string, string> = {
    i: 'call-id',
    m: 'contact',
    e: 'content-encoding',
    l: 'content-length',
    c: 'content-type',
    f: 'from',
    s: 'subject',
    k: 'supported',
    t: 'to',
    v: 'via',
    o: 'event',
    u: 'allow-events',
    r: 'refer-to',
    b: 'referred-by',
    x: 'session-expires',
    y: 'identity',
  };
  for (const [k, v] of Object.entries(compact)) {
    assert.equal(normalizeHeaderName(k), v);
    assert.equal(normalizeHeaderName(k.toUpperCase()), v);
  }
  assert.equal(canonicalHeaderName('cseq'), 'CSeq');
  assert.equal(canonicalHeaderName('call-id'), 'Call-ID');
  assert.equal(canonicalHeaderName('WWW-AUTHENTICATE'), 'WWW-Authenticate');
  assert.equal(canonicalHeaderName('i'), 'Call-ID');
  assert.equal(canonicalHeaderName('X-App'), 'X-App');
  assert.equal(canonicalHeaderName('x-lower'), 'x-lower');
});

test('list splitting respects quotes and angle brackets', () => {
  assert.deepEqual(splitHeaderList('<sip:a@b;x=1,2>, "Doe, John" <sip:j@d>,sip:c@d'), [
    '<sip:a@b;x=1,2>',
    '"Doe, John" <sip:j@d>',
    'sip:c@d',
  ]);
  assert.deepEqual(splitHeaderList(' , a ,, b '), ['a', 'b']);
  assert.deepEqual(splitHeaderList('"a\\",b", c'), ['"a\\",b"', 'c']);
});

test('SIP URI parsing: user, password, IPv4/IPv6/hostname, port, params, headers, escapes', () => {
  const u = parseSipUri('sip:alice:secret@example.com:5070;transport=tcp;lr?Subject=hi&Priority=urgent');
  assert.equal(u.scheme, 'sip');
  assert.equal(u.user, 'alice');
  assert.equal(u.password, 'secret');
  assert.equal(u.host, 'example.com');
  assert.equal(u.port, 5070);
  assert.equal(getParam(u.params, 'transport'), 'tcp');
  assert.equal(getParam(u.params, 'lr'), null);
  assert.deepEqual(u.headers, [
    ['Subject', 'hi'],
    ['Priority', 'urgent'],
  ]);
  assert.equal(formatSipUri(u), 'sip:alice:secret@example.com:5070;transport=tcp;lr?Subject=hi&Priority=urgent');

  const v6 = parseSipUri('sips:[2001:db8::10]:5061');
  assert.equal(v6.scheme, 'sips');
  assert.equal(v6.host, '[2001:db8::10]');
  assert.equal(v6.port, 5061);
  assert.equal(v6.user, undefined);
  assert.equal(parseSipUri('SIP:127.0.0.1').host, '127.0.0.1');
  assert.equal(parseSipUri('sip:qnrcavle@en91duleqqoo.invalid;transport=ws').host, 'en91duleqqoo.invalid');

  const esc = parseSipUri('sip:sips%3Auser%40example.com@example.net');
  assert.equal(esc.user, 'sips:user@example.com');
  assert.equal(esc.host, 'example.net');
  assert.equal(parseSipUri('sip:user;par=u%40example.net@example.com').user, 'user;par=u@example.net');
  assert.equal(parseSipUri('sip:%75se%72@example.com').user, 'user');

  for (const bad of [
    'sip:',
    'sip:@example.com',
    'sip:user@exa mple.com',
    'http://x',
    'sip:[2001:db8::1',
    'sip:host:99999',
    'sip:host:12a',
    'sip:a@b%zz',
  ]) {
    assert.throws(() => parseSipUri(bad), SipParseError, bad);
  }
});

test('name-addr and addr-spec: display names, quoted escapes, params outside the URI', () => {
  const a = parseNameAddr('"A \\"B\\" C" <sip:a@b;x=1>;tag=99;q=0.5');
  assert.equal(a.displayName, 'A "B" C');
  assert.equal(a.uri, 'sip:a@b;x=1');
  assert.deepEqual(a.params, [
    ['tag', '99'],
    ['q', '0.5'],
  ]);
  const b = parseNameAddr('sip:carol@localhost;tag=abc');
  assert.equal(b.uri, 'sip:carol@localhost');
  assert.equal(b.bracketed, false);
  assert.deepEqual(b.params, [['tag', 'abc']]);
  assert.equal(formatNameAddr(b), '<sip:carol@localhost>;tag=abc');
  const c = parseNameAddr('Bob Smith <sip:bob@example.com>');
  assert.equal(c.displayName, 'Bob Smith');
  assert.equal(formatNameAddr(c), 'Bob Smith <sip:bob@example.com>');
  const d = parseNameAddr(
    '<sip:qnrcavle@en91duleqqoo.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:6aedcb0f-bb7f-473b-a33b-7d05392bc96f>";expires=300',
  );
  assert.equal(getParam(d.params, '+sip.instance'), '"<urn:uuid:6aedcb0f-bb7f-473b-a33b-7d05392bc96f>"');
  assert.equal(getParam(d.params, 'expires'), '300');
  assert.throws(() => parseNameAddr('"unterminated <sip:a@b>'), SipParseError);
  assert.throws(() => parseNameAddr('<sip:a@b'), SipParseError);
});

test('Via: transport, host, port, branch, rport, received, multiple values', () => {
  const v = parseVia('SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK5b67;rport');
  assert.equal(v.transport, 'UDP');
  assert.equal(v.host, '127.0.0.1');
  assert.equal(v.port, 5062);
  assert.equal(getParam(v.params, 'branch'), 'z9hG4bK5b67');
  assert.equal(getParam(v.params, 'rport'), null);
  assert.equal(formatVia(v), 'SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK5b67;rport');
  const ws = parseVia('SIP/2.0/WS en91duleqqoo.invalid;branch=z9hG4bK6646693;received=127.0.0.1;rport=46800');
  assert.equal(ws.transport, 'WS');
  assert.equal(ws.port, undefined);
  assert.equal(getParam(ws.params, 'received'), '127.0.0.1');
  assert.equal(getParam(ws.params, 'rport'), '46800');
  const list = parseViaList(
    'SIP/2.0/TCP a.example.com;branch=z9hG4bK1, SIP / 2.0 / UDP [2001:db8::1]:5070 ; branch = z9hG4bK2',
  );
  assert.equal(list.length, 2);
  assert.equal(list[1]!.host, '[2001:db8::1]');
  assert.equal(getParam(list[1]!.params, 'branch'), 'z9hG4bK2');
  assert.throws(() => parseVia('SIP/2.0 127.0.0.1'), SipParseError);
});

/** drachtio-server's reference recordings, outside the repository: `../shared` next to the clone, or CONCLAVE_SHARED_DIR. */
function referenceTranscriptsDir(): string | undefined {
  const shared =
    process.env['CONCLAVE_SHARED_DIR'] ?? join(fileURLToPath(new URL('../../../', import.meta.url)), '..', 'shared');
  const dir = join(shared, 'drachtio-transcripts');
  return existsSync(dir) ? dir : undefined;
}

test('every SIP message of the reference transcripts parses and serialises back byte for byte', (t) => {
  const dir = referenceTranscriptsDir();
  if (!dir) {
    t.skip(
      'reference drachtio transcripts not found (../shared/drachtio-transcripts next to the clone, or CONCLAVE_SHARED_DIR)',
    );
    return;
  }
  let n = 0;
  for (const f of [
    'b-options',
    'c-ws-register-options',
    'd-uas-invite',
    'e-uac-modify-info-bye',
    'f-b2bua',
    'g-cancel',
    'h-refer-notify',
    'i-subscribe-notify',
    'j-contact-isfocus',
    'k-no-ack-2xx-retransmit',
  ]) {
    for (const line of readFileSync(`${dir}/${f}.jsonl`, 'utf8').trim().split('\n')) {
      const ev = JSON.parse(line) as { what: string; text: string };
      if (!ev.what.startsWith('SIP') || ev.text.startsWith('<')) continue;
      const text = ev.text.replace(/^\r?\n/, '');
      const m = parseMessage(text);
      assert.equal(m.toString(), text, `${f}: ${ev.what}`);
      assert.ok(m.callId);
      assert.ok(m.cseq);
      assert.ok(m.topVia);
      n++;
    }
  }
  assert.ok(n > 50, `parsed ${n} messages`);
});

test('request accessors and header editing', () => {
  const m = parseMessage(
    'INVITE sip:bob@example.com SIP/2.0\r\nv: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nf: <sip:a@example.com>;tag=1\r\nt: Bob <sip:bob@example.com>\r\ni: abc@x\r\nCSeq: 7 INVITE\r\nm: <sip:a@10.0.0.1>, <sip:a@10.0.0.2>\r\nc: application/sdp\r\nl: 3\r\n\r\nabcdef',
  );
  assert.ok(m instanceof SipRequest);
  assert.equal(m.method, 'INVITE');
  assert.equal(m.callId, 'abc@x');
  assert.deepEqual(m.cseq, { seq: 7, method: 'INVITE' });
  assert.equal(m.fromTag, '1');
  assert.equal(m.toTag, undefined);
  assert.equal(m.contacts.length, 2);
  assert.equal(m.body.toString(), 'abc', 'datagram body is cut to Content-Length');
  assert.equal(m.get('Content-Type'), 'application/sdp');
  m.set('Subject', 'hi').remove('c').setBody('xy');
  assert.equal(m.get('content-length'), '2');
  assert.equal(m.has('content-type'), false);
  const r = new SipResponse(200, 'OK');
  r.append('content-length', '0')
    .append('cseq', '1 OPTIONS')
    .append('X-Z', '1')
    .append('Via', 'SIP/2.0/UDP h;branch=z9hG4bKx');
  r.sortHeaders();
  assert.equal(
    r.toString(),
    'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\nX-Z: 1\r\n\r\n',
  );
});

test('line folding is unfolded for values but kept for byte-exact forwarding', () => {
  const text =
    'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nSubject: one\r\n two\r\n\tthree\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n';
  const m = parseMessage(text);
  assert.equal(m.get('subject'), 'one two three');
  assert.equal(m.toString(), text);
});

test('parse errors are typed SipParseError with a reason, and carry the partial message', () => {
  try {
    parseMessage(
      'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n',
    );
    assert.fail('should throw');
  } catch (err) {
    assert.ok(err instanceof SipParseError);
    assert.equal(err.reason, 'CSeq method mismatch');
    assert.ok(err.partial instanceof SipRequest);
  }
  assert.throws(
    () => parseMessage(''),
    (e: SipParseError) => e.reason === 'Empty message',
  );
  assert.throws(
    () => parseMessage('OPTIONS sip:a@b SIP/2.0\r\nVia: x'),
    (e: SipParseError) => e.reason === 'Incomplete message',
  );
  assert.throws(
    () => parseMessage('OPTIONS sip:a@b SIP/2.0\r\nbad header line\r\n\r\n'),
    (e: SipParseError) => e.reason === 'Bad header',
  );
  const many = ['OPTIONS sip:a@b SIP/2.0', ...Array.from({ length: 300 }, (_, i) => `X-${i}: y`), '', ''].join('\r\n');
  assert.throws(
    () => parseMessage(many),
    (e: SipParseError) => e.reason === 'Too many headers',
  );
  // Lenient mode (app templates) accepts messages without the mandatory headers.
  const lenient = parseMessage('BYE sip:placeholder SIP/2.0\r\nContent-Length: 0\r\n\r\n', { lenient: true });
  assert.equal(lenient.kind === 'request' && lenient.uri, 'sip:placeholder');
});

for (const tc of TORTURE) {
  test(`RFC 4475 ${tc.name}`, () => {
    if (tc.valid) {
      const m = parseMessage(tc.text);
      assert.ok(m.callId);
      assert.ok(m.vias.length >= 1);
      return;
    }
    assert.throws(
      () => parseMessage(tc.text),
      (e: unknown) => e instanceof SipParseError && e.reason === tc.reason,
      `expected ${tc.reason}`,
    );
  });
}

test('RFC 4475 wsinv details: unfolded values, escapes, compact Via and Contact', () => {
  const m = parseMessage(TORTURE[0]!.text) as SipRequest;
  assert.equal(m.toTag, '1918181833n');
  assert.equal(m.fromTag, '98asjd8');
  assert.equal(m.from.displayName, 'J Rosenberg \\"');
  assert.deepEqual(m.cseq, { seq: 9, method: 'INVITE' });
  assert.equal(m.get('max-forwards'), '0068');
  const vias = m.vias;
  assert.deepEqual(
    vias.map((v) => [v.transport, v.host, getParam(v.params, 'branch')]),
    [
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ],
  );
  assert.equal(m.contacts[0]!.displayName, 'Quoted string ""');
  assert.equal(getParam(m.contacts[0]!.params, 'q'), '0.33');
  assert.equal(m.get('NewFangledHeader'), 'newfangled value continued newfangled value');
  assert.ok(m.body.toString().startsWith('v=0\r\n'));
});

test('stream framer: partial, multiple and keep-alive', () => {
  const one =
    'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nl: 5\r\n\r\nhello';
  const two =
    'SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';
  const all = Buffer.from('\r\n\r\n' + one + '\r\n' + two + one);
  for (const step of [1, 3, 7, 64, all.length]) {
    const f = new SipStreamFramer();
    const events = [];
    for (let i = 0; i < all.length; i += step) events.push(...f.push(all.subarray(i, i + step)));
    const msgs = events.filter((e) => e.type === 'message');
    assert.equal(msgs.length, 3, `step ${step}`);
    assert.equal(msgs[0]!.type === 'message' && msgs[0]!.data.toString(), one);
    assert.equal(msgs[1]!.type === 'message' && msgs[1]!.data.toString(), two);
    assert.ok(
      events.some((e) => e.type === 'keepalive' && e.kind === 'ping'),
      `ping at step ${step}`,
    );
    assert.equal(f.buffered, 0);
  }
  const f = new SipStreamFramer({ maxMessageSize: 100 });
  assert.throws(
    () => f.push(Buffer.from('x'.repeat(200))),
    (e: SipParseError) => e.reason === 'Message Too Large',
  );
  const g = new SipStreamFramer({ maxMessageSize: 200 });
  assert.throws(
    () => g.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 5000\r\n\r\n')),
    (e: SipParseError) => e.reason === 'Message Too Large',
  );
});

test('a seeded mutation fuzz of the parser never throws anything but SipParseError', () => {
  let seed = 0x2f6b3a1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 0x100000000;
  const corpus = TORTURE.filter((t) => t.valid).map((t) => Buffer.from(t.text));
  for (let i = 0; i < 5000; i++) {
    const base = Buffer.from(corpus[Math.floor(rnd() * corpus.length)]!);
    const muts = 1 + Math.floor(rnd() * 8);
    let buf = base;
    for (let k = 0; k < muts; k++) {
      const op = rnd();
      const pos = Math.floor(rnd() * buf.length);
      if (op < 0.4) buf[pos] = Math.floor(rnd() * 256);
      else if (op < 0.6) buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos + 1 + Math.floor(rnd() * 20))]);
      else if (op < 0.8)
        buf = Buffer.concat([
          buf.subarray(0, pos),
          Buffer.from([':', ';', ',', '<', '>', '"', '\r\n', ' ', '%', '@'][Math.floor(rnd() * 10)]!),
          buf.subarray(pos),
        ]);
      else buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos, pos + 30), buf.subarray(pos)]);
    }
    try {
      const m = parseMessage(buf);
      // The header getters parse on access: they too may throw only SipParseError.
      void m.vias;
      void m.contacts;
      m.toString();
    } catch (err) {
      assert.ok(err instanceof SipParseError, `iteration ${i}: ${(err as Error).stack}`);
    }
  }
});
