/** RFC 4475 torture messages over UDP and TCP, a seeded mutation fuzzer, and resource limits. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TORTURE } from '../../sip-message/test/torture.ts';
import {
  SECRET,
  TcpPeer,
  UdpPeer,
  connectSrf,
  referenceTranscriptsDir,
  sipText,
  sleep,
  startServer,
  waitFor,
  type LooseSrf,
} from './helpers.ts';

function routeEverything(srf: LooseSrf, status = 486, invite = true): void {
  const answer = (_q: unknown, r: { send(s: number): void }) => r.send(status);
  if (invite) srf.invite(answer);
  srf.options(answer);
  srf.register(answer);
  srf.message(answer);
  srf.subscribe(answer);
}

function noErrors(lines: string[]): void {
  const bad = lines.filter((l) => l.includes(' ERROR '));
  assert.deepEqual(bad, [], 'no internal errors logged');
}

test('RFC 4475 torture messages over UDP: valid ones are processed, invalid ones get 400 or are dropped', async () => {
  const { server, addrs, log } = await startServer();
  const seen: string[] = [];
  const app = await connectSrf(addrs.control, SECRET, (srf) => {
    routeEverything(srf, 486, false);
    srf.invite((req, res) => {
      seen.push(req.get('Call-ID'));
      res.send(486);
    });
  });
  try {
    for (const tc of TORTURE) {
      const peer = await new UdpPeer().bind();
      peer.sendRaw(Buffer.from(tc.text), addrs.udp!.port);
      const isRequest = !tc.text.startsWith('SIP/2.0');
      if (tc.valid && isRequest)
        await waitFor(() => peer.responses().some((r) => r.status >= 200), 2000, `${tc.name}: final answer`).catch(
          () => undefined,
        );
      else await sleep(60);
      if (tc.valid && isRequest) {
        assert.ok(peer.responses().length > 0, `${tc.name}: expected an answer`);
        assert.ok(!peer.responses().some((r) => r.status === 400), `${tc.name}: valid message refused`);
      }
      if (!tc.valid) {
        const r = peer.responses();
        assert.ok(
          r.every((x) => x.status === 400 || x.status === 505),
          `${tc.name}: ${r.map((x) => x.status).join(',')}`,
        );
        if (r.length) assert.equal(r[0]!.reason, tc.reason === 'Version Not Supported' ? tc.reason : tc.reason);
      }
      peer.close();
    }
    assert.ok(seen.includes('esc01.239409asdfakjkn23onasd0-3234'), 'escaped INVITE reached the app');
    noErrors(log.lines);
    const ok = await new UdpPeer().bind();
    ok.send(
      sipText([
        `OPTIONS sip:x@127.0.0.1 SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${ok.port};branch=z9hG4bK-alive;rport`,
        'Max-Forwards: 70',
        'From: <sip:a@b>;tag=1',
        'To: <sip:x@127.0.0.1>',
        'Call-ID: alive',
        'CSeq: 1 OPTIONS',
      ]),
      addrs.udp!.port,
    );
    assert.equal((await ok.waitResponse(() => true)).status, 486);
    ok.close();
  } finally {
    app.close();
    await server.close();
  }
});

test('RFC 4475 torture messages over TCP: same outcome, one connection per message', async () => {
  const { server, addrs, log } = await startServer();
  const app = await connectSrf(addrs.control, SECRET, (srf) => routeEverything(srf));
  try {
    for (const tc of TORTURE) {
      const c = await new TcpPeer().connect(addrs.tcp!.port);
      c.socket.write(tc.text);
      const isRequest = !tc.text.startsWith('SIP/2.0');
      const expectAnswer = tc.valid && isRequest;
      if (expectAnswer) await waitFor(() => c.received.length > 0, 2000, `${tc.name}: answer`).catch(() => undefined);
      else await sleep(60);
      if (expectAnswer) {
        assert.ok(c.received.length > 0, `${tc.name}: expected an answer over TCP`);
      }
      if (!tc.valid)
        assert.ok(
          c.received.every((m) => m.kind === 'response' && m.status === 400),
          tc.name,
        );
      c.close();
    }
    noErrors(log.lines);
  } finally {
    app.close();
    await server.close();
  }
});

const transcripts = referenceTranscriptsDir();

test('seeded mutation fuzzer: 20000 datagrams, no crash, no leaked transactions or dialogs', async (t) => {
  const { server, addrs, log } = await startServer({ timers: { T1: 5 } });
  const app = await connectSrf(addrs.control, SECRET, (srf) => routeEverything(srf));
  const peer = await new UdpPeer().bind();
  // Corpus: torture messages plus, when the reference recordings (outside the repository) are there, their requests.
  const corpus = TORTURE.map((t) => Buffer.from(t.text));
  if (!transcripts)
    t.diagnostic(
      'reference drachtio transcripts not found (../shared/drachtio-transcripts or CONCLAVE_SHARED_DIR): fuzzing the torture messages only',
    );
  for (const f of transcripts ? ['d-uas-invite', 'g-cancel', 'h-refer-notify', 'i-subscribe-notify'] : []) {
    for (const line of readFileSync(join(transcripts!, `${f}.jsonl`), 'utf8')
      .trim()
      .split('\n')) {
      const ev = JSON.parse(line) as { what: string; text: string };
      if (ev.what.startsWith('SIP') && !ev.text.startsWith('<'))
        corpus.push(Buffer.from(ev.text.replace(/^\r?\n/, '')));
    }
  }
  let seed = 0x5eed1234;
  const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 0x100000000;
  const tokens = [
    ':',
    ';',
    ',',
    '<',
    '>',
    '"',
    '\r\n',
    ' ',
    '%',
    '@',
    '\r\n\r\n',
    'tag=',
    'z9hG4bK',
    'INVITE',
    'ACK',
    'CANCEL',
    'BYE',
    '0',
    '4294967296',
  ];
  const N = 20000;
  try {
    for (let i = 0; i < N; i++) {
      let buf = Buffer.from(corpus[Math.floor(rnd() * corpus.length)]!);
      const muts = Math.floor(rnd() * 6);
      for (let k = 0; k < muts; k++) {
        const op = rnd();
        const pos = Math.floor(rnd() * buf.length);
        if (op < 0.35) buf[pos] = Math.floor(rnd() * 256);
        else if (op < 0.55) buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos + 1 + Math.floor(rnd() * 30))]);
        else if (op < 0.85)
          buf = Buffer.concat([
            buf.subarray(0, pos),
            Buffer.from(tokens[Math.floor(rnd() * tokens.length)]!),
            buf.subarray(pos),
          ]);
        else buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos, pos + 40), buf.subarray(pos)]);
      }
      peer.sendRaw(buf, addrs.udp!.port);
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
      if (i % 2000 === 1999) await sleep(20);
    }
    await sleep(200);
    // Every transaction and dialog must drain once the (shortened) timers have run.
    await waitFor(
      () => {
        const s = server.stats();
        return s.serverTransactions === 0 && s.clientTransactions === 0 && s.dialogs === 0 && s.pendingSources === 0;
      },
      8000,
      `state to drain: ${JSON.stringify(server.stats())}`,
    );
    noErrors(log.lines);
    assert.ok(peer.received.length > 100, `server answered (${peer.received.length} responses)`);
  } finally {
    app.close();
    peer.close();
    await server.close();
  }
});

test('limits: unanswered transactions per source → 503 Retry-After; connections per source refused; both logged', async () => {
  const { server, addrs, log } = await startServer({
    limits: { maxTransactionsPerSource: 3, maxConnectionsPerSource: 2 },
  });
  const app = await connectSrf(addrs.control, SECRET, (srf) => srf.invite(() => {}));
  const peer = await new UdpPeer().bind();
  const conns: TcpPeer[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      peer.send(
        sipText([
          `INVITE sip:x@127.0.0.1 SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-lim-${i};rport`,
          'Max-Forwards: 70',
          `From: <sip:a@b>;tag=l${i}`,
          'To: <sip:x@127.0.0.1>',
          `Call-ID: lim-${i}`,
          'CSeq: 1 INVITE',
          `Contact: <sip:a@127.0.0.1:${peer.port}>`,
        ]),
        addrs.udp!.port,
      );
    }
    const r = await peer.waitResponse((x) => x.status === 503);
    assert.equal(r.get('call-id'), 'lim-3');
    assert.equal(r.get('retry-after'), '5');
    assert.equal(peer.responses((x) => x.status === 100).length, 3);
    assert.ok(log.lines.some((l) => l.includes('too many concurrent transactions from one source')));
    for (let i = 0; i < 3; i++) conns.push(await new TcpPeer().connect(addrs.tcp!.port));
    let closed = false;
    conns[2]!.socket.on('close', () => (closed = true));
    await waitFor(() => closed, 2000, 'third connection refused');
    assert.ok(log.lines.some((l) => l.includes('connection refused: limit reached')));
    // A closed connection frees its slot.
    conns[0]!.close();
    await sleep(50);
    const again = await new TcpPeer().connect(addrs.tcp!.port);
    conns.push(again);
    await sleep(50);
    assert.equal(again.socket.destroyed, false);
  } finally {
    for (const c of conns) c.close();
    app.close();
    peer.close();
    await server.close();
  }
});

test('server close() with live calls, connections and apps releases everything and never throws', async () => {
  const { server, addrs } = await startServer();
  const app = await connectSrf(addrs.control, SECRET, (srf) => srf.invite(() => {}));
  const peer = await new UdpPeer().bind();
  const c = await new TcpPeer().connect(addrs.tcp!.port);
  peer.send(
    sipText([
      `INVITE sip:x@127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-close;rport`,
      'Max-Forwards: 70',
      'From: <sip:a@b>;tag=c',
      'To: <sip:x@127.0.0.1>',
      'Call-ID: close-1',
      'CSeq: 1 INVITE',
      `Contact: <sip:a@127.0.0.1:${peer.port}>`,
    ]),
    addrs.udp!.port,
  );
  await peer.waitResponse((x) => x.status === 100);
  await server.close();
  await server.close();
  assert.equal(server.closed, true);
  app.close();
  peer.close();
  c.close();
});
