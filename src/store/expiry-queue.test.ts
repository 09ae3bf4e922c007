import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExpiryQueue } from './expiry-queue.js';

/** A queue on a fake clock, driven by sweep(); its timer never fires within these tests. */
function queueAt(start = 1_000_000) {
  const clock = { now: start };
  const fired: string[] = [];
  const queue = new ExpiryQueue(
    (key) => fired.push(key),
    () => clock.now,
  );
  return { clock, fired, queue };
}

test('keys expire in deadline order, each once', () => {
  const { clock, fired, queue } = queueAt();
  const t = clock.now;
  queue.schedule('c', t + 30);
  queue.schedule('a', t + 10);
  queue.schedule('d', t + 40);
  queue.schedule('b', t + 20);
  clock.now = t + 25;
  assert.equal(queue.sweep(), 2);
  assert.deepEqual(fired, ['a', 'b']);
  clock.now = t + 1000;
  assert.equal(queue.sweep(), 2);
  assert.equal(queue.sweep(), 0);
  assert.deepEqual(fired, ['a', 'b', 'c', 'd']);
  assert.equal(queue.size, 0);
  queue.stop();
});

test('a key expires when its deadline is reached, not before', () => {
  const { clock, fired, queue } = queueAt();
  queue.schedule('a', clock.now + 10);
  clock.now += 9;
  queue.sweep();
  assert.deepEqual(fired, []);
  clock.now += 1;
  queue.sweep();
  assert.deepEqual(fired, ['a']);
  queue.stop();
});

test('a moved deadline fires at the new time only', () => {
  const { clock, fired, queue } = queueAt();
  const t = clock.now;
  queue.schedule('later', t + 10);
  queue.schedule('later', t + 100);
  queue.schedule('sooner', t + 100);
  queue.schedule('sooner', t + 5);
  clock.now = t + 50;
  queue.sweep();
  assert.deepEqual(fired, ['sooner']);
  clock.now = t + 100;
  queue.sweep();
  assert.deepEqual(fired, ['sooner', 'later']);
  clock.now = t + 10_000;
  queue.sweep();
  assert.deepEqual(fired, ['sooner', 'later']);
  queue.stop();
});

test('a key moved away and back fires once', () => {
  const { clock, fired, queue } = queueAt();
  const t = clock.now;
  queue.schedule('k', t + 10);
  queue.schedule('k', t + 20);
  queue.schedule('k', t + 10);
  clock.now = t + 100;
  queue.sweep();
  assert.deepEqual(fired, ['k']);
  queue.stop();
});

test('a removed key never fires, and may be scheduled again', () => {
  const { clock, fired, queue } = queueAt();
  const t = clock.now;
  queue.schedule('gone', t + 10);
  queue.schedule('kept', t + 10);
  queue.remove('gone');
  queue.remove('never-scheduled');
  assert.equal(queue.size, 1);
  clock.now = t + 100;
  queue.sweep();
  assert.deepEqual(fired, ['kept']);
  queue.schedule('gone', t + 200);
  clock.now = t + 200;
  queue.sweep();
  assert.deepEqual(fired, ['kept', 'gone']);
  queue.stop();
});

test('many stale entries (heap rebuilds) keep every deadline right', () => {
  const { clock, fired, queue } = queueAt(0);
  // 50 keys whose deadlines move 200 times each: 10,000 schedules, so the heap is rebuilt
  // several times (it rebuilds past 2 × live + 1024 entries).
  const final = new Map<string, number>();
  for (let round = 0; round < 200; round++) {
    for (let k = 0; k < 50; k++) {
      const at = 1000 + ((round * 7919 + k * 104729) % 5000);
      queue.schedule(`k${k}`, at);
      final.set(`k${k}`, at);
    }
  }
  for (let k = 0; k < 10; k++) {
    queue.remove(`k${k}`);
    final.delete(`k${k}`);
  }
  assert.equal(queue.size, 40);
  const expected = [...final].sort((x, y) => x[1] - y[1]);
  for (const [key, at] of expected) {
    clock.now = at - 1;
    queue.sweep();
    assert.ok(!fired.includes(key), `${key} fired before ${at}`);
    clock.now = at;
    queue.sweep();
    assert.ok(fired.includes(key), `${key} did not fire at ${at}`);
  }
  assert.equal(fired.length, 40);
  assert.equal(new Set(fired).size, 40);
  assert.equal(queue.size, 0);
  queue.stop();
});

test('whatever the schedules and removals, each live key fires once, at its last deadline', () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('schedule' as const),
      key: fc.integer({ min: 0, max: 9 }),
      at: fc.integer({ min: 1, max: 60 }),
    }),
    fc.record({ kind: fc.constant('remove' as const), key: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ kind: fc.constant('advance' as const), by: fc.integer({ min: 0, max: 10 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const { clock, fired, queue } = queueAt(0);
      const deadlines = new Map<string, number>();
      const expected: string[] = [];
      const advance = (to: number) => {
        const due = [...deadlines].filter(([, at]) => at <= to).sort((x, y) => x[1] - y[1]);
        for (const [key] of due) {
          deadlines.delete(key);
          expected.push(key);
        }
        clock.now = to;
        queue.sweep();
        assert.deepEqual(new Set(fired), new Set(expected));
        assert.equal(fired.length, expected.length);
      };
      for (const o of ops) {
        if (o.kind === 'schedule') {
          const at = clock.now + o.at;
          queue.schedule(`k${o.key}`, at);
          deadlines.set(`k${o.key}`, at);
        } else if (o.kind === 'remove') {
          queue.remove(`k${o.key}`);
          deadlines.delete(`k${o.key}`);
        } else advance(clock.now + o.by);
      }
      advance(clock.now + 1000);
      queue.stop();
    }),
  );
});

test('a NaN deadline is due at once and does not stop other keys from expiring', () => {
  const { clock, fired, queue } = queueAt();
  queue.schedule('a', clock.now + 10);
  queue.schedule('broken', Number.NaN);
  queue.schedule('b', clock.now + 20);
  queue.sweep();
  assert.deepEqual(fired, ['broken']);
  clock.now += 20;
  queue.sweep();
  assert.deepEqual(fired, ['broken', 'a', 'b']);
  queue.stop();
});

test('the timer fires the earliest deadline by itself', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { clock, fired, queue } = queueAt(0);
  queue.schedule('b', 200);
  queue.schedule('a', 100);
  clock.now = 99;
  mock.timers.tick(99);
  assert.deepEqual(fired, []);
  clock.now = 100;
  mock.timers.tick(1);
  assert.deepEqual(fired, ['a']);
  clock.now = 200;
  mock.timers.tick(100);
  assert.deepEqual(fired, ['a', 'b']);
  queue.stop();
});

test('stop() stops the timer: nothing fires afterwards', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { clock, fired, queue } = queueAt(0);
  queue.schedule('a', 100);
  queue.stop();
  clock.now = 10_000;
  mock.timers.tick(10_000);
  assert.deepEqual(fired, []);
});
