// Picks the upstream of a request, in the order of DESIGN.md: the session cookie's ranked routes
// (the first usable one), else the owner of the session's partition from the cluster's topology,
// else the proxy's own route cookie (insert mode), else the balancer for a new visitor.

import type { Balancer } from './balancers/index.js';
import type { InsertCookie } from './insert-cookie.js';
import type { TopologySource } from './topology.js';
import type { RouteSource, Upstream, UpstreamPool } from './upstream-pool.js';
import { readCookie } from '../session/cookie.js';
import { isValidId, routesOfToken } from '../session/id.js';

export type RouteDecision =
  | {
      readonly upstream: Upstream;
      readonly source: RouteSource;
      readonly setCookie: string | undefined;
    }
  | { readonly upstream: undefined; readonly reason: 'strict' | 'none' };

export interface RouterOptions {
  readonly pool: UpstreamPool;
  readonly balancer: Balancer;
  readonly cookieName: string;
  readonly strict: boolean;
  readonly topology: TopologySource | undefined;
  readonly insert: InsertCookie | undefined;
}

export interface Router {
  route(
    cookieHeader: string | undefined,
    clientIp: string,
    exclude: ReadonlySet<Upstream> | undefined,
    now: number,
  ): RouteDecision;
}

export function createRouter(options: RouterOptions): Router {
  const { pool, balancer, cookieName, strict, topology, insert } = options;
  const ok = (u: Upstream | undefined, exclude: ReadonlySet<Upstream> | undefined): u is Upstream =>
    u !== undefined && u.usable && (exclude === undefined || !exclude.has(u));

  return {
    route(cookieHeader, clientIp, exclude, now) {
      // Whether the request is bound to a known node that cannot take it (strict mode answers 503).
      let boundElsewhere = false;
      const token = cookieHeader === undefined ? undefined : readCookie(cookieHeader, cookieName);
      if (token !== undefined) {
        for (const route of routesOfToken(token)) {
          const upstream = pool.byRoute(route);
          if (ok(upstream, exclude)) return { upstream, source: 'cookie', setCookie: undefined };
          if (upstream) boundElsewhere = true;
        }
        if (topology) {
          const id = token.slice(0, token.indexOf('.'));
          const owner = isValidId(id) ? topology.ownerOf(id) : undefined;
          const upstream = owner === undefined ? undefined : pool.byRoute(owner);
          // The owner holds the data, so going there does not move the session, even in strict mode.
          if (ok(upstream, exclude)) return { upstream, source: 'topology', setCookie: undefined };
        }
      }
      if (insert) {
        const bound = insert.read(cookieHeader, now);
        if (bound) {
          if (ok(bound.upstream, exclude)) {
            const setCookie = insert.stale(bound.seenSec, now)
              ? insert.serialize(bound.upstream, now, bound.issuedSec)
              : undefined;
            return { upstream: bound.upstream, source: 'insert', setCookie };
          }
          boundElsewhere = true;
        }
      }
      if (strict && boundElsewhere) return { upstream: undefined, reason: 'strict' };
      const upstream = balancer.pick(pool.list, { clientIp, now, exclude });
      if (!upstream) return { upstream: undefined, reason: 'none' };
      const setCookie = insert ? insert.serialize(upstream, now) : undefined;
      return { upstream, source: 'balancer', setCookie };
    },
  };
}
