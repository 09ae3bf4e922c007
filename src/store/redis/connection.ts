// One surface over the three node-redis client shapes (a client, a cluster, a sentinel-managed
// client): send a command routed by its key, pipeline commands on one connection, and reach
// every master (for SCAN and for keyspace notifications). Every call has a deadline.

import { withDeadline as deadline, type FailurePolicy } from '../deadline.js';

/** What a node-redis client and a sentinel client share: a connection, and subscriptions. */
interface ConnectionLike {
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  destroy?(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
  pSubscribe(
    pattern: string,
    listener: (message: string, channel: string) => void,
  ): Promise<unknown>;
  subscribe(
    channel: string,
    listener: (message: string, channel: string) => void,
  ): Promise<unknown>;
  readonly isOpen: boolean;
  readonly isReady: boolean;
}

/** The part of a node-redis client (createClient) the store uses. */
export interface RedisClientLike extends ConnectionLike {
  sendCommand(args: readonly string[], options?: CommandOptions): Promise<unknown>;
  multi(): { addCommand(args: readonly string[]): unknown; execAsPipeline(): Promise<unknown[]> };
  duplicate(overrides?: Record<string, unknown>): RedisClientLike;
  quit?(): Promise<unknown>;
}

/** The part of a node-redis cluster (createCluster) the store uses. */
export interface RedisClusterLike {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: readonly string[],
    options?: CommandOptions,
  ): Promise<unknown>;
  multi(routing?: string): {
    addCommand(
      firstKey: string | undefined,
      isReadonly: boolean | undefined,
      args: readonly string[],
    ): unknown;
    execAsPipeline(): Promise<unknown[]>;
  };
  readonly masters: readonly { address: string; host: string; port: number }[];
  nodeClient(node: unknown): Promise<unknown>;
  readonly isOpen: boolean;
  readonly isReady: boolean;
}

/** The part of a node-redis sentinel client (createSentinel) the store uses. */
export interface RedisSentinelLike extends ConnectionLike {
  sendCommand(
    isReadonly: boolean | undefined,
    args: readonly string[],
    options?: CommandOptions,
  ): Promise<unknown>;
  /** Unlike a client's, a sentinel's multi takes whether the command is read-only first. */
  multi(): {
    addCommand(isReadonly: boolean | undefined, args: readonly string[]): unknown;
    execAsPipeline(): Promise<unknown[]>;
  };
  duplicate(): RedisSentinelLike;
}

export type AnyRedis = RedisClientLike | RedisClusterLike | RedisSentinelLike;

/** node-redis's per-command options (v5); older clients ignore them. */
interface CommandOptions {
  timeout?: number;
}

/**
 * The commands of requests (Connection.send) turn node-redis's own command timeout off. Each
 * already has the store's deadline (deadline.ts), and node-redis arms an
 * AbortSignal.timeout per command: measured on Node 20, from 50 concurrent loops, an HSET cost
 * 11.2 µs of CPU with it and 2.1 µs without. What that timer also did, dropping commands that
 * wait in the offline queue while the client is disconnected, is done by not queueing them:
 * a client that is not ready is refused at once (notReady), and the store's retry loop tries
 * again until its deadline. The rare commands sent to a master (SCAN, CONFIG, subscriptions)
 * keep the client's defaults: they wait for a reconnect, as the expiry listener needs.
 */
const COMMAND_OPTIONS: CommandOptions = { timeout: 0 };

function notReady(): Promise<never> {
  return Promise.reject(new Error('the client is not connected'));
}

/** A master of the deployment: a client on it (for SCAN) and a way to open a subscriber. */
export interface MasterHandle {
  address: string;
  send(args: readonly string[]): Promise<unknown>;
  /** A new connection to this master, for SUBSCRIBE; the caller connects and closes it. */
  subscriber(): Promise<RedisClientLike | RedisSentinelLike>;
}

export interface Connection {
  readonly kind: 'client' | 'cluster' | 'sentinel';
  /** One command, routed by `key`; refused at once while the client is not connected. */
  send(key: string | undefined, readonly: boolean, args: readonly string[]): Promise<unknown>;
  /**
   * Commands on the connection that owns `key`, in one write, replies in order (not MULTI).
   * Refused, like send(), while the client is not connected.
   */
  pipeline(key: string, commands: readonly (readonly string[])[]): Promise<unknown[]>;
  masters(): Promise<MasterHandle[]>;
}

export function isCluster(redis: AnyRedis): redis is RedisClusterLike {
  return typeof (redis as RedisClusterLike).nodeClient === 'function';
}

export function isSentinel(redis: AnyRedis): redis is RedisSentinelLike {
  return (
    typeof (redis as { getMasterNode?: unknown }).getMasterNode === 'function' ||
    redis.constructor?.name === 'RedisSentinel'
  );
}

export function createConnection(redis: AnyRedis): Connection {
  if (isCluster(redis)) {
    return {
      kind: 'cluster',
      send: (key, readonly, args) =>
        redis.isReady ? redis.sendCommand(key, readonly, args, COMMAND_OPTIONS) : notReady(),
      pipeline(key, commands) {
        if (!redis.isReady) return notReady();
        const multi = redis.multi(key);
        for (const args of commands) multi.addCommand(key, false, args);
        return multi.execAsPipeline();
      },
      async masters() {
        return Promise.all(
          redis.masters.map(async (master) => {
            const client = (await redis.nodeClient(master)) as RedisClientLike;
            return {
              address: master.address,
              send: (args: readonly string[]) => client.sendCommand(args),
              subscriber: async () => client.duplicate(),
            };
          }),
        );
      },
    };
  }
  if (isSentinel(redis)) {
    return {
      kind: 'sentinel',
      send: (_key, readonly, args) =>
        redis.isReady ? redis.sendCommand(readonly, args, COMMAND_OPTIONS) : notReady(),
      pipeline(_key, commands) {
        if (!redis.isReady) return notReady();
        const multi = redis.multi();
        // Not read-only: a pipeline here carries a write (the merge script, then WAIT).
        for (const args of commands) multi.addCommand(false, args);
        return multi.execAsPipeline();
      },
      async masters() {
        return [
          {
            address: 'sentinel-master',
            send: (args: readonly string[]) => redis.sendCommand(false, args),
            subscriber: async () => redis.duplicate(),
          },
        ];
      },
    };
  }
  const client = redis as RedisClientLike;
  return {
    kind: 'client',
    send: (_key, _readonly, args) =>
      client.isReady ? client.sendCommand(args, COMMAND_OPTIONS) : notReady(),
    pipeline(_key, commands) {
      if (!client.isReady) return notReady();
      const multi = client.multi();
      for (const args of commands) multi.addCommand(args);
      return multi.execAsPipeline();
    },
    async masters() {
      return [
        {
          address: 'standalone',
          send: (args: readonly string[]) => client.sendCommand(args),
          subscriber: async () => client.duplicate(),
        },
      ];
    },
  };
}

/**
 * Redis's failures that mean "cannot answer now": anything but an error reply, and the error
 * replies of a failover in progress (see deadline.ts). A disconnected client must not hang a
 * request; a Lua script runs whole or not at all, so a timed-out commit wrote all or nothing.
 */
export const REDIS_FAILURES: FailurePolicy = {
  store: 'redis',
  unavailable: (err) => !isServerError(err) || isTransientServerError(err),
};

/** deadline.ts's withDeadline for Redis. */
export function withDeadline<T>(what: string, ms: number, operation: () => Promise<T>): Promise<T> {
  return deadline(REDIS_FAILURES, what, ms, operation);
}

/** An error reply (ERR, WRONGTYPE, NOSCRIPT…) as opposed to a connection failure. */
export function isServerError(err: unknown): boolean {
  for (let proto = err; proto; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'ErrorReply')
      return true;
  }
  return false;
}

/** Error replies that mean "this node can't take the write now": a failover in progress. */
export function isTransientServerError(err: unknown): boolean {
  const message = (err as Error)?.message ?? '';
  return /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN|LOADING|READONLY|BUSY)/.test(message);
}
