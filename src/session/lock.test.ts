import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { KeyedMutex } from './lock.js';

test('holders of one key run one at a time, in arrival order', async () => {
  const mutex = new KeyedMutex();
  const log: string[] = [];
  let inside = 0;
  const work = async (name: string) => {
    const release = await mutex.acquire('k');
    inside++;
    assert.equal(inside, 1, `${name} ran beside another holder`);
    log.push(`${name}:in`);
    await tick();
    await tick();
    log.push(`${name}:out`);
    inside--;
    release();
  };
  await Promise.all(['a', 'b', 'c', 'd'].map(work));
  assert.deepEqual(log, ['a:in', 'a:out', 'b:in', 'b:out', 'c:in', 'c:out', 'd:in', 'd:out']);
  assert.equal(mutex.size, 0);
});

test('different keys run concurrently', async () => {
  const mutex = new KeyedMutex();
  const a = await mutex.acquire('a');
  const b = await Promise.race([mutex.acquire('b'), tick().then(() => 'blocked' as const)]);
  assert.notEqual(b, 'blocked');
  assert.equal(mutex.size, 2);
  a();
  if (typeof b === 'function') b();
  assert.equal(mutex.size, 0);
});

test('a waiter gets the key only after the holder releases', async () => {
  const mutex = new KeyedMutex();
  const first = await mutex.acquire('k');
  let acquired = false;
  const second = mutex.acquire('k').then((release) => {
    acquired = true;
    return release;
  });
  for (let i = 0; i < 5; i++) await tick();
  assert.equal(acquired, false);
  first();
  const release = await second;
  assert.equal(acquired, true);
  release();
  assert.equal(mutex.size, 0);
});

test('release is idempotent: a second call does not let a third holder in early', async () => {
  const mutex = new KeyedMutex();
  const first = await mutex.acquire('k');
  const second = mutex.acquire('k');
  let thirdIn = false;
  const third = mutex.acquire('k').then((release) => {
    thirdIn = true;
    return release;
  });
  first();
  first();
  const releaseSecond = await second;
  for (let i = 0; i < 5; i++) await tick();
  assert.equal(thirdIn, false);
  releaseSecond();
  releaseSecond();
  (await third)();
  assert.equal(mutex.size, 0);
});

test('size returns to 0 after many holders of many keys', async () => {
  const mutex = new KeyedMutex();
  await Promise.all(
    Array.from({ length: 300 }, async (_, i) => {
      const release = await mutex.acquire(`k${i % 7}`);
      await tick();
      release();
    }),
  );
  assert.equal(mutex.size, 0);
});
