import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from './hlc.js';
import {
  attributeBytes,
  expiresAt,
  isAlive,
  isComplete,
  setOwn,
  type SessionRecord,
} from './record.js';

const T = encode(1, 0, 'a');
const live: SessionRecord = { createdAt: 100, accessedAt: 200, idle: { v: 50, t: T }, attrs: {} };

test('a session expires at the earlier of its idle and absolute deadlines', () => {
  assert.equal(expiresAt(live), 250);
  assert.equal(expiresAt({ ...live, absoluteExpiresAt: 0 }), 250);
  assert.equal(expiresAt({ ...live, absoluteExpiresAt: 220 }), 220);
  assert.equal(expiresAt({ ...live, absoluteExpiresAt: 900 }), 250);
  assert.equal(expiresAt({ createdAt: 100, idle: { v: 50, t: T } }), 150);
});

test('a record is alive when complete, not destroyed and before its deadline', () => {
  assert.equal(isAlive(live, 249), true);
  assert.equal(isAlive(live, 250), false);
  assert.equal(isAlive({ ...live, destroyed: T }, 0), false);
  assert.equal(isAlive(undefined, 0), false);
  const { idle: _idle, ...noIdle } = live;
  assert.equal(isComplete(noIdle), false);
  assert.equal(isAlive(noIdle, 0), false);
  assert.equal(isAlive({ ...live, accessedAt: Number.NaN }, 0), false);
});

test('attributeBytes counts keys and JSON texts, not tombstones', () => {
  assert.equal(attributeBytes(undefined), 0);
  assert.equal(attributeBytes({ ab: { j: '"xyz"', t: T }, gone: { t: T } }), 2 + 5 + 4);
});

test('setOwn defines "__proto__" as an own property and leaves the prototype alone', () => {
  const target: Record<string, number> = {};
  setOwn(target, '__proto__', 1);
  setOwn(target, 'a', 2);
  assert.equal(Object.getPrototypeOf(target), Object.prototype);
  assert.deepEqual(Object.keys(target), ['__proto__', 'a']);
  assert.equal(JSON.stringify(target), '{"__proto__":1,"a":2}');
});
