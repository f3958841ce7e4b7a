/**
 * Which conference participant a remote track belongs to, from the roster the focus publishes
 * (RFC 4575 <media>: <label> = the msid stream id the focus sends that participant's media under,
 * the same toward every receiver; <src-id> is the sender's SSRC, which mediasoup rewrites per
 * receiver, so it is only a fallback for other focuses that forward SSRCs unchanged). Pure.
 */
import type { RosterEntry } from './roster.ts';
import { userPart } from './target.ts';

export interface TrackIdentity {
  readonly streamId: string | null;
  readonly mid: string | null;
  readonly ssrc?: number | undefined;
}

export function participantOfTrack(entries: readonly RosterEntry[], track: TrackIdentity): RosterEntry | null {
  for (const e of entries) {
    if (e.status === 'disconnected') continue;
    for (const m of e.media) {
      if (m.label !== null && m.label !== '' && (m.label === track.streamId || m.label === track.mid)) return e;
      if (m.srcId !== null && track.ssrc !== undefined && m.srcId === String(track.ssrc)) return e;
    }
  }
  return null;
}

export function displayNameOf(entry: RosterEntry): string {
  return entry.displayText ?? userPart(entry.entity);
}

/** "Alice Liddell" → "AL", "bob" → "B", "" → "?". */
export function initialsOf(name: string): string {
  const words = name
    .trim()
    .split(/[\s._-]+/)
    .filter(Boolean);
  if (words.length === 0) return '?';
  const letters = words.length === 1 ? [words[0]!] : [words[0]!, words[words.length - 1]!];
  return letters.map((w) => [...w][0]!.toUpperCase()).join('');
}

export function sameUser(a: string, b: string): boolean {
  const strip = (u: string): string =>
    u
      .replace(/^sips?:/i, '')
      .replace(/[;?].*$/, '')
      .toLowerCase();
  return strip(a) === strip(b);
}

/** This listener's playback of one participant. */
export interface Listening {
  /** 0..100. */
  readonly volume: number;
  readonly muted: boolean;
}

export const DEFAULT_LISTENING: Listening = Object.freeze({ volume: 100, muted: false });

/** The gain to play a participant's audio with (0..1). */
export function gainOf(listening: Listening): number {
  return listening.muted ? 0 : Math.max(0, Math.min(100, listening.volume)) / 100;
}

/** Accepts only sane stored values (sessionStorage is user-editable). */
export function parseListening(value: unknown): Listening | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as { volume?: unknown; muted?: unknown };
  if (typeof v.volume !== 'number' || !Number.isFinite(v.volume) || typeof v.muted !== 'boolean') return null;
  return { volume: Math.round(Math.max(0, Math.min(100, v.volume))), muted: v.muted };
}
