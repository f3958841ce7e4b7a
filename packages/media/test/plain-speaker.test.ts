/**
 * Phones as speakers: with `speakerDetection: true`, the room mixer's levels of plain legs feed the
 * room's active-speaker detection, so 'activespeaker' names a talking phone (simulated phones over real
 * UDP, fake-phone.ts; a real mediasoup worker). Muted or held phones are never named.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@conclave/log';
import { MediaService, type MediaLeg, type Room } from '@conclave/media';
import { FakePhone } from './fake-phone.ts';

const log = createLogger('media-test', { level: process.env['CONCLAVE_LOG_LEVEL'] === 'debug' ? 'debug' : 'error' });

/** Resolves with the time it took for 'activespeaker' to name `who` (undefined: nobody). */
function speakerBecomes(room: Room, who: MediaLeg | undefined, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  if (room.activeSpeaker === who) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      room.off('activespeaker', listener);
      reject(new Error(`activespeaker did not become ${who?.label ?? 'nobody'} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (leg: MediaLeg | undefined): void => {
      if (leg !== who) return;
      clearTimeout(timer);
      room.off('activespeaker', listener);
      resolve(Date.now() - started);
    };
    room.on('activespeaker', listener);
  });
}

describe('plain RTP legs as active speakers (room mixer levels)', { timeout: 60_000 }, () => {
  let media: MediaService;
  let room: Room;
  const phones: FakePhone[] = [];

  async function join(name: string, hz: number): Promise<[FakePhone, MediaLeg]> {
    const phone = await FakePhone.start(name, hz);
    phones.push(phone);
    const leg = await room.createPlainRtpLeg({ label: name });
    await leg.applyRemoteOffer(phone.offer());
    phone.useRemote(await leg.createLocalAnswer());
    phone.startSending();
    return [phone, leg];
  }

  before(async () => {
    media = await MediaService.create({
      workers: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 46000,
      rtcMaxPort: 46999,
      logger: log,
      speakerDetection: true,
    });
    room = await media.createRoom({ label: 'speakers' });
  });
  after(() => {
    for (const p of phones) p.close();
    media?.close();
  });

  it('a talking phone is named; another takes over when the first stops; a muted one never is', async (t) => {
    const [ann, annLeg] = await join('ann', 600);
    const [bob, bobLeg] = await join('bob', 0);
    t.diagnostic(`ann named after ${await speakerBecomes(room, annLeg)} ms`);
    ann.toneHz = 0;
    bob.toneHz = 1100;
    t.diagnostic(`bob named ${await speakerBecomes(room, bobLeg)} ms after he started and ann stopped`);
    bob.toneHz = 0;
    await bobLeg.setMutedByFocus(true);
    t.diagnostic(`nobody named ${await speakerBecomes(room, undefined)} ms after the speaker was muted`);
    bob.toneHz = 1100;
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(room.activeSpeaker, undefined, 'a muted phone is never named');
    await bobLeg.setMutedByFocus(false);
    await speakerBecomes(room, bobLeg);
  });
});
