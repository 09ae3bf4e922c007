// The options of the replicated session map and their defaults (docs/cluster-protocol.md), read
// and checked once: every number is validated here, so the map and its parts take them as given.

import {
  CLUSTER_ANTI_ENTROPY_INTERVAL_MS,
  CLUSTER_BACKUPS,
  CLUSTER_EXPIRY_GRACE_MS,
  CLUSTER_MIGRATION_TIMEOUT_MS,
  CLUSTER_OPERATION_TIMEOUT_MS,
  CLUSTER_READY_TIMEOUT_MS,
  CLUSTER_REQUEST_TIMEOUT_MS,
  NEAR_CACHE_LEASE_MS,
  NEAR_CACHE_MAX_ENTRIES,
  PARTITION_COUNT,
} from '../defaults.js';
import { InvalidOptionError } from '../errors.js';
import { nonNegative, positive } from '../options.js';
import type { WriteMode } from './replication/backup-rounds.js';
import { LOCK_MAX_LEASE_MS } from './session-lock.js';
import type { Transport } from './transport/transport.js';
import type { ViewSource } from './view.js';

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

/** The options with every default filled in and every number checked. */
export interface MapSettings {
  readonly partitionCount: number;
  readonly backups: number;
  readonly writeMode: WriteMode;
  readonly operationTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly migrationTimeoutMs: number;
  readonly readyTimeoutMs: number;
  readonly antiEntropyIntervalMs: number;
  readonly expiryGraceMs: number;
  /** Undefined: no near cache. */
  readonly nearCache: { readonly maxEntries: number; readonly leaseMs: number } | undefined;
  readonly lockMaxLeaseMs: number;
  readonly now: () => number;
}

/** @throws {InvalidOptionError} for an option out of range. */
export function mapSettings(options: ReplicatedMapOptions): MapSettings {
  const writeMode = options.writeMode ?? 'sync';
  if (writeMode !== 'sync' && writeMode !== 'async')
    throw new InvalidOptionError('writeMode', '"sync" or "async"', writeMode);
  const near = options.nearCache === false ? undefined : (options.nearCache ?? {});
  return {
    partitionCount: options.partitionCount ?? PARTITION_COUNT,
    backups: options.backups ?? CLUSTER_BACKUPS,
    writeMode,
    operationTimeoutMs: positive(
      'operationTimeoutMs',
      options.operationTimeoutMs,
      CLUSTER_OPERATION_TIMEOUT_MS,
    ),
    requestTimeoutMs: positive(
      'requestTimeoutMs',
      options.requestTimeoutMs,
      CLUSTER_REQUEST_TIMEOUT_MS,
    ),
    migrationTimeoutMs: positive(
      'migrationTimeoutMs',
      options.migrationTimeoutMs,
      CLUSTER_MIGRATION_TIMEOUT_MS,
    ),
    readyTimeoutMs: positive('readyTimeoutMs', options.readyTimeoutMs, CLUSTER_READY_TIMEOUT_MS),
    antiEntropyIntervalMs: nonNegative(
      'antiEntropyIntervalMs',
      options.antiEntropyIntervalMs,
      CLUSTER_ANTI_ENTROPY_INTERVAL_MS,
    ),
    expiryGraceMs: nonNegative('expiryGraceMs', options.expiryGraceMs, CLUSTER_EXPIRY_GRACE_MS),
    nearCache: near && {
      maxEntries: nonNegative('nearCache.maxEntries', near.maxEntries, NEAR_CACHE_MAX_ENTRIES),
      leaseMs: positive('nearCache.leaseMs', near.leaseMs, NEAR_CACHE_LEASE_MS),
    },
    lockMaxLeaseMs: positive('lockMaxLeaseMs', options.lockMaxLeaseMs, LOCK_MAX_LEASE_MS),
    now: options.now ?? Date.now,
  };
}
