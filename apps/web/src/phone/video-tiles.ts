/**
 * Which video tiles a line shows, whose they are, and who is speaking. Pure (no DOM).
 *
 * 1:1 call: every remote video track belongs to the other party. Conference: a remote track is
 * matched to a roster user by RFC 4575 media <label> (= the track's msid stream id or its mid) or
 * <src-id> (= its SSRC); its tile is highlighted while that user has Conclave's `speaking` flag.
 * A focus that does not (yet) say which stream is whose leaves conference tiles unnamed; then, while
 * the roster names a speaker other than us, the tile whose audio is clearly the loudest here (the
 * caller decides what "clearly" is, and passes null when it cannot tell) is highlighted.
 */
import type { LineSnapshot } from './line.ts';
import type { ConferenceRoster, RosterEntry } from './roster.ts';
import { displayNameOf, participantOfTrack, sameUser } from './participant-media.ts';

export interface VideoTile {
  /** React key and data-track-id. */
  readonly key: string;
  readonly local: boolean;
  readonly track: MediaStreamTrack;
  /** data-party: the user's URI (remote party, roster user, or our own AOR for the local tile). */
  readonly party: string;
  readonly name: string;
  readonly speaking: boolean;
  readonly streamId: string | null;
}

export interface TileContext {
  /** Our own AOR and name (local tile). */
  readonly self: { readonly uri: string; readonly name: string };
  /** The conference roster when this line is our leg to a focus. */
  readonly roster: ConferenceRoster | null;
  /** msid stream id of the loudest remote audio on this line (conference fallback), if measured. */
  readonly loudestStreamId?: string | null;
  /** SSRC per remote track id (for <src-id> matching), when known. */
  readonly ssrcs?: ReadonlyMap<string, number>;
}

function rosterUserOf(
  entries: readonly RosterEntry[],
  streamId: string | null,
  mid: string | null,
  ssrc: number | undefined,
): RosterEntry | null {
  return participantOfTrack(entries, { streamId, mid, ssrc });
}

export function videoTiles(line: LineSnapshot, ctx: TileContext): VideoTile[] {
  if (line.state === 'ended') return [];
  const tiles: VideoTile[] = [];
  const roster = line.role === 'conference' ? ctx.roster : null;
  const entries = roster?.entries ?? [];
  const someoneElseSpeaks = entries.some((e) => e.speaking && !sameUser(e.entity, ctx.self.uri));
  for (const track of line.remoteTracks) {
    if (track.kind !== 'video') continue;
    const source = line.remoteTrackSources.get(track.id);
    const streamId = source?.streamId ?? null;
    if (line.role !== 'conference') {
      tiles.push({
        key: track.id,
        local: false,
        track,
        party: line.party,
        name: line.displayName,
        speaking: false,
        streamId,
      });
      continue;
    }
    const user = rosterUserOf(entries, streamId, source?.mid ?? null, ctx.ssrcs?.get(track.id));
    if (user) {
      tiles.push({
        key: track.id,
        local: false,
        track,
        party: user.entity,
        name: displayNameOf(user),
        speaking: user.speaking,
        streamId,
      });
    } else {
      tiles.push({
        key: track.id,
        local: false,
        track,
        party: line.party,
        name: 'Participant',
        speaking: someoneElseSpeaks && streamId !== null && streamId === (ctx.loudestStreamId ?? null),
        streamId,
      });
    }
  }
  const local = line.localVideoTrack;
  if (local && line.video && local.readyState === 'live') {
    const me = entries.find((e) => sameUser(e.entity, ctx.self.uri));
    tiles.push({
      key: `local-${local.id}`,
      local: true,
      track: local,
      party: ctx.self.uri,
      name: 'You',
      speaking: me?.speaking === true,
      streamId: null,
    });
  }
  return tiles;
}

/**
 * Speaker view: which tile is shown large. The active speaker's remote tile; while nobody (else)
 * speaks, the tile that was large before (no jumping around), else the first remote one.
 */
export function mainTileKey(tiles: readonly VideoTile[], previous: string | null): string | null {
  const remote = tiles.filter((t) => !t.local);
  const speaking = remote.find((t) => t.speaking);
  if (speaking) return speaking.key;
  if (previous !== null && remote.some((t) => t.key === previous)) return previous;
  return remote[0]?.key ?? tiles[0]?.key ?? null;
}
