/**
 * Worker pool: least-loaded placement, a worker dying (SIGKILL) is replaced and its rooms rebuild
 * themselves on a live worker (same Room and leg objects, new transports, 'recovered', re-offers),
 * close() leaves no worker process behind.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, type LogSink } from '@conclave/log';
import { MediaService, type RoomCloseReason } from '@conclave/media';
import { CHROMIUM_OFFER } from './sdp-helpers.ts';

/** Resolves with the arguments of the next emission. */
function next<T extends unknown[]>(subscribe: (listener: (...args: T) => void) => void): Promise<T> {
  return new Promise((resolve) => subscribe((...args) => resolve(args)));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('places rooms on the least-loaded worker, survives a worker death, closes cleanly', async () => {
  const lines: string[] = [];
  const sink: LogSink = (line) => lines.push(line);
  const media = await MediaService.create({
    workers: 2,
    listenIp: '127.0.0.1',
    rtcMinPort: 43000,
    rtcMaxPort: 43999,
    logger: createLogger('media-test', { level: 'info', sink }),
  });
  try {
    const pids = media.workerPids;
    assert.equal(pids.length, 2);

    const r1 = await media.createRoom({ label: 'r1' });
    const r2 = await media.createRoom({ label: 'r2' });
    assert.notEqual(r1.workerPid, r2.workerPid, 'second room goes to the idle worker');
    await r1.createWebRtcLeg({ label: 'x' });
    await r1.createWebRtcLeg({ label: 'y' });
    const r3 = await media.createRoom({ label: 'r3' });
    assert.equal(r3.workerPid, r2.workerPid, 'third room avoids the worker with more legs');

    // A leg with a producer on the doomed worker: the room rebuilds it on a live worker.
    const victim = r1.workerPid;
    const leg = r1.legs[0]!;
    await leg.applyRemoteOffer(CHROMIUM_OFFER);
    const answerBefore = await leg.createLocalAnswer();
    const ufragBefore = /a=ice-ufrag:(\S+)/.exec(answerBefore)?.[1];
    const recovered = next<[{ legs: number; ms: number }]>((l) => r1.once('recovered', l));
    const legReoffer = next<[]>((l) => leg.once('renegotiationneeded', l));
    const replaced = next<[{ oldPid: number; newPid: number }]>((l) => media.once('workerreplaced', l));
    let closedReason: RoomCloseReason | undefined;
    r1.once('closed', (reason) => (closedReason = reason));
    process.kill(victim, 'SIGKILL');
    const [info] = await recovered;
    assert.equal(info.legs, 2, 'both legs of r1 got a new transport');
    assert.ok(info.ms >= 0 && info.ms < 10_000, `recovered in ${info.ms} ms`);
    await legReoffer;
    assert.equal(closedReason, undefined, 'the room stays open');
    assert.equal(r1.closed, false);
    assert.equal(leg.closed, false);
    assert.notEqual(r1.workerPid, victim, 'a new home router on a live worker');
    assert.notEqual(leg.workerPid, victim);
    assert.equal(leg.needsRenegotiation, true);
    const reoffer = await leg.createLocalOffer();
    const ufragAfter = /a=ice-ufrag:(\S+)/.exec(reoffer)?.[1];
    assert.ok(ufragAfter && ufragAfter !== ufragBefore, "the re-offer carries the new transport's ICE parameters");
    const [{ oldPid, newPid }] = await replaced;
    assert.equal(oldPid, victim);
    assert.equal(media.workerPids.length, 2);
    assert.ok(media.workerPids.includes(newPid) && !media.workerPids.includes(victim));
    assert.ok(
      lines.some((l) => l.includes('ERROR') && l.includes('mediasoup worker died')),
      'the death is logged',
    );
    assert.ok(
      lines.some((l) => l.includes('workerdied') && l.includes(String(victim))),
      'the room logs the death with the pid',
    );
    assert.equal(r2.closed, false, 'rooms on other workers are untouched');
    assert.deepEqual(media.rooms.map((r) => r.label).sort(), ['r1', 'r2', 'r3']);
    const usage = await media.getWorkerUsage();
    assert.ok(
      usage.every((w) => w.pid !== victim),
      'the dead worker is gone from the pool',
    );

    const r4 = await media.createRoom({ label: 'r4' });
    assert.ok(media.workerPids.includes(r4.workerPid), 'new rooms go to live workers');
    r1.close();
    await assert.rejects(leg.createLocalOffer(), /closed leg/);
  } finally {
    const pids = media.workerPids;
    const reasons: RoomCloseReason[] = [];
    for (const r of media.rooms) r.on('closed', (reason) => reasons.push(reason));
    media.close();
    assert.ok(reasons.every((r) => r === 'service-closed'));
    await until(() => pids.every((pid) => !alive(pid)));
  }
  await assert.rejects(media.createRoom({ label: 'late' }), /closed/);
});
