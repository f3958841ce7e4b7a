/**
 * Conference roster: what the RFC 4575 "conference" event package tells us about a conference,
 * reduced to what the roster panel shows. Reading NOTIFY bodies is behind ConferenceInfoReader
 * (the implementation is conference-info-reader.ts, on @conclave/conference-info).
 */

export interface RosterMedia {
  readonly id: string;
  readonly type: string | null;
  /** sendrecv | sendonly | recvonly | inactive (from the focus's point of view). */
  readonly status: string | null;
  /** RFC 4575 <label>: names the stream; matched against a remote track's msid stream id or mid. */
  readonly label: string | null;
  /** RFC 4575 <src-id>: the SSRC the focus sends this stream with. */
  readonly srcId: string | null;
}

export interface RosterEntry {
  /** User entity (AOR), e.g. "sip:bob@127.0.0.1" (data-entity). */
  readonly entity: string;
  readonly displayText: string | null;
  /** Endpoint status (data-status): connected | disconnected | on-hold | muted-via-focus | pending |
   *  alerting | dialing-in | dialing-out | disconnecting. */
  readonly status: string;
  readonly roles: readonly string[];
  readonly media: readonly RosterMedia[];
  /** Conclave extension: the active speaker. */
  readonly speaking: boolean;
  /** Conclave extension: muted by the focus (moderation). */
  readonly mutedByFocus: boolean;
}

export interface ConferenceRoster {
  /** Conference URI (entity attribute of <conference-info>). */
  readonly entity: string;
  readonly version: number | null;
  /** The focus deleted the conference (state="deleted"). */
  readonly deleted: boolean;
  readonly subject: string | null;
  readonly displayText: string | null;
  readonly userCount: number | null;
  readonly locked: boolean | null;
  readonly active: boolean | null;
  readonly entries: readonly RosterEntry[];
}

export interface RosterUpdate {
  /** The coherent roster after this notification (null until a full state arrived). */
  readonly roster: ConferenceRoster | null;
  /** Versions were skipped: the subscription must be renewed to get a full state again. */
  readonly resubscribe: boolean;
}

/**
 * Keeps the state of one subscription. apply() takes one NOTIFY body (full or partial) and throws
 * on a body it cannot read (the caller keeps the previous roster).
 */
export interface ConferenceInfoReader {
  apply(body: string): RosterUpdate;
}

export type ConferenceInfoReaderFactory = () => ConferenceInfoReader;
