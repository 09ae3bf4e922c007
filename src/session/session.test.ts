import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from './hlc.js';
import { fillData, Session } from './session.js';

function session(init: Partial<ConstructorParameters<typeof Session>[0]> = {}): Session {
  return new Session({
    id: 'i'.repeat(32),
    cookieRoutes: [],
    isNew: true,
    data: {},
    createdAt: 1000,
    accessedAt: 1000,
    idleTimeoutMs: 100,
    idleSetAt: encode(1000, 0, 'a'),
    absoluteExpiresAt: 0,
    principal: null,
    snapshot: new Map(),
    ...init,
  });
}

test('get, set and delete work on the attributes object', () => {
  const s = session();
  s.set('a', 1);
  assert.equal(s.get('a'), 1);
  assert.equal(s.data.a, 1);
  s.delete('a');
  assert.equal(s.get('a'), undefined);
  assert.equal(s.get('toString'), undefined);
});

test('setPrincipal marks a change only when the principal changes', () => {
  const s = session();
  s.setPrincipal(null);
  assert.equal(s.principalChanged, false);
  s.setPrincipal('ann');
  assert.equal(s.principal, 'ann');
  assert.equal(s.principalChanged, true);
});

test('expiresAt is the earlier of the idle and absolute deadlines', () => {
  assert.equal(session().expiresAt, 1100);
  assert.equal(session({ absoluteExpiresAt: 1050 }).expiresAt, 1050);
  assert.equal(session({ absoluteExpiresAt: 5000 }).expiresAt, 1100);
});

test('fillData copies live attributes, skips tombstones, and snapshots their JSON', () => {
  const t = encode(1, 0, 'a');
  const data: Record<string, unknown> = {};
  const snapshot = fillData(
    {
      createdAt: 0,
      accessedAt: 0,
      idle: { v: 1, t },
      attrs: { a: { j: '{"n":[1]}', t }, gone: { t } },
    },
    data,
  );
  assert.deepEqual(data, { a: { n: [1] } });
  assert.deepEqual([...snapshot], [['a', '{"n":[1]}']]);
});
