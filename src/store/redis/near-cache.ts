// A bounded copy of the sessions this app node read or wrote, kept valid by what Redis tells it:
// CLIENT TRACKING (RESP3, NOLOOP) on a standalone client, the invalidation channel
// (invalidation-channel.ts) on a Cluster or Sentinel client. Neither reports this node's own
// writes, whose result the merge script returns. With sticky routing a read costs no round trip.

import type { SessionRecord } from '../../session/record.js';

export class NearCache {
  readonly #entries = new Map<string, SessionRecord>();
  readonly #maxEntries: number;
  // Bumped by every invalidation: a reply that was in flight while one arrived may predate it
  // (the push can be parsed before the reply's continuation runs), so it is not cached.
  #epoch = 0;
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

  /** Keeps `record` unless an invalidation arrived since `epoch` was read. */
  set(id: string, record: SessionRecord, epoch: number): void {
    if (epoch !== this.#epoch || !this.#live) return;
    this.#entries.delete(id);
    this.#entries.set(id, record);
    if (this.#entries.size > this.#maxEntries)
      this.#entries.delete(this.#entries.keys().next().value!);
  }

  invalidate(id: string): void {
    this.#epoch++;
    this.#entries.delete(id);
  }

  /** Forgets everything: a flush, or a lost connection (whose invalidations may be lost too). */
  clear(): void {
    this.#epoch++;
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
