import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { HealthMonitor } from './health-check.js';
import { UpstreamPool } from './upstream-pool.js';

test('passive failures take a node out after `fall` and bring it back after passiveDownMs', async () => {
  const pool = new UpstreamPool([{ name: 'a', port: 1 }], { maxSockets: 1 });
  const health = new HealthMonitor(pool, { fall: 2, passiveDownMs: 50 });
  const downs: unknown[] = [];
  const onDown = (message: unknown): void => void downs.push(message);
  subscribe('sessionmesh:proxy:upstream-down', onDown);
  try {
    const a = pool.get('a');
    health.observe(a, 'fail');
    health.observe(a, 'ok');
    health.observe(a, 'fail');
    assert.equal(a.state, 'up', 'a success in between resets the count');
    health.observe(a, 'fail');
    assert.equal(a.state, 'down');
    assert.deepEqual(downs, [{ name: 'a' }]);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(a.state, 'up');
  } finally {
    unsubscribe('sessionmesh:proxy:upstream-down', onDown);
    health.close();
  }
});

test('invalid health options are refused with their name', () => {
  const pool = new UpstreamPool([{ name: 'a', port: 1 }], { maxSockets: 1 });
  assert.throws(() => new HealthMonitor(pool, { path: 'health' }), {
    code: 'SM_ERR_OPTION_INVALID',
  });
  assert.throws(() => new HealthMonitor(pool, { rise: 0 }), { code: 'SM_ERR_OPTION_INVALID' });
  assert.throws(() => new UpstreamPool([], { maxSockets: 1 }), { code: 'SM_ERR_OPTION_INVALID' });
  assert.throws(
    () =>
      new UpstreamPool(
        [
          { name: 'a', port: 1 },
          { name: 'a', port: 2 },
        ],
        { maxSockets: 1 },
      ),
    { code: 'SM_ERR_OPTION_INVALID' },
  );
});
