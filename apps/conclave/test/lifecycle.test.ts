/**
 * The conclave command as users run it: it starts everything, prints every address, serves the page
 * and its config, and on SIGTERM ends every call with BYE before exiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerFor, SipTestUa, webrtcLikeOffer } from '@conclave/sip-test-ua';

/** What main.ts writes to its --ready-file: the addresses it bound (every port here comes from the OS). */
interface Ready {
  http: { port: number };
  sip: { udp: { port: number }; tcp: { port: number }; ws: { port: number } };
  drachtio: { port: number };
}

test('starts on its config, prints its addresses, and SIGTERM ends calls with BYE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-lifecycle-'));
  const config = join(dir, 'conclave.json');
  const readyFile = join(dir, 'ready.json');
  writeFileSync(
    config,
    JSON.stringify({
      sip: { udpPort: 0, tcpPort: 0, wsPort: 0 },
      drachtio: { port: 0, secret: 'lifecycle' },
      http: { port: 0 },
      media: { workers: 1, rtcMinPort: 47000, rtcMaxPort: 47999 },
    }),
  );
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, '../src/main.ts'), '--config', config, '--ready-file', readyFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(
      () => stdout.includes('Press Ctrl-C to stop.') && existsSync(readyFile),
      30_000,
      () => `no start-up banner or ready file; stderr:\n${stderr}`,
    );
    const ready = JSON.parse(readFileSync(readyFile, 'utf8')) as Ready;
    for (const expected of [
      `Web page             http://127.0.0.1:${ready.http.port}/`,
      `SIP over UDP         sip:127.0.0.1:${ready.sip.udp.port};transport=udp`,
      `SIP over TCP         sip:127.0.0.1:${ready.sip.tcp.port};transport=tcp`,
      `SIP over WebSocket   ws://127.0.0.1:${ready.sip.ws.port}`,
      `drachtio control     127.0.0.1:${ready.drachtio.port} (embedded server)`,
      'mediasoup            1 worker(s)',
    ])
      assert.ok(stdout.includes(expected), `banner lacks "${expected}":\n${stdout}`);

    const pageConfig = await (await fetch(`http://127.0.0.1:${ready.http.port}/config.json`)).json();
    assert.deepEqual(pageConfig, {
      wsUri: `ws://127.0.0.1:${ready.sip.ws.port}`,
      domain: '127.0.0.1',
      conferenceFactoryUri: 'sip:conference@127.0.0.1',
      adminApi: '/api',
    });

    // A call between two SIP user agents through the running product.
    const server = { host: '127.0.0.1', port: ready.sip.udp.port };
    const alice = await SipTestUa.create({ user: 'alice', password: 'alice-secret', domain: '127.0.0.1', server });
    const bob = await SipTestUa.create({ user: 'bob', password: 'bob-secret', domain: '127.0.0.1', server });
    try {
      assert.equal((await bob.register()).final.status, 200);
      bob.on('request', (incoming) => {
        if (incoming.request.method === 'INVITE' && !bob.dialogs.has(incoming.request.callId))
          bob.acceptInvite(incoming, answerFor(incoming.request.body.toString()));
        else incoming.respond(200);
      });
      const call = await alice.invite('sip:bob@127.0.0.1', webrtcLikeOffer());
      assert.equal(call.final.status, 200);
      const aliceBye = new Promise((ok) => call.dialog!.once('bye', ok));
      const bobBye = new Promise((ok) => [...bob.dialogs.values()][0]!.once('bye', ok));

      child.kill('SIGTERM');
      await Promise.race([
        Promise.all([aliceBye, bobBye]),
        timeout(5000, () => `BYE on both legs after SIGTERM; stderr:\n${stderr}`),
      ]);
      const code = await Promise.race([exited, timeout(10_000, 'exit after SIGTERM')]);
      assert.equal(code, 0);
      assert.match(stderr, /stopping signal=SIGTERM/);
      assert.match(stderr, /focus stopped callsEnded=1/);
    } finally {
      alice.close();
      bob.close();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

async function waitFor(predicate: () => boolean, ms: number, why: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

function timeout(ms: number, what: string | (() => string)): Promise<never> {
  return new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`timed out: ${typeof what === 'string' ? what : what()}`)), ms).unref(),
  );
}
