// The demo's part of the admin API (docs/admin-api.md): the cluster as the dashboard shows it,
// its live events, and the node controls (kill, restart, drain, add).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeTopology } from '../proxy/node-topology.js';
import type { NodeProcess } from './node-process.js';

export interface TimelineEvent {
  at: number;
  kind: string;
  member: string;
  detail?: string;
}

export interface DemoControls {
  nodes(): readonly NodeProcess[];
  topology: NodeTopology;
  kill(name: string): Promise<void>;
  restart(name: string): Promise<void>;
  drain(name: string): Promise<void>;
  add(): Promise<string>;
  /** Subscribes to the timeline; returns the unsubscribe function. */
  onTimeline(listener: (event: TimelineEvent) => void): () => void;
  timeline(): readonly TimelineEvent[];
}

/** The body of GET /_mesh/api/cluster. */
export function clusterSnapshot(controls: DemoControls): Record<string, unknown> {
  const reports = controls.topology.reports;
  const seen = new Map<string, string>();
  for (const report of reports.values())
    for (const m of report?.members ?? []) if (!seen.has(m.name)) seen.set(m.name, m.state);
  const members = controls.nodes().map((node) => {
    const report = reports.get(node.name);
    const state =
      node.state === 'stopped' || node.state === 'left' || node.state === 'draining'
        ? node.state
        : !report
          ? node.state === 'starting'
            ? 'starting'
            : 'dead'
          : !report.ready
            ? 'starting'
            : (seen.get(node.name) ?? 'alive');
    return {
      name: node.name,
      state,
      url: `http://127.0.0.1:${node.port}`,
      pid: node.pid ?? null,
      ready: report?.ready ?? false,
      sessions: report?.sessions ?? 0,
      partitionsOwned: report?.partitionsOwned ?? 0,
      partitionsBacked: report?.partitionsBacked ?? 0,
      requests: report?.requests ?? 0,
    };
  });
  const table = [...reports.values()]
    .filter((r) => r !== undefined && r.ready && r.partitions.count > 0)
    .sort((a, b) => b!.members.length - a!.members.length)[0];
  return {
    viewId: table?.viewId ?? 0,
    members,
    partitions: table ? table.partitions : { count: 0, owners: [], backups: [] },
  };
}

/** Handles the demo's /_mesh/api/ routes; false for others. */
export function createDemoApi(
  controls: DemoControls,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/_mesh/api/cluster') {
      json(res, 200, clusterSnapshot(controls));
      return true;
    }
    if (req.method === 'GET' && path === '/_mesh/api/events') {
      streamEvents(controls, req, res);
      return true;
    }
    if (req.method === 'POST' && path === '/_mesh/api/nodes') {
      controls.add().then(
        (name) => json(res, 202, { ok: true, name }),
        (err: unknown) => json(res, 500, { error: (err as Error).message }),
      );
      return true;
    }
    const control = /^\/_mesh\/api\/nodes\/([A-Za-z0-9_-]{1,64})\/(kill|restart|drain)$/.exec(path);
    if (req.method === 'POST' && control) {
      const [, name, action] = control as unknown as [string, string, 'kill' | 'restart' | 'drain'];
      if (!controls.nodes().some((n) => n.name === name)) {
        json(res, 404, { error: `no node named ${name}` });
        return true;
      }
      // Answer at once: a restart takes a second, the dashboard follows it through events.
      json(res, 202, { ok: true });
      controls[action](name).catch(() => undefined);
      return true;
    }
    return false;
  };
}

function streamEvents(controls: DemoControls, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  const send = (event: string, data: unknown) =>
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  send('snapshot', clusterSnapshot(controls));
  for (const event of controls.timeline().slice(-50)) send('timeline', event);
  const timer = setInterval(() => send('snapshot', clusterSnapshot(controls)), 1000);
  const unsubscribe = controls.onTimeline((event) => send('timeline', event));
  req.on('close', () => {
    clearInterval(timer);
    unsubscribe();
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
