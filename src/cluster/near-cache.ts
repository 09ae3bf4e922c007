// The near cache (docs/cluster-protocol.md, "Near cache"): on a member, copies of sessions read
// from other owners, each valid for a lease; on the owner, who holds which copy until when, so a
// change waits for the holders' invalidation (or their lease's end) before it is acknowledged.

import type { LiveRecord } from '../session/record.js';

interface Entry {
  record: LiveRecord | undefined;
  p: number;
  until: number;
}

/** A read from the owner in flight: voided by an invalidation of its session before it returns. */
export interface PendingRead {
  readonly p: number;
  pending: number;
  voided: boolean;
}

/** The holder's side: bounded, least recently used out, each entry trusted until its lease ends. */
export class NearCache {
  /**
   * Reads in flight per session. An invalidation can overtake the reply of a read the owner
   * answered before the change: that reply is then not cached.
   */
  readonly #reads = new Map<string, PendingRead>();
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used first.
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #now: () => number;
  hits = 0;
  misses = 0;
  invalidations = 0;

  constructor(maxEntries: number, now: () => number) {
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached copy: `{ record }` (record undefined = known absent), or undefined on a miss. */
  get(id: string): { record: LiveRecord | undefined } | undefined {
    const entry = this.#entries.get(id);
    if (!entry || entry.until <= this.#now()) {
      if (entry) this.#entries.delete(id);
      this.misses++;
      return undefined;
    }
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    this.hits++;
    return { record: entry.record };
  }

  /** Before a read is sent to the owner: its reply may be cached only if nothing voids this. */
  beginRead(id: string, p: number): PendingRead {
    let read = this.#reads.get(id);
    if (!read) this.#reads.set(id, (read = { p, pending: 0, voided: false }));
    read.pending++;
    return read;
  }

  /** After the read's reply was handled (cached or not). */
  endRead(id: string, read: PendingRead): void {
    read.pending--;
    if (read.pending === 0 && this.#reads.get(id) === read) this.#reads.delete(id);
  }

  /**
   * Keeps a copy read from the owner; `until` counts from when the read was sent. Nothing is kept
   * when the session was invalidated (or its partition dropped) while the read was in flight.
   */
  set(
    id: string,
    p: number,
    record: LiveRecord | undefined,
    until: number,
    read?: PendingRead,
  ): void {
    if (read?.voided === true) return;
    if (this.#maxEntries === 0 || until <= this.#now()) return;
    this.#entries.delete(id);
    this.#entries.set(id, { record, p, until });
    while (this.#entries.size > this.#maxEntries)
      this.#entries.delete(this.#entries.keys().next().value!);
  }

  invalidate(id: string): void {
    this.#void(id);
    if (this.#entries.delete(id)) this.invalidations++;
  }

  #void(id: string): void {
    const read = this.#reads.get(id);
    if (!read) return;
    read.voided = true;
    this.#reads.delete(id);
  }

  /** Drops every entry of the given partitions (their owner changed). */
  dropPartitions(partitions: ReadonlySet<number>): void {
    if (partitions.size === 0) return;
    for (const [id, read] of this.#reads) if (partitions.has(read.p)) this.#void(id);
    for (const [id, entry] of this.#entries) if (partitions.has(entry.p)) this.#entries.delete(id);
  }

  clear(): void {
    for (const id of [...this.#reads.keys()]) this.#void(id);
    this.#entries.clear();
  }
}

/** The owner's side: per session, the members holding a copy and when their lease ends. */
export class LeaseHolders {
  readonly #byId = new Map<string, Map<string, number>>();
  /**
   * Per session, the invalidations sent and not yet ended: the holders they took are no longer in
   * #byId, yet each may serve its copy until it answers or its lease ends.
   */
  readonly #pending = new Map<string, Promise<void>>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  add(id: string, member: string, until: number): void {
    let holders = this.#byId.get(id);
    if (!holders) this.#byId.set(id, (holders = new Map()));
    holders.set(member, Math.max(until, holders.get(member) ?? 0));
  }

  /** Removes and returns the holders of `id` whose lease has not ended. */
  take(id: string): [member: string, until: number][] {
    const holders = this.#byId.get(id);
    if (!holders) return [];
    this.#byId.delete(id);
    const now = this.#now();
    return [...holders].filter(([, until]) => until > now);
  }

  /**
   * Takes the holders of `id` and has `send` invalidate them (it resolves once each answered or its
   * lease ended); resolves when that ended. With `waitEarlier` (a write), also waits for every
   * earlier invalidation of `id` still in progress: the write must not be acknowledged while a
   * holder taken by an earlier one (its `map.inv` lost, its lease being waited out) still serves
   * the copy from before, though this call finds no holder of its own left to invalidate. Either
   * way this one is remembered until it ended, so later writes wait for it.
   */
  invalidate(
    id: string,
    send: (holders: [member: string, until: number][]) => Promise<void>,
    waitEarlier: boolean,
  ): Promise<void> {
    const holders = this.take(id);
    const earlier = waitEarlier ? this.#pending.get(id) : undefined;
    if (holders.length === 0) return earlier ?? Promise.resolve();
    const sent = send(holders);
    const done = Promise.all([this.#pending.get(id), sent]).then(() => undefined);
    this.#pending.set(id, done);
    const forget = (): void => {
      if (this.#pending.get(id) === done) this.#pending.delete(id);
    };
    void done.then(forget, forget);
    return waitEarlier ? done : sent;
  }

  /** Removes and returns, per member, the ids it holds in the given partitions. */
  takePartitions(
    partitionOf: (id: string) => number,
    partitions: ReadonlySet<number>,
  ): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const id of [...this.#byId.keys()]) {
      if (!partitions.has(partitionOf(id))) continue;
      for (const [member] of this.take(id)) {
        const ids = out.get(member) ?? [];
        ids.push(id);
        out.set(member, ids);
      }
    }
    return out;
  }

  get size(): number {
    return this.#byId.size;
  }
}
