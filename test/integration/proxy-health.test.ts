import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createProxy } from '../../src/proxy/proxy.js';
import { startUpstream } from '../helpers/proxy-upstream.js';

test('active checks take a failing node out after `fall` probes and put it back after `rise`', async () => {
  const node = await startUpstream('h');
  const proxy = createProxy({
    upstreams: [{ name: 'h', port: node.port }],
    health: { path: '/health', intervalMs: 30, timeoutMs: 200, fall: 2, rise: 3 },
  });
  after(async () => {
    await proxy.close();
    await node.close();
  });
  await proxy.listen(0);
  const upstream = proxy.pool.get('h');
  const until = async (state: string): Promise<number> => {
    const start = Date.now();
    while (upstream.state !== state && Date.now() - start < 3000)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(upstream.state, state);
    return node.hits.get('GET /health') ?? 0;
  };
  node.healthy = false;
  const atDown = await until('down');
  node.healthy = true;
  const atUp = await until('up');
  assert.ok(atUp - atDown >= 3, `came back after ${atUp - atDown} probes`);
});
