// What a member must do for each partition when its view changes (docs/cluster-protocol.md,
// "Migration"): a pure plan from the old and new tables; replication/partition-migration.ts carries it out.

import type { PartitionTable } from './partition-table.js';
import type { MemberAddress } from './transport/transport.js';

export interface MigrationPlan {
  /**
   * Partitions this member holds in the new table and must pull before serving them: from the
   * previous replicas when it held no role, and from every member new to the view (it may hold
   * writes from the other side of a healed split). `owner`: pulled as the new owner.
   */
  pulls: { p: number; from: MemberAddress[]; owner: boolean }[];
  /** Partitions this member backed up and now owns: served at once, no pull. */
  promotions: number[];
  /**
   * Partitions to push to every replica of the new table; `drop` once all acknowledged when no
   * role is left here.
   */
  pushes: { p: number; to: MemberAddress[]; drop: boolean }[];
  /** Partitions whose owner changed: near-cache entries and lease holders of them are void. */
  ownerChanged: Set<number>;
}

/**
 * @param held partitions this member has records of (a role, or leftovers not yet pushed).
 */
export function planMigration(
  before: PartitionTable,
  after: PartitionTable,
  self: string,
  held: ReadonlySet<number>,
): MigrationPlan {
  const plan: MigrationPlan = { pulls: [], promotions: [], pushes: [], ownerChanged: new Set() };
  const added = after.members.filter((m) => m.name !== self && !before.has(m.name));
  for (let p = 0; p < after.partitionCount; p++) {
    const was = before.roleOf(p, self);
    const now = after.roleOf(p, self);
    const newOwner = after.owner(p);
    if (before.owner(p)?.name !== newOwner?.name) plan.ownerChanged.add(p);
    if (now !== undefined && (was === undefined || added.length > 0)) {
      const from = new Map<string, MemberAddress>();
      if (was === undefined) {
        for (const m of before.replicas(p))
          if (m.name !== self && after.has(m.name)) from.set(m.name, m);
      }
      for (const m of added) from.set(m.name, m);
      plan.pulls.push({ p, from: [...from.values()], owner: now === 'owner' });
    }
    if (now === 'owner' && was === 'backup') plan.promotions.push(p);
    if (newOwner === undefined || newOwner.name === self) continue;
    // A former owner pushes even when it stays a backup: it may have acknowledged writes after the
    // new owner pulled and before it saw this view. It pushes to the backups too, so a backup
    // still pulling holds them even if the new owner dies before it replicated them.
    if (was === 'owner' || (now === undefined && held.has(p))) {
      const to = after.replicas(p).filter((m) => m.name !== self);
      plan.pushes.push({ p, to, drop: now === undefined });
    }
  }
  return plan;
}
