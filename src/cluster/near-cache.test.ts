import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseHolders, NearCache } from './near-cache.js';
import type { LiveRecord } from '../session/record.js';

const record = (n: number): LiveRecord => ({
  createdAt: 0,
  accessedAt: n,
  idle: { v: 1000, t: '1' },
  attrs: {},
});

describe('NearCache', () => {
  it('serves an entry until its lease ends, then misses', () => {
    let now = 1000;
    const cache = new NearCache(10, () => now);
    cache.set('x', 1, record(1), 1500);
    assert.equal(cache.get('x')?.record?.accessedAt, 1);
    now = 1500;
    assert.equal(cache.get('x'), undefined);
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = new NearCache(2, () => 0);
    cache.set('a', 1, record(1), 10);
    cache.set('b', 1, record(2), 10);
    cache.get('a');
    cache.set('c', 1, record(3), 10);
    assert.ok(cache.get('a'));
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.size, 2);
  });

  it('drops the entries of partitions whose owner changed, and invalidated ones', () => {
    const cache = new NearCache(10, () => 0);
    cache.set('a', 1, record(1), 10);
    cache.set('b', 2, record(2), 10);
    cache.set('c', 3, record(3), 10);
    cache.dropPartitions(new Set([1]));
    cache.invalidate('b');
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.get('b'), undefined);
    assert.ok(cache.get('c'));
  });
});

describe('LeaseHolders', () => {
  it('hands out the holders of a session once, leaving out ended leases', () => {
    let now = 0;
    const holders = new LeaseHolders(() => now);
    holders.add('x', 'a', 100);
    holders.add('x', 'b', 50);
    now = 60;
    assert.deepEqual(holders.take('x'), [['a', 100]]);
    assert.deepEqual(holders.take('x'), []);
  });

  it('ends an invalidation only after the earlier ones of the same session ended', async () => {
    const holders = new LeaseHolders(() => 0);
    holders.add('x', 'a', 100);
    let answer = (): void => {};
    const sent: string[][] = [];
    const send = (taken: [string, number][]): Promise<void> => {
      sent.push(taken.map(([member]) => member));
      return new Promise((resolve) => (answer = resolve));
    };
    const first = holders.invalidate('x', send, true);
    // A retried write of x: no holder is left to take, yet a's copy is not dropped before a answers.
    let second = false;
    void holders.invalidate('x', send, true).then(() => (second = true));
    // A pull or a push of x (no write to acknowledge) does not wait for it.
    await holders.invalidate('x', send, false);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(sent, [['a']]);
    assert.equal(second, false);
    answer();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(second, true);
    // Nothing pending any more: a session without holders has nothing to wait for.
    await holders.invalidate('x', send, true);
    assert.deepEqual(sent, [['a']]);
  });
});
