import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  fetchText,
  spawnProxyWorkers,
  spawnUpstream,
  type ChildUpstream,
} from '../helpers/proxy-process.js';
import { startProxyWorkers } from '../../src/proxy/workers.js';

const children: ChildUpstream[] = [];
after(() => {
  for (const child of children) child.kill();
});

interface Listed {
  upstreams: Array<{ name: string; state: string; draining: boolean }>;
}

async function views(port: number, times: number): Promise<Listed[]> {
  const out: Listed[] = [];
  // A fresh connection each time, so the primary hands them to different workers.
  for (let i = 0; i < times; i++)
    out.push(JSON.parse((await fetchText(port, '/_mesh/api/upstreams')).body));
  return out;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

test('workers share the port and the primary keeps their health and drain state consistent', async (t) => {
  const nodes = await Promise.all([spawnUpstream('wa'), spawnUpstream('wb')]);
  children.push(...nodes);
  const proxy = await spawnProxyWorkers({
    workers: 2,
    port: 0,
    upstreams: nodes.map(({ name, port }) => ({ name, port })),
    health: { path: '/health', intervalMs: 100, timeoutMs: 200, fall: 1, rise: 1 },
  });
  children.push(proxy);
  t.after(() => {
    // Workers exit on their own once the primary's IPC channel closes.
    proxy.kill();
  });

  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add(JSON.parse((await fetchText(proxy.port, '/')).body).name);
  assert.deepEqual([...seen].sort(), ['wa', 'wb']);

  nodes[0]!.kill();
  const allDown = await until(
    async () =>
      (await views(proxy.port, 6)).every(
        (v) => v.upstreams.find((u) => u.name === 'wa')!.state === 'down',
      ),
    5000,
  );
  assert.ok(allDown, 'every worker learns that wa is down');
  for (let i = 0; i < 10; i++)
    assert.equal(JSON.parse((await fetchText(proxy.port, '/')).body).name, 'wb');

  const drained = await fetchText(proxy.port, '/_mesh/api/upstreams/wb/drain', { method: 'POST' });
  assert.equal(drained.status, 200);
  const allDrained = await until(
    async () =>
      (await views(proxy.port, 6)).every((v) => v.upstreams.find((u) => u.name === 'wb')!.draining),
    3000,
  );
  assert.ok(allDrained, 'a drain through one worker reaches every worker');
});

test('the admin API and metrics of any worker show the counters summed over every worker', async (t) => {
  const node = await spawnUpstream('ws');
  children.push(node);
  const proxy = await spawnProxyWorkers({
    workers: 2,
    port: 0,
    upstreams: [{ name: node.name, port: node.port }],
  });
  children.push(proxy);
  t.after(() => proxy.kill());
  // A fresh connection each: the primary deals them to both workers.
  const requests = 20;
  for (let i = 0; i < requests; i++)
    assert.equal((await fetchText(proxy.port, '/', { agent: false })).status, 200);
  const summed = await until(async () => {
    const listed = await views(proxy.port, 4);
    return listed.every(
      (v) => (v.upstreams[0] as unknown as { requests: number }).requests === requests,
    );
  }, 5000);
  assert.ok(summed, 'every worker reports all the requests, not only its own');
  const metrics = await fetchText(proxy.port, '/_mesh/metrics', { agent: false });
  assert.match(
    metrics.body,
    new RegExp(
      `sessionmesh_proxy_upstream_requests_total\\{upstream="ws",source="balancer"\\} ${requests}\\n`,
    ),
  );
});

test('the primary counts requests in flight to a drained node only from reports made after the drain', async (t) => {
  const node = await spawnUpstream('wd');
  children.push(node);
  // The primary runs in this process: inFlight() is its own method, not on the admin API.
  const proxy = await startProxyWorkers({
    workers: 2,
    port: 0,
    upstreams: [{ name: node.name, port: node.port }],
    health: { path: '/health', intervalMs: 100, timeoutMs: 200, fall: 1, rise: 1 },
  });
  t.after(() => proxy.close());
  assert.ok(
    await until(async () => proxy.inFlight('wd') === 0, 3000),
    'both workers report, and nothing is in flight',
  );
  proxy.drain('wd');
  // The reports at hand were made before the workers applied the drain: they prove nothing.
  assert.equal(proxy.inFlight('wd'), Infinity);
  const started = Date.now();
  assert.ok(
    await until(async () => proxy.inFlight('wd') === 0, 3000),
    'a report from each worker made after the drain',
  );
  t.diagnostic(`fresh reports from both workers ${Date.now() - started} ms after the drain`);
});
