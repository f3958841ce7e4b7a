/**
 * The conclave command as users run it: it starts everything, prints every address, serves the page
 * and its config, and on SIGTERM ends every call with BYE before exiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerFor, SipTestUa, webrtcLikeOffer } from '@conclave/sip-test-ua';

const PORTS = { sip: 31060, ws: 31088, control: 31022, http: 31080 };

test('starts on its config, prints its addresses, and SIGTERM ends calls with BYE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-lifecycle-'));
  const config = join(dir, 'conclave.json');
  writeFileSync(config, JSON.stringify({
    sip: { udpPort: PORTS.sip, tcpPort: PORTS.sip, wsPort: PORTS.ws },
    drachtio: { port: PORTS.control, secret: 'lifecycle' },
    http: { port: PORTS.http },
    media: { workers: 1, rtcMinPort: 47000, rtcMaxPort: 47999 },
  }));
  const child = spawn(process.execPath, [join(import.meta.dirname, '../src/main.ts'), '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(() => stdout.includes('Press Ctrl-C to stop.'), 30_000, () => `no start-up banner; stderr:\n${stderr}`);
    for (const expected of [
      `Web page             http://127.0.0.1:${PORTS.http}/`,
      `SIP over UDP         sip:127.0.0.1:${PORTS.sip};transport=udp`,
      `SIP over TCP         sip:127.0.0.1:${PORTS.sip};transport=tcp`,
      `SIP over WebSocket   ws://127.0.0.1:${PORTS.ws}`,
      `drachtio control     127.0.0.1:${PORTS.control} (embedded server)`,
      'mediasoup            1 worker(s)',
    ]) assert.ok(stdout.includes(expected), `banner lacks "${expected}":\n${stdout}`);

    const pageConfig = await (await fetch(`http://127.0.0.1:${PORTS.http}/config.json`)).json();
    assert.deepEqual(pageConfig, { wsUri: `ws://127.0.0.1:${PORTS.ws}`, domain: '127.0.0.1', conferenceFactoryUri: 'sip:conference@127.0.0.1', adminApi: '/api' });

    // A call between two SIP user agents through the running product.
    const server = { host: '127.0.0.1', port: PORTS.sip };
    const alice = await SipTestUa.create({ user: 'alice', password: 'alice-secret', domain: '127.0.0.1', server });
    const bob = await SipTestUa.create({ user: 'bob', password: 'bob-secret', domain: '127.0.0.1', server });
    try {
      assert.equal((await bob.register()).final.status, 200);
      bob.on('request', (incoming) => {
        if (incoming.request.method === 'INVITE' && !bob.dialogs.has(incoming.request.callId)) bob.acceptInvite(incoming, answerFor(incoming.request.body.toString()));
        else incoming.respond(200);
      });
      const call = await alice.invite('sip:bob@127.0.0.1', webrtcLikeOffer());
      assert.equal(call.final.status, 200);
      const aliceBye = new Promise((ok) => call.dialog!.once('bye', ok));
      const bobBye = new Promise((ok) => [...bob.dialogs.values()][0]!.once('bye', ok));

      child.kill('SIGTERM');
      await Promise.race([Promise.all([aliceBye, bobBye]), timeout(5000, () => `BYE on both legs after SIGTERM; stderr:\n${stderr}`)]);
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
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${typeof what === 'string' ? what : what()}`)), ms).unref());
}
