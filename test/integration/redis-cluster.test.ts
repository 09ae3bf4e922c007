import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createCluster } from 'redis';
import { createRedisStore, type RedisStore } from '../../src/store/redis-store.js';
import { freshRecord, runStoreContract } from '../../src/store/store.contract.js';
import { HybridClock } from '../../src/session/hlc.js';
import {
  redisCli,
  startRedisCluster,
  type RedisClusterProcesses,
} from '../helpers/redis-server.js';

const clock = new HybridClock('cluster-test');
const newId = () => randomBytes(24).toString('base64url');
type Cluster = ReturnType<typeof createCluster<any, any, any, any, any>>;

let cluster: RedisClusterProcesses;
const clients: Cluster[] = [];
async function connect(): Promise<Cluster> {
  // Refresh the topology soon after a node drops (node-redis waits 5 s by default).
  const c = createCluster({
    rootNodes: cluster.rootNodes,
    topologyRefreshOnReconnectionAttemptStrategy: 200,
  }) as unknown as Cluster;
  c.on('error', () => {});
  clients.push(c);
  await c.connect();
  return c;
}

before(async () => {
  cluster = await startRedisCluster(3, 1);
});
after(async () => {
  for (const c of clients) c.destroy();
  await cluster?.stop();
});

runStoreContract({
  name: 'RedisStore (Redis Cluster, 3 masters + 3 replicas)',
  create: async () => createRedisStore({ client: await connect() }),
});
runStoreContract({
  name: 'RedisStore (Redis Cluster, near cache)',
  create: async () =>
    createRedisStore({ client: await connect(), nearCache: true, prefix: 'contract-near:' }),
});

describe('RedisStore on Redis Cluster', () => {
  it('lists and clears sessions that live on every master', async () => {
    const store = await createRedisStore({
      client: await connect(),
      prefix: 'list:',
      events: false,
    });
    const ids = Array.from({ length: 30 }, newId);
    for (const id of ids) await store.merge(id, freshRecord({ id }));
    const slotsOwners = new Set(
      ids.map((id) => clients[clients.length - 1]!.getSlotMaster(slotOf(`list:{${id}}`)).address),
    );
    assert.equal(slotsOwners.size, 3, 'the sessions spread over the three masters');
    assert.deepEqual((await store.ids()).sort(), [...ids].sort());
    await new Promise<void>((resolve, reject) =>
      store.clear((err) => (err ? reject(err) : resolve())),
    );
    assert.deepEqual(await store.ids(), []);
    await store.close();
  });

  it('keeps the principal index in its own slot, consistent with the sessions', async () => {
    const store = await createRedisStore({ client: await connect(), events: false });
    const principal = `user-${newId()}`;
    const ids = Array.from({ length: 6 }, newId);
    for (const id of ids) {
      const record = freshRecord();
      record.principal = { v: principal, t: clock.tick() };
      await store.merge(id, record);
    }
    assert.deepEqual((await store.idsOfPrincipal(principal)).sort(), [...ids].sort());
    await store.destroy(ids[0]!);
    assert.deepEqual((await store.idsOfPrincipal(principal)).sort(), ids.slice(1).sort());
    await store.close();
  });

  it('fires each expired event once for two app nodes, whichever master held the session', async () => {
    const a = await createRedisStore({ client: await connect() });
    const b = await createRedisStore({ client: await connect() });
    const ids = Array.from({ length: 9 }, newId);
    const heard: string[] = [];
    for (const store of [a, b]) store.on('expired', (id) => ids.includes(id) && heard.push(id));
    for (const id of ids) await a.merge(id, freshRecord({ a: 1 }, 200));
    for (let i = 0; i < 100 && heard.length < ids.length; i++)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual([...heard].sort(), [...ids].sort());
    await a.close();
    await b.close();
  });

  it('sweeps every master for expired sessions where keyspace notifications are off', async () => {
    // As on a managed Redis that forbids CONFIG: no notifications, and the stores may not set them.
    const setNotifications = (flags: string) => {
      for (const node of cluster.nodes)
        redisCli(node.port, 'config', 'set', 'notify-keyspace-events', flags);
    };
    setNotifications('');
    const options = {
      prefix: 'sweep:',
      configureKeyspaceEvents: false,
      expiredGraceMs: 3_000,
      sweepIntervalMs: 100,
    };
    const a = await createRedisStore({ client: await connect(), ...options });
    const b = await createRedisStore({ client: await connect(), ...options });
    try {
      assert.equal(a.eventsUnavailableOn.length, 3, 'no master gives expired events');
      // Three sessions on each master.
      const perMaster = new Map<string, number>();
      const ids: string[] = [];
      while (ids.length < 9) {
        const id = newId();
        const master = masterOf(`sweep:{${id}}`);
        if ((perMaster.get(master) ?? 0) === 3) continue;
        perMaster.set(master, (perMaster.get(master) ?? 0) + 1);
        ids.push(id);
      }
      const heard: string[] = [];
      for (const store of [a, b]) store.on('expired', (id) => ids.includes(id) && heard.push(id));
      for (const id of ids) await a.merge(id, freshRecord({ a: 1 }, 200));
      for (let i = 0; i < 100 && heard.length < ids.length; i++)
        await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual([...heard].sort(), [...ids].sort(), 'each one once, over both nodes');
    } finally {
      await a.close();
      await b.close();
      setNotifications('Ex');
    }
  });
});

describe(
  'RedisStore near cache on Redis Cluster (published invalidations)',
  { timeout: 60_000 },
  () => {
    const opened: RedisStore[] = [];
    after(async () => {
      for (const store of opened) await store.close();
    });
    async function store(options: { nearCache?: boolean; prefix?: string } = {}) {
      const created = await createRedisStore({
        client: await connect(),
        events: false,
        prefix: 'near:',
        ...options,
      });
      opened.push(created);
      return created;
    }

    it("sees another app node's write and destroy within a second, and repeats reads with no round trip", async (t) => {
      const a = await store({ nearCache: true });
      const b = await store({ nearCache: true });
      const id = newId();
      await b.merge(id, freshRecord({ n: 1 }));
      assert.equal((await a.get(id))?.attrs.n?.j, '1');
      assert.ok(await cached(a, id), 'a keeps the session');
      const hgetall = hgetallCalls();
      const before = a.nearCacheStats!;
      for (let i = 0; i < 20; i++) assert.equal((await a.get(id))?.attrs.n?.j, '1');
      assert.equal(hgetallCalls(), hgetall, 'no HGETALL on any node for cached reads');
      assert.equal(a.nearCacheStats!.hits - before.hits, 20);
      assert.equal(a.nearCacheStats!.misses, before.misses);

      await b.merge(id, { attrs: { n: { j: '2', t: clock.tick() } } });
      const ackedAt = performance.now();
      // a keeps only this session: its entry goes when the invalidation arrives.
      assert.ok(await eventually(() => a.nearCacheStats!.size === 0, 1000, 0));
      const ms = (performance.now() - ackedAt).toFixed(2);
      t.diagnostic(`a dropped the session ${ms} ms after b's write was acknowledged`);
      assert.equal((await a.get(id))?.attrs.n?.j, '2');
      await b.destroy(id);
      assert.ok(await eventually(async () => (await a.get(id)) === undefined));
    });

    it('keeps sessions spread over every master valid, written by a store without a near cache', async () => {
      const a = await store({ nearCache: true });
      // No near cache of its own: it publishes by default all the same.
      const b = await store();
      const ids = Array.from({ length: 60 }, newId);
      for (const id of ids) await b.merge(id, freshRecord({ v: 'old' }));
      const owners = new Set(ids.map((id) => masterOf(`near:{${id}}`)));
      assert.equal(owners.size, 3, 'the sessions spread over the three masters');
      for (const id of ids) assert.equal((await a.get(id))?.attrs.v?.j, '"old"');
      // The invalidations of b's last writes may reach a after its first reads: a pass or two.
      assert.ok(
        await eventually(async () => {
          const hits = a.nearCacheStats!.hits;
          for (const id of ids) assert.ok(await a.get(id));
          return a.nearCacheStats!.hits - hits === ids.length;
        }),
        'every session was near-cached',
      );
      await Promise.all(
        ids.map((id) => b.merge(id, { attrs: { v: { j: '"new"', t: clock.tick() } } })),
      );
      assert.ok(
        await eventually(async () => {
          const values = await Promise.all(ids.map(async (id) => (await a.get(id))?.attrs.v?.j));
          return values.every((v) => v === '"new"');
        }),
        'every session shows the new value',
      );
    });

    it('refuses publishInvalidations: false together with a near cache', async () => {
      const c = await connect();
      await assert.rejects(
        async () => createRedisStore({ client: c, nearCache: true, publishInvalidations: false }),
        (err: { code?: string }) => err.code === 'SM_ERR_OPTION_INVALID',
      );
    });

    it('with publishInvalidations: false a write publishes nothing', async () => {
      const quiet = await createRedisStore({
        client: await connect(),
        events: false,
        prefix: 'quiet:',
        publishInvalidations: false,
      });
      opened.push(quiet);
      const published = publishCalls();
      await quiet.merge(newId(), freshRecord({ n: 1 }));
      assert.equal(publishCalls(), published);
    });

    it('empties the cache when its subscription is lost, so a write made meanwhile is not served stale', async () => {
      const a = await store({ nearCache: true });
      const id = newId();
      await a.merge(id, freshRecord({ n: 1 }));
      assert.equal((await a.get(id))?.attrs.n?.j, '1');
      assert.ok(await cached(a, id), 'a keeps the session');
      // Synchronous from here to the write: this process cannot reconnect its subscriber before
      // the write's invalidation is published, so that message is lost for it.
      for (const node of cluster.nodes) redisCli(node.port, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
      writeElsewhere(`near:{${id}}`, 'n', '2', 'near:invalidate', `elsewhere ${id}`);
      assert.ok(await eventually(() => a.nearCacheStats!.size === 0), 'the cache was emptied');
      assert.equal((await a.get(id))?.attrs.n?.j, '2');
      // Subscribed again: the cache keeps entries and hears writes again.
      assert.ok(await cached(a, id), 'the cache keeps entries again');
      const b = await store();
      await b.merge(id, { attrs: { n: { j: '3', t: clock.tick() } } });
      assert.ok(await eventually(async () => (await a.get(id))?.attrs.n?.j === '3'));
    });

    // Last: it kills a master of the shared cluster.
    it('moves its subscription off a killed master and sees the writes made after the failover', async (t) => {
      // Only this test's near-cache store subscribes, so the subscribed master is its.
      for (const earlier of opened.splice(0)) await earlier.close();
      const a = await store({ nearCache: true });
      const b = await store();
      const subscribed = () =>
        cluster.nodes.filter(
          (n) =>
            n.process.exitCode === null &&
            n.process.signalCode === null &&
            /near:invalidate\s+1\b/.test(redisCli(n.port, 'PUBSUB', 'NUMSUB', 'near:invalidate')),
        );
      const victim = subscribed()[0];
      assert.ok(victim, 'a node holds the near-cache subscriber');
      assert.ok(redisCli(victim.port, 'ROLE').startsWith('master'));
      // A session on the victim: its writes after the failover go to the promoted replica.
      let id = newId();
      while (masterOf(`near:{${id}}`) !== `127.0.0.1:${victim.port}`) id = newId();
      await b.merge(id, freshRecord({ n: 1 }));
      assert.equal((await a.get(id))?.attrs.n?.j, '1');
      assert.ok(await cached(a, id), 'a keeps the session');

      const killedAt = Date.now();
      await victim.kill();
      assert.ok(await eventually(() => a.nearCacheStats!.size === 0), 'the cache was emptied');
      // Until a caches again, which takes a new subscription (bounded).
      assert.ok(
        await eventually(async () => {
          const hits = a.nearCacheStats!.hits;
          await a.get(id).catch(() => undefined);
          return a.nearCacheStats!.hits > hits;
        }, 20_000),
        'the near cache keeps entries again after the failover',
      );
      t.diagnostic(`the near cache was live again ${Date.now() - killedAt} ms after the kill`);
      assert.equal(subscribed().length, 1, 'subscribed again, on a live node');

      let n = 1;
      for (let attempt = 0; ; attempt++) {
        try {
          await b.merge(id, { attrs: { n: { j: String(++n), t: clock.tick() } } });
          break;
        } catch (err) {
          if (attempt >= 50) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const expected = String(n);
      assert.ok(
        await eventually(async () => (await a.get(id))?.attrs.n?.j === expected),
        'the near-cache store saw the write made after the failover',
      );
    });
  },
);

/**
 * Until a read of `id` is a near-cache hit: b's invalidation of a write made before a's first
 * read may reach a after it, and drop the entry once.
 */
function cached(store: RedisStore, id: string): Promise<boolean> {
  return eventually(async () => {
    const hits = store.nearCacheStats!.hits;
    await store.get(id);
    return store.nearCacheStats!.hits > hits;
  });
}

/** Polls `check` every `pauseMs` (0: every turn of the event loop) until it holds or `ms` pass. */
async function eventually(
  check: () => boolean | Promise<boolean>,
  ms = 1000,
  pauseMs = 10,
): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => (pauseMs > 0 ? setTimeout(r, pauseMs) : setImmediate(r)));
  }
}

function statCalls(command: string): number {
  let calls = 0;
  for (const node of cluster.nodes) {
    const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(
      redisCli(node.port, 'INFO', 'commandstats'),
    );
    calls += Number(match?.[1] ?? 0);
  }
  return calls;
}
const hgetallCalls = () => statCalls('hgetall');
const publishCalls = () => statCalls('publish');

function masterOf(key: string): string {
  return clients[0]!.getSlotMaster(slotOf(key)).address;
}

/**
 * Another writer, through redis-cli (so synchronously): sets attribute `name` of the hash `key`
 * to the JSON `json` with a fresh timestamp, then publishes `message` on `channel`.
 */
function writeElsewhere(key: string, name: string, json: string, channel: string, message: string) {
  const port = Number(masterOf(key).split(':').pop());
  const input = `HSET ${key} a:${name} "${clock.tick()}\\x00${json}"\nPUBLISH ${channel} "${message}"\n`;
  const out = spawnSync('redis-cli', ['-p', String(port)], {
    input,
    encoding: 'utf8',
    timeout: 2000,
  });
  assert.match(out.stdout, /^0\n\d+\n$/, out.stdout + out.stderr);
}

// CRC16/XMODEM mod 16384 of the hash tag, as Redis Cluster computes a key's slot.
function slotOf(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
