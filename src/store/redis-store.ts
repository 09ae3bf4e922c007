// Sessions in Redis (standalone, Sentinel or Cluster): one hash per session, merged on the
// server by a Lua script (redis/scripts.ts) in one round trip; one HGETALL to load, or none
// with the near cache. Keys, events and the near cache each live in src/store/redis/.

import { randomBytes } from 'node:crypto';
import { REDIS_MASTERS_REFRESH_MS, STORE_TOMBSTONE_MIN_MS } from '../defaults.js';
import {
  InvalidSessionIdError,
  StoreClosedError,
  StoreDurabilityError,
  StoreUnavailableError,
} from '../errors.js';
import {
  expiresAt,
  isAlive,
  isComplete,
  type LiveRecord,
  type SessionRecord,
} from '../session/record.js';
import { BaseStore } from './base-store.js';
import { withRetries } from './deadline.js';
import { MergeCoalescer } from './merge-coalescer.js';
import {
  deltaArguments,
  decodeHash,
  decodeMetadata,
  decodePrincipal,
  hashEntries,
  METADATA_FIELDS,
} from './redis/codec.js';
import {
  createConnection,
  isServerError,
  REDIS_FAILURES,
  withDeadline,
  type Connection,
  type RedisClientLike,
} from './redis/connection.js';
import { ExpiryListener, listenerError } from './redis/expiry-listener.js';
import { ExpirySweeper } from './redis/expiry-sweeper.js';
import {
  InvalidationChannel,
  invalidationChannel,
  invalidationMessage,
} from './redis/invalidation-channel.js';
import { createKeyLayout, isStorableId, type KeyLayout } from './redis/keys.js';
import { NearCache } from './redis/near-cache.js';
import { scanSessionIds } from './redis/session-scan.js';
import { trackedConnection } from './redis/tracked-connection.js';
import { CLAIM_EXPIRED, MERGE, type Script } from './redis/scripts.js';
import { redisSettings, type RedisStoreOptions } from './redis/options.js';

export type { RedisStoreOptions } from './redis/options.js';

export class RedisStore extends BaseStore {
  /** Loads and merges: over a standalone client with a near cache, the tracked connection. */
  readonly #connection: Connection;
  /**
   * Everything else (listing, the principal index, sweeps): never tracked, or every key a sweep
   * read would sit in the server's tracking table and send this node invalidations.
   */
  readonly #plain: Connection;
  readonly #keys: KeyLayout;
  readonly #timeoutMs: number;
  readonly #graceMs: number;
  readonly #durability: { replicas: number; timeoutMs: number } | undefined;
  readonly #listener: ExpiryListener | undefined;
  readonly #sweeper: ExpirySweeper | undefined;
  readonly #nearCache: NearCache | undefined;
  readonly #tracked: RedisClientLike | undefined;
  readonly #invalidations: InvalidationChannel | undefined;
  /** This store's token in the invalidations it publishes, so its own are skipped. */
  readonly #origin = randomBytes(9).toString('base64url');
  /** The channel the merge script publishes on, or '' for none. */
  readonly #publishOn: string;
  readonly #coalescer = new MergeCoalescer((id, delta) => this.#mergeNow(id, delta));
  #closed = false;
  /** Resolves once the expiry listener and the near cache's connection (or channel) are up. */
  readonly ready: Promise<void>;

  /**
   * @throws {InvalidOptionError} for a missing client or a bad option.
   * @example
   * import { createClient } from 'redis';
   * import { createRedisStore } from 'sessionmesh/redis';
   * const client = await createClient({ url: process.env.REDIS_URL }).connect();
   * const store = await createRedisStore({ client });
   */
  constructor(options: RedisStoreOptions) {
    super();
    const settings = redisSettings(options);
    const { client, viaPubSub } = settings;
    this.#timeoutMs = settings.timeoutMs;
    this.#graceMs = settings.graceMs;
    this.#durability = settings.durability;
    this.#keys = createKeyLayout(settings.prefix);
    this.#publishOn = settings.publish ? invalidationChannel(settings.prefix) : '';
    this.#plain = createConnection(client);
    let connection = this.#plain;
    if (settings.nearCacheEntries !== undefined) {
      // Over pub/sub it keeps nothing until the channel has heard its first probe.
      this.#nearCache = new NearCache(settings.nearCacheEntries, !viaPubSub);
      if (viaPubSub) {
        this.#invalidations = new InvalidationChannel({
          connection,
          channel: this.#publishOn,
          origin: this.#origin,
          cache: this.#nearCache,
          timeoutMs: this.#timeoutMs,
          reopenMs: REDIS_MASTERS_REFRESH_MS,
        });
      } else {
        this.#tracked = trackedConnection(client as RedisClientLike, this.#keys, this.#nearCache);
        connection = createConnection(this.#tracked);
      }
    }
    this.#connection = connection;
    if (settings.events) {
      const listener = new ExpiryListener({
        connection: this.#plain,
        keys: this.#keys,
        timeoutMs: this.#timeoutMs,
        refreshMs: REDIS_MASTERS_REFRESH_MS,
        configure: settings.configureKeyspaceEvents,
        onExpiredMarker: (id) => void this.#expired(id),
      });
      this.#listener = listener;
      this.#sweeper = new ExpirySweeper({
        connection: this.#plain,
        keys: this.#keys,
        intervalMs: settings.sweepMs,
        timeoutMs: this.#timeoutMs,
        origin: this.#origin,
        masters: () => listener.unavailableOn,
        expiredAmong: (ids) => this.#expiredAmong(ids),
        expire: (id) => this.#expired(id),
      });
    }
    this.ready = this.#start();
    this.ready.catch(() => {});
  }

  /** Masters where expired events are off: CONFIG SET forbidden and notify-keyspace-events not preset. */
  get eventsUnavailableOn(): string[] {
    return [...(this.#listener?.unavailableOn ?? [])];
  }

  /** Near-cache counters (undefined without a near cache). */
  get nearCacheStats(): { hits: number; misses: number; size: number } | undefined {
    const cache = this.#nearCache;
    return cache && { hits: cache.hits, misses: cache.misses, size: cache.size };
  }

  async #start(): Promise<void> {
    if (this.#tracked)
      await withDeadline('connecting', this.#timeoutMs, () => this.#tracked!.connect());
    await Promise.all([this.#invalidations?.start(), this.#listener?.start()]);
    this.#sweeper?.start();
  }

  /**
   * A near-cache hit, at once (see SessionBackend.readSync): the cache's own record, or
   * undefined when the cached copy is dead; null when only the server can tell.
   */
  readSync(id: string): LiveRecord | undefined | null {
    this.#check();
    if (!isStorableId(id)) return undefined;
    const cached = this.#nearCache?.get(id);
    if (cached === undefined) return null;
    return isAlive(cached, Date.now()) ? cached : undefined;
  }

  protected async readRecord(id: string): Promise<LiveRecord | undefined> {
    const cached = this.readSync(id);
    if (cached !== null) return cached && copy(cached);
    const cache = this.#nearCache;
    const epoch = cache?.epoch ?? 0;
    const key = this.#keys.session(id);
    // A read that fills the near cache goes to the master (readonly false): a replica that
    // lags would hand back a state older than an invalidation already heard, kept for good.
    const reply = await this.#run('HGETALL', () =>
      this.#connection.send(key, !cache, ['HGETALL', key]),
    );
    const entries = hashEntries(reply);
    const record = decodeHash(entries);
    if (cache && entries.length > 0) cache.set(id, record, epoch);
    return isAlive(record, Date.now()) ? copy(record) : undefined;
  }

  protected async mergeRecord(id: string, delta: SessionRecord): Promise<void> {
    this.#check();
    if (!isStorableId(id)) throw new InvalidSessionIdError(id);
    return this.#coalescer.merge(id, delta);
  }

  /** One run of the merge script; events are fired here, once per run (merge-coalescer.ts). */
  async #mergeNow(id: string, delta: SessionRecord): Promise<void> {
    const cache = this.#nearCache;
    const epoch = cache?.epoch ?? 0;
    const keys = [this.#keys.session(id), this.#keys.marker(id)];
    const args = [
      String(Date.now()),
      String(this.#graceMs),
      String(STORE_TOMBSTONE_MIN_MS),
      cache ? '1' : '0',
      this.#publishOn,
      this.#publishOn && invalidationMessage(this.#origin, id),
      ...deltaArguments(delta),
    ];
    // A merge is idempotent, so a retry after a lost reply (failover, reconnect) is safe.
    let reply: unknown[];
    try {
      reply = (await this.#run('merge', () => this.#eval(MERGE, keys, args))) as unknown[];
    } catch (err) {
      // It may have been applied all the same (a lost reply), and tracking never reports this
      // node's own writes: the cached copy may be older than Redis's now.
      cache?.invalidate(id);
      throw err;
    }
    const outcome = Number(reply[0]);
    if (cache) {
      if (reply[3]) cache.set(id, decodeHash(hashEntries(reply[3])), epoch);
      else cache.invalidate(id);
    }
    const before = decodePrincipal(String(reply[1] ?? ''));
    const after = outcome === 1 ? decodePrincipal(String(reply[2] ?? '')) : null;
    if (before !== after) await this.#reindex(id, before, after);
    if (outcome === 2) this.emit('destroyed', id);
  }

  protected async listIds(): Promise<string[]> {
    this.#check();
    const masters = await this.#run('listing masters', () => this.#plain.masters());
    const found = new Set<string>();
    await Promise.all(
      masters.map((master) =>
        scanSessionIds(
          this.#keys,
          (args) => this.#run('SCAN', () => master.send(args)),
          (ids) => ids.forEach((id) => found.add(id)),
        ),
      ),
    );
    return this.#alive([...found]);
  }

  protected async listIdsOfPrincipal(principal: string): Promise<string[]> {
    this.#check();
    const key = this.#keys.principal(principal);
    const members = (await this.#run('SMEMBERS', () =>
      this.#plain.send(key, true, ['SMEMBERS', key]),
    )) as string[] | Set<string>;
    const ids = [...members].map(String);
    const alive = await this.#alive(ids, principal);
    const stale = ids.filter((id) => !alive.includes(id));
    if (stale.length > 0)
      await this.#run('SREM', () => this.#plain.send(key, false, ['SREM', key, ...stale]));
    return alive;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([
      this.#sweeper?.close(),
      this.#listener?.close(),
      this.#invalidations?.close(),
    ]);
    if (this.#tracked) {
      try {
        this.#tracked.destroy?.();
      } catch {
        // already closed
      }
    }
  }

  /** The ids among `ids` whose sessions are alive (and belong to `principal`, when given). */
  async #alive(ids: string[], principal?: string): Promise<string[]> {
    const now = Date.now();
    const records = await this.#metadata(ids);
    return ids.filter((_, i) => {
      const record = records[i]!;
      if (!isAlive(record, now)) return false;
      return principal === undefined || record.principal?.v === principal;
    });
  }

  /** The ids among `ids` whose sessions are dead by their deadline (expired, not destroyed). */
  async #expiredAmong(ids: string[]): Promise<string[]> {
    const now = Date.now();
    const records = await this.#metadata(ids);
    return ids.filter((_, i) => {
      const record = records[i]!;
      return record.destroyed === undefined && isComplete(record) && expiresAt(record) <= now;
    });
  }

  /** The sessions' records without their attributes, one HMGET each ({} for a gone one). */
  async #metadata(ids: string[]): Promise<SessionRecord[]> {
    const replies = await Promise.all(
      ids.map((id) => {
        const key = this.#keys.session(id);
        return this.#run('HMGET', () =>
          this.#plain.send(key, true, ['HMGET', key, ...METADATA_FIELDS]),
        );
      }),
    );
    return replies.map(decodeMetadata);
  }

  async #reindex(id: string, before: string | null, after: string | null): Promise<void> {
    const work: Promise<unknown>[] = [];
    if (before !== null) {
      const key = this.#keys.principal(before);
      work.push(this.#run('SREM', () => this.#plain.send(key, false, ['SREM', key, id])));
    }
    if (after !== null) {
      const key = this.#keys.principal(after);
      work.push(this.#run('SADD', () => this.#plain.send(key, false, ['SADD', key, id])));
    }
    await Promise.all(work);
  }

  /** One expired marker heard: the node that claims it fires the event and cleans the index. */
  async #expired(id: string): Promise<void> {
    if (this.#closed) return;
    try {
      const keys = [this.#keys.session(id), this.#keys.claim(id)];
      const claimed = await this.#run('claim', () =>
        this.#eval(CLAIM_EXPIRED, keys, [String(Date.now()), String(this.#graceMs)]),
      );
      if (typeof claimed !== 'string') return;
      this.#nearCache?.invalidate(id);
      const principal = decodePrincipal(claimed);
      if (principal !== null) await this.#reindex(id, principal, null);
      this.emit('expired', id);
    } catch (error) {
      if (listenerError.hasSubscribers) listenerError.publish({ id, error });
    }
  }

  /** EVALSHA, EVAL when the server does not have the script yet (a restart, a new node). */
  async #eval(script: Script, keys: string[], args: string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    const durability = this.#durability;
    const send = async (command: readonly string[]): Promise<unknown> => {
      if (!durability) return this.#connection.send(keys[0], false, command);
      const [reply, acked] = await this.#connection.pipeline(keys[0]!, [
        command,
        ['WAIT', String(durability.replicas), String(durability.timeoutMs)],
      ]);
      if (Number(acked) < durability.replicas)
        throw new StoreDurabilityError(Number(acked), durability.replicas);
      return reply;
    };
    try {
      return await send(['EVALSHA', script.sha, ...tail]);
    } catch (err) {
      if (!noScript(err)) throw err;
      return send(['EVAL', script.source, ...tail]);
    }
  }

  /**
   * Runs `operation` until it succeeds or the deadline passes, retrying what a failover or a
   * reconnect causes; store operations are reads or idempotent merges, so a retry is safe.
   */
  #run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return withRetries(REDIS_FAILURES, what, this.#timeoutMs, () => this.#closed, operation);
  }

  #check(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

/**
 * A RedisStore whose expiry listener (and near-cache connection) are up.
 * @throws {StoreUnavailableError} when Redis cannot be reached in time.
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const store = new RedisStore(options);
  try {
    await store.ready;
  } catch (err) {
    await store.close();
    throw err instanceof StoreUnavailableError
      ? err
      : new StoreUnavailableError('redis: start failed', { cause: err });
  }
  return store;
}

function noScript(err: unknown): boolean {
  const message = String((err as Error)?.message ?? '');
  return message.startsWith('NOSCRIPT') || (isServerError(err) && message.includes('NOSCRIPT'));
}

function copy(record: SessionRecord): LiveRecord {
  return { ...record, attrs: { ...record.attrs } } as LiveRecord;
}
