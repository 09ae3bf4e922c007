// Least-connections: the node with the fewest requests in flight per unit of weight (slow start
// lowers the weight of a node that just came back). Ties go round-robin, so an idle farm still spreads.

import { candidate, type Balancer, type PickContext } from './balancer.js';
import type { Upstream } from '../upstream-pool.js';

export function createLeastConnections(slowStartMs: number): Balancer {
  let next = 0;
  return {
    pick(list: readonly Upstream[], context: PickContext): Upstream | undefined {
      let best: Upstream | undefined;
      let bestScore = Infinity;
      const n = list.length;
      const start = next++ % n;
      for (let i = 0; i < n; i++) {
        const upstream = list[(start + i) % n]!;
        if (!candidate(upstream, context)) continue;
        const score = (upstream.stats.active + 1) / upstream.weight(context.now, slowStartMs);
        if (score < bestScore) {
          best = upstream;
          bestScore = score;
        }
      }
      return best;
    },
  };
}
