/**
 * One Redis connection (ioredis) as the cluster uses it: a TCP URL or a unix socket path, errors logged
 * instead of thrown at the process, commands failing fast while disconnected instead of queueing forever.
 */
import { Redis } from 'ioredis';
import type { Logger } from '@conclave/log';

export interface RedisTarget {
  /** redis://host:port/db */
  url?: string;
  /** unix socket path (alternative to url) */
  path?: string;
  /** database number with path (default 0) */
  db?: number;
}

export function describeTarget(target: RedisTarget): string {
  return target.path ? `unix:${target.path}` : (target.url ?? 'redis://127.0.0.1:6379/0');
}

export async function connectRedis(target: RedisTarget, log: Logger): Promise<Redis> {
  const common = {
    lazyConnect: true,
    // A command issued while Redis is away fails after one retry instead of piling up.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  };
  const redis = target.path
    ? new Redis({ ...common, path: target.path, db: target.db ?? 0 })
    : new Redis(target.url ?? 'redis://127.0.0.1:6379/0', common);
  let lastError = '';
  redis.on('error', (err: Error) => {
    // ioredis reconnects by itself; log each distinct error once, not once per retry.
    if (err.message !== lastError) log.warn('redis error', { target: describeTarget(target), error: err.message });
    lastError = err.message;
  });
  redis.on('ready', () => {
    lastError = '';
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot connect to Redis at ${describeTarget(target)}: ${(err as Error).message}`, { cause: err });
  }
  return redis;
}
