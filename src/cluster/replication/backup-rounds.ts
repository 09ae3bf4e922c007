// The owner's replication of what it applied to its backups (docs/cluster-protocol.md, "Backup
// rounds"): in sync mode at most one `map.backup` round per session in flight, the merges that
// arrive meanwhile sharing the next one; in async mode sent and acknowledged at once.

import type { SessionRecord } from '../../session/record.js';
import type { MapCounters } from '../metrics.js';
import type { PartitionTable } from '../partition-table.js';
import type { Transport } from '../transport/transport.js';
import { retryOf } from './messages.js';
import { recordsBytes } from './partition-store.js';

export type WriteMode = 'sync' | 'async';

export interface BackupRoundsContext {
  readonly transport: Transport;
  readonly counters: MapCounters;
  readonly writeMode: WriteMode;
  readonly requestTimeoutMs: number;
  /** The table whose backups are sent to: this member's current view. */
  table(): PartitionTable;
  /** This member's record of a session as it is now (tombstones included). */
  current(id: string): SessionRecord | undefined;
}

/** The merges of one session waiting for its next backup round, each told whether it was acknowledged. */
type BackupLane = ((acknowledged: boolean) => void)[];

export class BackupRounds {
  readonly #ctx: BackupRoundsContext;
  /** Per session with a round in flight: the merges waiting for the next. */
  readonly #lanes = new Map<string, BackupLane>();

  constructor(ctx: BackupRoundsContext) {
    this.#ctx = ctx;
  }

  /**
   * Replicates the session `id` after a merge applied as owner; true once the backups have it.
   * In sync mode at most one round per session is in flight: the merges of it that arrive
   * meanwhile wait and share the next round, which sends the record as it is when that round
   * starts (it holds them all). So each merge is acknowledged by a round sent after it was
   * applied (invariant 1), and a session hit by many writers costs one round per round trip
   * instead of one per write.
   */
  backUp(p: number, id: string, record: SessionRecord): Promise<boolean> {
    // Nothing to wait for: async mode acknowledges at once, and without backups there is none.
    if (this.#ctx.writeMode === 'async' || this.#ctx.table().backupsOf(p).length === 0)
      return this.replicate(p, [[id, record]]);
    this.#ctx.counters.backup.merges++;
    const lane = this.#lanes.get(id);
    if (lane) return new Promise((resolve) => lane.push(resolve));
    const fresh: BackupLane = [];
    this.#lanes.set(id, fresh);
    return this.#round(p, id, record, fresh);
  }

  /** Sends records of p to its backups; in sync mode, true only when every backup acknowledged. */
  async replicate(p: number, records: [string, SessionRecord][]): Promise<boolean> {
    const ctx = this.#ctx;
    const backups = ctx.table().backupsOf(p);
    if (backups.length === 0) return true;
    const body =
      records.length === 1 ? { p, id: records[0]![0], r: records[0]![1] } : { p, records };
    const bytes = recordsBytes(records);
    const acks = backups.map((backup) => {
      ctx.counters.bytesSent += bytes;
      return ctx.transport
        .request(backup, 'map.backup', body, { timeoutMs: ctx.requestTimeoutMs })
        .then((answer) => retryOf(answer) === undefined)
        .catch(() => false);
    });
    if (ctx.writeMode === 'async') return true;
    return (await Promise.all(acks)).every(Boolean);
  }

  async #round(
    p: number,
    id: string,
    record: SessionRecord,
    waiting: BackupLane,
  ): Promise<boolean> {
    this.#ctx.counters.backup.rounds++;
    try {
      return await this.replicate(p, [[id, record]]);
    } finally {
      this.#next(p, id, waiting);
    }
  }

  /** The round of `id` returned: send one for the merges that waited, or close the lane. */
  #next(p: number, id: string, waiting: BackupLane): void {
    const record = this.#ctx.current(id);
    if (waiting.length === 0 || record === undefined) {
      // No record left: it expired, or its partition was pushed away (to an owner that
      // acknowledged it): nothing of it is left to replicate from here.
      this.#lanes.delete(id);
      for (const resolve of waiting) resolve(true);
      return;
    }
    const next: BackupLane = [];
    this.#lanes.set(id, next);
    void this.#round(p, id, record, next).then((ok) => {
      for (const resolve of waiting) resolve(ok);
    });
  }
}
