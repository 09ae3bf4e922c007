// The replicated session map (docs/cluster-protocol.md, "Replication" and "Migration"): each
// operation goes to the owner of the session's partition, which merges (the CRDT rule) and
// replicates to its backups; view changes move partitions by pull and push, never by overwrite.

import { EventEmitter } from 'node:events';
import {
  CLUSTER_ANTI_ENTROPY_INTERVAL_MS,
  CLUSTER_BACKUPS,
  CLUSTER_EXPIRY_GRACE_MS,
  CLUSTER_MIGRATION_CONCURRENCY,
  CLUSTER_MIGRATION_PAGE_BYTES,
  CLUSTER_MIGRATION_TIMEOUT_MS,
  CLUSTER_OPERATION_TIMEOUT_MS,
  CLUSTER_PARTIAL_RETENTION_MS,
  CLUSTER_READY_TIMEOUT_MS,
  CLUSTER_REQUEST_TIMEOUT_MS,
  CLUSTER_RETRY_BASE_MS,
  CLUSTER_RETRY_MAX_MS,
  NEAR_CACHE_LEASE_MS,
  NEAR_CACHE_MAX_ENTRIES,
  PARTITION_COUNT,
} from '../defaults.js';
import {
  ClusterProtocolError,
  ClusterTimeoutError,
  InvalidOptionError,
  LockTimeoutError,
  NotOwnerError,
  RetryableError,
  StoreClosedError,
} from '../errors.js';
import { isValidId } from '../session/id.js';
import { isAlive, type LiveRecord, type SessionRecord } from '../session/record.js';
import { answerDigest, answerRepair, repairWith, type AntiEntropyContext } from './anti-entropy.js';
import { createCounters, renderMetrics, type MapCounters } from './metrics.js';
import { planMigration } from './migration.js';
import { LeaseHolders, NearCache } from './near-cache.js';
import { PartitionTable } from './partition-table.js';
import {
  acquireLock,
  LOCK_MAX_LEASE_MS,
  SessionLocks,
  type LockGrant,
  type LockOptions,
} from './session-lock.js';
import {
  MESSAGE_PREFIX,
  readId,
  readPartition,
  readPartitions,
  readIds,
  readRecord,
  readRecords,
  retryBody,
  retryOf,
  type RetryReason,
} from './replication/messages.js';
import { Limiter } from './replication/limiter.js';
import { copyRecord, PartitionStore, recordBytes } from './replication/partition-store.js';
import { backoffMs, sleep } from './replication/retry.js';
import type { Body, MemberAddress, Transport } from './transport/transport.js';
import type { ClusterView, ViewSource } from './view.js';

export type WriteMode = 'sync' | 'async';

export interface ReplicatedMapOptions {
  transport: Transport;
  view: ViewSource;
  /** Default 271; every member must use the same. */
  partitionCount?: number;
  /** Backup replicas per partition; default 1; >= members - 1 is full replication. */
  backups?: number;
  /** `sync` (default): a write is acknowledged after its backups acknowledged; `async`: at once. */
  writeMode?: WriteMode;
  /** An operation retries until this deadline. Default 10 s. */
  operationTimeoutMs?: number;
  /** One attempt waits this long for an answer. Default 1 s. */
  requestTimeoutMs?: number;
  migrationTimeoutMs?: number;
  readyTimeoutMs?: number;
  /** 0 disables anti-entropy. Default 5 s. */
  antiEntropyIntervalMs?: number;
  expiryGraceMs?: number;
  /** Near cache of sessions read from other owners; `false` disables it. */
  nearCache?: false | { maxEntries?: number; leaseMs?: number };
  /** The longest session-lock lease an owner grants, and a new owner's grace period. Default 5 s; the same on every member. */
  lockMaxLeaseMs?: number;
  now?: () => number;
}

export interface ReplicatedMapEvents {
  /** A session expired: decided by its owner alone, fired once on every member. */
  expired: [id: string];
  /** A session was destroyed: fired once on every member. */
  destroyed: [id: string];
  /** This member holds all its partitions (or its ready timeout passed). */
  ready: [];
}

/** A member a partition is pulled from: a newer view may add it again (a new object). */
interface PullSource {
  member: MemberAddress;
  /** The last id received: a failed pull resumes after it (merges are idempotent). */
  after: string | undefined;
}

type PartitionState =
  | {
      readonly pulling: true;
      readonly token: number;
      /** Pulled as its owner (fences the old owner); a newer view may change it. */
      owner: boolean;
      /** Sources not pulled yet; a newer view adds its new members here instead of restarting. */
      readonly sources: Map<string, PullSource>;
    }
  | { readonly pulling: false };

const READY: PartitionState = { pulling: false };

/** Answer of a local or remote attempt: a body, or a retry reason. */
type Attempt = { body: Body } | { retry: RetryReason };
/** The merges of one session waiting for its next backup round, each told whether it was acknowledged. */
type BackupLane = ((acknowledged: boolean) => void)[];

export class ReplicatedMap extends EventEmitter<ReplicatedMapEvents> {
  readonly self: MemberAddress;
  readonly counters: MapCounters = createCounters();
  readonly #transport: Transport;
  readonly #viewSource: ViewSource;
  readonly #store: PartitionStore;
  readonly #near: NearCache | undefined;
  readonly #holders: LeaseHolders;
  readonly #locks: SessionLocks;
  readonly #leaseMs: number;
  readonly #partitionCount: number;
  readonly #backups: number;
  readonly #writeMode: WriteMode;
  readonly #operationTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #migrationTimeoutMs: number;
  readonly #readyTimeoutMs: number;
  readonly #antiEntropyIntervalMs: number;
  readonly #now: () => number;
  #table: PartitionTable;
  /** Partitions this member has a role for, and whether each is still being pulled. */
  readonly #states = new Map<number, PartitionState>();
  #nextToken = 1;
  /**
   * Partitions a new owner pulled from this member while this member still owned them under its
   * own view: it serves no write for them (answers `migrating`) until its view changes or the
   * fence ends, so nothing is acknowledged here that the new owner's pull did not carry.
   */
  readonly #fences = new Map<number, number>();
  /** The push loop in progress for each partition (a newer one supersedes it). */
  readonly #pushes = new Map<number, number>();
  /** Partitions pulled at once, owned ones first; and pushed at once (back-pressure). */
  readonly #pullSlots = new Limiter(CLUSTER_MIGRATION_CONCURRENCY);
  readonly #pushSlots = new Limiter(CLUSTER_MIGRATION_CONCURRENCY);
  readonly #pageBytes = CLUSTER_MIGRATION_PAGE_BYTES;
  #ready = false;
  #started = false;
  #leaving = false;
  #closed = false;
  #inFlight = 0;
  /** Per session with a backup round in flight: the merges waiting for the next (#backUp). */
  readonly #backupLanes = new Map<string, BackupLane>();
  #antiEntropyTimer: NodeJS.Timeout | undefined;
  #readyTimer: NodeJS.Timeout | undefined;
  readonly #onView = (view: ClusterView): void => this.#applyView(view);

  /** @throws {InvalidOptionError} for an option out of range. */
  constructor(options: ReplicatedMapOptions) {
    super();
    this.#transport = options.transport;
    this.self = options.transport.self;
    this.#viewSource = options.view;
    this.#partitionCount = options.partitionCount ?? PARTITION_COUNT;
    this.#backups = options.backups ?? CLUSTER_BACKUPS;
    const mode = options.writeMode ?? 'sync';
    if (mode !== 'sync' && mode !== 'async')
      throw new InvalidOptionError('writeMode', '"sync" or "async"', mode);
    this.#writeMode = mode;
    this.#operationTimeoutMs = positive(
      'operationTimeoutMs',
      options.operationTimeoutMs,
      CLUSTER_OPERATION_TIMEOUT_MS,
    );
    this.#requestTimeoutMs = positive(
      'requestTimeoutMs',
      options.requestTimeoutMs,
      CLUSTER_REQUEST_TIMEOUT_MS,
    );
    this.#migrationTimeoutMs = positive(
      'migrationTimeoutMs',
      options.migrationTimeoutMs,
      CLUSTER_MIGRATION_TIMEOUT_MS,
    );
    this.#readyTimeoutMs = positive(
      'readyTimeoutMs',
      options.readyTimeoutMs,
      CLUSTER_READY_TIMEOUT_MS,
    );
    this.#antiEntropyIntervalMs = nonNegative(
      'antiEntropyIntervalMs',
      options.antiEntropyIntervalMs,
      CLUSTER_ANTI_ENTROPY_INTERVAL_MS,
    );
    const graceMs = nonNegative('expiryGraceMs', options.expiryGraceMs, CLUSTER_EXPIRY_GRACE_MS);
    this.#now = options.now ?? Date.now;
    this.#table = new PartitionTable(this.#viewSource.view, {
      partitionCount: this.#partitionCount,
      backups: this.#backups,
    });
    const near = options.nearCache === false ? undefined : (options.nearCache ?? {});
    this.#leaseMs = near ? positive('nearCache.leaseMs', near.leaseMs, NEAR_CACHE_LEASE_MS) : 0;
    this.#near = near
      ? new NearCache(
          nonNegative('nearCache.maxEntries', near.maxEntries, NEAR_CACHE_MAX_ENTRIES),
          this.#now,
        )
      : undefined;
    this.#holders = new LeaseHolders(this.#now);
    this.#locks = new SessionLocks({
      self: this.self.name,
      partitionCount: this.#partitionCount,
      partitionOf: (id) => this.#table.partitionOf(id),
      servable: (p) => this.#servable(p),
      fetchLeases: (member, ps) =>
        this.#transport.request(
          member,
          'map.leases',
          { ps },
          { timeoutMs: this.#requestTimeoutMs },
        ),
      maxLeaseMs: positive('lockMaxLeaseMs', options.lockMaxLeaseMs, LOCK_MAX_LEASE_MS),
      now: this.#now,
    });
    this.#store = new PartitionStore({
      partitionOf: (id) => this.#table.partitionOf(id),
      owns: (p) => this.#table.owner(p)?.name === this.self.name,
      onExpired: (id) => {
        this.#invalidateNow(id);
        this.#announce('expired', id);
      },
      graceMs,
      partialRetentionMs: CLUSTER_PARTIAL_RETENTION_MS,
      now: this.#now,
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
    this.#readyTimer = setTimeout(() => this.#markReady(), this.#readyTimeoutMs);
    this.#readyTimer.unref();
    if (this.#antiEntropyIntervalMs > 0) {
      this.#antiEntropyTimer = setInterval(
        () => void this.antiEntropy(),
        this.#antiEntropyIntervalMs,
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
    const started = this.#now();
    this.#checkOpen();
    const p = this.#table.partitionOf(id);
    // The fast path: this member owns the partition and serves it from memory.
    if (this.#servable(p) === undefined) {
      this.#count('get', started);
      return this.#liveCopy(id);
    }
    const cached = this.#near?.get(id);
    if (cached) {
      this.#count('get', started);
      return cached.record && isAlive(cached.record, this.#now())
        ? copyRecord(cached.record)
        : undefined;
    }
    const read = this.#near?.beginRead(id, p);
    try {
      const { body, table } = await this.#route(
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
   * Merges a delta into the session at its owner, which replicates it to the backups.
   * @throws {NotOwnerError} or {ClusterTimeoutError} when it could not be acknowledged by the deadline.
   */
  async merge(id: string, delta: SessionRecord): Promise<void> {
    const started = this.#now();
    this.#checkOpen();
    this.#near?.invalidate(id);
    const p = this.#table.partitionOf(id);
    await this.#route(p, 'map.merge', { id, r: delta }, (b) => this.#ownerMerge(b));
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
    return acquireLock({
      id,
      holder,
      options,
      parkMs: this.#requestTimeoutMs / 2,
      now: this.#now,
      route: async (body, deadline) =>
        (await this.#route(p, 'map.lock', body, (b) => this.#locks.request(b), deadline)).body,
      unlock: () =>
        this.#route(p, 'map.unlock', { id, holder }, (b) => ({
          body: this.#locks.release(b),
        })).then(
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
    const deadline = started + this.#operationTimeoutMs;
    let remaining = new Set<number>();
    for (let p = 0; p < this.#partitionCount; p++) remaining.add(p);
    const out = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      this.#checkOpen();
      const byOwner = new Map<string, { member: MemberAddress; ps: number[] }>();
      for (const p of remaining) {
        const owner = this.#table.owner(p);
        if (!owner) continue;
        const group = byOwner.get(owner.name) ?? { member: owner, ps: [] };
        group.ps.push(p);
        byOwner.set(owner.name, group);
      }
      const next = new Set<number>(byOwner.size === 0 ? remaining : []);
      await Promise.all(
        [...byOwner.values()].map(async ({ member, ps }) => {
          const body: Body = principal === undefined ? { ps } : { ps, principal };
          try {
            const answer =
              member.name === this.self.name
                ? this.#ownerScan(body)
                : await this.#transport.request(member, 'map.scan', body, {
                    timeoutMs: this.#requestTimeoutMs,
                  });
            for (const id of readIds(answer, 'ids')) out.add(id);
            for (const p of readPartitions(answer, this.#partitionCount, 'refused')) next.add(p);
          } catch (err) {
            if (!(err instanceof RetryableError)) throw err;
            for (const p of ps) next.add(p);
          }
        }),
      );
      remaining = next;
      if (remaining.size === 0) break;
      this.counters.retries++;
      if (this.#now() >= deadline) {
        throw new ClusterTimeoutError(
          `ids: ${remaining.size} partitions did not answer in ${this.#operationTimeoutMs} ms`,
        );
      }
      await sleep(backoffMs(attempt, CLUSTER_RETRY_BASE_MS, CLUSTER_RETRY_MAX_MS));
    }
    this.#count('scan', started);
    return [...out];
  }

  // ---- routing and retries ----

  /** Sends an operation to the owner of p (or serves it here), retrying until the deadline. */
  async #route(
    p: number,
    type: string,
    body: Body,
    serveHere: (body: Body, from: MemberAddress) => Attempt | Promise<Attempt>,
    until?: number,
  ): Promise<{ body: Body; table: PartitionTable }> {
    const deadline = Math.min(until ?? Infinity, this.#now() + this.#operationTimeoutMs);
    let lastRetry: RetryReason | undefined;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      this.#checkOpen();
      const table = this.#table;
      const owner = table.owner(p);
      if (owner !== undefined) {
        try {
          const outcome: Attempt =
            owner.name === this.self.name
              ? await serveHere(body, this.self)
              : this.#asAttempt(
                  await this.#transport.request(
                    owner,
                    type,
                    { ...body, v: table.viewId },
                    {
                      timeoutMs: Math.max(
                        1,
                        Math.min(this.#requestTimeoutMs, deadline - this.#now()),
                      ),
                    },
                  ),
                );
          if ('body' in outcome) return { body: outcome.body, table };
          lastRetry = outcome.retry;
        } catch (err) {
          if (!(err instanceof RetryableError)) throw err;
          lastRetry = undefined;
          lastError = err;
        }
      } else {
        lastRetry = 'not-owner';
      }
      this.counters.retries++;
      const pause = backoffMs(attempt, CLUSTER_RETRY_BASE_MS, CLUSTER_RETRY_MAX_MS);
      if (this.#now() + pause >= deadline) {
        const what = `${type} of partition ${p}`;
        if (lastRetry !== undefined) {
          throw new NotOwnerError(
            `${what}: no owner served it in ${this.#operationTimeoutMs} ms (last: ${lastRetry})`,
          );
        }
        throw new ClusterTimeoutError(
          `${what}: the owner did not answer in ${this.#operationTimeoutMs} ms`,
          {
            cause: lastError,
          },
        );
      }
      await sleep(pause);
    }
  }

  #asAttempt(body: Body): Attempt {
    const retry = retryOf(body);
    return retry === undefined ? { body } : { retry };
  }

  // ---- the owner's side ----

  /** Why this member cannot serve partition p as owner now, or undefined when it can. */
  #servable(p: number): RetryReason | undefined {
    if (this.#leaving) return 'leaving';
    if (this.#table.owner(p)?.name !== this.self.name) return 'not-owner';
    if (this.#states.get(p)?.pulling !== false) return 'migrating';
    const fence = this.#fences.get(p);
    if (fence !== undefined) {
      if (fence > this.#now()) return 'migrating';
      this.#fences.delete(p);
    }
    return undefined;
  }

  #ownerGet(body: Body, from: MemberAddress): Attempt {
    const id = readId(body);
    const p = this.#table.partitionOf(id);
    const refused = this.#servable(p);
    if (refused) return { retry: refused };
    const record = this.#liveCopy(id);
    if (body['nc'] === true && this.#leaseMs > 0 && from.name !== this.self.name) {
      this.#holders.add(id, from.name, this.#now() + this.#leaseMs);
      return { body: { r: record ?? null, lease: this.#leaseMs } };
    }
    return { body: { r: record ?? null } };
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
      if (outcome.destroyed) this.#announce('destroyed', id);
      await this.#invalidate(id);
      if (outcome.record && !(await this.#backUp(p, id, outcome.record)))
        return { retry: 'backup' };
      return { body: { ok: true } };
    } finally {
      this.#inFlight--;
    }
  }

  /**
   * Replicates the session `id` after a merge applied as owner. In sync mode at most one backup
   * round per session is in flight: the merges of it that arrive meanwhile wait and share the
   * next round, which sends the record as it is when that round starts (it holds them all). So
   * each merge is acknowledged by a round sent after it was applied (invariant 1), and a session
   * hit by many writers costs one round per round trip instead of one per write.
   */
  #backUp(p: number, id: string, record: SessionRecord): Promise<boolean> {
    // Nothing to wait for: async mode acknowledges at once, and without backups there is none.
    if (this.#writeMode === 'async' || this.#table.backupsOf(p).length === 0)
      return this.#replicate(p, [[id, record]]);
    this.counters.backup.merges++;
    const lane = this.#backupLanes.get(id);
    if (lane) return new Promise((resolve) => lane.push(resolve));
    const fresh: BackupLane = [];
    this.#backupLanes.set(id, fresh);
    return this.#backupRound(p, id, record, fresh);
  }

  async #backupRound(
    p: number,
    id: string,
    record: SessionRecord,
    waiting: BackupLane,
  ): Promise<boolean> {
    this.counters.backup.rounds++;
    try {
      return await this.#replicate(p, [[id, record]]);
    } finally {
      this.#nextBackupRound(p, id, waiting);
    }
  }

  /** The round of `id` returned: send one for the merges that waited, or close the lane. */
  #nextBackupRound(p: number, id: string, waiting: BackupLane): void {
    const record = this.#store.raw(id);
    if (waiting.length === 0 || record === undefined) {
      // No record left: it expired, or its partition was pushed away (to an owner that
      // acknowledged it): nothing of it is left to replicate from here.
      this.#backupLanes.delete(id);
      for (const resolve of waiting) resolve(true);
      return;
    }
    const next: BackupLane = [];
    this.#backupLanes.set(id, next);
    void this.#backupRound(p, id, record, next).then((ok) => {
      for (const resolve of waiting) resolve(ok);
    });
  }

  /** Sends records of p to its backups; in sync mode, true only when every backup acknowledged. */
  async #replicate(p: number, records: [string, SessionRecord][]): Promise<boolean> {
    const backups = this.#table.backupsOf(p);
    if (backups.length === 0) return true;
    const acks = backups.map((backup) => {
      this.counters.bytesSent += estimateBytes(records);
      const body =
        records.length === 1 ? { p, id: records[0]![0], r: records[0]![1] } : { p, records };
      return this.#transport
        .request(backup, 'map.backup', body, { timeoutMs: this.#requestTimeoutMs })
        .then((answer) => retryOf(answer) === undefined)
        .catch(() => false);
    });
    if (this.#writeMode === 'async') return true;
    return (await Promise.all(acks)).every(Boolean);
  }

  #ownerScan(body: Body): Body {
    const ps = readPartitions(body, this.#partitionCount);
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

  /** Before a change is acknowledged: every holder of a near-cached copy drops it, or its lease ends. */
  #invalidate(id: string, write = true): Promise<void> {
    // A write also waits for the invalidations of `id` still in progress: a holder they took (its
    // map.inv lost, its lease being waited out) still serves the old copy, and a retried or
    // concurrent write of `id` finds no holder left to take but must not be acknowledged before
    // that ends. A pull or a push (write = false) does not wait for them: the writes it carries
    // were acknowledged where they were made, and waiting out a dead holder's lease there would
    // only hold the migration up.
    return this.#holders.invalidate(id, (holders) => this.#sendInvalidations(id, holders), write);
  }

  async #sendInvalidations(id: string, holders: [string, number][]): Promise<void> {
    const members = new Map(this.#table.members.map((m) => [m.name, m]));
    await Promise.all(
      holders.map(async ([name, until]) => {
        const member = members.get(name);
        const wait = until - this.#now();
        if (wait <= 0) return;
        // A holder this member cannot reach by name (it left the view) may still read: wait its lease out.
        if (!member) return sleep(wait);
        this.counters.invalidationsSent++;
        try {
          await this.#transport.request(member, 'map.inv', { ids: [id] }, { timeoutMs: wait });
        } catch {
          const left = until - this.#now();
          if (left > 0) await sleep(left);
        }
      }),
    );
  }

  #invalidateNow(id: string): void {
    const members = new Map(this.#table.members.map((m) => [m.name, m]));
    for (const [name] of this.#holders.take(id)) {
      const member = members.get(name);
      if (member) this.#transport.send(member, 'map.inv', { ids: [id] });
    }
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
      case 'map.pull': {
        const p = readPartition(body, this.#partitionCount);
        // A member pulling p as its new owner: this member, if it still owns p under its view,
        // stops acknowledging writes of p now, so every write it acknowledged is in this answer.
        if (body['o'] === true && this.#table.owner(p)?.name === this.self.name)
          this.#fences.set(p, this.#now() + this.#migrationTimeoutMs);
        const after = body['after'];
        if (after !== undefined && typeof after !== 'string')
          throw new ClusterProtocolError('"after" is not a string');
        const page = this.#store.page(p, after, this.#pageBytes);
        this.counters.bytesSent += estimateBytes(page.records);
        return page.next === undefined
          ? { records: page.records }
          : { records: page.records, next: page.next };
      }
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
    const p = readPartition(body, this.#partitionCount);
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
    const p = readPartition(body, this.#partitionCount);
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
    await Promise.all(records.map(([id]) => this.#invalidate(id, false)));
    if (this.#table.owner(p)?.name === this.self.name && changed.length > 0) {
      if (!(await this.#replicate(p, changed))) return retryBody('backup');
    }
    return { ok: true };
  }

  // ---- view changes, migration, readiness ----

  #tableOf(view: ClusterView): PartitionTable {
    return new PartitionTable(view, {
      partitionCount: this.#partitionCount,
      backups: this.#backups,
    });
  }

  #applyView(view: ClusterView): void {
    if (this.#closed || this.#leaving) return;
    const before = this.#table;
    const after = this.#tableOf(view);
    this.#table = after;
    const plan = planMigration(before, after, this.self.name, new Set(this.#store.partitions()));
    // A new view decides who owns what: fences of the previous one end.
    this.#fences.clear();
    this.#locks.onView(before, after);
    // Members new to the view (a join, a healed split) may hold writes this member's near-cached
    // copies never saw, whoever owns their partitions now: the whole near cache goes.
    if (after.members.some((m) => m.name !== this.self.name && !before.has(m.name)))
      this.#near?.clear();
    else this.#near?.dropPartitions(plan.ownerChanged);
    for (const [name, ids] of this.#holders.takePartitions(
      (id) => after.partitionOf(id),
      plan.ownerChanged,
    )) {
      const member = before.members.find((m) => m.name === name);
      if (member) this.#transport.send(member, 'map.inv', { ids });
    }
    for (let p = 0; p < after.partitionCount; p++) {
      if (after.roleOf(p, this.self.name) === undefined) this.#states.delete(p);
    }
    for (const { p, from, owner } of plan.pulls) {
      const state = this.#states.get(p);
      if (from.length === 0) {
        if (state === undefined) this.#states.set(p, READY);
        else if (state.pulling) state.owner = owner;
        continue;
      }
      // A pull in progress takes the new sources: a view change (a flapping member) does not
      // restart what was already received.
      if (state?.pulling) {
        state.owner = owner;
        for (const member of from) state.sources.set(member.name, { member, after: undefined });
        continue;
      }
      const token = this.#nextToken++;
      const sources = new Map(from.map((member) => [member.name, { member, after: undefined }]));
      this.#states.set(p, { pulling: true, token, owner, sources });
      void this.#pull(p, token);
    }
    this.counters.migrations.promoted += plan.promotions.length;
    for (const { p, to, drop } of plan.pushes) void this.#push(p, to, drop, false);
    this.#checkReady();
  }

  /**
   * Pulls partition p from its sources still in the view, page by page, then serves it. At most
   * CLUSTER_MIGRATION_CONCURRENCY partitions at once, owned ones first; the deadline counts from
   * when this partition's turn came, so a long queue does not serve partitions unpulled.
   */
  async #pull(p: number, token: number): Promise<void> {
    const current = () => {
      const state = this.#states.get(p);
      return state?.pulling && state.token === token && !this.#closed ? state : undefined;
    };
    const urgent = current()?.owner === true;
    await this.#pullSlots.run(async () => {
      const deadline = this.#now() + this.#migrationTimeoutMs;
      for (let attempt = 0; this.#now() < deadline; attempt++) {
        const state = current();
        if (!state) return;
        for (const [name] of state.sources) if (!this.#table.has(name)) state.sources.delete(name);
        if (state.sources.size === 0) break;
        await Promise.all(
          [...state.sources.values()].map(async (source) => {
            const done = await this.#pullFrom(p, source, state, deadline);
            // Unless a newer view added the source again meanwhile.
            if (done && state.sources.get(source.member.name) === source)
              state.sources.delete(source.member.name);
          }),
        );
        if (state.sources.size > 0) await sleep(backoffMs(attempt, 20, 500));
      }
    }, urgent);
    if (!current()) return;
    this.#states.set(p, READY);
    this.counters.migrations.pulled++;
    this.#checkReady();
  }

  /** Every page of p from one source; false when a request failed (resumed on the next attempt). */
  async #pullFrom(
    p: number,
    source: PullSource,
    state: PartitionState,
    deadline: number,
  ): Promise<boolean> {
    for (;;) {
      if (this.#closed || this.#states.get(p) !== state || this.#now() >= deadline) return false;
      try {
        const body: Body = { p, o: state.pulling && state.owner };
        if (source.after !== undefined) body['after'] = source.after;
        const answer = await this.#transport.request(source.member, 'map.pull', body, {
          timeoutMs: this.#requestTimeoutMs,
        });
        const records = readRecords(answer);
        for (const [id, record] of records) this.#store.merge(id, record);
        // Copies this member leased out before (as owner of p under an earlier view) may be
        // older than what the pull brought: their holders drop them before p is served.
        await Promise.all(records.map(([id]) => this.#invalidate(id, false)));
        const next = answer['next'];
        if (typeof next !== 'string') return true;
        source.after = next;
      } catch (err) {
        if (err instanceof RetryableError || err instanceof ClusterProtocolError) return false;
        throw err;
      }
    }
  }

  /**
   * Pushes this member's copy of p to every member of `to` (the replicas of its new table); when
   * `drop`, forgets p once all acknowledged and nothing was merged into p meanwhile (else it
   * pushes again). Retried while the table stays the same (a hand-off: until its deadline); a
   * newer push of p supersedes this one; what is left is pushed again by the anti-entropy tick.
   */
  async #push(p: number, to: MemberAddress[], drop: boolean, handoff: boolean): Promise<boolean> {
    const token = this.#nextToken++;
    this.#pushes.set(p, token);
    const table = this.#table;
    try {
      return await this.#pushSlots.run(() => this.#pushRounds(p, to, drop, handoff, token, table));
    } catch {
      return false;
    } finally {
      if (this.#pushes.get(p) === token) this.#pushes.delete(p);
    }
  }

  async #pushRounds(
    p: number,
    to: MemberAddress[],
    drop: boolean,
    handoff: boolean,
    token: number,
    table: PartitionTable,
  ): Promise<boolean> {
    const deadline = this.#now() + this.#operationTimeoutMs;
    const current = (): boolean =>
      this.#pushes.get(p) === token &&
      (handoff ? !this.#closed && this.#now() < deadline : !this.#leaving && table === this.#table);
    // Per target, the last id it acknowledged (null: all of this round): a failed page resumes.
    let cursors = new Map<string, string | undefined | null>(to.map((m) => [m.name, undefined]));
    let version = this.#store.version(p);
    for (let attempt = 0; current(); attempt++) {
      if (this.#store.sizeOf(p) === 0) return true;
      await Promise.all(
        to.map(async (member) => {
          for (let after = cursors.get(member.name); after !== null;) {
            if (!current()) return;
            const page = this.#store.page(p, after, this.#pageBytes);
            if (page.records.length === 0) break;
            const body: Body = { p, records: page.records };
            if (handoff) body['handoff'] = true;
            this.counters.bytesSent += estimateBytes(page.records);
            const acked = await this.#transport
              .request(member, 'map.push', body, { timeoutMs: this.#requestTimeoutMs })
              .then((answer) => retryOf(answer) === undefined)
              .catch((err: unknown) => {
                if (!(err instanceof RetryableError)) throw err;
                return false;
              });
            if (!acked) return;
            after = page.next ?? null;
            cursors.set(member.name, after);
          }
          cursors.set(member.name, null);
        }),
      );
      if ([...cursors.values()].every((c) => c === null)) {
        this.counters.migrations.pushed++;
        if (!drop) return true;
        // Dropped only if this member still has no role for p (the view may have moved on), and
        // only what the pushes carried: a merge since this round began means one more round.
        if (!handoff && this.#table.roleOf(p, this.self.name) !== undefined) return true;
        if (this.#store.version(p) === version) {
          this.#store.dropPartition(p);
          return true;
        }
        cursors = new Map(to.map((m) => [m.name, undefined]));
        version = this.#store.version(p);
        continue;
      }
      await sleep(backoffMs(attempt, 20, 500));
    }
    return false;
  }

  #checkReady(): void {
    if (this.#ready) return;
    for (const state of this.#states.values()) if (state.pulling) return;
    this.#markReady();
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
      partitionCount: this.#partitionCount,
      requestTimeoutMs: this.#requestTimeoutMs,
      mergeRecords: (records) => {
        for (const [id, record] of records) {
          this.#store.merge(id, record);
          this.#invalidateNow(id);
        }
      },
    };
  }

  #antiEntropyRunning = false;
  #lastBackupAt = 0;

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
          if (!this.#pushes.has(p) && table.replicas(p).length > 0)
            await this.#push(p, [...table.replicas(p)], true, false);
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
    const waitUntil = this.#now() + this.#operationTimeoutMs;
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
          return replicas.length > 0 ? this.#push(p, replicas, drop, true) : true;
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
    let n = 0;
    for (const state of this.#states.values()) if (state.pulling) n++;
    return n;
  }

  /** Partitions this member is still pushing to their new replicas (migration not finished). */
  get pushing(): number {
    return this.#pushes.size;
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
    for (let p = 0; p < this.#partitionCount; p++) {
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

function estimateBytes(records: [string, SessionRecord][]): number {
  let bytes = 0;
  for (const [id, record] of records) bytes += recordBytes(id, record);
  return bytes;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new InvalidOptionError(name, 'a number > 0', v);
  return v;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new InvalidOptionError(name, 'a number >= 0', v);
  return v;
}
