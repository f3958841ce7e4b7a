/**
 * Where users are registered, read from the edge's usrloc in Redis (Kamailio usrloc, db_mode 3, through
 * db_redis with the keys deploy/kamailio.cfg declares):
 *
 *   location:usrdom::<user>:<domain>  set of the user's row keys
 *   location:entry::<ruid>            hash, one row of Kamailio's `location` table (contact, received,
 *                                     expires, last_modified, cflags, ...)
 *
 * A node uses it to decide, before it sends an offer, how to talk media to a user it calls: a browser
 * (SIP over WebSocket, or a contact registered with +sip.ice, which the edge records as branch flag
 * ICE_CONTACT_BFLAG) gets WebRTC, anything else plain RTP. The edge itself does the routing (lookup).
 */
import type { Redis } from 'ioredis';

/** Branch flag (bit number) the edge's REGISTER route sets for a Contact with the +sip.ice feature tag; usrloc stores it in `cflags`. */
export const ICE_CONTACT_BFLAG = 7;

export interface UserLocation {
  /** The Contact URI as registered. */
  contact: string;
  /** Where the REGISTER came from (`sip:ip:port;transport=…`) when the edge recorded it (NAT, WebSocket). */
  received: string | undefined;
  /** ms since the epoch */
  expiresAt: number;
  /** ms since the epoch: the last REGISTER refreshing this contact */
  lastModified: number;
  userAgent: string | undefined;
  /** 'webrtc' for browsers (contact or source over WebSocket, or +sip.ice), 'plain' for plain-RTP phones. */
  media: 'webrtc' | 'plain';
}

export function locationKeys(user: string, domain: string): { userDomain: string } {
  return { userDomain: `location:usrdom::${user}:${domain}` };
}

/** db_redis writes `time` columns as "YYYY-MM-DD HH:MM:SS" in local time, or as seconds. */
function parseTime(value: string | undefined): number {
  if (!value) return 0;
  if (/^\d+$/.test(value)) return parseInt(value, 10) * 1000;
  const ms = new Date(value.replace(' ', 'T')).getTime();
  return Number.isFinite(ms) ? ms : 0;
}

const WS_TRANSPORT = /;transport=wss?\b/i;

/** How to talk media to a registered contact (see the module comment). */
export function mediaOfLocation(row: {
  contact: string;
  received?: string | undefined;
  cflags?: number;
}): 'webrtc' | 'plain' {
  if (WS_TRANSPORT.test(row.contact) || (row.received !== undefined && WS_TRANSPORT.test(row.received)))
    return 'webrtc';
  return ((row.cflags ?? 0) & (1 << ICE_CONTACT_BFLAG)) !== 0 ? 'webrtc' : 'plain';
}

/**
 * The user's live registrations, newest first (by last refresh). Rows past their expiry (usrloc removes
 * them on its own timer) are left out.
 */
export async function readUserLocations(
  redis: Redis,
  user: string,
  domain: string,
  now = Date.now(),
): Promise<UserLocation[]> {
  const entryKeys = await redis.smembers(locationKeys(user, domain).userDomain);
  if (entryKeys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const key of entryKeys) pipeline.hgetall(key);
  const results = (await pipeline.exec()) ?? [];
  const out: UserLocation[] = [];
  for (const [err, value] of results) {
    if (err || !value || typeof value !== 'object') continue;
    const row = value as Record<string, string>;
    const contact = row['contact'];
    if (!contact) continue;
    const expiresAt = parseTime(row['expires']);
    // expires 0 in usrloc means a permanent contact
    if (expiresAt !== 0 && expiresAt <= now) continue;
    const received = row['received'] || undefined;
    out.push({
      contact,
      received,
      expiresAt,
      lastModified: parseTime(row['last_modified']),
      userAgent: row['user_agent'] || undefined,
      media: mediaOfLocation({ contact, received, cflags: parseInt(row['cflags'] ?? '0', 10) || 0 }),
    });
  }
  return out.sort((a, b) => b.lastModified - a.lastModified);
}
