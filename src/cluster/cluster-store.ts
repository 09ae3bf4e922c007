// ClusterStore: the replicated session map as a SessionStore, so the SessionManager, the HTTP
// adapters and express-session use the embedded cluster like any other store.

import { KEY_AFFINITY_MAX_DRAWS } from '../defaults.js';
import { InvalidOptionError, RetryableError, StoreUnavailableError } from '../errors.js';
import { isValidRoute, MAX_ROUTES } from '../session/id.js';
import type { LiveRecord, SessionRecord } from '../session/record.js';
import { BaseStore } from '../store/base-store.js';
import { MergeCoalescer } from '../store/merge-coalescer.js';
import { AFFINITIES, drawOwnedId, routesOf, type Affinity } from './key-affinity.js';
import type { ReplicatedMap } from './replicated-map.js';
import type { LockOptions } from './session-lock.js';

export interface ClusterStoreOptions {
  /** What routes a cookie carries: `owner` (default), `ranked`, `local` or `none`. */
  affinity?: Affinity;
  /** Called by close() between the map's first and final hand-off rounds (membership's leave). */
  onLeave?: () => Promise<void>;
  /** Called by close() after the map handed its partitions off (close the transport). */
  onClose?: () => Promise<void>;
  /** The lease and wait of lock() when its caller gives none (the adapters' `lock: 'cluster'`). */
  lock?: LockOptions;
}

export class ClusterStore extends BaseStore {
  readonly map: ReplicatedMap;
  readonly affinity: Affinity;
  readonly #onLeave: (() => Promise<void>) | undefined;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #lockOptions: LockOptions;
  /**
   * Write combining, as over Redis and PostgreSQL: a merge of a session is a round trip to its
   * backups (or its owner), so the merges of one session that arrive meanwhile go as one.
   */
  readonly #coalescer = new MergeCoalescer((id, delta) =>
    unavailableOnRetryable(this.map.merge(id, delta)),
  );
  #closing: Promise<void> | undefined;

  /** @throws {InvalidOptionError} for an unknown affinity or a member name that cannot be a route. */
  constructor(map: ReplicatedMap, options: ClusterStoreOptions = {}) {
    super();
    const affinity = options.affinity ?? 'owner';
    if (!AFFINITIES.includes(affinity))
      throw new InvalidOptionError('affinity', AFFINITIES.join(', '), affinity);
    if (affinity !== 'none' && !isValidRoute(map.self.name)) {
      throw new InvalidOptionError('name', 'a route: 1 to 64 of [A-Za-z0-9_-]', map.self.name);
    }
    this.map = map;
    this.affinity = affinity;
    this.#onLeave = options.onLeave;
    this.#onClose = options.onClose;
    this.#lockOptions = options.lock ?? {};
    map.on('expired', (id) => this.emit('expired', id));
    map.on('destroyed', (id) => this.emit('destroyed', id));
  }

  /** Readiness: this member holds its partitions (a /healthz for the proxy and the app). */
  get ready(): boolean {
    return this.map.ready;
  }

  /** Key affinity: an id whose partition this member owns, so the request that creates it stays here. */
  generateId(): string {
    return drawOwnedId(this.map.table, this.map.self.name, KEY_AFFINITY_MAX_DRAWS);
  }

  /** The cookie's routes under the current table (owner, owner then backups, this member, or none). */
  routesOf(id: string): readonly string[] {
    return routesOf(this.map.table, id, this.affinity, this.map.self.name, MAX_ROUTES);
  }

  /**
   * The cluster-wide lock of one session (`lock: 'cluster'`): a lease at its owner, granted in
   * FIFO order; resolves to its release. Not wrapped as StoreUnavailableError: its code says why.
   * @throws {LockTimeoutError} when it was not granted within `waitMs` (default 10 s).
   */
  async lock(id: string, options?: LockOptions): Promise<() => void> {
    return (await this.map.lock(id, { ...this.#lockOptions, ...options })).release;
  }

  protected readRecord(id: string): Promise<LiveRecord | undefined> {
    return unavailableOnRetryable(this.map.get(id));
  }

  /** A session this member owns, or holds in its near cache, at once (SessionBackend.readSync). */
  readSync(id: string): LiveRecord | undefined | null {
    return this.map.readSync(id);
  }

  protected mergeRecord(id: string, delta: SessionRecord): Promise<void> {
    return this.#coalescer.merge(id, delta);
  }

  protected listIds(): Promise<string[]> {
    return unavailableOnRetryable(this.map.ids());
  }

  protected listIdsOfPrincipal(principal: string): Promise<string[]> {
    return unavailableOnRetryable(this.map.ids(principal));
  }

  /** Hands this member's partitions off, then leaves the cluster. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.map.close(this.#onLeave);
      await this.#onClose?.();
    })();
    return this.#closing;
  }

  /** The Prometheus text of this member's data-layer metrics. */
  metrics(): string {
    return this.map.metrics();
  }
}

/** The SessionStore contract: a cluster that cannot answer in time is an unavailable store (503). */
async function unavailableOnRetryable<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (err) {
    if (err instanceof RetryableError && !(err instanceof StoreUnavailableError)) {
      throw new StoreUnavailableError(`the cluster did not answer: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
