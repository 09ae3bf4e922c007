// Round-robin: each eligible node in turn. A node in slow start is skipped with the probability
// of its missing weight, so it gets its ramped share.

import { candidate, type Balancer, type PickContext } from './balancer.js';
import type { Upstream } from '../upstream-pool.js';

export function createRoundRobin(
  slowStartMs: number,
  random: () => number = Math.random,
): Balancer {
  let next = 0;
  return {
    pick(list: readonly Upstream[], context: PickContext): Upstream | undefined {
      const n = list.length;
      let fallback: Upstream | undefined;
      for (let i = 0; i < n; i++) {
        const upstream = list[next++ % n]!;
        if (!candidate(upstream, context)) continue;
        fallback ??= upstream;
        if (random() < upstream.weight(context.now, slowStartMs)) return upstream;
      }
      return fallback;
    },
  };
}
