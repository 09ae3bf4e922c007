// The records one member holds, grouped by partition: as owner, as backup, or (briefly) without
// a role until they are pushed to their owner. Tombstones included. One ExpiryQueue for all.

import { mergeInto } from '../../session/merge.js';
import {
  attributeBytes,
  expiresAt,
  isAlive,
  isComplete,
  type LiveRecord,
  type SessionRecord,
} from '../../session/record.js';
import { ExpiryQueue } from '../../store/expiry-queue.js';
import { PrincipalIndex } from '../../store/principal-index.js';

export interface PartitionStoreOptions {
  partitionOf: (id: string) => number;
  /** Whether this member owns partition p now: only the owner reports an expiry. */
  owns: (p: number) => boolean;
  /** The owner reported a live session's expiry (the one `expired` event of the cluster). */
  onExpired: (id: string, p: number) => void;
  /** A non-owner drops an expired copy this long after its deadline. */
  graceMs: number;
  /**
   * A delta to a session this member does not hold is kept this long, invisible to reads: on the
   * minority side of a split the session lives on the other side, and the heal merges the two.
   */
  partialRetentionMs: number;
  now: () => number;
}

export interface MergeOutcome {
  /** The record after the merge; undefined when it is not kept (dead and not a tombstone). */
  record: SessionRecord | undefined;
  /** The merge turned a live session into a tombstone. */
  destroyed: boolean;
}

export class PartitionStore {
  readonly #byPartition = new Map<number, Map<string, SessionRecord>>();
  readonly #principals = new PrincipalIndex();
  readonly #expiry: ExpiryQueue;
  readonly #options: PartitionStoreOptions;
  /** Bumped by every merge into a partition: a push drops only what it carried. */
  readonly #versions = new Map<number, number>();
  /** Deadlines of incomplete records (deltas without their session). */
  readonly #partialUntil = new Map<string, number>();

  constructor(options: PartitionStoreOptions) {
    this.#options = options;
    this.#expiry = new ExpiryQueue((id) => this.#deadline(id), options.now);
  }

  /** The stored record, tombstone or not (callers copy before handing it out). */
  raw(id: string): SessionRecord | undefined {
    return this.#byPartition.get(this.#options.partitionOf(id))?.get(id);
  }

  /** The live record, or undefined. */
  live(id: string): LiveRecord | undefined {
    const record = this.raw(id);
    return isAlive(record, this.#options.now()) ? record : undefined;
  }

  /**
   * Merges `delta` into the record of `id` by the CRDT rule. A record is kept while its lifetime
   * lasts (a tombstone too, so a destroyed session cannot come back); otherwise dropped.
   */
  merge(id: string, delta: SessionRecord): MergeOutcome {
    const p = this.#options.partitionOf(id);
    this.#versions.set(p, (this.#versions.get(p) ?? 0) + 1);
    let records = this.#byPartition.get(p);
    const existing = records?.get(id);
    const wasAlive = existing !== undefined && existing.destroyed === undefined;
    const record: SessionRecord = existing ?? {};
    // No copy of `delta` first: mergeInto keeps only its entries and registers, never modified.
    mergeInto(record, delta);
    let deadline = expiresAt(record);
    if (!isComplete(record)) {
      // Not a whole session: a delta (or a destroy) whose session lives elsewhere (a split), or
      // one that expired (then it never becomes alive: the fields that make a record complete
      // only come with a new session). Kept invisible, so the heal merges it with the session.
      deadline =
        this.#partialUntil.get(id) ?? this.#options.now() + this.#options.partialRetentionMs;
      this.#partialUntil.set(id, deadline);
    } else {
      this.#partialUntil.delete(id);
    }
    if (deadline <= this.#options.now()) {
      if (existing) this.#remove(id, p);
      return { record: undefined, destroyed: wasAlive && record.destroyed !== undefined };
    }
    if (!records) this.#byPartition.set(p, (records = new Map()));
    records.set(id, record);
    this.#principals.set(id, record.destroyed === undefined ? (record.principal?.v ?? null) : null);
    this.#expiry.schedule(id, deadline);
    return { record, destroyed: wasAlive && record.destroyed !== undefined };
  }

  /** Every record of partition p, tombstones included. */
  entries(p: number): [string, SessionRecord][] {
    return [...(this.#byPartition.get(p) ?? [])];
  }

  /**
   * One page of partition p in id order: the records after `after` (all from the start when
   * undefined), about `maxBytes` of them (at least one), and the last id when more follow.
   */
  page(
    p: number,
    after: string | undefined,
    maxBytes: number,
  ): { records: [string, SessionRecord][]; next: string | undefined } {
    const records = this.#byPartition.get(p);
    if (!records) return { records: [], next: undefined };
    const ids = [...records.keys()].filter((id) => after === undefined || id > after).sort();
    const out: [string, SessionRecord][] = [];
    let bytes = 0;
    for (const id of ids) {
      if (out.length > 0 && bytes >= maxBytes) return { records: out, next: out.at(-1)![0] };
      const record = records.get(id)!;
      out.push([id, record]);
      bytes += recordBytes(id, record);
    }
    return { records: out, next: undefined };
  }

  /** Changes with every merge into p: equal before and after a push means the push carried all. */
  version(p: number): number {
    return this.#versions.get(p) ?? 0;
  }

  /** Partitions this member holds records of. */
  partitions(): number[] {
    return [...this.#byPartition.keys()];
  }

  sizeOf(p: number): number {
    return this.#byPartition.get(p)?.size ?? 0;
  }

  get size(): number {
    let n = 0;
    for (const records of this.#byPartition.values()) n += records.size;
    return n;
  }

  /** Ids of live sessions in the given partitions, optionally only those of `principal`. */
  liveIds(partitions: Iterable<number>, principal?: string): string[] {
    const now = this.#options.now();
    const out: string[] = [];
    if (principal !== undefined) {
      const wanted = new Set(partitions);
      for (const id of this.#principals.ids(principal)) {
        if (wanted.has(this.#options.partitionOf(id)) && isAlive(this.raw(id), now)) out.push(id);
      }
      return out;
    }
    for (const p of partitions) {
      for (const [id, record] of this.#byPartition.get(p) ?? [])
        if (isAlive(record, now)) out.push(id);
    }
    return out;
  }

  /** Forgets partition p (after a push to its owner was acknowledged). */
  dropPartition(p: number): void {
    for (const id of this.#byPartition.get(p)?.keys() ?? []) {
      this.#principals.set(id, null);
      this.#expiry.remove(id);
      this.#partialUntil.delete(id);
    }
    this.#byPartition.delete(p);
  }

  close(): void {
    this.#expiry.stop();
  }

  #deadline(id: string): void {
    const p = this.#options.partitionOf(id);
    const record = this.#byPartition.get(p)?.get(id);
    if (!record) return;
    const now = this.#options.now();
    const partial = this.#partialUntil.get(id);
    if (partial !== undefined) {
      if (partial > now) this.#expiry.schedule(id, partial);
      else this.#remove(id, p);
      return;
    }
    const owner = this.#options.owns(p);
    // A backup waits a grace period: the owner may be about to extend the session (a touch in flight).
    if (!owner && expiresAt(record) + this.#options.graceMs > now) {
      this.#expiry.schedule(id, expiresAt(record) + this.#options.graceMs);
      return;
    }
    this.#remove(id, p);
    if (owner && record.destroyed === undefined) this.#options.onExpired(id, p);
  }

  #remove(id: string, p: number): void {
    const records = this.#byPartition.get(p);
    records?.delete(id);
    if (records?.size === 0) this.#byPartition.delete(p);
    this.#principals.set(id, null);
    this.#expiry.remove(id);
    this.#partialUntil.delete(id);
  }
}

/** Records are copied in and out, so no caller shares mutable state with the store. */
export function copyRecord<T extends SessionRecord>(record: T): T {
  const out = { ...record };
  if (record.attrs) out.attrs = { ...record.attrs };
  return out;
}

/** About the encoded size of a record, cheaply (the attribute values dominate). */
export function recordBytes(id: string, record: SessionRecord): number {
  return id.length + 96 + String(record.principal?.v ?? '').length + attributeBytes(record.attrs);
}

/** The estimated bytes of a batch of records (for the `bytesSent` counter). */
export function recordsBytes(records: [string, SessionRecord][]): number {
  let bytes = 0;
  for (const [id, record] of records) bytes += recordBytes(id, record);
  return bytes;
}
