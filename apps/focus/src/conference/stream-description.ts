/**
 * RFC 4575 `<media>` entries of a participant: which streams the focus forwards from it, so that a
 * subscriber (the page) can tell whose picture and voice each received track is.
 *
 * Why the `<label>` is the key, and not `<src-id>`: mediasoup gives every consumer its own SSRC, so
 * the SSRC a stream arrives with differs for every receiving leg, while one conference-info state is
 * diffed and sent to every subscriber. What every receiver sees alike is the msid the focus writes on
 * each consumer's m-line (`a=msid:<source leg id> <consumer id>`, see @conclave/media's SDP writer):
 * its stream id is the source leg's id, and the browser exposes it as `RTCTrackEvent.streams[0].id`.
 * So `<label>` = that stream id (the same for a participant's audio and video; `<type>` tells them
 * apart), and `<src-id>` = the SSRC the participant sends the stream to the focus with — unique in the
 * conference and stable while the stream lasts, but NOT what a receiver sees in RTP.
 *
 * The mapping part is pure (`describeStreams`); `StreamDescriber` keeps the roster up to date.
 */
import type { Conference, ParticipantMedia } from '@conclave/conference';
import type { MediaLeg, Room } from '@conclave/media';

/** What a leg sends into the room, as the description needs it. */
export interface LegStreams {
  /** The msid stream id the focus sends this leg's media under, toward every browser. */
  readonly streamId: string;
  readonly held: boolean;
  readonly sources: readonly StreamSource[];
}

export interface StreamSource {
  readonly kind: 'audio' | 'video';
  /** SSRC the party sends with (received by the focus). */
  readonly ssrc: number | undefined;
  /** The party's m-line (or 'plain' for a plain-RTP phone), for a stable media id. */
  readonly mid: string | undefined;
}

/**
 * The `<media>` entries of one participant. Ids are `audio`, `video` (then `audio-2`, ... for a
 * party that sends two streams of a kind) so that they stay stable across renegotiations. A leg
 * that sends nothing yet is described as one audio stream (what the focus negotiates first).
 */
export function describeStreams(leg: LegStreams): ParticipantMedia[] {
  const status = leg.held ? 'inactive' : 'sendrecv';
  if (leg.sources.length === 0) return [{ id: 'audio', type: 'audio', label: leg.streamId, status }];
  const seen = new Map<string, number>();
  const sorted = [...leg.sources].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'audio' ? -1 : 1));
  return sorted.map((source) => {
    const n = (seen.get(source.kind) ?? 0) + 1;
    seen.set(source.kind, n);
    const media: ParticipantMedia = {
      id: n === 1 ? source.kind : `${source.kind}-${n}`,
      type: source.kind,
      label: leg.streamId,
      status,
    };
    if (source.ssrc !== undefined) media.srcId = String(source.ssrc);
    return media;
  });
}

/** Reads what a media leg sends (its live producers). */
export function legStreams(leg: MediaLeg): LegStreams {
  const sources: StreamSource[] = [];
  for (const p of leg.producers) {
    if (p.closed || (p.kind !== 'audio' && p.kind !== 'video')) continue;
    const mid = (p.appData as { mid?: unknown }).mid;
    sources.push({
      kind: p.kind,
      ssrc: p.rtpParameters.encodings?.[0]?.ssrc,
      mid: typeof mid === 'string' ? mid : undefined,
    });
  }
  return { streamId: leg.id, held: leg.held, sources };
}

/** A member as the describer needs it (ConferenceSession's Member). */
export interface DescribedMember {
  readonly participantId: string;
  readonly leg: MediaLeg;
}

export interface StreamDescriberOptions {
  conference: Conference;
  room: Room;
  /** The session's current members. */
  members: () => readonly DescribedMember[];
}

/**
 * Keeps every member's `<media>` in the roster equal to what its leg sends. Re-reads after any
 * roster change (a join, hold, resume, adoption) and whenever the room re-offers a leg (someone's
 * producers changed), coalesced to one pass per turn of the event loop; unchanged media are not
 * re-sent (Conference.setMedia ignores equal media).
 */
export class StreamDescriber {
  readonly #opts: StreamDescriberOptions;
  #scheduled = false;
  #closed = false;

  constructor(options: StreamDescriberOptions) {
    this.#opts = options;
    const schedule = (): void => this.#schedule();
    options.conference.on('changed', schedule);
    options.room.on('renegotiationneeded', schedule);
    options.conference.once('ended', () => {
      this.#closed = true;
      options.conference.off('changed', schedule);
      options.room.off('renegotiationneeded', schedule);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Describes every member now (also what the scheduled pass does). */
  refresh(): void {
    const { conference, members } = this.#opts;
    if (this.#closed || conference.ended) return;
    conference.batch(() => {
      for (const member of members()) {
        const participant = conference.participant(member.participantId);
        if (!participant || participant.status !== 'connected' || member.leg.closed) continue;
        conference.setMedia(member.participantId, describeStreams(legStreams(member.leg)));
      }
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      try {
        this.refresh();
      } catch {
        // A participant that left between the check and setMedia: the next change describes again.
      }
    });
  }
}
