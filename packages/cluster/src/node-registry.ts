/**
 * The node registry: each live node keeps a hash in Redis { id, sip, http, startedAt } with a short TTL
 * renewed by a heartbeat. The edge reads `sip` to reach the node hosting a conference, and treats a
 * missing record as a dead node (480) even before the node's claims expire; the admin reads `http` to
 * reach the hosting node's moderation API.
 */
import type { Redis } from 'ioredis';
import { EnhancedEventEmitter } from '@conclave/events';
import type { Logger } from '@conclave/log';
import { checkId, clusterKeys, type ClusterKeys } from './keys.ts';

export interface NodeRecord {
  id: string;
  /** SIP URI the edge sends this node's requests to, e.g. sip:198.18.0.11:5060;transport=tcp */
  sip: string;
  /** Base URL of this node's HTTP server (admin API), e.g. http://198.18.0.11:8080 */
  http: string;
  /** ms since epoch */
  startedAt: number;
}

export interface NodeMembershipOptions {
  redis: Redis;
  node: Omit<NodeRecord, 'startedAt'>;
  log: Logger;
  /** Record lifetime without a renewal (ms). Default 3000: the edge stops routing to a dead node's conferences within it. */
  ttlMs?: number;
  /** Default ttlMs / 3. */
  heartbeatMs?: number;
  keyPrefix?: string;
}

type MembershipEvents = { error: [error: Error] };

const REGISTER_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'sip', ARGV[2], 'http', ARGV[3], 'startedAt', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[1])
return 1`;

/** This node's membership: registers on start(), renews on a heartbeat, deregisters on close(). */
export class NodeMembership extends EnhancedEventEmitter<MembershipEvents> {
  readonly record: NodeRecord;
  readonly ttlMs: number;
  readonly heartbeatMs: number;
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #keys: ClusterKeys;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: NodeMembershipOptions) {
    checkId('node', options.node.id);
    const log = options.log.child('node-registry', { nodeId: options.node.id });
    // A listener that throws is logged: it must not stop the heartbeat.
    super(log);
    if (!/^sips?:/i.test(options.node.sip))
      throw new TypeError(`node ${options.node.id}: sip must be a SIP URI, got ${JSON.stringify(options.node.sip)}`);
    this.record = { ...options.node, startedAt: Date.now() };
    this.ttlMs = options.ttlMs ?? 3000;
    this.heartbeatMs = options.heartbeatMs ?? Math.floor(this.ttlMs / 3);
    if (!(this.heartbeatMs > 0) || this.heartbeatMs * 2 > this.ttlMs) {
      throw new RangeError(`node heartbeat ${this.heartbeatMs} ms must be at most half the TTL ${this.ttlMs} ms`);
    }
    this.#redis = options.redis;
    this.#log = log;
    this.#keys = clusterKeys(options.keyPrefix);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes the record and starts the heartbeat. Rejects when Redis cannot be reached. */
  async start(): Promise<void> {
    if (this.#closed) throw new Error(`node ${this.record.id}: membership is closed`);
    await this.#write();
    this.#timer ??= setInterval(() => {
      this.#write().catch((err: Error) => {
        this.#log.warn('node heartbeat failed', { error: err.message });
        if (this.listenerCount('error') > 0) this.safeEmit('error', err);
      });
    }, this.heartbeatMs);
    this.#timer.unref();
  }

  /** Stops the heartbeat and deletes the record (the edge stops routing here at once). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      await this.#redis
        .multi()
        .del(this.#keys.node(this.record.id))
        .zrem(this.#keys.nodeIndex(), this.record.id)
        .exec();
    } catch (err) {
      this.#log.warn('could not deregister (the record expires with its TTL)', { error: (err as Error).message });
    }
  }

  async #write(): Promise<void> {
    const r = this.record;
    try {
      await this.#redis.eval(
        REGISTER_LUA,
        2,
        this.#keys.node(r.id),
        this.#keys.nodeIndex(),
        r.id,
        r.sip,
        r.http,
        String(r.startedAt),
        String(this.ttlMs),
      );
    } catch (err) {
      throw new Error(`registering node ${r.id} in Redis failed: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** One node's record, or null when it is not (or no longer) alive. */
export async function getNode(redis: Redis, nodeId: string, keyPrefix?: string): Promise<NodeRecord | null> {
  checkId('node', nodeId);
  const h = await redis.hgetall(clusterKeys(keyPrefix).node(nodeId));
  if (!h['id'] || !h['sip']) return null;
  return { id: h['id'], sip: h['sip'], http: h['http'] ?? '', startedAt: Number(h['startedAt'] ?? 0) };
}

/** Every live node. */
export async function listNodes(redis: Redis, keyPrefix?: string): Promise<NodeRecord[]> {
  const keys = clusterKeys(keyPrefix);
  const [seconds, micros] = await redis.time();
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  await redis.zremrangebyscore(keys.nodeIndex(), '-inf', `(${now}`);
  const ids = await redis.zrange(keys.nodeIndex(), 0, -1);
  const records = await Promise.all(ids.map((id) => getNode(redis, id, keyPrefix)));
  return records.filter((r): r is NodeRecord => r !== null);
}
