import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encode, HybridClock, wallOf } from './hlc.js';

function clockAt(times: number[]): () => number {
  let i = 0;
  return () => times[Math.min(i++, times.length - 1)]!;
}

function assertIncreasing(stamps: string[]): void {
  for (let i = 1; i < stamps.length; i++)
    assert.ok(stamps[i - 1]! < stamps[i]!, `${stamps[i - 1]} < ${stamps[i]}`);
}

test('timestamps increase while the wall clock stands still', () => {
  const clock = new HybridClock('a', () => 1000);
  const stamps = Array.from({ length: 100 }, () => clock.tick());
  assertIncreasing(stamps);
  assert.equal(wallOf(stamps[99]!), 1000);
});

test('timestamps increase while the wall clock goes backwards', () => {
  const clock = new HybridClock('a', clockAt([5000, 4000, 3000, 6000, 1000, 1000, 7000]));
  const stamps = Array.from({ length: 7 }, () => clock.tick());
  assertIncreasing(stamps);
  assert.equal(wallOf(stamps[6]!), 7000);
});

test('timestamps increase under any sequence of wall times', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 1, maxLength: 200 }),
      (times) => {
        const clock = new HybridClock('n', clockAt(times));
        assertIncreasing(times.map(() => clock.tick()));
      },
    ),
  );
});

test('after observe() the next timestamp is later than the remote one', () => {
  const local = new HybridClock('a', () => 1000);
  const remote = encode(9000, 7, 'z');
  local.observe(remote);
  const next = local.tick();
  assert.ok(next > remote, `${next} > ${remote}`);
  assert.equal(wallOf(next), 9000);
  // An older remote does not move the clock back.
  local.observe(encode(10, 0, 'z'));
  assert.ok(local.tick() > next);
});

test('observe() ignores a malformed timestamp', () => {
  const clock = new HybridClock('a', () => 1000);
  const before = clock.tick();
  for (const bad of ['', 'garbage', 'zzzzzzzzzzzz.zzzz.x']) clock.observe(bad);
  const after = clock.tick();
  assert.ok(after > before);
  assert.equal(wallOf(after), 1000);
});

test('string order is time order', () => {
  const stamp = fc.record({
    wall: fc.integer({ min: 0, max: 2 ** 47 }),
    counter: fc.integer({ min: 0, max: 0xffff }),
    node: fc.constantFrom('a', 'b', 'node-1'),
  });
  fc.assert(
    fc.property(stamp, stamp, (x, y) => {
      const sx = encode(x.wall, x.counter, x.node);
      const sy = encode(y.wall, y.counter, y.node);
      if (x.wall !== y.wall) assert.equal(sx < sy, x.wall < y.wall);
      else if (x.counter !== y.counter) assert.equal(sx < sy, x.counter < y.counter);
      assert.equal(wallOf(sx), x.wall);
    }),
  );
});

test('a counter overflow borrows the next millisecond', () => {
  let now = 1000;
  const clock = new HybridClock('a', () => now);
  let last = clock.tick();
  for (let i = 0; i < 0xffff; i++) last = clock.tick();
  assert.equal(last, encode(1000, 0xffff, 'a'));
  const borrowed = clock.tick();
  assert.equal(borrowed, encode(1001, 0, 'a'));
  assert.ok(borrowed > last);
  // When the wall clock reaches the borrowed millisecond, time still moves forward.
  now = 1001;
  assert.equal(clock.tick(), encode(1001, 1, 'a'));
});

test('observing a remote at the counter limit borrows the next millisecond too', () => {
  const clock = new HybridClock('a', () => 1000);
  clock.observe(encode(1000, 0xffff, 'b'));
  assert.equal(clock.tick(), encode(1001, 0, 'a'));
});
