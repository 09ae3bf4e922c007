// What a member child process answers on GET /status and /owner (cluster-data-node.ts,
// cluster-lock-app-node.ts): the fields cluster-data-process.ts waits on and the benches read.

import type { ReplicatedMap } from '../../src/cluster/replicated-map.js';

export function memberStatus(map: ReplicatedMap, name: string): Record<string, unknown> {
  return {
    ready: map.ready,
    members: map.table.members.map((m) => m.name),
    owned: map.table.ownedBy(name).length,
    held: map.heldSessions,
    migrating: map.migrating,
    pushing: map.pushing,
  };
}

/** The owner and the backups of the partition of `id`, under this member's view. */
export function rolesOf(
  map: ReplicatedMap,
  id: string,
): { owner: string | null; backups: string[] } {
  const p = map.table.partitionOf(id);
  return {
    owner: map.table.owner(p)?.name ?? null,
    backups: map.table.backupsOf(p).map((m) => m.name),
  };
}
