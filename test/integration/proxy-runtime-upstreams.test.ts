// Nodes added and removed while the proxy runs (the demo adds nodes; a deploy tool may too).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createProxy, type Proxy } from '../../src/proxy/proxy.js';
import { startUpstream, type TestUpstream } from '../helpers/proxy-upstream.js';
import { fetchText, sessionCookie } from '../helpers/proxy-process.js';

const upstreams: TestUpstream[] = [];
const proxies: Proxy[] = [];
after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(upstreams.map((u) => u.close()));
});

async function who(port: number, cookie?: string): Promise<string> {
  const reply = await fetchText(port, '/', cookie ? { headers: { cookie } } : {});
  assert.equal(reply.status, 200, reply.body);
  return (JSON.parse(reply.body) as { name: string }).name;
}

test('an added node takes its sessions and new visitors; a removed one takes nothing more', async () => {
  const [a, b] = await Promise.all([startUpstream('ra'), startUpstream('rb')]);
  upstreams.push(a, b);
  const proxy = createProxy({ upstreams: [{ name: 'ra', port: a.port }], balance: 'round-robin' });
  proxies.push(proxy);
  const { port } = await proxy.listen(0);
  assert.equal(await who(port), 'ra');

  proxy.addUpstream({ name: 'rb', host: '127.0.0.1', port: b.port });
  assert.deepEqual(
    proxy.upstreams.map((u) => u.name),
    ['ra', 'rb'],
  );
  for (let i = 0; i < 3; i++) assert.equal(await who(port, `sid=${sessionCookie('rb')}`), 'rb');
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) seen.add(await who(port));
  assert.deepEqual([...seen].sort(), ['ra', 'rb']);
  const listed = JSON.parse((await fetchText(port, '/_mesh/api/upstreams')).body) as {
    upstreams: { name: string }[];
  };
  assert.deepEqual(
    listed.upstreams.map((u) => u.name),
    ['ra', 'rb'],
  );

  proxy.removeUpstream('ra');
  for (let i = 0; i < 3; i++) assert.equal(await who(port, `sid=${sessionCookie('ra')}`), 'rb');
  for (let i = 0; i < 3; i++) assert.equal(await who(port), 'rb');
  assert.match((await fetchText(port, '/_mesh/metrics')).body, /upstream="rb"/);
  assert.doesNotMatch((await fetchText(port, '/_mesh/metrics')).body, /upstream="ra"/);
});

test('bad run-time changes are refused and change nothing', async () => {
  const a = await startUpstream('xa');
  upstreams.push(a);
  const proxy = createProxy({ upstreams: [{ name: 'xa', port: a.port }] });
  proxies.push(proxy);
  assert.throws(() => proxy.addUpstream({ name: 'xa', port: 1 }), {
    code: 'SM_ERR_OPTION_INVALID',
  });
  assert.throws(() => proxy.addUpstream({ name: 'x.b', port: 1 }), {
    code: 'SM_ERR_OPTION_INVALID',
  });
  assert.throws(() => proxy.addUpstream({ name: 'xb', port: 70000 }), {
    code: 'SM_ERR_OPTION_INVALID',
  });
  assert.throws(() => proxy.removeUpstream('nope'), { code: 'SM_ERR_PROXY_UPSTREAM_UNKNOWN' });
  assert.deepEqual(
    proxy.upstreams.map((u) => u.name),
    ['xa'],
  );
});

test('an added node is health-checked like the others', async () => {
  const [a, sick] = await Promise.all([startUpstream('ha'), startUpstream('hsick')]);
  upstreams.push(a, sick);
  sick.healthy = false;
  const proxy = createProxy({
    upstreams: [{ name: 'ha', port: a.port }],
    health: { path: '/health', intervalMs: 30, timeoutMs: 200, rise: 1, fall: 1 },
  });
  proxies.push(proxy);
  await proxy.listen(0);
  const added = proxy.addUpstream({ name: 'hsick', port: sick.port });
  const deadline = Date.now() + 3000;
  while (added.state === 'up' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(added.state, 'down');
  assert.equal(proxy.pool.get('ha').state, 'up');
});
