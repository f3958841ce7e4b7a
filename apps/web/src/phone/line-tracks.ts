/**
 * A line's remote media: every track announced by the RTCPeerConnection 'track' event is kept
 * (deduplicated by id), including tracks added later by re-INVITEs (a conference focus adds and
 * removes m-lines). A track is dropped when its transceiver stops (m-line removed / port 0) or the
 * track ends. Per track, the msid stream id (a conference focus names the source leg there) and mid.
 */
import type { Logger } from './log.ts';
import type { RemoteTrackSource } from './line-types.ts';
import { msidByMid } from './sdp-msid.ts';

/** What the tracks need from their line. */
export interface RemoteTracksHost {
  readonly log: Logger;
  /** The call has ended: nothing is added any more. */
  ended(): boolean;
  /** Something a snapshot shows changed. */
  changed(): void;
}

export class RemoteTracks {
  #host: RemoteTracksHost;
  #pc: RTCPeerConnection | null = null;
  #tracks = new Map<string, MediaStreamTrack>();
  #trackSources = new Map<string, RemoteTrackSource>();

  constructor(host: RemoteTracksHost) {
    this.#host = host;
  }

  /** The call's peer connection, once JsSIP made one. */
  get pc(): RTCPeerConnection | null {
    return this.#pc;
  }

  /** The remote tracks now (a frozen copy). */
  tracks(): readonly MediaStreamTrack[] {
    return Object.freeze([...this.#tracks.values()]);
  }

  /** Per remote track id, its source (a copy). */
  sources(): ReadonlyMap<string, RemoteTrackSource> {
    return new Map(this.#trackSources);
  }

  /** The call ended: forget every track. */
  clear(): void {
    this.#tracks.clear();
    this.#trackSources.clear();
  }

  attach(pc: RTCPeerConnection): void {
    if (this.#pc === pc) return;
    this.#pc = pc;
    pc.addEventListener('track', (e: RTCTrackEvent) =>
      this.#addTrack(e.track, e.streams[0]?.id ?? null, e.transceiver?.mid ?? null),
    );
    pc.addEventListener('signalingstatechange', () => {
      if (pc.signalingState !== 'stable') return;
      this.prune();
      this.#refreshStreamIds();
    });
    // Tracks that were already flowing before we looked (e.g. a late attach).
    for (const t of pc.getTransceivers()) {
      const dir = t.currentDirection;
      if (dir === 'sendrecv' || dir === 'recvonly') this.#addTrack(t.receiver.track, null, t.mid);
    }
  }

  /** Drops the tracks whose transceiver stopped or that ended. */
  prune(): void {
    const pc = this.#pc;
    if (!pc || this.#tracks.size === 0) return;
    let removed = false;
    const transceivers = pc.signalingState === 'closed' ? [] : pc.getTransceivers();
    for (const [id, track] of this.#tracks) {
      const t = transceivers.find((x) => x.receiver.track === track);
      const stopped = !t || t.currentDirection === 'stopped' || (t as { stopped?: boolean }).stopped === true;
      if (stopped || track.readyState === 'ended') {
        this.#tracks.delete(id);
        this.#trackSources.delete(id);
        removed = true;
      }
    }
    if (removed) this.#host.changed();
  }

  /**
   * What the receivers say right now: the audio level (0..1) per remote msid stream id, and the SSRC
   * per remote track id. For matching conference video tiles to speakers; cheap, no stats round trip
   * unless the RFC 6464 audio level is not in the RTP.
   */
  async remoteMediaInfo(): Promise<{ audioLevels: Map<string, number>; ssrcs: Map<string, number> }> {
    const audioLevels = new Map<string, number>();
    const ssrcs = new Map<string, number>();
    const pc = this.#pc;
    if (!pc || this.#host.ended() || pc.signalingState === 'closed') return { audioLevels, ssrcs };
    for (const t of pc.getTransceivers()) {
      const track = t.receiver.track;
      if (!this.#tracks.has(track.id)) continue;
      const sources = t.receiver.getSynchronizationSources();
      const first = sources[0];
      if (first) ssrcs.set(track.id, first.source);
      const streamId = this.#trackSources.get(track.id)?.streamId;
      if (track.kind !== 'audio' || !streamId) continue;
      let level = first?.audioLevel;
      if (level === undefined) {
        const stats = await t.receiver.getStats();
        stats.forEach((r: { type?: string; audioLevel?: number }) => {
          if (r.type === 'inbound-rtp' && typeof r.audioLevel === 'number') level = r.audioLevel;
        });
      }
      audioLevels.set(streamId, Math.max(audioLevels.get(streamId) ?? 0, level ?? 0));
    }
    return { audioLevels, ssrcs };
  }

  #addTrack(track: MediaStreamTrack, streamId: string | null, mid: string | null): void {
    if (this.#host.ended()) return;
    if (this.#tracks.has(track.id)) {
      // The same transceiver re-used for another source (the focus re-offers an m-line with a new msid).
      const known = this.#trackSources.get(track.id);
      if (streamId !== null && (known?.streamId !== streamId || known?.mid !== mid)) {
        this.#trackSources.set(track.id, { streamId, mid });
        this.#host.changed();
      }
      return;
    }
    streamId ??= mid !== null ? (msidByMid(this.#pc?.remoteDescription?.sdp).get(mid) ?? null) : null;
    this.#tracks.set(track.id, track);
    this.#trackSources.set(track.id, { streamId, mid });
    track.addEventListener('ended', () => this.prune());
    this.#host.log.info('remote track', { kind: track.kind, track: track.id });
    this.#host.changed();
  }

  /** Stream ids (msid) as the current remote description says, per m-line (see sdp-msid.ts). */
  #refreshStreamIds(): void {
    const pc = this.#pc;
    if (!pc || this.#host.ended() || pc.signalingState === 'closed') return;
    const byMid = msidByMid(pc.remoteDescription?.sdp);
    let changed = false;
    for (const t of pc.getTransceivers()) {
      const track = t.receiver.track;
      if (!this.#tracks.has(track.id) || t.mid === null) continue;
      const streamId = byMid.get(t.mid) ?? null;
      const known = this.#trackSources.get(track.id);
      if (streamId !== null && (known?.streamId !== streamId || known?.mid !== t.mid)) {
        this.#trackSources.set(track.id, { streamId, mid: t.mid });
        changed = true;
      }
    }
    if (changed) this.#host.changed();
  }
}
