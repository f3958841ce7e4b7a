/**
 * What the admin API may ask of the focus. The conference focus implements it; the HTTP layer only
 * translates requests into these calls and results into JSON.
 */
import type { Conference, ConferenceRegistry } from '@conclave/conference';

/** Who is acting, for logs and for the conference-info `by` fields. */
export interface Actor {
  /** The admin's user name. */
  user: string;
  /** The admin's SIP URI, e.g. sip:admin@127.0.0.1 */
  uri: string;
}

export interface ConferenceControl {
  /** The live conferences (read their snapshots with conference.toJSON()). */
  readonly registry: ConferenceRegistry;
  /** Stops sending the participant's media to the others (roster: muted-via-focus). */
  mute(conference: Conference, participantId: string, actor: Actor): Promise<void>;
  unmute(conference: Conference, participantId: string, actor: Actor): Promise<void>;
  /** Ends the participant's call with BYE (roster: disconnected, booted). */
  kick(conference: Conference, participantId: string, actor: Actor): Promise<void>;
  lock(conference: Conference, actor: Actor): Promise<void>;
  unlock(conference: Conference, actor: Actor): Promise<void>;
  /** BYE to every participant; subscribers get a final NOTIFY. */
  end(conference: Conference, actor: Actor): Promise<void>;
}

/** Checks admin credentials (the focus's user directory). */
export interface AdminAuthenticator {
  /** True when `user` is an admin and `password` is theirs. */
  verify(user: string, password: string): boolean;
}
