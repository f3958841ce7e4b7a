/**
 * Where the focus sends an INVITE to a user it calls (a two-party call's callee, a dial-out), and which
 * media it offers. Single machine: the focus's own registrar (the newest binding). Cluster node: users
 * register at the edge, so the node asks the edge's location store and sends the INVITE to the user's
 * address of record through the edge as outbound proxy (apps/conclave's cluster mode provides it).
 */
import type { Registrar } from './registrar.ts';

export interface CallTarget {
  /** Request-URI: a registered contact, or the user's address of record when `proxy` looks it up. */
  contact: string;
  /** Outbound proxy the INVITE goes through (a cluster node: the edge, `sip:<edge>;transport=tcp;lr`). */
  proxy?: string | undefined;
  /** What the focus offers: WebRTC for browsers, plain RTP for phones. */
  media: 'webrtc' | 'plain';
}

/** The target to call `user` at, or undefined when the user is not registered (480). */
export type UserLocator = (user: string) => Promise<CallTarget | undefined>;

export function registrarLocator(registrar: Registrar): UserLocator {
  return (user) => Promise.resolve(registrar.lookup(user));
}
