/**
 * The Kamailio edge's own tables in Redis (db_redis, deploy/kamailio.cfg): table versions, and the
 * `subscriber` rows the edge authenticates REGISTER against. Passwords are stored only as MD5 HA1
 * (RFC 2617: MD5(user:realm:password)), never in clear.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Versions Kamailio 5.6 checks at start-up (the last line of /usr/share/kamailio/db_redis/kamailio/<table>). */
export const KAMAILIO_TABLE_VERSIONS: Readonly<Record<string, number>> = { location: 9, subscriber: 7 };

export interface EdgeUser {
  name: string;
  password: string;
}

export function md5Ha1(user: string, realm: string, password: string): string {
  return createHash('md5').update(`${user}:${realm}:${password}`).digest('hex');
}

/**
 * Writes the table versions and one subscriber row per user (realm = domain = the SIP domain), and
 * removes subscriber rows of users no longer listed. Idempotent.
 */
export async function writeEdgeTables(redis: Redis, users: readonly EdgeUser[], domain: string): Promise<void> {
  const multi = redis.multi();
  for (const [table, version] of Object.entries(KAMAILIO_TABLE_VERSIONS)) {
    multi.hset(`version:entry::${table}`, { table_name: table, table_version: String(version) });
  }
  const keep = new Set<string>();
  users.forEach((u, i) => {
    const key = `subscriber:entry::${u.name}:${domain}`;
    keep.add(key);
    multi.del(key);
    multi.hset(key, { id: String(i + 1), username: u.name, domain, ha1: md5Ha1(u.name, domain, u.password) });
  });
  await multi.exec();
  const existing = await redis.keys('subscriber:entry::*');
  const stale = existing.filter((k) => !keep.has(k));
  if (stale.length > 0) await redis.del(...stale);
}
