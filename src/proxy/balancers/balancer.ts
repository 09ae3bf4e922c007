// The interface every balancing algorithm implements: pick an upstream for a new visitor.

import type { Upstream } from '../upstream-pool.js';

export interface PickContext {
  /** The client's address, for ip-hash. */
  readonly clientIp: string;
  readonly now: number;
  /** Upstreams already tried for this request (a retry must go elsewhere). */
  readonly exclude: ReadonlySet<Upstream> | undefined;
}

export interface Balancer {
  /** One of the eligible upstreams of `list`, or undefined when none is. */
  pick(list: readonly Upstream[], context: PickContext): Upstream | undefined;
}

/** Can take a new visitor in this context. */
export function candidate(upstream: Upstream, context: PickContext): boolean {
  return upstream.eligible && (context.exclude === undefined || !context.exclude.has(upstream));
}
