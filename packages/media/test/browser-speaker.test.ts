/**
 * Active speaker with real Chromium pages: a loud party (tone at -6 dBFS), a soft one (-30 dBFS) and
 * a silent one, no audio processing in the pages (the level Chromium puts in the RTP is the file's).
 * The room names the loud party; muted or held, it is never named, and the soft one takes over.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@conclave/log';
import { MediaService, type Room, type WebRtcLeg } from '@conclave/media';
import { BrowserPeer, PageServer, ToneDir } from './browser-harness.ts';

const log = createLogger('media-test', { level: process.env['CONCLAVE_LOG_LEVEL'] === 'debug' ? 'debug' : 'warn' });

const PARTIES = {
  loud: { hz: 700, volume: 0.5 },
  soft: { hz: 1100, volume: 0.03 },
  silent: { hz: 0, volume: 0 },
} as const;
type Name = keyof typeof PARTIES;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('browser ⇄ media: active speaker', { timeout: 90_000 }, () => {
  let tones: ToneDir;
  let server: PageServer;
  let media: MediaService;
  let room: Room;
  const peers = {} as Record<Name, BrowserPeer>;
  const legs = {} as Record<Name, WebRtcLeg>;
  const events: { at: number; who: string }[] = [];
  const t0 = Date.now();

  async function speakerBecomes(name: Name | undefined, timeoutMs = 6000): Promise<number> {
    const started = Date.now();
    while (room.activeSpeaker?.label !== name) {
      if (Date.now() - started > timeoutMs) {
        assert.fail(
          `active speaker is ${room.activeSpeaker?.label ?? 'nobody'}, not ${name ?? 'nobody'}; events ${JSON.stringify(events)}`,
        );
      }
      await sleep(20);
    }
    return Date.now() - started;
  }

  before(async () => {
    tones = await ToneDir.create();
    server = await PageServer.start();
    media = await MediaService.create({
      workers: 1,
      listenIp: '127.0.0.1',
      rtcMinPort: 45000,
      rtcMaxPort: 45999,
      logger: log,
      speakerDetection: true,
    });
    room = await media.createRoom({ label: 'speakers' });
    room.on('activespeaker', (leg) => events.push({ at: Date.now() - t0, who: leg?.label ?? 'nobody' }));
    const names = Object.keys(PARTIES) as Name[];
    const launched = await Promise.all(
      names.map(async (n) => {
        const { hz, volume } = PARTIES[n];
        const file = volume === 0 ? await tones.silence() : await tones.tone(hz, 60, volume);
        return BrowserPeer.launch(n, hz, file, server.url, { rawAudio: true });
      }),
    );
    names.forEach((n, i) => (peers[n] = launched[i]!));

    // silent and soft call in, the focus calls loud; then everyone is re-offered.
    for (const n of ['silent', 'soft'] as const) {
      const offer = await peers[n].createOffer();
      legs[n] = await room.createWebRtcLeg({ label: n });
      await legs[n].applyRemoteOffer(offer);
      await peers[n].applyAnswer(await legs[n].createLocalAnswer());
    }
    legs.loud = await room.createWebRtcLeg({ label: 'loud' });
    await legs.loud.applyRemoteAnswer(await peers.loud.answer(await legs.loud.createLocalOffer()));
    await sleep(50);
    for (const n of Object.keys(PARTIES) as Name[]) {
      if (!legs[n].needsRenegotiation) continue;
      await legs[n].applyRemoteAnswer(await peers[n].answer(await legs[n].createLocalOffer()));
    }
  });

  after(async () => {
    media?.close();
    await Promise.allSettled(Object.values(peers).map((p) => p.close()));
    await server?.close();
    await tones?.remove();
  });

  it('names the loud party', async (t) => {
    const ms = await speakerBecomes('loud');
    t.diagnostic(`loud named after ${ms} ms; events ${JSON.stringify(events)}`);
  });

  it('a muted party is not a speaker; the soft one takes over; unmuted, the loud one is back', async (t) => {
    await legs.loud.setMutedByFocus(true);
    const muteMs = await speakerBecomes('soft');
    const sinceMute = events.length;
    await sleep(1500);
    assert.ok(
      events.slice(sinceMute).every((e) => e.who !== 'loud'),
      `loud named while muted: ${JSON.stringify(events)}`,
    );
    await legs.loud.setMutedByFocus(false);
    const unmuteMs = await speakerBecomes('loud');
    t.diagnostic(`after mute: soft named in ${muteMs} ms; after unmute: loud named in ${unmuteMs} ms`);
  });

  it('a held party is not a speaker', async (t) => {
    await legs.loud.applyRemoteOffer(await peers.loud.createOffer(true));
    await peers.loud.applyAnswer(await legs.loud.createLocalAnswer());
    const heldMs = await speakerBecomes('soft');
    await legs.loud.applyRemoteOffer(await peers.loud.createOffer());
    await peers.loud.applyAnswer(await legs.loud.createLocalAnswer());
    const resumedMs = await speakerBecomes('loud');
    t.diagnostic(`held: soft named in ${heldMs} ms; resumed: loud named in ${resumedMs} ms`);
  });

  it('nobody speaks when every party is muted; events never come faster than ~2/s', async (t) => {
    for (const n of Object.keys(PARTIES) as Name[]) await legs[n].setMutedByFocus(true);
    await speakerBecomes(undefined, 2000);
    t.diagnostic(`events: ${JSON.stringify(events)}`);
    const gaps = events.slice(1).map((e, i) => e.at - events[i]!.at);
    assert.ok(
      gaps.every((g) => g >= 450),
      `gaps between events (ms): ${gaps.join(', ')}`,
    );
    assert.ok(
      events.every((e) => e.who !== 'silent'),
      'the silent party is never named',
    );
  });
});
