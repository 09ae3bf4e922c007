import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter } from './limiter.js';

describe('Limiter', () => {
  it('runs at most its limit at once, urgent tasks before the others waiting', async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let peak = 0;
    const order: string[] = [];
    const task = (name: string) => async () => {
      running++;
      peak = Math.max(peak, running);
      order.push(name);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    };
    await Promise.all([
      limiter.run(task('a')),
      limiter.run(task('b')),
      limiter.run(task('c')),
      limiter.run(task('d'), true),
    ]);
    assert.equal(peak, 2);
    assert.deepEqual(order, ['a', 'b', 'd', 'c']);
    assert.equal(limiter.size, 0);
  });

  it('frees the slot of a task that throws', async () => {
    const limiter = new Limiter(1);
    await assert.rejects(limiter.run(() => Promise.reject(new Error('boom'))));
    assert.equal(await limiter.run(() => Promise.resolve(7)), 7);
  });
});
