import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { createRedisStore, type RedisStore } from '../../src/store/redis-store.js';
import { freshRecord, runStoreContract } from '../../src/store/store.contract.js';
import { HybridClock } from '../../src/session/hlc.js';
import { redisCli, startRedis, stopRedis, type RedisProcess } from '../helpers/redis-server.js';

const clock = new HybridClock('test');
const newId = () => randomBytes(24).toString('base64url');
type Client = ReturnType<typeof createClient<any, any, any, any, any>>;

let server: RedisProcess;
const clients: Client[] = [];
async function client(): Promise<Client> {
  const c = createClient({ url: server.url });
  c.on('error', () => {});
  clients.push(c);
  return c.connect() as Promise<Client>;
}

before(async () => {
  server = await startRedis();
});
after(async () => {
  for (const c of clients) c.destroy();
  await stopRedis(server);
});

runStoreContract({
  name: 'RedisStore (standalone)',
  create: async () => createRedisStore({ client: await client() }),
});
runStoreContract({
  name: 'RedisStore (standalone, near cache)',
  create: async () =>
    createRedisStore({ client: await client(), nearCache: true, prefix: 'near:' }),
});

describe('RedisStore on a standalone server', () => {
  it('keeps one hash per session with a field per attribute, under a hash-tagged prefix', async () => {
    const store = await createRedisStore({
      client: await client(),
      prefix: 'app1:',
      events: false,
    });
    const id = newId();
    await store.merge(id, freshRecord({ a: 1, b: 'x' }));
    const fields = redisCli(server.port, 'hkeys', `app1:{${id}}`).trim().split('\n').sort();
    assert.deepEqual(
      fields.filter((f) => f.startsWith('a:')),
      ['a:a', 'a:b'],
    );
    const ttl = Number(redisCli(server.port, 'pttl', `app1:{${id}}`).trim());
    assert.ok(ttl > 60_000 && ttl <= 60_000 + 60_000, `sliding expiry set with PEXPIREAT: ${ttl}`);
    await store.close();
  });

  it('recovers when the server lost its scripts (EVALSHA falls back to EVAL)', async () => {
    const store = await createRedisStore({ client: await client(), events: false });
    const id = newId();
    const first = freshRecord({ a: 1 });
    clock.observe(first.attrs!.a!.t);
    await store.merge(id, first);
    redisCli(server.port, 'script', 'flush');
    await store.merge(id, { attrs: { a: { j: '2', t: clock.tick() } } });
    assert.equal((await store.get(id))!.attrs.a!.j, '2');
    await store.close();
  });

  it("two stores sharing a server see each other's writes, the near cache included", async () => {
    const a = await createRedisStore({ client: await client(), nearCache: true, events: false });
    const b = await createRedisStore({ client: await client(), nearCache: true, events: false });
    const id = newId();
    const first = freshRecord({ n: 1 });
    clock.observe(first.attrs!.n!.t); // the contract's clock may be ahead within this millisecond
    await a.merge(id, first);
    assert.equal((await a.get(id))!.attrs.n!.j, '1');
    assert.equal((await b.get(id))!.attrs.n!.j, '1');
    await b.merge(id, { attrs: { n: { j: '2', t: clock.tick() } } });
    // The invalidation reaches a's connection asynchronously; it is there within a few ms.
    let seen = '';
    for (let i = 0; i < 50 && seen !== '2'; i++) {
      seen = (await a.get(id))!.attrs.n!.j!;
      if (seen !== '2') await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(seen, '2');
    await a.destroy(id);
    for (let i = 0; i < 50 && (await b.get(id)) !== undefined; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(await b.get(id), undefined);
    await a.close();
    await b.close();
  });

  it('serves a near-cached session after its own write without a round trip', async () => {
    const store = await createRedisStore({
      client: await client(),
      nearCache: { maxEntries: 100 },
      events: false,
    });
    const id = newId();
    await store.merge(id, freshRecord({ n: 1 }));
    const before = commandsProcessed(server.port);
    for (let i = 0; i < 10; i++) assert.ok(await store.get(id));
    const used = commandsProcessed(server.port) - before - 1; // minus the INFO itself
    assert.equal(used, 0);
    assert.ok(store.nearCacheStats!.hits >= 10);
    await store.close();
  });

  it('answers a near-cached session synchronously, and null once another node wrote it', async () => {
    const a = await createRedisStore({ client: await client(), nearCache: true, events: false });
    const b = await createRedisStore({ client: await client(), events: false });
    const id = newId();
    assert.equal(a.readSync(id), null, 'not cached: only the server can tell');
    const first = freshRecord({ n: 1 });
    clock.observe(first.attrs!.n!.t);
    await a.merge(id, first);
    assert.equal(a.readSync(id)!.attrs.n!.j, '1', 'its own write is cached');
    await b.merge(id, { attrs: { n: { j: '2', t: clock.tick() } } });
    for (let i = 0; i < 50 && a.readSync(id) !== null; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(a.readSync(id), null, "b's write invalidated a's copy");
    assert.equal((await a.get(id))!.attrs.n!.j, '2');
    assert.equal(a.readSync(id)!.attrs.n!.j, '2');
    const plain = await createRedisStore({ client: await client(), events: false });
    assert.equal(plain.readSync(id), null, 'without a near cache it never answers');
    await Promise.all([a.close(), b.close(), plain.close()]);
  });

  it('keeps the near cache within maxEntries', async () => {
    const store = await createRedisStore({
      client: await client(),
      nearCache: { maxEntries: 5 },
      events: false,
    });
    for (let i = 0; i < 20; i++) await store.merge(newId(), freshRecord({ i }));
    assert.equal(store.nearCacheStats!.size, 5);
    await store.close();
  });

  it('lists sessions without making the server track every key for the near cache', async () => {
    const writer = await createRedisStore({ client: await client(), prefix: 'untracked:' });
    const near = await createRedisStore({
      client: await client(),
      prefix: 'untracked:',
      nearCache: true,
      events: false,
    });
    const ids = Array.from({ length: 50 }, newId);
    for (const id of ids) await writer.merge(id, freshRecord({ id }));
    const tracked = () =>
      Number(/tracking_total_keys:(\d+)/.exec(redisCli(server.port, 'info', 'stats'))![1]);
    const before = tracked();
    assert.deepEqual((await near.ids()).sort(), [...ids].sort());
    // Only loads are tracked (they fill the cache); a listing read every hash's metadata.
    assert.ok(tracked() - before < ids.length, `tracked keys grew by ${tracked() - before}`);
    await near.get(ids[0]!);
    assert.equal(tracked() - before, 1, 'a load is tracked');
    await writer.close();
    await near.close();
  });

  it('refuses ids that would break the hash tag, and answers no session for them', async () => {
    const store = await createRedisStore({ client: await client(), events: false });
    await assert.rejects(store.merge('a}b', freshRecord()), { code: 'SM_ERR_STORE_ID_INVALID' });
    await assert.rejects(store.merge('', freshRecord()), { code: 'SM_ERR_STORE_ID_INVALID' });
    assert.equal(await store.get('{x}'), undefined);
    await store.close();
  });

  it('rejects bad options with their names', async () => {
    const c = await client();
    assert.throws(() => createRedisStoreSync({}), { code: 'SM_ERR_OPTION_INVALID' });
    assert.throws(() => createRedisStoreSync({ client: c, prefix: 'a{' }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
    assert.throws(() => createRedisStoreSync({ client: c, timeoutMs: 0 }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
    assert.throws(
      () => createRedisStoreSync({ client: c, durability: { replicas: 0, timeoutMs: 10 } }),
      {
        code: 'SM_ERR_OPTION_INVALID',
      },
    );
    assert.throws(() => createRedisStoreSync({ client: c, nearCache: { maxEntries: -1 } }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
  });

  it('fails a durable write with SM_ERR_STORE_UNAVAILABLE when no replica acknowledges it', async () => {
    const store = await createRedisStore({
      client: await client(),
      events: false,
      durability: { replicas: 1, timeoutMs: 50 },
    });
    await assert.rejects(store.merge(newId(), freshRecord()), { code: 'SM_ERR_STORE_UNAVAILABLE' });
    await store.close();
  });

  it('queues nothing while disconnected: a write refused during an outage is not applied later', async () => {
    const own = await startRedis();
    const c = createClient({ url: own.url });
    c.on('error', () => {});
    await c.connect();
    const store = await createRedisStore({ client: c, events: false, timeoutMs: 300 });
    try {
      await own.kill();
      for (let i = 0; i < 50 && c.isReady; i++) await new Promise((r) => setTimeout(r, 10));
      const started = Date.now();
      await assert.rejects(store.merge(newId(), freshRecord({ a: 1 })), {
        code: 'SM_ERR_STORE_UNAVAILABLE',
      });
      assert.ok(Date.now() - started < 1000, 'refused within the deadline');
      // The server comes back empty (no persistence): a write sent on reconnect would show.
      await own.restart();
      for (let i = 0; i < 200 && !c.isReady; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(c.isReady, 'the client reconnected');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(
        redisCli(own.port, 'dbsize').trim(),
        '0',
        'the refused write was not sent later',
      );
      const id = newId();
      await store.merge(id, freshRecord({ a: 2 }));
      assert.equal((await store.get(id))!.attrs.a!.j, '2');
    } finally {
      await store.close();
      c.destroy();
      await stopRedis(own);
    }
  });

  it('sets notify-keyspace-events again after a server restart, and still fires expired events', async () => {
    const own = await startRedis();
    const c = createClient({ url: own.url });
    c.on('error', () => {});
    await c.connect();
    const store = await createRedisStore({ client: c });
    try {
      await own.restart();
      const id = newId();
      const expired = new Promise<string>((resolve) =>
        store.on('expired', (got) => got === id && resolve(got)),
      );
      await store.merge(id, freshRecord({ a: 1 }, 300));
      const got = await Promise.race([
        expired,
        new Promise((r) => setTimeout(() => r('timeout'), 5000)),
      ]);
      assert.equal(got, id);
      assert.match(redisCli(own.port, 'config', 'get', 'notify-keyspace-events'), /E/);
    } finally {
      await store.close();
      c.destroy();
      await stopRedis(own);
    }
  });

  it('fires one expired event for two app nodes listening to the same server', async () => {
    const a = await createRedisStore({ client: await client() });
    const b = await createRedisStore({ client: await client() });
    const id = newId();
    const events: string[] = [];
    a.on('expired', (got) => got === id && events.push('a'));
    b.on('expired', (got) => got === id && events.push('b'));
    await a.merge(id, freshRecord({ a: 1 }, 200));
    for (let i = 0; i < 100 && events.length === 0; i++)
      await new Promise((r) => setTimeout(r, 30));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(events.length, 1);
    await a.close();
    await b.close();
  });

  it('fires expired events by sweeping when CONFIG is forbidden: once over two app nodes', async () => {
    const own = await startRedis(['--rename-command', 'CONFIG', '']);
    const connected: Client[] = [];
    const open = async (options: { sweepIntervalMs?: number }) => {
      const c = createClient({ url: own.url });
      c.on('error', () => {});
      connected.push((await c.connect()) as Client);
      return createRedisStore({ client: c, expiredGraceMs: 3_000, ...options });
    };
    const stores: RedisStore[] = [];
    try {
      const a = await open({ sweepIntervalMs: 100 });
      const b = await open({ sweepIntervalMs: 100 });
      stores.push(a, b);
      assert.deepEqual(a.eventsUnavailableOn, ['standalone']);
      const dying = newId();
      const living = newId();
      const events: string[] = [];
      for (const [name, store] of [
        ['a', a],
        ['b', b],
      ] as const)
        store.on('expired', (id) => events.push(`${name}:${id === dying ? 'dying' : id}`));
      await a.merge(dying, {
        ...freshRecord({ n: 1 }, 300),
        principal: { v: 'alice', t: clock.tick() },
      });
      await a.merge(living, freshRecord({ n: 2 }));
      assert.deepEqual(await a.idsOfPrincipal('alice'), [dying]);
      for (let i = 0; i < 100 && events.length === 0; i++)
        await new Promise((r) => setTimeout(r, 30));
      // A few more sweeps by both nodes: the event must not come again.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(events.length, 1, `one event over both nodes: ${events.join(', ')}`);
      assert.match(events[0]!, /^[ab]:dying$/);
      // The node that fired it cleaned the principal's index, as the listener path does.
      assert.equal(redisCli(own.port, 'smembers', 'sm:p:{alice}').trim(), '');
      assert.ok(await a.get(living), 'a live session is left alone');
    } finally {
      for (const store of stores) await store.close();
      for (const c of connected) c.destroy();
      await stopRedis(own);
    }
  });

  it('refuses a sweep interval that a dead hash would not outlive', async () => {
    await assert.rejects(
      async () =>
        createRedisStore({ client: await client(), expiredGraceMs: 1_000, sweepIntervalMs: 1_000 }),
      /sweepIntervalMs/,
    );
  });
});

function commandsProcessed(port: number): number {
  const info = redisCli(port, 'info', 'stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}

function createRedisStoreSync(options: unknown): RedisStore {
  return new (RedisStoreClass())(options as never);
}

import { RedisStore as RedisStoreCtor } from '../../src/store/redis-store.js';
function RedisStoreClass(): typeof RedisStoreCtor {
  return RedisStoreCtor;
}
