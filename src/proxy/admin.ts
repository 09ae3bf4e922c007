// The proxy's admin endpoints: the JSON API under /_mesh/api/ (upstreams with health, connections,
// requests and route counts; drain and undrain) and Prometheus text at /_mesh/metrics. A handler of
// its own, so that the dashboard can be mounted beside it under /_mesh/.

import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UpstreamView } from './upstream-pool.js';
import { renderMetrics, type ProxyCounters } from './metrics.js';
import { SessionMeshError } from '../errors.js';

export const ADMIN_PREFIX = '/_mesh/';

export interface AdminTarget {
  /** What the API and metrics show: the pool, or (with workers) the sums over every worker. */
  readonly pool: { readonly list: readonly UpstreamView[] };
  readonly counters: ProxyCounters;
  /** @throws {UnknownUpstreamError} */
  drain(name: string): void;
  /** @throws {UnknownUpstreamError} */
  undrain(name: string): void;
}

export interface AdminOptions {
  /** When set, /_mesh/api/ requires `Authorization: Bearer <token>`. /_mesh/metrics stays open. */
  readonly token?: string | undefined;
}

/** Handles a request under /_mesh/api/ or /_mesh/metrics; returns false for any other path. */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export function describeUpstream(u: UpstreamView): Record<string, unknown> {
  return {
    name: u.name,
    host: u.host,
    port: u.port,
    route: u.route,
    state: u.state,
    draining: u.draining,
    active: u.stats.active,
    requests: u.stats.requests,
    errors: u.stats.errors,
    responses5xx: u.stats.responses5xx,
    retries: u.stats.retries,
    routed: { ...u.stats.routed },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function createAdminHandler(target: AdminTarget, options: AdminOptions = {}): AdminHandler {
  const expected = options.token === undefined ? undefined : digest(`Bearer ${options.token}`);
  const authorized = (req: IncomingMessage): boolean =>
    // Comparing digests keeps the comparison constant-time whatever the header's length.
    expected === undefined || timingSafeEqual(digest(req.headers.authorization ?? ''), expected);

  return (req, res) => {
    const path = (req.url ?? '').split('?', 1)[0]!;
    if (path === '/_mesh/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return (json(res, 405, { error: { code: 'SM_ERR_PROXY_METHOD' } }), true);
      const text = renderMetrics(target.pool, target.counters);
      res.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4',
        'content-length': Buffer.byteLength(text),
      });
      res.end(req.method === 'HEAD' ? undefined : text);
      return true;
    }
    if (!path.startsWith('/_mesh/api/')) return false;
    req.resume();
    if (!authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer');
      json(res, 401, { error: { code: 'SM_ERR_PROXY_UNAUTHORIZED' } });
      return true;
    }
    const parts = path.slice('/_mesh/api/'.length).split('/').map(decodeURIComponent);
    if (parts[0] === 'upstreams' && parts.length === 1) {
      if (req.method !== 'GET')
        return (json(res, 405, { error: { code: 'SM_ERR_PROXY_METHOD' } }), true);
      const { counters } = target;
      json(res, 200, {
        upstreams: target.pool.list.map(describeUpstream),
        connections: counters.connections,
        retries: counters.retries,
        upgrades: counters.upgrades,
        rejected: { ...counters.rejected },
      });
      return true;
    }
    if (
      parts[0] === 'upstreams' &&
      parts.length === 3 &&
      (parts[2] === 'drain' || parts[2] === 'undrain')
    ) {
      if (req.method !== 'POST')
        return (json(res, 405, { error: { code: 'SM_ERR_PROXY_METHOD' } }), true);
      try {
        if (parts[2] === 'drain') target.drain(parts[1]!);
        else target.undrain(parts[1]!);
        const upstream = target.pool.list.find((u) => u.name === parts[1]);
        json(res, 200, { upstream: upstream && describeUpstream(upstream) });
      } catch (error) {
        if (!(error instanceof SessionMeshError)) throw error;
        json(res, 404, { error: { code: error.code } });
      }
      return true;
    }
    json(res, 404, { error: { code: 'SM_ERR_PROXY_NOT_FOUND' } });
    return true;
  };
}
