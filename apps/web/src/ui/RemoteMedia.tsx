import { useEffect, useRef } from 'react';
import type { AudioPlayback } from '../phone/audio-playback.ts';

interface Props {
  track: MediaStreamTrack;
  party: string;
  lineId: string;
  /** Audio output device ('' = default; undefined = leave as is). */
  sinkId?: string;
  /** The chosen speaker could not be used. */
  onSinkError?: (message: string) => void;
  /** Audio: played through this graph with `gain` (per-listener volume); the element stays silent. */
  playback?: AudioPlayback;
  /** 0..1, this listener's volume for the participant the track belongs to. */
  gain?: number;
  /** Audio: the participant (roster entity) the track belongs to, when known. */
  participant?: string | null;
}

type SinkCapable = HTMLMediaElement & { setSinkId?: (id: string) => Promise<void>; sinkId?: string };

/**
 * One element per remote track. Audio elements are never muted: Chromium decodes a remote WebRTC
 * track only while it is attached to a playing, unmuted element.
 */
export function RemoteTrack({
  track,
  party,
  lineId,
  sinkId,
  onSinkError,
  playback,
  gain = 1,
  participant = null,
}: Props) {
  const ref = useRef<HTMLAudioElement & HTMLVideoElement>(null);
  const gainRef = useRef(gain);
  gainRef.current = gain;
  // Per-listener volume: the track plays through WebAudio with its own gain.
  useEffect(() => {
    if (!playback || track.kind !== 'audio') return;
    playback.attach(track, gainRef.current);
    return () => playback.detach(track.id);
  }, [playback, track]);
  useEffect(() => {
    if (playback && track.kind === 'audio') playback.setGain(track.id, gain);
  }, [playback, track, gain]);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.srcObject = new MediaStream([track]);
    // The element keeps Chromium rendering the track; with a playback graph, that graph is what is heard.
    if (playback && track.kind === 'audio') el.volume = 0;
    const play = (): void => {
      el.play().catch(() => {
        // Autoplay blocked (no user gesture yet): retry on the next interaction.
        const retry = (): void => {
          void el.play().catch(() => {});
        };
        window.addEventListener('pointerdown', retry, { once: true });
        window.addEventListener('keydown', retry, { once: true });
      });
    };
    play();
    return () => {
      el.pause();
      el.srcObject = null;
    };
  }, [track]);

  // Speaker choice: HTMLMediaElement.setSinkId (where the browser has it).
  useEffect(() => {
    const el = ref.current as SinkCapable | null;
    if (playback && track.kind === 'audio' && sinkId !== undefined) void playback.setSink(sinkId).catch(() => {});
    if (
      !el ||
      track.kind !== 'audio' ||
      sinkId === undefined ||
      typeof el.setSinkId !== 'function' ||
      el.sinkId === sinkId
    )
      return;
    el.setSinkId(sinkId).catch((error: unknown) => {
      onSinkError?.(
        `cannot play the call on the chosen speaker (${error instanceof Error ? error.message : String(error)}): using the default one`,
      );
    });
  }, [track, sinkId, onSinkError, playback]);

  if (track.kind === 'video') {
    return (
      <video
        ref={ref}
        className="remote-video"
        autoPlay
        playsInline
        muted
        data-testid="remote-video"
        data-party={party}
        data-line-id={lineId}
        data-track-id={track.id}
        aria-label={`Video from ${party}`}
      />
    );
  }
  return (
    <audio
      ref={ref}
      autoPlay
      data-testid="remote-audio"
      data-party={party}
      data-participant={participant ?? undefined}
      data-volume={Math.round(gain * 100)}
      data-line-id={lineId}
      data-track-id={track.id}
    />
  );
}

/** Local camera preview (muted: it is our own audio). Follows camera switches (a new track). */
export function LocalPreview({ track }: { track: MediaStreamTrack }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.srcObject = new MediaStream([track]);
    void el.play().catch(() => {});
    return () => {
      el.srcObject = null;
    };
  }, [track]);
  return (
    <video
      ref={ref}
      className="local-video"
      autoPlay
      playsInline
      muted
      aria-label="Your camera"
      data-testid="local-video"
    />
  );
}
