// A bounded copy of the sessions this app node read or wrote, kept valid by what Redis tells it:
// CLIENT TRACKING (RESP3, NOLOOP) on a standalone client, the invalidation channel
// (invalidation-channel.ts) on a Cluster or Sentinel client. Neither reports this node's own
// writes, whose result the merge script returns. With sticky routing a read costs no round trip.

import type { SessionRecord } from '../../session/record.js';

/** Invalidations remembered by session; older ones count as if they had hit every session. */
const RECENT_INVALIDATIONS = 4096;

export class NearCache {
  readonly #entries = new Map<string, SessionRecord>();
  readonly #maxEntries: number;
  // Bumped by every invalidation and clear. A reply that was in flight while an invalidation of
  // its session arrived may predate it (the push can be parsed before the reply's continuation
  // runs), so it is not kept. That is decided per session, so that on a busy deployment, where
  // every write anywhere invalidates, the other sessions' replies are still kept: #recent holds
  // the epoch of each session's last invalidation, bounded; a reply older than what was pruned
  // from it, or than the last clear, is not kept.
  #epoch = 0;
  readonly #recent = new Map<string, number>();
  #prunedUpTo = 0;
  #clearedAt = 0;
  // Off while whatever invalidates the cache is not known to be listening (not yet subscribed,
  // or lost): nothing is kept, since a change made meanwhile would never be reported.
  #live: boolean;
  hits = 0;
  misses = 0;

  /** `live`: keep entries from the start (false: only after resume()). */
  constructor(maxEntries: number, live = true) {
    this.#maxEntries = maxEntries;
    this.#live = live;
  }

  get size(): number {
    return this.#entries.size;
  }

  get epoch(): number {
    return this.#epoch;
  }

  get(id: string): SessionRecord | undefined {
    const record = this.#entries.get(id);
    if (record === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#entries.delete(id);
    this.#entries.set(id, record);
    return record;
  }

  /**
   * Keeps `record` unless an invalidation of `id` (or a clear) came since `epoch` was read; then
   * the entry of `id` is dropped rather than kept as it was (it may predate this node's write).
   */
  set(id: string, record: SessionRecord, epoch: number): void {
    this.#entries.delete(id);
    if (!this.#live || epoch < this.#clearedAt || epoch < this.#prunedUpTo) return;
    if ((this.#recent.get(id) ?? 0) > epoch) return;
    this.#entries.set(id, record);
    if (this.#entries.size > this.#maxEntries)
      this.#entries.delete(this.#entries.keys().next().value!);
  }

  invalidate(id: string): void {
    this.#epoch++;
    this.#entries.delete(id);
    this.#recent.delete(id);
    this.#recent.set(id, this.#epoch);
    if (this.#recent.size > RECENT_INVALIDATIONS) {
      const [oldest, at] = this.#recent.entries().next().value!;
      this.#recent.delete(oldest);
      this.#prunedUpTo = at;
    }
  }

  /** Forgets everything: a flush, or a lost connection (whose invalidations may be lost too). */
  clear(): void {
    this.#epoch++;
    this.#clearedAt = this.#epoch;
    this.#entries.clear();
  }

  /** Forgets everything and keeps nothing until resume(): invalidations are not heard now. */
  suspend(): void {
    this.#live = false;
    this.clear();
  }

  /**
   * Keeps entries again, from reads started from now on: invalidations are heard again. The
   * epoch moves, so a read sent while suspended (a change since may be unreported) is not kept.
   */
  resume(): void {
    this.clear();
    this.#live = true;
  }
}
