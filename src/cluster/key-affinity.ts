// Key affinity and routes (after Infinispan's key affinity service and WildFly's
// distributable-web affinities): new ids are drawn until this member owns their partition, and
// a cookie's route names the members that hold the session.

import { generateId } from '../session/id.js';
import type { PartitionTable } from './partition-table.js';

export type Affinity = 'owner' | 'ranked' | 'local' | 'none';

export const AFFINITIES: readonly Affinity[] = ['owner', 'ranked', 'local', 'none'];

/**
 * An id whose partition `self` owns under `table`: about n draws for n members. After
 * `maxDraws` misses (this member owns nothing yet, say) the last draw is returned: any id works,
 * it only costs a hop.
 */
export function drawOwnedId(
  table: PartitionTable,
  self: string,
  maxDraws: number,
  draw = generateId,
): string {
  let id = draw();
  for (let i = 1; i < maxDraws && table.owner(table.partitionOf(id))?.name !== self; i++)
    id = draw();
  return id;
}

/** The routes a cookie of session `id` should carry under `table` for the given affinity. */
export function routesOf(
  table: PartitionTable,
  id: string,
  affinity: Affinity,
  self: string,
  maxRoutes = 4,
): string[] {
  switch (affinity) {
    case 'owner': {
      const owner = table.owner(table.partitionOf(id));
      return owner ? [owner.name] : [];
    }
    case 'ranked':
      return table
        .replicas(table.partitionOf(id))
        .slice(0, maxRoutes)
        .map((m) => m.name);
    case 'local':
      return [self];
    case 'none':
      return [];
  }
}
