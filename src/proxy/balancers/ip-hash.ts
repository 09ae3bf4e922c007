// Consistent ip-hash: a hash ring with virtual points per node (ketama-like). A client address maps to
// the first eligible node clockwise from its hash, so adding or removing one of n nodes moves only
// about 1/n of the clients, and a node that is down sends its clients to its ring neighbours only.

import { candidate, type Balancer, type PickContext } from './balancer.js';
import type { Upstream } from '../upstream-pool.js';
import { PROXY_HASH_RING_POINTS } from '../../defaults.js';

/** FNV-1a over UTF-16 code units with a murmur3 finalizer: fast and well spread for short keys. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Ring {
  readonly points: Uint32Array;
  readonly owners: Upstream[];
}

function buildRing(list: readonly Upstream[], pointsPerNode: number): Ring {
  const entries: Array<[number, Upstream]> = [];
  // Points are keyed by the node's name, not its index, so the ring does not depend on list order.
  for (const upstream of list) {
    for (let i = 0; i < pointsPerNode; i++)
      entries.push([hash32(`${upstream.name}#${i}`), upstream]);
  }
  entries.sort((a, b) => a[0] - b[0]);
  return { points: Uint32Array.from(entries, (e) => e[0]), owners: entries.map((e) => e[1]) };
}

export function createIpHash(pointsPerNode = PROXY_HASH_RING_POINTS): Balancer {
  let ring: Ring | undefined;
  let ringOf: readonly Upstream[] | undefined;
  return {
    pick(list: readonly Upstream[], context: PickContext): Upstream | undefined {
      if (ringOf !== list) {
        ring = buildRing(list, pointsPerNode);
        ringOf = list;
      }
      const { points, owners } = ring!;
      const key = hash32(context.clientIp);
      let lo = 0;
      let hi = points.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (points[mid]! < key) lo = mid + 1;
        else hi = mid;
      }
      for (let i = 0; i < points.length; i++) {
        const upstream = owners[(lo + i) % points.length]!;
        if (candidate(upstream, context)) return upstream;
      }
      return undefined;
    },
  };
}
