import { useEffect, useRef, useState } from 'react';
import type { LineSnapshot } from '../phone/line.ts';
import type { Phone } from '../phone/phone.ts';
import type { ConferenceRoster } from '../phone/roster.ts';
import { mainTileKey, videoTiles } from '../phone/video-tiles.ts';
import { initialsOf } from '../phone/participant-media.ts';
import { LocalPreview, RemoteTrack } from './RemoteMedia.tsx';
import './video.css';

/** Whether a track currently delivers frames (a remote track is muted while no RTP arrives). */
function useTrackLive(track: MediaStreamTrack): boolean {
  const [live, setLive] = useState(!track.muted);
  useEffect(() => {
    const update = (): void => setLive(!track.muted && track.readyState === 'live');
    update();
    track.addEventListener('mute', update);
    track.addEventListener('unmute', update);
    track.addEventListener('ended', update);
    return () => {
      track.removeEventListener('mute', update);
      track.removeEventListener('unmute', update);
      track.removeEventListener('ended', update);
    };
  }, [track]);
  return live;
}

/**
 * Conference lines: which remote stream is loudest here and each track's SSRC, polled while the
 * roster names a speaker (to find the speaker's tile when the focus does not label streams).
 */
function useReceiverInfo(phone: Phone, line: LineSnapshot, enabled: boolean) {
  const [info, setInfo] = useState<{ loudest: string | null; ssrcs: ReadonlyMap<string, number> }>({
    loudest: null,
    ssrcs: new Map(),
  });
  useEffect(() => {
    if (!enabled) return;
    let stop = false;
    const poll = async (): Promise<void> => {
      const got = await phone.remoteMediaInfo(line.id);
      if (stop || !got) return;
      // Loudest only when clearly so (≥ 6 dB above the next, above the noise floor): with two
      // voices of similar level we cannot tell whose tile it is, and no outline beats a wrong one.
      let loudest: string | null = null;
      let best = 0;
      let second = 0;
      for (const [streamId, level] of got.audioLevels) {
        if (level > best) {
          second = best;
          best = level;
          loudest = streamId;
        } else if (level > second) {
          second = level;
        }
      }
      if (best < 0.02 || best < 2 * second) loudest = null;
      setInfo((prev) =>
        prev.loudest === loudest && prev.ssrcs.size === got.ssrcs.size ? prev : { loudest, ssrcs: got.ssrcs },
      );
    };
    void poll();
    const timer = setInterval(() => void poll(), 300);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [phone, line.id, enabled]);
  return info;
}

interface Props {
  line: LineSnapshot;
  phone: Phone;
  self: { uri: string; name: string };
  roster: ConferenceRoster | null;
}

/**
 * One tile per remote video track and one for your own camera. In a conference the active
 * speaker's tile is outlined (data-speaking="true"), from the roster's speaking flag.
 */
export type VideoLayout = 'speaker' | 'grid';

export function VideoTiles({ line, phone, self, roster }: Props) {
  const conference = line.role === 'conference' && roster !== null;
  const hasRemoteVideo = line.remoteTracks.some((t) => t.kind === 'video');
  const info = useReceiverInfo(phone, line, conference && hasRemoteVideo && line.state !== 'ended');
  const tiles = videoTiles(line, { self, roster, loudestStreamId: info.loudest, ssrcs: info.ssrcs });
  // Speaker view (the active speaker large) or grid: the listener's choice, per line.
  const [layout, setLayout] = useState<VideoLayout>('speaker');
  const mainRef = useRef<string | null>(null);
  const main = layout === 'speaker' ? mainTileKey(tiles, mainRef.current) : null;
  mainRef.current = main;
  if (tiles.length === 0) return null;
  const switchable = tiles.filter((t) => !t.local).length > 1;
  return (
    <div className="video-area">
      {switchable && (
        <div className="video-layout" role="group" aria-label="Video layout" data-testid="video-layout">
          {(['speaker', 'grid'] as const).map((l) => (
            <button
              key={l}
              type="button"
              className={`button button-toggle button-small${layout === l ? ' is-on' : ''}`}
              data-testid={`video-layout-${l}`}
              aria-pressed={layout === l}
              onClick={() => setLayout(l)}
            >
              {l === 'speaker' ? 'Speaker view' : 'Grid'}
            </button>
          ))}
        </div>
      )}
      <div
        className={`video-tiles video-layout-${switchable ? layout : 'grid'}`}
        data-testid="video-tiles"
        data-layout={switchable ? layout : 'grid'}
        data-count={tiles.length}
        role="group"
        aria-label={`Video, ${line.role === 'conference' ? 'conference' : line.displayName}`}
      >
        {tiles.map((tile) => (
          <VideoTileView key={tile.key} tile={tile} line={line} main={switchable && tile.key === main} />
        ))}
      </div>
    </div>
  );
}

function VideoTileView({
  tile,
  line,
  main,
}: {
  tile: ReturnType<typeof videoTiles>[number];
  line: LineSnapshot;
  main: boolean;
}) {
  const live = useTrackLive(tile.track);
  return (
    <figure
      className={`video-tile${tile.local ? ' is-local' : ''}${tile.speaking ? ' is-speaking' : ''}${live ? '' : ' is-waiting'}${main ? ' is-main' : ''}`}
      data-main={String(main)}
      data-name={tile.name}
      data-testid="video-tile"
      data-party={tile.party}
      data-speaking={String(tile.speaking)}
      data-local={String(tile.local)}
      data-live={String(live)}
      data-track-id={tile.track.id}
      data-stream-id={tile.streamId ?? undefined}
    >
      {tile.local ? (
        <LocalPreview track={tile.track} />
      ) : (
        <RemoteTrack track={tile.track} party={line.party} lineId={line.id} />
      )}
      {!live && (
        <div className="video-tile-placeholder" aria-hidden="true">
          <span className="avatar" data-testid="video-tile-initials">
            {initialsOf(tile.name)}
          </span>
          <span className="video-tile-placeholder-name">{tile.name}</span>
        </div>
      )}
      <figcaption className="video-tile-name">
        {tile.name}
        {tile.speaking && <span className="video-tile-speaking"> · speaking</span>}
        {!live && <span className="video-tile-speaking"> · no video yet</span>}
      </figcaption>
    </figure>
  );
}
