/**
 * The baresip driver against a real baresip: it starts on a port block, answers ctrl_tcp commands and
 * releases its ports when it closes. (What it does on a taken port is in ports.test.ts: the messages
 * there are the ones baresip 1.0 and linphonec 5.1 print.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { BaresipPeer } from '../src/baresip.ts';

test('baresip starts on a port block, obeys ctrl_tcp, and frees its ports on close', async () => {
  const peer = await BaresipPeer.start({ user: 'probe' });
  try {
    assert.match(peer.uri, new RegExp(`^sip:probe@127\\.0\\.0\\.1:${peer.sipPort}$`));
    const r = await peer.command('listcalls');
    assert.equal(r.ok, true, r.data);
  } finally {
    await peer.close();
  }
  // Its SIP port is free again.
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(peer.sipPort, '127.0.0.1', () => s.close(() => resolve()));
  });
});
