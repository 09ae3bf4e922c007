// The proxy's counters and their Prometheus text form (exposition format 0.0.4), served at /_mesh/metrics.

import type { UpstreamStats, UpstreamView } from './upstream-pool.js';

/** Proxy-wide counters; per-upstream ones live on each Upstream's stats. */
export interface ProxyCounters {
  /** Client connections open now. */
  connections: number;
  /** Requests answered by the proxy itself with an error, by reason. */
  readonly rejected: Record<
    'bad-request' | 'header-too-large' | 'timeout' | 'no-upstream' | 'strict' | 'upstream-error',
    number
  >;
  retries: number;
  upgrades: number;
}

export function createCounters(): ProxyCounters {
  return {
    connections: 0,
    rejected: {
      'bad-request': 0,
      'header-too-large': 0,
      timeout: 0,
      'no-upstream': 0,
      strict: 0,
      'upstream-error': 0,
    },
    retries: 0,
    upgrades: 0,
  };
}

/** A worker's counters as plain data, sent to the primary (workers.ts). */
export interface StatsReport {
  readonly counters: ProxyCounters;
  readonly upstreams: ReadonlyArray<readonly [name: string, stats: UpstreamStats]>;
}

export function statsReport(list: readonly UpstreamView[], counters: ProxyCounters): StatsReport {
  return {
    counters: { ...counters, rejected: { ...counters.rejected } },
    upstreams: list.map((u) => [u.name, { ...u.stats, routed: { ...u.stats.routed } }] as const),
  };
}

/** The sums of several workers' reports (gauges and counters alike). */
export function sumReports(reports: Iterable<StatsReport>): StatsReport {
  const counters = createCounters();
  const byName = new Map<string, UpstreamStats>();
  for (const report of reports) {
    counters.connections += report.counters.connections;
    counters.retries += report.counters.retries;
    counters.upgrades += report.counters.upgrades;
    for (const key of Object.keys(counters.rejected) as (keyof ProxyCounters['rejected'])[])
      counters.rejected[key] += report.counters.rejected[key] ?? 0;
    for (const [name, stats] of report.upstreams) {
      let sum = byName.get(name);
      if (!sum) {
        sum = {
          active: 0,
          requests: 0,
          errors: 0,
          responses5xx: 0,
          retries: 0,
          routed: { cookie: 0, topology: 0, insert: 0, balancer: 0 },
        };
        byName.set(name, sum);
      }
      sum.active += stats.active;
      sum.requests += stats.requests;
      sum.errors += stats.errors;
      sum.responses5xx += stats.responses5xx;
      sum.retries += stats.retries;
      for (const key of Object.keys(sum.routed) as (keyof UpstreamStats['routed'])[])
        sum.routed[key] += stats.routed[key] ?? 0;
    }
  }
  return { counters, upstreams: [...byName] };
}

function label(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** Prometheus text for the pool and the counters. */
export function renderMetrics(
  pool: { readonly list: readonly UpstreamView[] },
  counters: ProxyCounters,
): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  family(
    'sessionmesh_proxy_upstream_up',
    'gauge',
    'Whether the upstream is healthy (1) or down (0).',
  );
  for (const u of pool.list)
    lines.push(
      `sessionmesh_proxy_upstream_up{upstream="${label(u.name)}"} ${u.state === 'up' ? 1 : 0}`,
    );
  family(
    'sessionmesh_proxy_upstream_draining',
    'gauge',
    'Whether the upstream is drained (no new visitors).',
  );
  for (const u of pool.list)
    lines.push(
      `sessionmesh_proxy_upstream_draining{upstream="${label(u.name)}"} ${u.draining ? 1 : 0}`,
    );
  family(
    'sessionmesh_proxy_upstream_active',
    'gauge',
    'Requests and tunnels in flight to the upstream.',
  );
  for (const u of pool.list)
    lines.push(`sessionmesh_proxy_upstream_active{upstream="${label(u.name)}"} ${u.stats.active}`);
  family(
    'sessionmesh_proxy_upstream_requests_total',
    'counter',
    'Requests sent to the upstream, by routing source.',
  );
  for (const u of pool.list) {
    for (const [source, n] of Object.entries(u.stats.routed)) {
      lines.push(
        `sessionmesh_proxy_upstream_requests_total{upstream="${label(u.name)}",source="${source}"} ${n}`,
      );
    }
  }
  family(
    'sessionmesh_proxy_upstream_errors_total',
    'counter',
    'Requests that failed on the upstream (connect, reset, timeout).',
  );
  for (const u of pool.list)
    lines.push(
      `sessionmesh_proxy_upstream_errors_total{upstream="${label(u.name)}"} ${u.stats.errors}`,
    );
  family(
    'sessionmesh_proxy_upstream_responses_5xx_total',
    'counter',
    '5xx responses from the upstream.',
  );
  for (const u of pool.list)
    lines.push(
      `sessionmesh_proxy_upstream_responses_5xx_total{upstream="${label(u.name)}"} ${u.stats.responses5xx}`,
    );
  family('sessionmesh_proxy_connections', 'gauge', 'Client connections open.');
  lines.push(`sessionmesh_proxy_connections ${counters.connections}`);
  family(
    'sessionmesh_proxy_retries_total',
    'counter',
    'Requests sent again to another upstream after a safe failure.',
  );
  lines.push(`sessionmesh_proxy_retries_total ${counters.retries}`);
  family(
    'sessionmesh_proxy_upgrades_total',
    'counter',
    'WebSocket (and other) upgrades tunnelled.',
  );
  lines.push(`sessionmesh_proxy_upgrades_total ${counters.upgrades}`);
  family(
    'sessionmesh_proxy_rejected_total',
    'counter',
    'Requests the proxy answered itself with an error, by reason.',
  );
  for (const [reason, n] of Object.entries(counters.rejected))
    lines.push(`sessionmesh_proxy_rejected_total{reason="${reason}"} ${n}`);
  return `${lines.join('\n')}\n`;
}
