/**
 * Conference claims: which node hosts which conference, in Redis, for the edge's routing and the admin.
 *
 * A node claims a conference when it creates it (atomic SET NX PX: two nodes can never both hold one),
 * renews every claim it holds on a heartbeat (the TTL is what frees a dead node's conferences), and
 * releases it when the conference ends. Renewal and release check the owner inside a Lua script, so a
 * node whose claim expired and was taken by another can never extend or delete the new owner's claim;
 * it hears 'lost' instead.
 */
import type { Redis } from 'ioredis';
import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from '@conclave/log';
import { checkId, clusterKeys, type ClusterKeys } from './keys.ts';

export interface ConferenceClaimsOptions {
  redis: Redis;
  /** This node's id (as in the node registry). */
  nodeId: string;
  log: Logger;
  /** Claim lifetime without a renewal (ms). Default 6000. */
  ttlMs?: number;
  /** Renewal period (ms); must be well below ttlMs. Default ttlMs / 3. */
  heartbeatMs?: number;
  keyPrefix?: string;
}

export interface ClaimedConference {
  conferenceId: string;
  nodeId: string;
  /** ms since epoch when the claim expires unless renewed. */
  expiresAt: number;
}

type ClaimsEvents = {
  /** A claim this node held is gone (expired, or now someone else's): the conference is no longer reachable through the edge. */
  lost: [conferenceId: string, currentOwner: string | null];
  /** A heartbeat could not reach Redis. */
  error: [error: Error];
};

// KEYS[1] claim, KEYS[2] index; ARGV[1] node, ARGV[2] ttl, ARGV[3] conference id
const CLAIM_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
  return 1
end
return 0`;

// Renew only our own claim. Returns 1 renewed, 0 missing, -1 someone else's.
const RENEW_LUA = `
local owner = redis.call('GET', KEYS[1])
if not owner then redis.call('ZREM', KEYS[2], ARGV[3]) return 0 end
if owner ~= ARGV[1] then return -1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
return 1`;

// Release only our own claim.
const RELEASE_LUA = `
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
if not owner then redis.call('ZREM', KEYS[2], ARGV[2]) end
return 0`;

export class ConferenceClaims extends EnhancedEventEmitter<ClaimsEvents> {
  readonly nodeId: string;
  readonly ttlMs: number;
  readonly heartbeatMs: number;
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #keys: ClusterKeys;
  readonly #held = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #beating = false;
  #closed = false;

  constructor(options: ConferenceClaimsOptions) {
    checkId('node', options.nodeId);
    const log = options.log.child('claims', { nodeId: options.nodeId });
    // A listener that throws is logged: it must not stop the heartbeat nor hide the other lost claims.
    super(log);
    this.nodeId = options.nodeId;
    this.ttlMs = options.ttlMs ?? 6000;
    this.heartbeatMs = options.heartbeatMs ?? Math.floor(this.ttlMs / 3);
    if (!(this.ttlMs >= 100) || !(this.heartbeatMs > 0) || this.heartbeatMs * 2 > this.ttlMs) {
      throw new RangeError(`claim heartbeat ${this.heartbeatMs} ms must be at most half the TTL ${this.ttlMs} ms`);
    }
    this.#redis = options.redis;
    this.#log = log;
    this.#keys = clusterKeys(options.keyPrefix);
    this.#timer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    this.#timer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Conference ids this node holds (as far as it knows). */
  get held(): ReadonlySet<string> {
    return this.#held;
  }

  /** Atomically claims a conference for this node. false: another node holds it. */
  async claim(conferenceId: string): Promise<boolean> {
    checkId('conference', conferenceId);
    this.#assertOpen();
    const ok = await this.#eval('claim', CLAIM_LUA, conferenceId, [this.nodeId, String(this.ttlMs), conferenceId]);
    if (ok === 1) this.#held.add(conferenceId);
    return ok === 1;
  }

  /** Releases a claim this node holds. false: it was not ours (any more). */
  async release(conferenceId: string): Promise<boolean> {
    checkId('conference', conferenceId);
    this.#held.delete(conferenceId);
    if (this.#closed) return false;
    const ok = await this.#eval('release', RELEASE_LUA, conferenceId, [this.nodeId, conferenceId]);
    return ok === 1;
  }

  /** The node holding a conference, or null. */
  async owner(conferenceId: string): Promise<string | null> {
    checkId('conference', conferenceId);
    return this.#redis.get(this.#keys.conference(conferenceId));
  }

  /** Renews every claim this node holds; runs on the heartbeat, callable at will. */
  async heartbeat(): Promise<void> {
    if (this.#closed || this.#beating || this.#held.size === 0) return;
    this.#beating = true;
    try {
      const ids = [...this.#held];
      const pipeline = this.#redis.pipeline();
      for (const id of ids)
        pipeline.eval(
          RENEW_LUA,
          2,
          this.#keys.conference(id),
          this.#keys.conferenceIndex(),
          this.nodeId,
          String(this.ttlMs),
          id,
        );
      const results = (await pipeline.exec()) ?? [];
      for (let i = 0; i < ids.length; i++) {
        const [err, value] = results[i] ?? [new Error('no reply'), null];
        const id = ids[i]!;
        if (err) throw err;
        if (value === 1 || !this.#held.has(id)) continue;
        this.#held.delete(id);
        const current = value === -1 ? await this.owner(id) : null;
        this.#log.warn('conference claim lost', { conferenceId: id, currentOwner: current });
        this.safeEmit('lost', id, current);
      }
    } catch (err) {
      const error = new Error(`claim heartbeat of node ${this.nodeId} failed: ${(err as Error).message}`, {
        cause: err,
      });
      this.#log.warn('claim heartbeat failed', { error: (err as Error).message });
      if (this.listenerCount('error') > 0) this.safeEmit('error', error);
    } finally {
      this.#beating = false;
    }
  }

  /**
   * Stops the heartbeat. With release (default true) this node's claims are deleted now, so the edge
   * answers 404 at once instead of waiting for the TTL.
   */
  async close({ release = true }: { release?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    const ids = [...this.#held];
    this.#held.clear();
    if (release && ids.length > 0) {
      try {
        const pipeline = this.#redis.pipeline();
        for (const id of ids)
          pipeline.eval(RELEASE_LUA, 2, this.#keys.conference(id), this.#keys.conferenceIndex(), this.nodeId, id);
        await pipeline.exec();
      } catch (err) {
        this.#log.warn('could not release claims on close (they expire with their TTL)', {
          error: (err as Error).message,
        });
      }
    }
    this.#closed = true;
  }

  async #eval(what: string, lua: string, conferenceId: string, args: string[]): Promise<number> {
    try {
      return (await this.#redis.eval(
        lua,
        2,
        this.#keys.conference(conferenceId),
        this.#keys.conferenceIndex(),
        ...args,
      )) as number;
    } catch (err) {
      throw new Error(
        `${what} of conference ${conferenceId} by node ${this.nodeId} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`conference claims of node ${this.nodeId} are closed`);
  }
}

/**
 * Every live claim across all nodes (for the admin). Expired entries of the index are pruned on the way.
 */
export async function listClaimedConferences(redis: Redis, keyPrefix?: string): Promise<ClaimedConference[]> {
  const keys = clusterKeys(keyPrefix);
  const [seconds, micros] = await redis.time();
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  await redis.zremrangebyscore(keys.conferenceIndex(), '-inf', `(${now}`);
  const flat = await redis.zrange(keys.conferenceIndex(), 0, -1, 'WITHSCORES');
  const ids: string[] = [];
  const expiries: number[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    ids.push(flat[i]!);
    expiries.push(Number(flat[i + 1]));
  }
  if (ids.length === 0) return [];
  const owners = await redis.mget(ids.map((id) => keys.conference(id)));
  const out: ClaimedConference[] = [];
  ids.forEach((conferenceId, i) => {
    const nodeId = owners[i];
    if (nodeId) out.push({ conferenceId, nodeId, expiresAt: expiries[i]! });
  });
  return out;
}
