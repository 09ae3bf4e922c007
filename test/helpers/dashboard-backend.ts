// A stand-in for the demo's admin API (docs/admin-api.md) behind the real dashboard handler:
// /_mesh/api/cluster, /_mesh/api/events (SSE pushed by the test) and node controls that record
// each call. Lets the dashboard's tests drive every state without starting a cluster.

import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDashboardHandler } from '../../src/dashboard/index.js';

export interface FakeMember {
  name: string;
  state: string;
  sessions: number;
  requests: number;
}

export interface FakeBackend {
  readonly url: string;
  readonly server: Server;
  /** `METHOD path` of every node-control call, in order. */
  readonly calls: string[];
  members: FakeMember[];
  snapshot(): Record<string, unknown>;
  /** Sends one SSE message to every open stream; `data` is sent as given when a string. */
  emit(event: string, data: unknown): void;
  /** Ends every open event stream (the browser reconnects by itself). */
  dropStreams(): void;
  close(): Promise<void>;
}

export const PARTITIONS = 271;

export async function startFakeBackend(members: FakeMember[]): Promise<FakeBackend> {
  const dashboard = createDashboardHandler({ title: 'test cluster' });
  const streams = new Set<ServerResponse>();
  const calls: string[] = [];
  const history = [{ at: Date.now() - 5000, kind: 'join', member: 'node1' }];
  const backend: FakeBackend = {
    url: '',
    server: undefined as unknown as Server,
    calls,
    members,
    snapshot() {
      const live = backend.members.filter((m) => m.state !== 'stopped').map((m) => m.name);
      const owners = Array.from({ length: PARTITIONS }, (_, p) => live[p % live.length] ?? null);
      const backups = owners.map((_, p) => (live.length > 1 ? [live[(p + 1) % live.length]!] : []));
      return {
        viewId: 7,
        members: backend.members.map((m, i) => ({
          ...m,
          url: `http://127.0.0.1:${41001 + i}`,
          pid: 1000 + i,
          ready: m.state === 'alive',
          partitionsOwned: owners.filter((o) => o === m.name).length,
          partitionsBacked: backups.filter((b) => b.includes(m.name)).length,
        })),
        partitions: { count: PARTITIONS, owners, backups },
      };
    },
    emit(event, data) {
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      for (const res of streams) res.write(`event: ${event}\ndata: ${text}\n\n`);
    },
    dropStreams() {
      for (const res of streams) res.destroy();
    },
    async close() {
      for (const res of streams) res.destroy();
      backend.server.closeAllConnections();
      await new Promise<void>((resolve) => backend.server.close(() => resolve()));
    },
  };

  const server = createServer((req, res) => {
    if (dashboard(req, res)) return;
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/_mesh/api/cluster')
      return json(res, 200, backend.snapshot());
    if (req.method === 'GET' && path === '/_mesh/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      streams.add(res);
      res.on('close', () => streams.delete(res));
      // As the demo does, each connection gets the current snapshot and the recent history.
      res.write(`retry: 300\nevent: snapshot\ndata: ${JSON.stringify(backend.snapshot())}\n\n`);
      for (const event of history) res.write(`event: timeline\ndata: ${JSON.stringify(event)}\n\n`);
      return;
    }
    if (req.method === 'POST' && path === '/_mesh/api/nodes') {
      calls.push(`POST ${path}`);
      return json(res, 202, { ok: true, name: `node${backend.members.length + 1}` });
    }
    const control = /^\/_mesh\/api\/nodes\/([^/]+)\/(kill|restart|drain)$/.exec(path);
    if (req.method === 'POST' && control) {
      calls.push(`POST ${path}`);
      if (!backend.members.some((m) => m.name === control[1]))
        return json(res, 404, { error: `no node named ${control[1]}` });
      return json(res, 202, { ok: true });
    }
    json(res, 404, { error: 'not found' });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  (backend as { server: Server }).server = server;
  (backend as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return backend;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
