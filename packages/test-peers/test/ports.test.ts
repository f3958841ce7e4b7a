import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  PortInUseError,
  reservePortBlock,
  saysAddressInUse,
  startOnPortBlocks,
  type PortBlock,
  type PortRange,
} from '../src/ports.ts';

/** A TCP listener on `port`, to make a port busy the way another process would. */
function occupy(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

const close = (s: net.Server) => new Promise<void>((r) => s.close(() => r()));

test('a block is even-aligned, inside its range, and never handed out twice while held', async () => {
  const range: PortRange = [21500, 21519];
  const a = await reservePortBlock(3, range);
  const b = await reservePortBlock(3, range);
  for (const block of [a, b]) {
    assert.equal(block.base % 2, 0);
    assert.ok(block.base >= range[0] && block.last <= range[1], `${block.base}-${block.last}`);
  }
  assert.ok(a.last < b.base || b.last < a.base, `blocks overlap: ${a.base} and ${b.base}`);
  a.release();
  b.release();
});

test('a port another process holds is skipped by the probe', async () => {
  // Two slots of 3 in 21600-21605: 21600-21602 and 21602-21604. Busy 21601 leaves only the second.
  const busy = await occupy(21601);
  try {
    const block = await reservePortBlock(3, [21600, 21605]);
    assert.equal(block.base, 21602);
    block.release();
  } finally {
    await close(busy);
  }
});

test('startOnPortBlocks retries on PortInUseError with a new block, and passes other errors through', async () => {
  const seen: number[] = [];
  const result = await startOnPortBlocks([{ count: 2, range: [21700, 21799] }], ([block]: PortBlock[]) => {
    seen.push(block!.base);
    if (seen.length < 3) return Promise.reject(new PortInUseError(`port ${block!.base} taken`));
    return Promise.resolve(block!.base);
  });
  assert.equal(seen.length, 3);
  assert.equal(result, seen[2]);
  await assert.rejects(
    startOnPortBlocks([{ count: 2, range: [21700, 21799] }], () => Promise.reject(new Error('no such binary'))),
    /no such binary/,
  );
  await assert.rejects(
    startOnPortBlocks([{ count: 2, range: [21700, 21799] }], () => Promise.reject(new PortInUseError('always')), 2),
    /gave up after 2 port blocks/,
  );
});

test('what baresip and linphonec print on a taken port is recognised', () => {
  assert.ok(saysAddressInUse('tcp: sock_bind: bind: Address already in use (af=2, 127.0.0.1:53001)'));
  assert.ok(saysAddressInUse('belle-sip-error-udp bind() failed for 127.0.0.1 port 53100: Address already in use'));
  assert.ok(!saysAddressInUse('baresip is ready.'));
});
