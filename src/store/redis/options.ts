// The RedisStore's options: what each means, its default, and the checks that refuse a bad one
// at construction (SM_ERR_OPTION_INVALID), so redis-store.ts keeps only the store.

import type { RedisClientType, RedisClusterType, RedisSentinelType } from 'redis';
import {
  REDIS_EXPIRED_GRACE_MS,
  REDIS_NEAR_CACHE_MAX_ENTRIES,
  REDIS_PREFIX,
  STORE_OPERATION_TIMEOUT_MS,
} from '../../defaults.js';
import { InvalidOptionError } from '../../errors.js';
import { positive } from '../../options.js';
import { isCluster, isSentinel, type AnyRedis } from './connection.js';

export interface RedisStoreOptions {
  /**
   * A node-redis client: `createClient()`, `createCluster()` or `createSentinel()`, connected.
   * The store never closes it.
   */
  client:
    | RedisClientType<any, any, any, any, any>
    | RedisClusterType<any, any, any, any, any>
    | RedisSentinelType<any, any, any, any, any>;
  /** Prefix of every key. Default `sm:`. */
  prefix?: string;
  /** An operation, retries included, fails with SM_ERR_STORE_UNAVAILABLE after this long. Default 2000. */
  timeoutMs?: number;
  /** Listen for expired events on every master. Default true. */
  events?: boolean;
  /** Set notify-keyspace-events when the server lacks it (needs CONFIG SET). Default true. */
  configureKeyspaceEvents?: boolean;
  /**
   * Keep the sessions this node reads and writes (LRU, 10,000 by default), for sticky
   * deployments: a read of a cached session costs no round trip. Over a standalone client Redis
   * invalidates it (RESP3 CLIENT TRACKING, one more connection). Over a Cluster or Sentinel
   * client the stores publish each write on `<prefix>invalidate` (see `publishInvalidations`) and
   * this node subscribes on one connection (on one master; over Sentinel it follows the master).
   * Either way a write from another node is seen within the delivery time of the invalidation
   * (typically under a millisecond on a LAN), and the cache is emptied, and keeps nothing, from
   * any loss of that connection until it listens again. Default off.
   */
  nearCache?: boolean | { maxEntries?: number };
  /**
   * Publish an invalidation (`PUBLISH <prefix>invalidate "<origin> <id>"`, in the merge script)
   * on every write of a session, for the near caches of other app nodes. Every store writing to
   * a deployment where some node has a near cache must publish, near cache or not. Default: true
   * over a Cluster or Sentinel client, false over a standalone one (whose near caches need none).
   * Cost: one PUBLISH per write; on Redis Cluster each message also crosses the cluster bus to
   * every node. Turn it off where no node uses a near cache; false together with `nearCache`
   * over a Cluster or Sentinel client is refused (SM_ERR_OPTION_INVALID).
   */
  publishInvalidations?: boolean;
  /** Acknowledge a commit only once `replicas` replicas have it (WAIT), or fail after `timeoutMs`. */
  durability?: { replicas: number; timeoutMs: number };
  /** How long a dead session's hash outlives its deadline for the expired event. Default 60 s. */
  expiredGraceMs?: number;
  /**
   * How often the masters without keyspace notifications (see `eventsUnavailableOn`) are swept
   * for expired sessions, by one app node at a time. Less than `expiredGraceMs`. Default: a
   * quarter of it (15 s).
   */
  sweepIntervalMs?: number;
}

/** The options, checked, with their defaults filled in. */
export interface RedisSettings {
  readonly client: AnyRedis;
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly graceMs: number;
  readonly sweepMs: number;
  readonly durability: { replicas: number; timeoutMs: number } | undefined;
  /**
   * Near caches listen to published invalidations instead of RESP3 tracking: tracking is per
   * connection and per node, and a sentinel client neither takes RESP3 on duplicate() nor emits
   * invalidations (a near cache over it served stale sessions, found against a real Sentinel).
   */
  readonly viaPubSub: boolean;
  readonly publish: boolean;
  /** The near cache's size, or undefined for none. */
  readonly nearCacheEntries: number | undefined;
  readonly events: boolean;
  readonly configureKeyspaceEvents: boolean;
}

/** @throws {InvalidOptionError} naming the option and what it accepts. */
export function redisSettings(options: RedisStoreOptions): RedisSettings {
  const client = options?.client as AnyRedis | undefined;
  if (!client || typeof (client as { sendCommand?: unknown }).sendCommand !== 'function') {
    throw new InvalidOptionError('client', 'a node-redis client, cluster or sentinel', client);
  }
  const prefix = options.prefix ?? REDIS_PREFIX;
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new InvalidOptionError('prefix', 'a string without braces', prefix);
  }
  const graceMs = positive('expiredGraceMs', options.expiredGraceMs ?? REDIS_EXPIRED_GRACE_MS);
  const sweepMs = positive('sweepIntervalMs', options.sweepIntervalMs ?? graceMs / 4);
  if (sweepMs >= graceMs) {
    throw new InvalidOptionError(
      'sweepIntervalMs',
      `less than expiredGraceMs (${graceMs})`,
      sweepMs,
    );
  }
  let durability: RedisSettings['durability'];
  if (options.durability !== undefined) {
    const { replicas, timeoutMs } = options.durability;
    if (!Number.isInteger(replicas) || replicas < 1 || !(timeoutMs > 0)) {
      throw new InvalidOptionError(
        'durability',
        '{ replicas: integer >= 1, timeoutMs > 0 }',
        options.durability,
      );
    }
    durability = { replicas, timeoutMs };
  }
  const viaPubSub = isCluster(client) || isSentinel(client);
  const publish = options.publishInvalidations ?? viaPubSub;
  if (typeof publish !== 'boolean')
    throw new InvalidOptionError('publishInvalidations', 'a boolean', publish);
  const near = options.nearCache;
  if (near && viaPubSub && !publish) {
    throw new InvalidOptionError(
      'publishInvalidations',
      'true (or unset) with nearCache over a Cluster or Sentinel client',
      publish,
    );
  }
  let nearCacheEntries: number | undefined;
  if (near) {
    nearCacheEntries =
      (typeof near === 'object' && near.maxEntries) || REDIS_NEAR_CACHE_MAX_ENTRIES;
    if (!Number.isInteger(nearCacheEntries) || nearCacheEntries < 1) {
      throw new InvalidOptionError('nearCache.maxEntries', 'an integer >= 1', nearCacheEntries);
    }
  }
  return {
    client,
    prefix,
    timeoutMs: positive('timeoutMs', options.timeoutMs ?? STORE_OPERATION_TIMEOUT_MS),
    graceMs,
    sweepMs,
    durability,
    viaPubSub,
    publish,
    nearCacheEntries,
    events: options.events !== false,
    configureKeyspaceEvents: options.configureKeyspaceEvents !== false,
  };
}
