import { it } from 'node:test';
import { createLogger } from '@conclave/log';
import { MediaService } from '@conclave/media';
import { FakePhone, goertzelDb } from './fake-phone.ts';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
it('switch gaps', async (t) => {
  const media = await MediaService.create({ workers: 1, listenIp: '127.0.0.1', rtcMinPort: 49000, rtcMaxPort: 49999, logger: createLogger('x', { level: process.env.LL as 'debug' ?? 'error' }) });
  const room = await media.createRoom({ label: 'r' });
  const ann = await FakePhone.start('ann', 600); const bob = await FakePhone.start('bob', 1100);
  const a = await room.createPlainRtpLeg({ label: 'ann' }); await a.applyRemoteOffer(ann.offer()); ann.useRemote(await a.createLocalAnswer());
  const b = await room.createPlainRtpLeg({ label: 'bob' }); await b.applyRemoteOffer(bob.offer()); bob.useRemote(await b.createLocalAnswer());
  ann.startSending(); bob.startSending();
  await sleep(2000);
  for (let i = 0; i < 6; i++) {
    const cid = await FakePhone.start('cid', 1700);
    const since = Date.now();
    const c = await room.createPlainRtpLeg({ label: 'cid' }); await c.applyRemoteOffer(cid.offer()); cid.useRemote(await c.createLocalAnswer()); cid.startSending();
    await sleep(2000);
    c.close(); cid.close();
    await sleep(1500);
    const fr = ann.frames.filter((f) => f.at >= since);
    const lv = fr.map((f) => Math.round(goertzelDb(Float64Array.from(f.samples), 1100)));
    const gaps = lv.map((l, j) => [l, fr[j]!.at - since] as const).filter(([l]) => l < -30);
    t.diagnostic(`run ${i}: frames ${fr.length}, gaps ${gaps.length}: ${gaps.slice(0, 12).map(([l, at]) => `${at}:${l}`).join(' ')}`);
  }
  ann.close(); bob.close(); media.close();
});
