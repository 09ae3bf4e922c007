// Power of two random choices: two eligible nodes at random, the less loaded one wins. Nearly as
// even as least-connections, without every proxy worker herding onto the same idle node.

import { candidate, type Balancer, type PickContext } from './balancer.js';
import type { Upstream } from '../upstream-pool.js';

export function createRandomTwo(slowStartMs: number, random: () => number = Math.random): Balancer {
  return {
    pick(list: readonly Upstream[], context: PickContext): Upstream | undefined {
      const eligible = list.filter((upstream) => candidate(upstream, context));
      if (eligible.length <= 1) return eligible[0];
      const i = Math.floor(random() * eligible.length);
      let j = Math.floor(random() * (eligible.length - 1));
      if (j >= i) j++;
      const a = eligible[i]!;
      const b = eligible[j]!;
      const score = (u: Upstream): number =>
        (u.stats.active + 1) / u.weight(context.now, slowStartMs);
      return score(b) < score(a) ? b : a;
    },
  };
}
