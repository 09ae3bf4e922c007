import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createProxy, type Proxy } from '../../src/proxy/proxy.js';
import { createStaticTopology } from '../../src/proxy/topology.js';
import { startUpstream, type TestUpstream } from '../helpers/proxy-upstream.js';
import {
  fetchText,
  sessionCookie,
  spawnUpstream,
  type ChildUpstream,
} from '../helpers/proxy-process.js';

const upstreams: TestUpstream[] = [];
const children: ChildUpstream[] = [];
const proxies: Proxy[] = [];
after(async () => {
  for (const child of children) child.kill();
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(upstreams.map((u) => u.close()));
});

async function farm(names: string[]): Promise<TestUpstream[]> {
  const started = await Promise.all(names.map((name) => startUpstream(name)));
  upstreams.push(...started);
  return started;
}

async function proxyFor(
  list: Array<{ name: string; port: number }>,
  options: Partial<Parameters<typeof createProxy>[0]> = {},
) {
  const proxy = createProxy({
    upstreams: list.map(({ name, port }) => ({ name, port })),
    ...options,
  });
  proxies.push(proxy);
  const { port } = await proxy.listen(0);
  return { proxy, port };
}

const who = async (port: number, cookie?: string, localAddress?: string): Promise<string> => {
  const reply = await fetchText(port, '/', {
    ...(cookie ? { headers: { cookie } } : {}),
    ...(localAddress ? { localAddress } : {}),
  });
  assert.equal(reply.status, 200);
  return JSON.parse(reply.body).name as string;
};

test('a session cookie with a route suffix goes to that node, every time', async () => {
  const nodes = await farm(['a', 'b', 'c']);
  const { port } = await proxyFor(nodes);
  for (const name of ['a', 'b', 'c', 'b', 'a'])
    assert.equal(await who(port, `x=1; sid=${sessionCookie(name)}`), name);
});

test('a ranked route list goes to the first healthy node and a dead route falls back', async () => {
  const nodes = await farm(['r1', 'r2', 'r3']);
  const { proxy, port } = await proxyFor(nodes);
  proxy.pool.setState('r1', 'down');
  assert.equal(await who(port, `sid=${sessionCookie('r1', 'r3')}`), 'r3');
  assert.equal((await who(port, `sid=${sessionCookie('r1')}`)) !== 'r1', true);
});

test('the cookie name is configurable and unknown routes are balanced', async () => {
  const nodes = await farm(['n1', 'n2']);
  const { port } = await proxyFor(nodes, { cookieName: 'app_sess' });
  assert.equal(
    await who(port, `sid=${sessionCookie('n1')}; app_sess=${sessionCookie('n2')}`),
    'n2',
  );
  assert.ok(['n1', 'n2'].includes(await who(port, `app_sess=${sessionCookie('nowhere')}`)));
  assert.ok(['n1', 'n2'].includes(await who(port, 'app_sess=garbage')));
});

test('after its node is killed, a session goes to the partition owner from the topology', async () => {
  const started = await Promise.all(['k1', 'k2', 'k3'].map((name) => spawnUpstream(name)));
  children.push(...started);
  const topology = createStaticTopology(() => 'k1');
  const { port } = await proxyFor(started, { topology, health: { fall: 1 } });
  const cookie = `sid=${sessionCookie('k1')}`;
  assert.equal(await who(port, cookie), 'k1');
  started[0]!.kill();
  await new Promise((resolve) => started[0]!.child.once('exit', resolve));
  // The cluster fails k1's partitions over to k3; the proxy learns it from the topology.
  topology.set(() => 'k3');
  for (let i = 0; i < 5; i++) assert.equal(await who(port, cookie), 'k3');
});

test('strict mode answers 503 rather than moving a session whose node is down', async () => {
  const nodes = await farm(['s1', 's2']);
  const { proxy, port } = await proxyFor(nodes, { strict: true });
  proxy.pool.setState('s1', 'down');
  const reply = await fetchText(port, '/', { headers: { cookie: `sid=${sessionCookie('s1')}` } });
  assert.equal(reply.status, 503);
  assert.equal(await who(port), 's2');
});

test('cookie-insert mode pins a visitor, and two proxies with one key agree', async () => {
  const nodes = await farm(['i1', 'i2', 'i3']);
  const one = await proxyFor(nodes, { insert: { key: 'k'.repeat(32) }, balance: 'round-robin' });
  const two = await proxyFor(nodes, { insert: { key: 'k'.repeat(32) }, balance: 'round-robin' });
  const first = await fetchText(one.port, '/');
  const setCookie = first.headers['set-cookie']!.find((c) => c.startsWith('smroute='))!;
  assert.match(setCookie, /HttpOnly/);
  const cookie = setCookie.split(';')[0]!;
  const name = JSON.parse(first.body).name;
  for (let i = 0; i < 4; i++) {
    assert.equal(await who(one.port, cookie), name);
    assert.equal(await who(two.port, cookie), name);
  }
});

test('cookie-insert mode re-balances a visitor whose route cookie outlived max idle', async () => {
  const nodes = await farm(['m1', 'm2']);
  const { port } = await proxyFor(nodes, { insert: { maxIdleMs: 1000 } });
  const first = await fetchText(port, '/');
  const cookie = first.headers['set-cookie']!.find((c) => c.startsWith('smroute='))!.split(';')[0]!;
  const [token] = cookie.slice('smroute='.length).split('~');
  const old = (Math.floor(Date.now() / 1000) - 60).toString(36);
  const reply = await fetchText(port, '/', {
    headers: { cookie: `smroute=${token}~${old}~${old}` },
  });
  assert.ok(
    reply.headers['set-cookie']!.some((c) => c.startsWith('smroute=')),
    'an expired route cookie is replaced',
  );
});

test('ip-hash keeps each client on its node, and adding a node moves about 1/n of the clients', async () => {
  const nodes = await farm(['h1', 'h2', 'h3', 'h4']);
  const three = await proxyFor(nodes.slice(0, 3), { balance: 'ip-hash' });
  const four = await proxyFor(nodes, { balance: 'ip-hash' });
  const clients = Array.from({ length: 60 }, (_, i) => `127.0.${1 + (i >> 4)}.${1 + (i % 16) * 7}`);
  let moved = 0;
  for (const ip of clients) {
    const before = await who(three.port, undefined, ip);
    assert.equal(
      await who(three.port, undefined, ip),
      before,
      'the same client lands on the same node',
    );
    const now = await who(four.port, undefined, ip);
    if (now !== before) {
      moved++;
      assert.equal(now, 'h4', 'a client that moves goes to the new node only');
    }
  }
  assert.ok(moved > 0 && moved <= clients.length / 2, `moved ${moved} of ${clients.length}`);
});
