// A bounded copy of the sessions this app node read or wrote, kept valid by Redis itself: the
// connection that reads and writes runs CLIENT TRACKING (RESP3) with NOLOOP, so Redis tells it
// when any other connection changes a key it read, and never about its own writes, whose
// result the merge script returns. With sticky routing a session's reads cost no round trip.

import type { SessionRecord } from '../../session/record.js';

export class NearCache {
  readonly #entries = new Map<string, SessionRecord>();
  readonly #maxEntries: number;
  // Bumped by every invalidation: a reply that was in flight while one arrived may predate it
  // (the push can be parsed before the reply's continuation runs), so it is not cached.
  #epoch = 0;
  hits = 0;
  misses = 0;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
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
    if (epoch !== this.#epoch) return;
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
}
