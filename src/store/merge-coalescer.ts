// Write combining for the stores whose merge is a round trip (Redis, PostgreSQL, and the
// cluster's ClusterStore, where a merge waits for the owner and its backups): at most one merge
// of a session is in flight from this node; the deltas that arrive meanwhile are joined into
// one and written together when it returns. The join is session/merge.ts's, which is
// associative and commutative, so one combined write leaves the session exactly as the deltas
// written one by one would, and each caller is acknowledged only by a write that contains its
// delta and was sent after it called. A busy session (a page firing parallel requests) then
// costs one write per round trip instead of a queue of writes waiting on one row or key.

import { merge } from '../session/merge.js';
import type { SessionRecord } from '../session/record.js';

interface Waiting {
  delta: SessionRecord;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Lane {
  /** Deltas that arrived while a write was in flight, joined into the next write. */
  waiting: Waiting[];
}

export class MergeCoalescer {
  readonly #write: (id: string, delta: SessionRecord) => Promise<void>;
  /** One lane per session with a write in flight; removed when the lane drains. */
  readonly #lanes = new Map<string, Lane>();
  /** Writes sent and deltas they carried, for tests and the docs' figures. */
  writes = 0;
  deltas = 0;

  constructor(write: (id: string, delta: SessionRecord) => Promise<void>) {
    this.#write = write;
  }

  /**
   * Resolves once a write carrying `delta` is acknowledged. A destroy goes alone and at once:
   * its outcome (destroyed by this call, or already gone) is the caller's, not a batch's.
   */
  merge(id: string, delta: SessionRecord): Promise<void> {
    this.deltas++;
    if (delta.destroyed !== undefined) {
      this.writes++;
      return this.#write(id, delta);
    }
    const lane = this.#lanes.get(id);
    if (lane) {
      return new Promise<void>((resolve, reject) => lane.waiting.push({ delta, resolve, reject }));
    }
    this.#lanes.set(id, { waiting: [] });
    return this.#send(id, delta);
  }

  async #send(id: string, delta: SessionRecord): Promise<void> {
    this.writes++;
    try {
      await this.#write(id, delta);
    } finally {
      this.#next(id);
    }
  }

  /** The in-flight write returned: send what waited, joined, or close the lane. */
  #next(id: string): void {
    const lane = this.#lanes.get(id)!;
    const batch = lane.waiting;
    if (batch.length === 0) {
      this.#lanes.delete(id);
      return;
    }
    lane.waiting = [];
    let joined = batch[0]!.delta;
    for (let i = 1; i < batch.length; i++) joined = merge(joined, batch[i]!.delta);
    this.#send(id, joined).then(
      () => {
        for (const w of batch) w.resolve();
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
