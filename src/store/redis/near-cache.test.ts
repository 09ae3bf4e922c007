import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NearCache } from './near-cache.js';
import type { SessionRecord } from '../../session/record.js';

const record = (n: number): SessionRecord => ({
  createdAt: 1,
  accessedAt: 1,
  attrs: { n: { t: `t${n}`, j: String(n) } },
});

describe('redis NearCache', () => {
  it('keeps a reply while other sessions were invalidated (a busy deployment keeps hitting)', () => {
    const cache = new NearCache(10);
    const epoch = cache.epoch;
    cache.invalidate('other');
    cache.set('s', record(1), epoch);
    assert.equal(cache.get('s')?.attrs?.['n']?.j, '1');
  });

  it('does not keep a reply that an invalidation of its session overtook, and drops the old copy', () => {
    const cache = new NearCache(10);
    cache.set('s', record(1), cache.epoch);
    const epoch = cache.epoch;
    cache.invalidate('s');
    cache.set('s', record(2), epoch);
    assert.equal(cache.get('s'), undefined);
  });

  it("drops the copy a refused reply would have replaced (it may predate this node's write)", () => {
    const cache = new NearCache(10);
    const before = cache.epoch;
    cache.clear();
    cache.set('s', record(1), cache.epoch);
    cache.set('s', record(2), before);
    assert.equal(cache.size, 0);
  });

  it('refuses replies older than a clear, or than the invalidations it no longer remembers', () => {
    const cache = new NearCache(10);
    const beforeClear = cache.epoch;
    cache.clear();
    cache.set('s', record(1), beforeClear);
    assert.equal(cache.size, 0);

    const beforeMany = cache.epoch;
    for (let i = 0; i < 5000; i++) cache.invalidate(`x${i}`);
    cache.set('s', record(1), beforeMany);
    assert.equal(cache.size, 0, 'x0… were forgotten: any of them could have been s');
    cache.set('s', record(2), cache.epoch);
    assert.equal(cache.size, 1);
  });

  it('keeps nothing while suspended, nor replies sent before resume()', () => {
    const cache = new NearCache(10, false);
    const before = cache.epoch;
    cache.set('s', record(1), before);
    assert.equal(cache.size, 0);
    cache.resume();
    cache.set('s', record(1), before);
    assert.equal(cache.size, 0);
    cache.set('s', record(1), cache.epoch);
    assert.equal(cache.size, 1);
  });
});
