import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamPool } from '../upstream-pool.js';
import { createBalancer, BALANCE_NAMES } from './index.js';

const pool = (names: string[]): UpstreamPool =>
  new UpstreamPool(
    names.map((name, i) => ({ name, port: 1000 + i })),
    { maxSockets: 1, slowStartMs: 1000 },
  );
const ctx = (clientIp = '10.0.0.1', now = 0) => ({ clientIp, now, exclude: undefined });

test('every balancer skips down, drained and excluded nodes', () => {
  for (const name of BALANCE_NAMES) {
    const p = pool(['a', 'b', 'c']);
    p.setState('a', 'down');
    p.setDraining('b', true);
    const balancer = createBalancer(name, 1000);
    for (let i = 0; i < 20; i++)
      assert.equal(balancer.pick(p.list, ctx(`10.0.0.${i}`))?.name, 'c', name);
    assert.equal(
      balancer.pick(p.list, { ...ctx(), exclude: new Set([p.get('c')]) }),
      undefined,
      name,
    );
  }
});

test('least-connections picks the node with the fewest requests in flight', () => {
  const p = pool(['a', 'b', 'c']);
  p.get('a').stats.active = 5;
  p.get('b').stats.active = 1;
  p.get('c').stats.active = 3;
  assert.equal(createBalancer('least-connections', 0).pick(p.list, ctx())?.name, 'b');
});

test('round-robin spreads evenly', () => {
  const p = pool(['a', 'b', 'c']);
  const counts = new Map<string, number>();
  const balancer = createBalancer('round-robin', 0);
  for (let i = 0; i < 300; i++) {
    const name = balancer.pick(p.list, ctx())!.name;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  assert.deepEqual([...counts.values()], [100, 100, 100]);
});

test('a node in slow start gets a small, growing share of new visitors', () => {
  const p = pool(['a', 'b']);
  p.setState('b', 'down', 0);
  p.setState('b', 'up', 10_000);
  assert.equal(p.get('b').weight(10_000, 1000), 0.05);
  assert.equal(p.get('b').weight(10_500, 1000), 0.5);
  assert.equal(p.get('b').weight(12_000, 1000), 1);
  const balancer = createBalancer('least-connections', 1000);
  let b = 0;
  for (let i = 0; i < 100; i++) if (balancer.pick(p.list, ctx('x', 10_050))!.name === 'b') b++;
  assert.ok(b < 20, `b took ${b} of 100 right after coming back`);
});

test('ip-hash moves only the clients of a node that went down', () => {
  const p = pool(['a', 'b', 'c', 'd']);
  const balancer = createBalancer('ip-hash', 0);
  const before = new Map<string, string>();
  for (let i = 0; i < 500; i++) before.set(`ip${i}`, balancer.pick(p.list, ctx(`ip${i}`))!.name);
  p.setState('c', 'down');
  for (const [ip, name] of before) {
    const now = balancer.pick(p.list, ctx(ip))!.name;
    if (name !== 'c') assert.equal(now, name);
    else assert.notEqual(now, 'c');
  }
});
