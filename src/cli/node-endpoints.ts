// What every app node serves under /_mesh/ beside the app: readiness, its view of the
// cluster (the proxy's topology and the dashboard read it), metrics, and drain.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cluster } from '../cluster/cluster.js';
import type { Membership } from '../cluster/membership/membership.js';
import type { SessionManager } from '../session/manager.js';

export interface NodeFacts {
  readonly name: string;
  readonly manager: SessionManager;
  readonly cluster: Cluster | undefined;
  readonly membership: Membership | undefined;
  /** Requests served by the app (not counting /_mesh/). */
  requests(): number;
  /** Sessions this node holds (the cluster: its partitions; memory: all). */
  sessions(): Promise<number> | number;
  /** Hands off and leaves; the process exits afterwards. */
  drain(): void;
}

/** Handles /_mesh/ requests; false for any other path. */
export function createNodeEndpoints(
  facts: NodeFacts,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!path.startsWith('/_mesh/')) return false;
    respond(facts, req, path, res).catch((err: unknown) =>
      json(res, 500, { error: (err as Error).message }),
    );
    return true;
  };
}

async function respond(
  facts: NodeFacts,
  req: IncomingMessage,
  path: string,
  res: ServerResponse,
): Promise<void> {
  const ready = facts.cluster ? facts.cluster.ready : true;
  if (req.method === 'GET' && path === '/_mesh/health')
    return json(res, ready ? 200 : 503, { ready });
  if (req.method === 'GET' && path === '/_mesh/api/node')
    return json(res, 200, await describeNode(facts, ready));
  if (req.method === 'GET' && path === '/_mesh/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    return void res.end(await metrics(facts));
  }
  if (req.method === 'POST' && path === '/_mesh/api/drain') {
    json(res, 202, { ok: true });
    return facts.drain();
  }
  json(res, 404, { error: `no such endpoint: ${req.method} ${path}` });
}

async function describeNode(facts: NodeFacts, ready: boolean): Promise<Record<string, unknown>> {
  const table = facts.cluster?.map.table;
  const count = table?.partitionCount ?? 0;
  const owners: (string | null)[] = [];
  const backups: string[][] = [];
  for (let p = 0; p < count; p++) {
    owners.push(table!.owner(p)?.name ?? null);
    backups.push(table!.backupsOf(p).map((m) => m.name));
  }
  return {
    name: facts.name,
    ready,
    viewId: table?.viewId ?? 0,
    sessions: await facts.sessions(),
    partitionsOwned: table ? table.ownedBy(facts.name).length : 0,
    partitionsBacked: backups.filter((names) => names.includes(facts.name)).length,
    requests: facts.requests(),
    members: (facts.membership?.members() ?? []).map((m) => ({
      name: m.name,
      state: m.state,
      address: m.address,
      data: m.data,
    })),
    partitions: { count, owners, backups },
  };
}

async function metrics(facts: NodeFacts): Promise<string> {
  const stats = facts.manager.stats;
  const lines = [
    '# TYPE sessionmesh_http_requests_total counter',
    `sessionmesh_http_requests_total ${facts.requests()}`,
    '# TYPE sessionmesh_sessions_held gauge',
    `sessionmesh_sessions_held ${await facts.sessions()}`,
    '# TYPE sessionmesh_sessions_created_total counter',
    `sessionmesh_sessions_created_total ${stats.created}`,
    '# TYPE sessionmesh_session_commits_total counter',
    `sessionmesh_session_commits_total ${stats.commits}`,
    '# TYPE sessionmesh_session_touches_total counter',
    `sessionmesh_session_touches_total ${stats.touches}`,
    '# TYPE sessionmesh_sessions_destroyed_total counter',
    `sessionmesh_sessions_destroyed_total ${stats.destroyed}`,
    '# TYPE sessionmesh_tokens_rejected_total counter',
    ...Object.entries(stats.rejected).map(
      ([reason, n]) => `sessionmesh_tokens_rejected_total{reason="${reason}"} ${n}`,
    ),
    `sessionmesh_tokens_rejected_total{reason="unknown"} ${stats.unknown}`,
  ];
  if (facts.cluster) lines.push(facts.cluster.map.metrics().trimEnd());
  return `${lines.join('\n')}\n`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
