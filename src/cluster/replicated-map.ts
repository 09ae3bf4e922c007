// The replicated session map (docs/cluster-protocol.md, "Replication" and "Migration"): each
// operation goes to the owner of the session's partition, which merges (the CRDT rule) and
// replicates to its backups; view changes move partitions by pull and push, never by overwrite.

import { EventEmitter } from 'node:events';
import { CLUSTER_PARTIAL_RETENTION_MS } from '../defaults.js';
import { ClusterProtocolError, LockTimeoutError, StoreClosedError } from '../errors.js';
import { isValidId } from '../session/id.js';
import { isAlive, type LiveRecord, type SessionRecord } from '../session/record.js';
import { answerDigest, answerRepair, repairWith, type AntiEntropyContext } from './anti-entropy.js';
import { createCounters, renderMetrics, type MapCounters } from './metrics.js';
import { planMigration } from './migration.js';
import { NearCache } from './near-cache.js';
import { PartitionTable } from './partition-table.js';
import {
  mapSettings,
  type MapSettings,
  type ReplicatedMapOptions,
} from './replicated-map-options.js';
import { acquireLock, SessionLocks, type LockGrant, type LockOptions } from './session-lock.js';
import { BackupRounds, type WriteMode } from './replication/backup-rounds.js';
import {
  MESSAGE_PREFIX,
  readId,
  readPartition,
  readPartitions,
  readIds,
  readRecord,
  readRecords,
  retryBody,
  type RetryReason,
} from './replication/messages.js';
import { OwnerLeases } from './replication/owner-leases.js';
import { OwnerRouter, type Attempt } from './replication/owner-router.js';
import { PartitionMigration } from './replication/partition-migration.js';
import { copyRecord, PartitionStore } from './replication/partition-store.js';
import { sleep } from './replication/retry.js';
import type { Body, MemberAddress, Transport } from './transport/transport.js';
import type { ClusterView, ViewSource } from './view.js';

export type { ReplicatedMapOptions, WriteMode };

export interface ReplicatedMapEvents {
  /** A session expired: decided by its owner alone, fired once on every member. */
  expired: [id: string];
  /** A session was destroyed: fired once on every member. */
  destroyed: [id: string];
  /** This member holds all its partitions (or its ready timeout passed). */
  ready: [];
}

export class ReplicatedMap extends EventEmitter<ReplicatedMapEvents> {
  readonly self: MemberAddress;
  readonly counters: MapCounters = createCounters();
  readonly #transport: Transport;
  readonly #viewSource: ViewSource;
  readonly #store: PartitionStore;
  readonly #near: NearCache | undefined;
  readonly #leases: OwnerLeases;
  readonly #locks: SessionLocks;
  readonly #router: OwnerRouter;
  readonly #backups: BackupRounds;
  readonly #migration: PartitionMigration;
  readonly #settings: MapSettings;
  /** The lease this member's near cache keeps a copy for at most; 0 without a near cache. */
  readonly #leaseMs: number;
  readonly #now: () => number;
  #table: PartitionTable;
  #ready = false;
  #started = false;
  #leaving = false;
  #closed = false;
  #inFlight = 0;
  #antiEntropyTimer: NodeJS.Timeout | undefined;
  #readyTimer: NodeJS.Timeout | undefined;
  #antiEntropyRunning = false;
  /** When this member last took a backup: a leaving member waits until they stop. */
  #lastBackupAt = 0;
  readonly #onView = (view: ClusterView): void => this.#applyView(view);

  /** @throws {InvalidOptionError} for an option out of range. */
  constructor(options: ReplicatedMapOptions) {
    super();
    const settings = (this.#settings = mapSettings(options));
    const { partitionCount, requestTimeoutMs, operationTimeoutMs, now } = settings;
    this.#transport = options.transport;
    this.self = options.transport.self;
    this.#viewSource = options.view;
    this.#now = now;
    this.#table = this.#tableOf(this.#viewSource.view);
    this.#near = settings.nearCache && new NearCache(settings.nearCache.maxEntries, now);
    const table = (): PartitionTable => this.#table;
    const { counters } = this;
    const transport = this.#transport;
    const leaseMs = (this.#leaseMs = settings.nearCache?.leaseMs ?? 0);
    this.#leases = new OwnerLeases({ transport, counters, leaseMs, table, now });
    this.#router = new OwnerRouter({
      transport,
      counters,
      partitionCount,
      operationTimeoutMs,
      requestTimeoutMs,
      table,
      now,
      checkOpen: () => this.#checkOpen(),
    });
    this.#locks = new SessionLocks({
      self: this.self.name,
      partitionCount,
      partitionOf: (id) => this.#table.partitionOf(id),
      servable: (p) => this.#servable(p),
      fetchLeases: (member, ps) =>
        transport.request(member, 'map.leases', { ps }, { timeoutMs: requestTimeoutMs }),
      maxLeaseMs: settings.lockMaxLeaseMs,
      now,
    });
    const store = (this.#store = new PartitionStore({
      partitionOf: (id) => this.#table.partitionOf(id),
      owns: (p) => this.#table.owner(p)?.name === this.self.name,
      onExpired: (id) => {
        this.#leases.dropNow(id);
        this.#announce('expired', id);
      },
      graceMs: settings.expiryGraceMs,
      partialRetentionMs: CLUSTER_PARTIAL_RETENTION_MS,
      now,
    }));
    this.#backups = new BackupRounds({
      transport,
      counters,
      writeMode: settings.writeMode,
      requestTimeoutMs,
      table,
      current: (id) => store.raw(id),
      version: (p) => store.version(p),
    });
    this.#migration = new PartitionMigration({
      transport,
      counters,
      store,
      partitionCount,
      requestTimeoutMs,
      migrationTimeoutMs: settings.migrationTimeoutMs,
      operationTimeoutMs,
      table,
      now,
      closed: () => this.#closed,
      leaving: () => this.#leaving,
      invalidate: (id) => this.#leases.beforeAck(id, false),
      pulled: () => this.#checkReady(),
    });
  }

  get table(): PartitionTable {
    return this.#table;
  }

  /** True once this member holds every partition it owns or backs up (or its ready timeout passed). */
  get ready(): boolean {
    return this.#ready;
  }

  /** Registers the message handlers and takes the current view: pulls what this member now holds. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#transport.onRequest((type, body, from) => this.#handle(type, body, from), MESSAGE_PREFIX);
    this.#transport.onMessage((type, body) => this.#onAnnouncement(type, body), MESSAGE_PREFIX);
    this.#viewSource.on('change', this.#onView);
    // A member that starts holds nothing: before it, the cluster was its view without it.
    const view = this.#viewSource.view;
    const without = {
      viewId: view.viewId,
      members: view.members.filter((m) => m.name !== this.self.name),
    };
    this.#table = this.#tableOf(without);
    this.#applyView(view);
    this.#readyTimer = setTimeout(() => this.#markReady(), this.#settings.readyTimeoutMs);
    this.#readyTimer.unref();
    if (this.#settings.antiEntropyIntervalMs > 0) {
      this.#antiEntropyTimer = setInterval(
        () => void this.antiEntropy(),
        this.#settings.antiEntropyIntervalMs,
      );
      this.#antiEntropyTimer.unref();
    }
  }

  // ---- operations ----

  /**
   * The live session, from the owner (or from this member's near cache while its lease lasts).
   * @throws {NotOwnerError} when no member would serve it before the deadline.
   * @throws {ClusterTimeoutError} when the owner did not answer before the deadline.
   */
  async get(id: string): Promise<LiveRecord | undefined> {
    const here = this.readSync(id);
    if (here !== null) return here && copyRecord(here);
    const started = this.#now();
    const p = this.#table.partitionOf(id);
    const read = this.#near?.beginRead(id, p);
    try {
      const { body, table } = await this.#router.route(
        p,
        'map.get',
        { id, nc: this.#near !== undefined },
        (b, from) => this.#ownerGet(b, from),
      );
      const record = body['r'] === null || body['r'] === undefined ? undefined : readRecord(body);
      const live = isAlive(record, this.#now()) ? record : undefined;
      // Cached only under the table the owner answered in: an owner that changed since does not
      // know this member holds a copy, and would not invalidate it.
      if (
        this.#near &&
        typeof body['lease'] === 'number' &&
        table === this.#table &&
        table.owner(p)?.name !== this.self.name
      ) {
        this.#near.set(id, p, live, started + Math.min(body['lease'], this.#leaseMs), read);
      }
      this.#count('get', started);
      return live;
    } finally {
      if (read) this.#near?.endRead(id, read);
    }
  }

  /**
   * get() where it needs no round trip: this member owns the partition and serves it from
   * memory, or its near cache holds the session under a lease. The record is the map's own (read
   * it at once, never modify or keep it); null when only the owner can answer.
   */
  readSync(id: string): LiveRecord | undefined | null {
    const started = this.#now();
    this.#checkOpen();
    const p = this.#table.partitionOf(id);
    if (this.#servable(p) === undefined) {
      this.#count('get', started);
      return this.#store.live(id);
    }
    const cached = this.#near?.get(id);
    if (!cached) return null;
    this.#count('get', started);
    return cached.record && isAlive(cached.record, this.#now()) ? cached.record : undefined;
  }

  /**
   * Merges a delta into the session at its owner, which replicates it to the backups.
   * @throws {NotOwnerError} or {ClusterTimeoutError} when it could not be acknowledged by the deadline.
   */
  async merge(id: string, delta: SessionRecord): Promise<void> {
    const started = this.#now();
    this.#checkOpen();
    this.#near?.invalidate(id);
    const p = this.#table.partitionOf(id);
    await this.#router.route(p, 'map.merge', { id, r: delta }, (b) => this.#ownerMerge(b));
    this.#count('merge', started);
  }

  /**
   * The cluster-wide lock of one session (docs/cluster-protocol.md, "Session lock"): a lease at
   * the owner of its partition, granted in FIFO order; it ends at release() or after `leaseMs`.
   * @throws {LockTimeoutError} when it was not granted within `waitMs`.
   */
  lock(id: string, options: LockOptions = {}): Promise<LockGrant> {
    this.#checkOpen();
    const p = this.#table.partitionOf(id);
    const holder = this.#locks.newHolder();
    const started = this.#now();
    const counted = this.counters.locks;
    const router = this.#router;
    return acquireLock({
      id,
      holder,
      options,
      parkMs: this.#settings.requestTimeoutMs / 2,
      now: this.#now,
      route: async (body, deadline) =>
        (await router.route(p, 'map.lock', body, (b) => this.#locks.request(b), deadline)).body,
      unlock: () =>
        router
          .route(p, 'map.unlock', { id, holder }, (b) => ({ body: this.#locks.release(b) }))
          .then(
            () => undefined,
            () => undefined, // the lease ends by itself
          ),
    }).then(
      (grant) => {
        counted.acquired++;
        counted.waitMsTotal += this.#now() - started;
        return grant;
      },
      (err: unknown) => {
        if (err instanceof LockTimeoutError) counted.timeouts++;
        throw err;
      },
    );
  }

  /** Ids of every live session, or of the live sessions of `principal`, across all partitions. */
  async ids(principal?: string): Promise<string[]> {
    const started = this.#now();
    const ids = await this.#router.scan(principal, (body) => this.#ownerScan(body));
    this.#count('scan', started);
    return ids;
  }

  // ---- the owner's side ----

  /** Why this member cannot serve partition p as owner now, or undefined when it can. */
  #servable(p: number): RetryReason | undefined {
    if (this.#leaving) return 'leaving';
    if (this.#table.owner(p)?.name !== this.self.name) return 'not-owner';
    return this.#migration.refusal(p);
  }

  #ownerGet(body: Body, from: MemberAddress): Attempt {
    const id = readId(body);
    const p = this.#table.partitionOf(id);
    const refused = this.#servable(p);
    if (refused) return { retry: refused };
    const record = this.#liveCopy(id) ?? null;
    const lease = body['nc'] === true ? this.#leases.grant(id, from.name) : 0;
    return { body: lease > 0 ? { r: record, lease } : { r: record } };
  }

  async #ownerMerge(body: Body): Promise<Attempt> {
    const id = readId(body);
    const delta = readRecord(body);
    const p = this.#table.partitionOf(id);
    const refused = this.#servable(p);
    if (refused) return { retry: refused };
    this.#inFlight++;
    try {
      const outcome = this.#store.merge(id, delta);
      const appliedAt = this.#store.version(p);
      if (outcome.destroyed) this.#announce('destroyed', id);
      await this.#leases.beforeAck(id, true);
      if (outcome.record && !(await this.#backups.backUp(p, id, outcome.record, appliedAt)))
        return { retry: 'backup' };
      return { body: { ok: true } };
    } finally {
      this.#inFlight--;
    }
  }

  #ownerScan(body: Body): Body {
    const ps = readPartitions(body, this.#settings.partitionCount);
    const principal = body['principal'];
    if (principal !== undefined && typeof principal !== 'string')
      throw new ClusterProtocolError('"principal" is not a string');
    const served: number[] = [];
    const refused: number[] = [];
    for (const p of ps) (this.#servable(p) === undefined ? served : refused).push(p);
    return { ids: this.#store.liveIds(served, principal as string | undefined), refused };
  }

  #liveCopy(id: string): LiveRecord | undefined {
    const record = this.#store.live(id);
    return record ? copyRecord(record) : undefined;
  }

  /**
   * The owner decided that a session expired or was destroyed: the event fires once on every
   * member's store (best effort to the others), and only the owner ever decides it.
   */
  #announce(event: 'expired' | 'destroyed', id: string): void {
    for (const member of this.#table.members) {
      if (member.name !== this.self.name) this.#transport.send(member, `map.${event}`, { id });
    }
    this.emit(event, id);
  }

  #onAnnouncement(type: string, body: Body): void {
    if (this.#closed || (type !== 'map.expired' && type !== 'map.destroyed')) return;
    const id = body['id'];
    if (typeof id !== 'string' || !isValidId(id)) return;
    this.#near?.invalidate(id);
    this.emit(type === 'map.expired' ? 'expired' : 'destroyed', id);
  }

  // ---- messages from peers ----

  async #handle(type: string, body: Body, from: MemberAddress): Promise<Body> {
    const answer = (attempt: Attempt): Body =>
      'body' in attempt ? attempt.body : retryBody(attempt.retry);
    switch (type) {
      case 'map.get':
        return answer(this.#ownerGet(body, from));
      case 'map.merge':
        return answer(await this.#ownerMerge(body));
      case 'map.scan':
        return this.#ownerScan(body);
      case 'map.lock':
        return answer(await this.#locks.request(body));
      case 'map.unlock':
        return this.#locks.release(body);
      case 'map.leases':
        return this.#locks.leasesFor(body);
      case 'map.backup':
        return this.#acceptBackup(body);
      case 'map.inv':
        for (const id of readIds(body, 'ids')) this.#near?.invalidate(id);
        return { ok: true };
      case 'map.pull':
        return this.#migration.answerPull(body);
      case 'map.push':
        return this.#acceptPush(body);
      case 'map.digest':
        return answerDigest(this.#antiEntropyContext(), body);
      case 'map.repair':
        return answerRepair(this.#antiEntropyContext(), body);
      default:
        throw new ClusterProtocolError(`unknown message type ${JSON.stringify(type)}`);
    }
  }

  #acceptBackup(body: Body): Body {
    // A leaving member still takes backups until the others' views dropped it: its final hand-off
    // round carries them. Once closed it takes nothing.
    if (this.#closed) return retryBody('leaving');
    this.#lastBackupAt = this.#now();
    const p = readPartition(body, this.#settings.partitionCount);
    // Only a replica under this member's own view counts as a copy: one that has no role for p
    // may be pushing p away and dropping it.
    if (this.#table.roleOf(p, this.self.name) === undefined) return retryBody('not-backup');
    const records =
      body['records'] !== undefined
        ? readRecords(body)
        : [[readId(body), readRecord(body)] as const];
    for (const [id, record] of records) {
      if (this.#table.partitionOf(id) !== p)
        throw new ClusterProtocolError(`session ${id} is not in partition ${p}`);
      this.#store.merge(id, record);
    }
    return { ok: true };
  }

  /** A partition pushed by its former holder (a hand-off): merged, then replicated to our backups. */
  async #acceptPush(body: Body): Promise<Body> {
    if (this.#leaving) return retryBody('leaving');
    const p = readPartition(body, this.#settings.partitionCount);
    const records = readRecords(body);
    // A leaving member pushes to the owners of the view without it, which may not be ours yet.
    if (body['handoff'] !== true && this.#table.roleOf(p, this.self.name) === undefined)
      return retryBody('not-owner');
    const changed: [string, SessionRecord][] = [];
    for (const [id] of records) {
      if (this.#table.partitionOf(id) !== p)
        throw new ClusterProtocolError(`session ${id} is not in partition ${p}`);
    }
    for (const [id, record] of records) {
      const outcome = this.#store.merge(id, record);
      if (outcome.record) changed.push([id, outcome.record]);
    }
    // A push may carry writes acknowledged elsewhere (the other side of a split): holders of a
    // copy leased here drop it before the push is acknowledged, as for a write.
    await Promise.all(records.map(([id]) => this.#leases.beforeAck(id, false)));
    if (this.#table.owner(p)?.name === this.self.name && changed.length > 0) {
      if (!(await this.#backups.replicate(p, changed))) return retryBody('backup');
    }
    return { ok: true };
  }

  // ---- view changes and readiness ----

  #tableOf(view: ClusterView): PartitionTable {
    return new PartitionTable(view, {
      partitionCount: this.#settings.partitionCount,
      backups: this.#settings.backups,
    });
  }

  #applyView(view: ClusterView): void {
    if (this.#closed || this.#leaving) return;
    const before = this.#table;
    const after = this.#tableOf(view);
    this.#table = after;
    const plan = planMigration(before, after, this.self.name, new Set(this.#store.partitions()));
    this.#migration.endFences();
    this.#locks.onView(before, after);
    // Members new to the view (a join, a healed split) may hold writes this member's near-cached
    // copies never saw, whoever owns their partitions now: the whole near cache goes.
    if (after.members.some((m) => m.name !== this.self.name && !before.has(m.name)))
      this.#near?.clear();
    else this.#near?.dropPartitions(plan.ownerChanged);
    this.#leases.ownersChanged(before, after, plan.ownerChanged);
    this.#migration.apply(plan, after);
    this.#checkReady();
  }

  #checkReady(): void {
    if (!this.#ready && this.#migration.allPulled()) this.#markReady();
  }

  #markReady(): void {
    if (this.#ready || this.#closed) return;
    this.#ready = true;
    if (this.#readyTimer) clearTimeout(this.#readyTimer);
    this.emit('ready');
  }

  /** Resolves once ready (immediately if already). */
  whenReady(): Promise<void> {
    return this.#ready ? Promise.resolve() : new Promise((resolve) => this.once('ready', resolve));
  }

  // ---- anti-entropy ----

  #antiEntropyContext(): AntiEntropyContext {
    return {
      transport: this.#transport,
      store: this.#store,
      partitionCount: this.#settings.partitionCount,
      requestTimeoutMs: this.#settings.requestTimeoutMs,
      mergeRecords: (records) => {
        for (const [id, record] of records) {
          this.#store.merge(id, record);
          this.#leases.dropNow(id);
        }
      },
    };
  }

  /** One round: repairs each owned partition with each backup; pushes leftovers to their owner. */
  async antiEntropy(): Promise<number> {
    if (this.#antiEntropyRunning || this.#closed || this.#leaving) return 0;
    this.#antiEntropyRunning = true;
    let repaired = 0;
    try {
      const ctx = this.#antiEntropyContext();
      const table = this.#table;
      for (let p = 0; p < table.partitionCount; p++) {
        if (this.#closed || this.#leaving || table !== this.#table) break;
        const role = table.roleOf(p, this.self.name);
        if (role === undefined && this.#store.sizeOf(p) > 0) {
          if (!this.#migration.isPushing(p) && table.replicas(p).length > 0)
            await this.#migration.push(p, [...table.replicas(p)], true, false);
          continue;
        }
        if (role !== 'owner' || this.#servable(p) !== undefined) continue;
        for (const backup of table.backupsOf(p)) {
          try {
            repaired += await repairWith(ctx, p, backup);
          } catch {
            // The backup is unreachable or left: the next round, or the next view, handles it.
          }
        }
      }
    } finally {
      this.#antiEntropyRunning = false;
    }
    this.counters.repaired += repaired;
    return repaired;
  }

  // ---- closing ----

  /**
   * Hands this member's partitions off to their replicas in the view without it, then stops. New
   * requests for an owner answer `retry: 'leaving'` from the start, so no write it owns escapes
   * the hand-off. `leave` (membership's graceful leave) is called between a first hand-off round
   * and the final one: until the others' views drop this member they may still send it backups,
   * which the final round carries.
   */
  async close(leave?: () => Promise<void>): Promise<void> {
    if (this.#closed) return;
    this.#leaving = true;
    this.#viewSource.off('change', this.#onView);
    if (this.#antiEntropyTimer) clearInterval(this.#antiEntropyTimer);
    if (this.#readyTimer) clearTimeout(this.#readyTimer);
    const waitUntil = this.#now() + this.#settings.operationTimeoutMs;
    while (this.#inFlight > 0 && this.#now() < waitUntil) await sleep(5);
    const view = this.#viewSource.view;
    const next = this.#tableOf({
      viewId: view.viewId,
      members: view.members.filter((m) => m.name !== this.self.name),
    });
    const handOff = (drop: boolean): Promise<unknown> =>
      Promise.all(
        this.#store.partitions().map((p) => {
          const replicas = [...next.replicas(p)];
          return replicas.length > 0 ? this.#migration.push(p, replicas, drop, true) : true;
        }),
      );
    if (leave) {
      await handOff(false);
      await leave();
      // Backups sent before the others saw the leave: wait until they stop (bounded).
      const quietUntil = this.#now() + 1000;
      while (this.#now() - this.#lastBackupAt < 50 && this.#now() < quietUntil) await sleep(10);
    }
    await handOff(true);
    this.#closed = true;
    this.#locks.close();
    this.#store.close();
    this.#near?.clear();
  }

  /** Stops at once, handing nothing off: what a crash does (tests use it). */
  abort(): void {
    this.#leaving = true;
    this.#closed = true;
    this.#viewSource.off('change', this.#onView);
    if (this.#antiEntropyTimer) clearInterval(this.#antiEntropyTimer);
    if (this.#readyTimer) clearTimeout(this.#readyTimer);
    this.#locks.close();
    this.#store.close();
  }

  // ---- introspection ----

  /** Partitions this member is still pulling (requests for them answer retry). */
  get migrating(): number {
    return this.#migration.pulling;
  }

  /** Partitions this member is still pushing to their new replicas (migration not finished). */
  get pushing(): number {
    return this.#migration.pushing;
  }

  /** This member's own copy of a session (tombstone included), whatever its role: for tests. */
  localCopy(id: string): SessionRecord | undefined {
    const record = this.#store.raw(id);
    return record ? copyRecord(record) : undefined;
  }

  /** Records held (owned, backed up, tombstones), for metrics and tests. */
  get heldSessions(): number {
    return this.#store.size;
  }

  /** The Prometheus text of this member's data-layer metrics. */
  metrics(): string {
    let owned = 0;
    let backedUp = 0;
    for (let p = 0; p < this.#settings.partitionCount; p++) {
      const role = this.#table.roleOf(p, this.self.name);
      if (role === 'owner') owned++;
      else if (role === 'backup') backedUp++;
    }
    return renderMetrics(this.counters, {
      member: this.self.name,
      members: this.#table.members.length,
      partitionsOwned: owned,
      partitionsBackedUp: backedUp,
      sessionsHeld: this.#store.size,
      nearCacheEntries: this.#near?.size ?? 0,
      ready: this.#ready,
    });
  }

  #count(kind: 'get' | 'merge' | 'scan', started: number): void {
    this.counters.operations[kind]++;
    this.counters.latencyMsTotal[kind] += this.#now() - started;
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}
