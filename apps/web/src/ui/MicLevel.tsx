import { useEffect, useState } from 'react';
import { LevelMeter } from '../phone/level-meter.ts';
import type { MicrophoneSnapshot } from '../phone/phone.ts';

/** Level (0..1) of a local track, updated ~10×/s while `track` is set and not muted. */
export function useMicLevel(track: MediaStreamTrack | null, muted: boolean): number {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    setLevel(0);
    if (!track || muted) return;
    const meter = new LevelMeter(track, (next) => {
      // Skip invisible changes: fewer renders.
      setLevel((prev) => (Math.abs(prev - next) < 0.005 ? prev : next));
    });
    return () => meter.close();
  }, [track, muted]);
  return track && !muted ? level : 0;
}

/**
 * Your own microphone level: the microphone of the first active call, or the microphone test
 * while idle. data-level is 0..1 (two decimals); muted shows "muted" and 0.
 */
export function MicLevel({ mic, labelledBy }: { mic: MicrophoneSnapshot; labelledBy: string }) {
  const level = useMicLevel(mic.track, mic.muted);
  const pct = Math.round(level * 100);
  const state = mic.muted ? 'muted' : mic.source === null ? 'off' : 'live';
  const text = mic.muted
    ? 'muted'
    : mic.source === 'call'
      ? 'in call'
      : mic.source === 'test'
        ? 'testing'
        : mic.testing
          ? 'starting…'
          : 'not in use';
  return (
    <div
      className={`mic-meter mic-meter-${state}`}
      data-testid="mic-level"
      data-level={level.toFixed(2)}
      data-muted={String(mic.muted)}
      data-source={mic.source ?? 'none'}
      role="meter"
      aria-labelledby={labelledBy}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct}
      aria-valuetext={state === 'live' ? `${pct}%` : text}
    >
      <div className="mic-meter-bar" aria-hidden="true">
        <span className="mic-meter-fill" style={{ clipPath: `inset(0 ${((1 - level) * 100).toFixed(1)}% 0 0)` }} />
      </div>
      <span className="mic-meter-text">{text}</span>
    </div>
  );
}
