// The owner's replication of what it applied to its backups (docs/cluster-protocol.md,
// "Replication", backup rounds): in sync mode at most one `map.backup` round per session in
// flight, answering the merges applied before it was sent, the later ones sharing the next; in
// async mode sent and acknowledged at once.

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
  /** Partition p's version: it changes with every merge into p (PartitionStore.version). */
  version(p: number): number;
}

/** Merges waiting for a backup round, each told whether it was acknowledged. */
type Waiters = ((acknowledged: boolean) => void)[];

/** One session's round in flight, and the merges it answers or that wait for the next. */
interface Lane {
  /** The partition's version when the round in flight was sent: the record sent holds every merge applied up to it. */
  sentAt: number;
  /** Merges applied before the round in flight was sent: its outcome answers them. */
  riding: Waiters;
  /** Merges applied after it was sent: they share the next round. */
  waiting: Waiters;
}

export class BackupRounds {
  readonly #ctx: BackupRoundsContext;
  /** Per session with a round in flight: its lane. */
  readonly #lanes = new Map<string, Lane>();

  constructor(ctx: BackupRoundsContext) {
    this.#ctx = ctx;
  }

  /**
   * Replicates the session `id` after a merge applied as owner at partition version `appliedAt`;
   * true once the backups have it. In sync mode at most one round per session is in flight: a
   * merge that finds one rides on it if it was applied before that round was sent (the record
   * sent holds it), else it waits and shares the next round, which sends the record as it is
   * when that round starts. So each merge is acknowledged by a round sent after it was applied
   * (invariant 1), and a session hit by many writers costs one round per round trip instead of
   * one per write.
   */
  backUp(p: number, id: string, record: SessionRecord, appliedAt: number): Promise<boolean> {
    // Nothing to wait for: async mode acknowledges at once, and without backups there is none.
    if (this.#ctx.writeMode === 'async' || this.#ctx.table().backupsOf(p).length === 0)
      return this.replicate(p, [[id, record]]);
    this.#ctx.counters.backup.merges++;
    const lane = this.#lanes.get(id);
    if (lane) {
      const waiters = appliedAt <= lane.sentAt ? lane.riding : lane.waiting;
      return new Promise((resolve) => waiters.push(resolve));
    }
    const fresh: Lane = { sentAt: 0, riding: [], waiting: [] };
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

  async #round(p: number, id: string, record: SessionRecord, lane: Lane): Promise<boolean> {
    this.#ctx.counters.backup.rounds++;
    // The record as it is now, not as the merge that started the round left it: while that merge
    // waited (invalidations) its record may have been dropped and made anew, and the merges that
    // ride on this round must be in what it sends. replicate() encodes it before it awaits.
    const live = this.#ctx.current(id) ?? record;
    lane.sentAt = this.#ctx.version(p);
    let ok = false;
    try {
      ok = await this.replicate(p, [[id, live]]);
      return ok;
    } finally {
      for (const resolve of lane.riding) resolve(ok);
      this.#next(p, id, lane.waiting);
    }
  }

  /** The round of `id` returned: send one for the merges that waited, or close the lane. */
  #next(p: number, id: string, waiting: Waiters): void {
    const record = this.#ctx.current(id);
    if (waiting.length === 0 || record === undefined) {
      // No record left: it expired, or its partition was pushed away (to an owner that
      // acknowledged it): nothing of it is left to replicate from here.
      this.#lanes.delete(id);
      for (const resolve of waiting) resolve(true);
      return;
    }
    const next: Lane = { sentAt: 0, riding: [], waiting: [] };
    this.#lanes.set(id, next);
    void this.#round(p, id, record, next).then((ok) => {
      for (const resolve of waiting) resolve(ok);
    });
  }
}
