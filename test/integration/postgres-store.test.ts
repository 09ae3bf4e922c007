import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPostgresStore, PostgresStore } from '../../src/store/postgres-store.js';
import { freshRecord, runStoreContract } from '../../src/store/store.contract.js';
import { HybridClock } from '../../src/session/hlc.js';
import { createTestSchema, POSTGRES_URL, type TestSchema } from '../helpers/postgres-schema.js';

const newId = () => randomBytes(24).toString('base64url');
let schema: TestSchema;

before(async () => {
  schema = await createTestSchema();
});
after(async () => {
  await schema?.drop();
});

runStoreContract({
  name: 'PostgresStore',
  create: async () =>
    createPostgresStore({ pool: schema.pool, schema: schema.name, cleanupIntervalMs: 200 }),
});

describe('PostgresStore', () => {
  it('loses nothing when 10 connections merge into one session at once', async () => {
    const stores: PostgresStore[] = [];
    const pools: pg.Pool[] = [];
    for (let i = 0; i < 10; i++) {
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
      pools.push(pool);
      stores.push(
        await createPostgresStore({
          pool,
          schema: schema.name,
          cleanupIntervalMs: 0,
          migrate: i === 0,
        }),
      );
    }
    const id = newId();
    await stores[0]!.merge(id, freshRecord());
    await Promise.all(
      stores.map(async (store, node) => {
        const clock = new HybridClock(`n${node}`);
        for (let k = 0; k < 20; k++) {
          await store.merge(id, {
            attrs: {
              [`n${node}k${k}`]: { j: String(k), t: clock.tick() },
              shared: { j: `"${node}"`, t: clock.tick() },
            },
          });
        }
      }),
    );
    const record = await stores[0]!.get(id);
    assert.equal(Object.keys(record!.attrs).length, 10 * 20 + 1);
    for (const store of stores) await store.close();
    for (const pool of pools) await pool.end();
  });

  it('merges the first writes of one new session from 10 connections at once', async () => {
    const pools = Array.from(
      { length: 10 },
      () => new pg.Pool({ connectionString: POSTGRES_URL, max: 1 }),
    );
    try {
      const stores = pools.map(
        (pool) => new PostgresStore({ pool, schema: schema.name, cleanupIntervalMs: 0 }),
      );
      const id = newId();
      await Promise.all(
        stores.map((store, node) => store.merge(id, freshRecord({ [`n${node}`]: node }))),
      );
      const record = await stores[0]!.get(id);
      assert.deepEqual(
        Object.keys(record!.attrs).sort(),
        Array.from({ length: 10 }, (_, i) => `n${i}`).sort(),
      );
      for (const store of stores) await store.close();
    } finally {
      for (const pool of pools) await pool.end();
    }
  });

  it('retires a dead row on the next merge: one expired event, nothing of it comes back', async () => {
    const store = new PostgresStore({
      pool: schema.pool,
      schema: schema.name,
      cleanupIntervalMs: 0,
    });
    const id = newId();
    await store.merge(id, freshRecord({ old: 1 }, 50));
    await new Promise((r) => setTimeout(r, 80));
    const heard: string[] = [];
    store.on('expired', (expired) => heard.push(expired));
    // A late write of the dead session (no createdAt: not a new session) keeps nothing alive.
    await store.merge(id, {
      accessedAt: Date.now(),
      attrs: { late: { j: '2', t: new HybridClock('z').tick() } },
    });
    assert.deepEqual(heard, [id]);
    assert.equal(await store.get(id), undefined);
    await store.merge(id, freshRecord({ fresh: 3 }));
    assert.deepEqual(
      Object.keys((await store.get(id))!.attrs),
      ['fresh'],
      'the old attributes are gone',
    );
    await store.cleanup();
    // Other tests share the schema, so the cleanup may retire their rows: count only this id.
    assert.deepEqual(
      heard.filter((expired) => expired === id),
      [id],
      'the cleanup fires no second event',
    );
    await store.close();
  });

  it('keeps nothing of a delta that is dead on arrival and fires no event for it', async () => {
    const store = new PostgresStore({
      pool: schema.pool,
      schema: schema.name,
      cleanupIntervalMs: 0,
    });
    const heard: string[] = [];
    store.on('expired', (expired) => heard.push(expired));
    const id = newId();
    await store.merge(id, freshRecord({ a: 1 }, 10, Date.now() - 1000));
    assert.equal(await store.get(id), undefined);
    assert.deepEqual(await store.ids().then((ids) => ids.includes(id)), false);
    await store.cleanup();
    assert.deepEqual(
      heard.filter((expired) => expired === id),
      [],
    );
    await store.close();
  });

  it('adds the last_merge column to a table made by an older migration', async () => {
    await schema.pool.query(
      `CREATE TABLE ${schema.name}.old_shape (id text COLLATE "C" PRIMARY KEY, created_at bigint,
       accessed_at bigint, idle_t text COLLATE "C", idle_v bigint, absolute_expires_at bigint,
       principal_t text COLLATE "C", principal text, destroyed text COLLATE "C",
       attrs jsonb NOT NULL DEFAULT '{}', expires_at bigint NOT NULL)`,
    );
    const store = await createPostgresStore({
      pool: schema.pool,
      schema: schema.name,
      table: 'old_shape',
      cleanupIntervalMs: 0,
    });
    const id = newId();
    await store.merge(id, freshRecord({ a: 1 }));
    assert.equal((await store.get(id))!.attrs.a!.j, '1');
    await store.close();
  });

  it('cleans expired rows in batches, one node at a time, each expired event fired once', async () => {
    const a = await createPostgresStore({
      pool: schema.pool,
      schema: schema.name,
      table: 'cleanup_test',
      cleanupIntervalMs: 0,
      cleanupBatch: 7,
    });
    const b = new PostgresStore({
      pool: schema.pool,
      schema: schema.name,
      table: 'cleanup_test',
      cleanupIntervalMs: 0,
      cleanupBatch: 7,
    });
    const ids = Array.from({ length: 50 }, newId);
    for (const id of ids) await a.merge(id, freshRecord({ a: 1 }, 100));
    await a.destroy(ids[0]!); // a tombstone: deleted later, never an expired event
    await new Promise((r) => setTimeout(r, 150));
    const heard: string[] = [];
    a.on('expired', (id) => heard.push(id));
    b.on('expired', (id) => heard.push(id));
    const [x, y] = await Promise.all([a.cleanup(), b.cleanup()]);
    assert.equal(x + y, 49);
    assert.deepEqual([...heard].sort(), ids.slice(1).sort());
    const left = await schema.pool.query(
      `SELECT count(*)::int AS n FROM ${schema.name}.cleanup_test`,
    );
    assert.equal(left.rows[0].n, 1, 'the tombstone stays until its own end');
    await a.close();
    await b.close();
  });

  it('uses its indexes for expiry and principal lookups', async () => {
    await createPostgresStore({
      pool: schema.pool,
      schema: schema.name,
      table: 'plan_test',
      cleanupIntervalMs: 0,
    });
    const plan = async (sql: string) => {
      const c = await schema.pool.connect();
      try {
        await c.query('SET enable_seqscan = off');
        return JSON.stringify((await c.query(`EXPLAIN (FORMAT JSON) ${sql}`)).rows);
      } finally {
        await c.query('RESET enable_seqscan');
        c.release();
      }
    };
    assert.match(
      await plan(
        `SELECT id FROM ${schema.name}.plan_test WHERE expires_at <= 5 ORDER BY expires_at LIMIT 10`,
      ),
      /plan_test_expires_at/,
    );
    assert.match(
      await plan(`SELECT id FROM ${schema.name}.plan_test WHERE principal = 'x'`),
      /plan_test_principal/,
    );
  });

  it('rejects bad options with their names', () => {
    assert.throws(() => new PostgresStore({} as never), { code: 'SM_ERR_OPTION_INVALID' });
    assert.throws(() => new PostgresStore({ pool: schema.pool, table: 'x; drop' }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
    assert.throws(() => new PostgresStore({ pool: schema.pool, schema: '1bad' }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
    assert.throws(() => new PostgresStore({ pool: schema.pool, cleanupBatch: 0 }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
  });

  it('refuses an unstorable id and answers no session for it', async () => {
    const store = new PostgresStore({
      pool: schema.pool,
      schema: schema.name,
      cleanupIntervalMs: 0,
    });
    await assert.rejects(store.merge('', freshRecord()), { code: 'SM_ERR_STORE_ID_INVALID' });
    assert.equal(await store.get('x'.repeat(300)), undefined);
    await store.close();
  });
});
