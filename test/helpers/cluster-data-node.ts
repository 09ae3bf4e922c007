// A cluster member with its data layer, as a child process, for the fault tests and the bench:
// TCP transport + SWIM membership + createCluster, and a small HTTP control protocol on
// 127.0.0.1. Arguments: name, seeds (comma-separated, may be empty). Environment:
// SM_BACKUPS (default 1), SM_WRITE_MODE (sync|async), SM_NEAR_CACHE=0 (no near cache), SM_BUILT=1
// (dist/ instead of src/). Reports one JSON line per event on stdout.
//
//   POST /write?id=&n=   merges attribute n (a fresh session when absent); 200 once acknowledged
//   GET  /read?id=       {"n": value or null}
//   GET  /local?id=      {"n", "t"}: this member's own copy, whatever its role (diagnostics)
//   POST /fill?count=&bytes=      new sessions owned by this member (bench)
//   POST /bench?op=&id=&count=&concurrency=&bytes=   latency of merge/get/locked-merge run in this member
//   GET  /status         {"ready", "members", "owned", "held"}
//   GET  /owner?id=      {"owner", "backups": the replicas of the partition of id, under this member's view}
// Answers 503 {"code"} when the cluster did not acknowledge. SIGTERM: close() (hand-off), exit.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SessionRecord } from '../../src/session/record.js';
import { memberStatus, rolesOf } from './cluster-member-status.js';

// SM_BUILT=1 (the bench): run the compiled dist/ as the package ships it, not src through tsx.
const lib = process.env['SM_BUILT'] === '1' ? '../../dist' : '../../src';
const { createCluster } = (await import(
  `${lib}/cluster/cluster.js`
)) as typeof import('../../src/cluster/cluster.js');
const { createMembership } = (await import(
  `${lib}/cluster/membership/membership.js`
)) as typeof import('../../src/cluster/membership/membership.js');
const { createTcpTransport } = (await import(
  `${lib}/cluster/transport/tcp-transport.js`
)) as typeof import('../../src/cluster/transport/tcp-transport.js');
const { HybridClock } = (await import(
  `${lib}/session/hlc.js`
)) as typeof import('../../src/session/hlc.js');

const [name = 'member', seedList = ''] = process.argv.slice(2);
const backups = Number(process.env['SM_BACKUPS'] ?? 1);
const writeMode = process.env['SM_WRITE_MODE'] === 'async' ? 'async' : 'sync';
const clock = new HybridClock(name);

function report(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...line, at: Date.now() })}\n`);
}

// SM_LINKS: {"<peer name>": "host:port"}, the proxy to dial each peer through (partition tests).
const links = JSON.parse(process.env['SM_LINKS'] ?? '{}') as Record<string, string>;
const transport = createTcpTransport({
  name,
  dialVia: (to) => links[to.name],
  cluster: 'test-cluster',
  secret: process.env['SM_CLUSTER_SECRET'] ?? 'test-cluster-secret-0123456789abcdef012',
});
const membership = createMembership({ transport, seeds: seedList.split(',').filter(Boolean) });
for (const event of ['member-dead', 'member-joined', 'member-left', 'member-alive'] as const) {
  membership.on(event, (m) => report({ type: 'event', event, member: m.name }));
}
membership.on('view-changed', (view) =>
  report({ type: 'view', digest: view.digest, members: view.members.map((m) => m.name) }),
);
const cluster = await createCluster({
  transport,
  membership,
  backups,
  writeMode,
  ...(process.env['SM_NEAR_CACHE'] === '0' ? { nearCache: false as const } : {}),
});
const { map } = cluster;

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const id = url.searchParams.get('id') ?? '';
  try {
    if (req.method === 'POST' && url.pathname === '/write') {
      const n = Number(url.searchParams.get('n'));
      const now = Date.now();
      const delta: SessionRecord =
        url.searchParams.get('fresh') === '1'
          ? { createdAt: now, accessedAt: now, idle: { v: 600_000, t: clock.tick() } }
          : {};
      if (url.searchParams.get('fresh') !== '1') {
        // As a SessionManager does (load, then commit): the new write must sort after the one
        // it follows, even when that one came through another member in the same millisecond.
        const previous = (await map.get(id))?.attrs?.['n']?.t;
        if (previous !== undefined) clock.observe(previous);
      }
      const t = clock.tick();
      delta.attrs = { n: { j: JSON.stringify(n), t } };
      await map.merge(id, delta);
      return send(res, 200, { ok: true, t });
    }
    if (url.pathname === '/read') {
      const record = await map.get(id);
      const j = record?.attrs?.['n']?.j;
      return send(res, 200, { n: j === undefined ? null : JSON.parse(j), exists: !!record });
    }
    if (url.pathname === '/local') {
      const attr = map.localCopy(id)?.attrs?.['n'];
      return send(
        res,
        200,
        attr ? { n: JSON.parse(attr.j ?? 'null') as unknown, t: attr.t } : { n: null },
      );
    }
    if (url.pathname === '/owner') {
      return send(res, 200, rolesOf(map, id));
    }
    if (req.method === 'POST' && url.pathname === '/fill') {
      // `count` new sessions of `bytes` bytes, each owned by this member (key affinity).
      const count = Number(url.searchParams.get('count') ?? 1000);
      const payload = JSON.stringify('x'.repeat(Number(url.searchParams.get('bytes') ?? 1024)));
      for (let i = 0; i < count; i += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, count - i) }, () => {
            const now = Date.now();
            return map.merge(cluster.store.generateId(), {
              createdAt: now,
              accessedAt: now,
              idle: { v: 600_000, t: clock.tick() },
              attrs: { data: { j: payload, t: clock.tick() } },
            });
          }),
        );
      }
      return send(res, 200, { held: map.heldSessions });
    }
    if (req.method === 'POST' && url.pathname === '/bench') {
      return send(res, 200, await bench(url.searchParams));
    }
    if (url.pathname === '/status') {
      return send(res, 200, memberStatus(map, name));
    }
    send(res, 404, { code: 'not-found' });
  } catch (err) {
    send(res, 503, { code: (err as { code?: string }).code ?? 'error' });
  }
}

/**
 * The benchmark's inner loop, in this member: `op` (merge, get, or locked-merge: a merge inside
 * the cluster-wide session lock) on session `id`, `count` times
 * with `concurrency` in flight; latencies in ms. `local=1` reads this member's own copy (owner).
 */
async function bench(params: URLSearchParams): Promise<Record<string, number>> {
  const id = params.get('id') ?? '';
  const op = params.get('op');
  const count = Number(params.get('count') ?? 1000);
  const concurrency = Number(params.get('concurrency') ?? 1);
  const payload = 'x'.repeat(Number(params.get('bytes') ?? 256));
  const latencies: number[] = [];
  let next = 0;
  const one = async (): Promise<void> => {
    const i = next++;
    const start = process.hrtime.bigint();
    if (op === 'merge' || op === 'locked-merge') {
      // locked-merge: the session lock of `lock: 'cluster'` acquired before and released after.
      const grant = op === 'locked-merge' ? await map.lock(id) : undefined;
      await map.merge(id, {
        attrs: {
          n: { j: String(i), t: clock.tick() },
          data: { j: JSON.stringify(payload), t: clock.tick() },
        },
      });
      grant?.release();
    } else await map.get(id);
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
  };
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await one();
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return {
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    opsPerSec: count / seconds,
    meanMs: (seconds * 1000) / count,
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const http = createServer((req, res) => void handle(req, res));
http.keepAliveTimeout = 30_000;
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
report({
  type: 'ready',
  address: transport.self.address,
  http: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
});

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    const started = Date.now();
    await cluster.close();
    report({ type: 'closed', ms: Date.now() - started });
    http.closeAllConnections();
    process.exit(0);
  })();
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0)); // the parent went away
