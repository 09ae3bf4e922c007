// The owner's side of the near cache on the wire (docs/cluster-protocol.md, "Near cache"): it
// grants leases on the copies it serves, and before a change of a session is acknowledged every
// holder drops its copy (`map.inv`) or its lease ends; on an owner change it tells the holders
// without waiting.

import type { MapCounters } from '../metrics.js';
import { LeaseHolders } from '../near-cache.js';
import type { PartitionTable } from '../partition-table.js';
import type { Transport } from '../transport/transport.js';
import { sleep } from './retry.js';

export interface OwnerLeasesContext {
  readonly transport: Transport;
  readonly counters: MapCounters;
  /** The lease granted with each copy; 0: the near cache is off, nothing is granted. */
  readonly leaseMs: number;
  /** The table whose members are told: this member's current view. */
  table(): PartitionTable;
  now(): number;
}

export class OwnerLeases {
  readonly #ctx: OwnerLeasesContext;
  readonly #holders: LeaseHolders;

  constructor(ctx: OwnerLeasesContext) {
    this.#ctx = ctx;
    this.#holders = new LeaseHolders(ctx.now);
  }

  /** The lease `member` gets on its copy of `id`, or 0 when none is granted. */
  grant(id: string, member: string): number {
    if (this.#ctx.leaseMs <= 0 || member === this.#ctx.transport.self.name) return 0;
    this.#holders.add(id, member, this.#ctx.now() + this.#ctx.leaseMs);
    return this.#ctx.leaseMs;
  }

  /**
   * Resolves when every copy of `id` leased before now was dropped or its lease ended: a change
   * of it may then be acknowledged. A write (`write`) also waits for the invalidations of `id`
   * still in progress: a holder they took (its map.inv lost, its lease being waited out) still
   * serves the old copy, and a retried or concurrent write finds no holder left to take but must
   * not be acknowledged before that ends. A pull or a push does not wait for them: the writes it
   * carries were acknowledged where they were made, and waiting out a dead holder's lease there
   * would only hold the migration up.
   */
  beforeAck(id: string, write: boolean): Promise<void> {
    return this.#holders.invalidate(id, (holders) => this.#send(id, holders), write);
  }

  /** Tells the holders of `id` to drop it, waiting for nothing (expiry, anti-entropy repairs). */
  dropNow(id: string): void {
    const members = this.#members();
    for (const [name] of this.#holders.take(id)) {
      const member = members.get(name);
      if (member) this.#ctx.transport.send(member, 'map.inv', { ids: [id] });
    }
  }

  /**
   * The partitions `changed` have another owner in `after`: their holders are forgotten here and
   * told (best effort; each also drops them itself when its own view changes).
   */
  ownersChanged(before: PartitionTable, after: PartitionTable, changed: ReadonlySet<number>): void {
    const taken = this.#holders.takePartitions((id) => after.partitionOf(id), changed);
    for (const [name, ids] of taken) {
      const member = before.members.find((m) => m.name === name);
      if (member) this.#ctx.transport.send(member, 'map.inv', { ids });
    }
  }

  /** Each holder answered a map.inv, or its lease ended. */
  async #send(id: string, holders: [string, number][]): Promise<void> {
    const ctx = this.#ctx;
    const members = this.#members();
    await Promise.all(
      holders.map(async ([name, until]) => {
        const member = members.get(name);
        const wait = until - ctx.now();
        if (wait <= 0) return;
        // A holder this member cannot reach by name (it left the view) may still read: wait its lease out.
        if (!member) return sleep(wait);
        ctx.counters.invalidationsSent++;
        try {
          await ctx.transport.request(member, 'map.inv', { ids: [id] }, { timeoutMs: wait });
        } catch {
          const left = until - ctx.now();
          if (left > 0) await sleep(left);
        }
      }),
    );
  }

  #members() {
    return new Map(this.#ctx.table().members.map((m) => [m.name, m]));
  }
}
