// The SessionStore interface that every store implements (memory, Redis, PostgreSQL, cluster).
// Native calls return promises; the same object is also an express-session (connect) store,
// through the callback forms that BaseStore (base-store.ts) provides once for all stores.

import type { EventEmitter } from 'node:events';
import type { SessionBackend } from '../session/backend.js';
import type { LiveRecord, SessionRecord } from '../session/record.js';

export interface StoreEvents {
  /** A session died of its idle or absolute timeout: fired once per session, not once per node. */
  expired: [id: string];
  /** A session was destroyed (logout, regenerate, revoke). */
  destroyed: [id: string];
}

export interface SessionStore extends EventEmitter {
  /**
   * The live session, or undefined when it does not exist, expired or was destroyed.
   * @throws {StoreUnavailableError} when the store cannot answer.
   */
  get(id: string): Promise<LiveRecord | undefined>;
  /**
   * Merges a delta into the session by the rule of session/merge.ts, atomically.
   * A delta that carries `destroyed` destroys the session.
   * @throws {StoreUnavailableError} when the write could not be acknowledged.
   */
  merge(id: string, delta: SessionRecord): Promise<void>;
  /** Destroys the session: its tombstone outlives any copy of it. */
  destroy(id: string): Promise<void>;
  /** Marks the session used at `at` (ms), extending its idle timeout; absolute expiry is unchanged. */
  touch(id: string, at?: number): Promise<void>;
  /** Ids of the live sessions whose principal is `principal`. */
  idsOfPrincipal(principal: string): Promise<string[]>;
  /** Ids of every live session (express-session's all/length/clear use it). */
  ids(): Promise<string[]>;
  close(): Promise<void>;
  /**
   * Synchronous forms of get() and merge(), for what a store holds in this process; readSync()
   * answers null when it cannot tell without the server (see SessionBackend).
   */
  readSync?(id: string): LiveRecord | undefined | null;
  mergeSync?(id: string, delta: SessionRecord): void;
  /** Key affinity: an id this node should create (the cluster draws one whose partition it owns). */
  generateId?(): string;
  /** The routes a cookie of this session should carry now (the cluster: its owner, then backups). */
  routesOf?(id: string): readonly string[];
  /**
   * A lock of one session held across every process that uses this store (ClusterStore: a lease
   * at the session's owner, `lock: 'cluster'`); resolves, once granted, to its release.
   * @throws {LockTimeoutError} when it was not granted within `waitMs`.
   */
  lock?(id: string, options?: { leaseMs?: number; waitMs?: number }): Promise<() => void>;
}

// Every SessionStore is what the SessionManager needs; this line fails to compile otherwise.
type Assert<T extends true> = T;
export type _StoreIsBackend = Assert<SessionStore extends SessionBackend ? true : false>;
