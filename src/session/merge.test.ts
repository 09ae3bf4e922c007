import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encode } from './hlc.js';
import { merge, mergeInto } from './merge.js';
import type { AttributeEntry, SessionRecord } from './record.js';

// Few distinct values everywhere, so that equal timestamps (ties) and equal keys are common.
const hlc = fc.constantFrom(
  encode(1, 0, 'a'),
  encode(1, 0, 'b'),
  encode(1, 1, 'a'),
  encode(2, 0, 'a'),
  encode(2, 0, 'c'),
  encode(3, 0, 'b'),
);
const json = fc.constantFrom('1', '2', '"x"', 'null', '{"n":[1,2]}', '"ü"');
const entry: fc.Arbitrary<AttributeEntry> = fc.oneof(
  fc.record({ j: json, t: hlc }),
  fc.record({ t: hlc }), // a tombstone
);
const key = fc.constantFrom('a', 'b', 'c', 'ключ', '__proto__', 'constructor');
// Object.fromEntries defines own properties, so '__proto__' is an attribute like any other.
const attrs = fc
  .array(fc.tuple(key, entry), { maxLength: 5 })
  .map((pairs) => Object.fromEntries(pairs));
const time = fc.integer({ min: 0, max: 5 });
const record: fc.Arbitrary<SessionRecord> = fc.record(
  {
    createdAt: time,
    accessedAt: time,
    idle: fc.record({ v: fc.constantFrom(10, 20), t: hlc }),
    absoluteExpiresAt: fc.constantFrom(0, 3, 7),
    principal: fc.record({ v: fc.constantFrom(null, 'alice', 'bob'), t: hlc }),
    attrs,
    destroyed: hlc,
  },
  { requiredKeys: [] },
);
// Destroyed records are a minority in real life; weight them down so attributes get exercised.
const anyRecord = fc.oneof(
  { arbitrary: record.map(withoutDestroyed), weight: 3 },
  { arbitrary: record, weight: 1 },
);

function withoutDestroyed(r: SessionRecord): SessionRecord {
  const { destroyed: _destroyed, ...rest } = r;
  return rest;
}

/** A copy with every object's keys sorted (own keys only, '__proto__' included) and plain prototypes. */
function canonical(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(canonical);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) {
    Object.defineProperty(out, k, {
      value: canonical((value as Record<string, unknown>)[k]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function assertSame(x: SessionRecord, y: SessionRecord): void {
  assert.deepStrictEqual(canonical(x), canonical(y));
}

const RUNS = { numRuns: 3000 };

test('merge is commutative', () => {
  fc.assert(
    fc.property(anyRecord, anyRecord, (a, b) => assertSame(merge(a, b), merge(b, a))),
    RUNS,
  );
});

test('merge is associative', () => {
  fc.assert(
    fc.property(anyRecord, anyRecord, anyRecord, (a, b, c) =>
      assertSame(merge(merge(a, b), c), merge(a, merge(b, c))),
    ),
    RUNS,
  );
});

test('merge is idempotent', () => {
  fc.assert(
    fc.property(anyRecord, anyRecord, (a, b) => {
      // A destroyed input drops its attributes: merge(a, a) is a's normal form, merge(a, {}).
      const normal = merge(a, {});
      assertSame(merge(a, a), normal);
      assertSame(merge(normal, normal), normal);
      const ab = merge(a, b);
      assertSame(merge(ab, b), ab);
      assertSame(merge(a, ab), ab);
    }),
    RUNS,
  );
});

test('merge does not modify its inputs, and mergeInto gives what merge gives', () => {
  fc.assert(
    fc.property(anyRecord, anyRecord, (a, b) => {
      const before = canonical([a, b]);
      const merged = merge(a, b);
      assert.deepStrictEqual(canonical([a, b]), before);
      const target = structuredClone(a);
      mergeInto(target, b);
      assertSame(target, merged);
    }),
    RUNS,
  );
});

test('every attribute key stays an own attribute, "__proto__" included', () => {
  const a: SessionRecord = { attrs: { a: { j: '1', t: encode(1, 0, 'a') } } };
  const b: SessionRecord = {
    attrs: JSON.parse('{"__proto__": {"j": "2", "t": "000000000001.0000.a"}}'),
  };
  for (const merged of [merge(a, b), merge(b, a)]) {
    assert.deepEqual(Object.keys(merged.attrs!).sort(), ['__proto__', 'a']);
    assert.equal(Object.getPrototypeOf(merged.attrs), Object.prototype);
  }
});

test('destroy wins over any attribute write, whatever the timestamps', () => {
  fc.assert(
    fc.property(hlc, anyRecord, (destroyedAt, other) => {
      const late = encode(99, 0, 'z');
      const write: SessionRecord = {
        ...other,
        principal: { v: 'alice', t: late },
        attrs: { a: { j: '1', t: late } },
      };
      const tombstone: SessionRecord = { destroyed: destroyedAt };
      for (const merged of [merge(write, tombstone), merge(tombstone, write)]) {
        assert.ok(merged.destroyed !== undefined);
        assert.equal(merged.attrs, undefined);
        assert.equal(merged.principal, undefined);
      }
    }),
  );
});

test('the later of two destroy tombstones is kept', () => {
  const early = encode(1, 0, 'a');
  const late = encode(2, 0, 'a');
  assert.equal(merge({ destroyed: early }, { destroyed: late }).destroyed, late);
  assert.equal(merge({ destroyed: late }, { destroyed: early }).destroyed, late);
});

test('a destroyed record keeps its timing, so its tombstone lives as long as the session could', () => {
  const merged = merge(
    {
      createdAt: 5,
      accessedAt: 10,
      idle: { v: 100, t: encode(1, 0, 'a') },
      absoluteExpiresAt: 500,
    },
    { destroyed: encode(2, 0, 'a'), accessedAt: 20 },
  );
  assert.deepEqual(merged, {
    createdAt: 5,
    accessedAt: 20,
    idle: { v: 100, t: encode(1, 0, 'a') },
    absoluteExpiresAt: 500,
    destroyed: encode(2, 0, 'a'),
  });
});

test('an attribute tombstone removes an older write and loses to a newer one', () => {
  const t1 = encode(1, 0, 'a');
  const t2 = encode(2, 0, 'a');
  const t3 = encode(3, 0, 'a');
  const written = { attrs: { a: { j: '"v1"', t: t1 } } };
  const removed = merge(written, { attrs: { a: { t: t2 } } });
  assert.deepEqual(removed.attrs, { a: { t: t2 } });
  // An older write arriving late (a retry, a backup) does not bring the attribute back.
  assert.deepEqual(merge(removed, written).attrs, { a: { t: t2 } });
  // A newer write does.
  assert.deepEqual(merge(removed, { attrs: { a: { j: '"v3"', t: t3 } } }).attrs, {
    a: { j: '"v3"', t: t3 },
  });
});

test('at an equal timestamp a tombstone wins, then the greater JSON text', () => {
  const t = encode(1, 0, 'a');
  assert.deepEqual(merge({ attrs: { a: { j: '1', t } } }, { attrs: { a: { t } } }).attrs, {
    a: { t },
  });
  assert.deepEqual(merge({ attrs: { a: { t } } }, { attrs: { a: { j: '1', t } } }).attrs, {
    a: { t },
  });
  assert.deepEqual(merge({ attrs: { a: { j: '1', t } } }, { attrs: { a: { j: '2', t } } }).attrs, {
    a: { j: '2', t },
  });
});

test('a delta changes only the attributes it names', () => {
  const t1 = encode(1, 0, 'a');
  const t2 = encode(2, 0, 'b');
  const stored: SessionRecord = {
    createdAt: 1,
    accessedAt: 1,
    idle: { v: 10, t: t1 },
    principal: { v: 'alice', t: t1 },
    attrs: { a: { j: '1', t: t1 }, b: { j: '2', t: t1 }, c: { t: t1 } },
  };
  const merged = merge(stored, { accessedAt: 2, attrs: { b: { j: '20', t: t2 } } });
  assert.deepEqual(merged, {
    createdAt: 1,
    accessedAt: 2,
    idle: { v: 10, t: t1 },
    principal: { v: 'alice', t: t1 },
    attrs: { a: { j: '1', t: t1 }, b: { j: '20', t: t2 }, c: { t: t1 } },
  });
});

test('two deltas that change different attributes both survive, in either order', () => {
  const t1 = encode(1, 0, 'a');
  const base: SessionRecord = { attrs: { a: { j: '0', t: t1 }, b: { j: '0', t: t1 } } };
  const fromA = { attrs: { a: { j: '1', t: encode(2, 0, 'a') } } };
  const fromB = { attrs: { b: { j: '1', t: encode(2, 0, 'b') } } };
  const expected = { a: fromA.attrs.a, b: fromB.attrs.b };
  assert.deepEqual(merge(merge(base, fromA), fromB).attrs, expected);
  assert.deepEqual(merge(merge(base, fromB), fromA).attrs, expected);
});

test('timing fields merge by min, max and LWW; absolute expiry 0 means none', () => {
  const t1 = encode(1, 0, 'a');
  const t2 = encode(2, 0, 'a');
  const merged = merge(
    { createdAt: 5, accessedAt: 50, idle: { v: 10, t: t2 }, absoluteExpiresAt: 0 },
    { createdAt: 3, accessedAt: 40, idle: { v: 99, t: t1 }, absoluteExpiresAt: 700 },
  );
  assert.deepEqual(merged, {
    createdAt: 3,
    accessedAt: 50,
    idle: { v: 10, t: t2 },
    absoluteExpiresAt: 700,
  });
  assert.equal(merge({ absoluteExpiresAt: 0 }, {}).absoluteExpiresAt, 0);
  assert.equal(merge({ absoluteExpiresAt: 0 }, { absoluteExpiresAt: 0 }).absoluteExpiresAt, 0);
  assert.equal(merge({ absoluteExpiresAt: 9 }, { absoluteExpiresAt: 4 }).absoluteExpiresAt, 4);
  assert.equal('absoluteExpiresAt' in merge({}, {}), false);
});
