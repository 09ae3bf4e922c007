// Sessions in this process's memory: for one node, for sticky-only deployments, and for tests.
// Bounded (least recently used first out) and expired through one ExpiryQueue, so it does not
// leak like express-session's MemoryStore.

import { MEMORY_STORE_MAX_SESSIONS } from '../defaults.js';
import { InvalidOptionError, StoreClosedError } from '../errors.js';
import { mergeInto } from '../session/merge.js';
import { expiresAt, isAlive, type LiveRecord, type SessionRecord } from '../session/record.js';
import { BaseStore } from './base-store.js';
import { ExpiryQueue } from './expiry-queue.js';
import { PrincipalIndex } from './principal-index.js';

export interface MemoryStoreOptions {
  /** Most sessions kept; past it the least recently used is evicted. Default 1,000,000. */
  maxSessions?: number;
  /** The clock, for tests. */
  now?: () => number;
}

export class MemoryStore extends BaseStore {
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used first.
  readonly #records = new Map<string, SessionRecord>();
  readonly #principals = new PrincipalIndex();
  readonly #expiry: ExpiryQueue;
  readonly #maxSessions: number;
  readonly #now: () => number;
  #closed = false;
  /** Sessions dropped to stay within maxSessions. */
  evictions = 0;

  constructor(options: MemoryStoreOptions = {}) {
    super();
    const max = options.maxSessions ?? MEMORY_STORE_MAX_SESSIONS;
    if (!Number.isInteger(max) || max < 1)
      throw new InvalidOptionError('maxSessions', 'an integer >= 1', max);
    this.#maxSessions = max;
    this.#now = options.now ?? Date.now;
    this.#expiry = new ExpiryQueue((id) => this.#expire(id), this.#now);
  }

  /** Sessions held, tombstones included. */
  get size(): number {
    return this.#records.size;
  }

  protected async readRecord(id: string): Promise<LiveRecord | undefined> {
    const record = this.readSync(id);
    return record && copy(record);
  }

  /** The synchronous read behind get(): the store's own record, to read at once and never modify. */
  readSync(id: string): LiveRecord | undefined {
    this.#check();
    const record = this.#records.get(id);
    if (!record) return undefined;
    if (!isAlive(record, this.#now())) {
      if (record.destroyed === undefined && expiresAt(record) <= this.#now()) this.#expire(id);
      return undefined;
    }
    this.#records.delete(id);
    this.#records.set(id, record);
    return record;
  }

  protected async mergeRecord(id: string, delta: SessionRecord): Promise<void> {
    this.mergeSync(id, delta);
  }

  /** The synchronous merge behind merge(). */
  mergeSync(id: string, delta: SessionRecord): void {
    this.#check();
    const existing = this.#records.get(id);
    const wasAlive = existing !== undefined && existing.destroyed === undefined;
    const record = existing ?? {};
    mergeInto(record, delta);
    this.#records.delete(id);
    const deadline = expiresAt(record);
    if (deadline <= this.#now() && record.destroyed === undefined && existing === undefined) return;
    this.#records.set(id, record);
    this.#principals.set(id, record.principal?.v ?? null);
    this.#expiry.schedule(id, deadline);
    if (record.destroyed !== undefined && wasAlive) this.emit('destroyed', id);
    while (this.#records.size > this.#maxSessions) {
      const oldest = this.#records.keys().next().value!;
      this.#drop(oldest);
      this.evictions++;
    }
  }

  protected async listIds(): Promise<string[]> {
    this.#check();
    const now = this.#now();
    const ids: string[] = [];
    for (const [id, record] of this.#records) if (isAlive(record, now)) ids.push(id);
    return ids;
  }

  protected async listIdsOfPrincipal(principal: string): Promise<string[]> {
    this.#check();
    const now = this.#now();
    return this.#principals.ids(principal).filter((id) => isAlive(this.#records.get(id), now));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#expiry.stop();
  }

  #expire(id: string): void {
    const record = this.#records.get(id);
    if (!record) return;
    this.#drop(id);
    if (record.destroyed === undefined) this.emit('expired', id);
  }

  #drop(id: string): void {
    this.#records.delete(id);
    this.#principals.set(id, null);
    this.#expiry.remove(id);
  }

  #check(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

/** Records are copied in and out, so no caller shares mutable state with the store. */
function copy<T extends SessionRecord>(record: T): T {
  const out = { ...record };
  if (record.attrs) out.attrs = { ...record.attrs };
  return out;
}
