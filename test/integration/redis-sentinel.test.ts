// RedisStore over a Sentinel-managed Redis (node-redis createSentinel), against real processes:
// a master, a replica and three sentinels (test/helpers/redis-sentinel.ts). The store contract,
// then a failover under writes: SIGKILL the master, the sentinels promote the replica, and the
// store keeps serving. Replication is asynchronous, so a write acknowledged just before the kill
// may be lost; with `durability` (WAIT for a replica) none is, and writes fail clearly while no
// replica is left to confirm them. Also: a login and a read behind the Express adapter, expiry
// events heard from the promoted master, the old master back as a replica, and the near cache
// (published invalidations) right before and after the failover and across a lost subscription.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import express from 'express';
import { createSentinel } from 'redis';
import { session } from '../../src/http/express.js';
import { createRedisStore, type RedisStore } from '../../src/store/redis-store.js';
import { freshRecord, runStoreContract } from '../../src/store/store.contract.js';
import { HybridClock } from '../../src/session/hlc.js';
import { Client, listen, SECRET } from '../helpers/http-client.js';
import { redisCli } from '../helpers/redis-server.js';
import {
  SENTINEL_MASTER_NAME,
  startSentinelSetup,
  type SentinelSetup,
} from '../helpers/redis-sentinel.js';

const clock = new HybridClock('sentinel-test');
const newId = () => randomBytes(24).toString('base64url');
type Sentinel = ReturnType<typeof createSentinel<any, any, any, any, any>>;

let setup: SentinelSetup;
const clients: Sentinel[] = [];
async function client(): Promise<Sentinel> {
  const c = createSentinel({
    name: SENTINEL_MASTER_NAME,
    sentinelRootNodes: setup.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
  });
  c.on('error', () => {});
  clients.push(c);
  return (await c.connect()) as Sentinel;
}

before(async () => {
  setup = await startSentinelSetup();
});
after(async () => {
  for (const c of clients) c.destroy();
  await setup?.stop();
});

runStoreContract({
  name: 'RedisStore (Sentinel)',
  create: async () => createRedisStore({ client: await client(), prefix: 'contract:' }),
});
runStoreContract({
  name: 'RedisStore (Sentinel, near cache)',
  create: async () =>
    createRedisStore({ client: await client(), nearCache: true, prefix: 'contract-near:' }),
});

describe('RedisStore over Sentinel', { timeout: 90_000 }, () => {
  it('serves a login and a read behind the Express adapter', async () => {
    const store = await createRedisStore({ client: await client(), prefix: 'web:' });
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(session({ secret: SECRET, store }));
    app.post('/login', (req, res, next) => {
      req.session.regenerate((err) => {
        if (err) return next(err);
        req.session.user = req.body.user;
        req.session.setPrincipal(String(req.body.user));
        res.json({ ok: true });
      });
    });
    app.get('/me', (req, res) => res.json({ user: req.session.user ?? null }));
    const { base, close } = await listen(createServer(app));
    try {
      const browser = new Client(base);
      assert.equal((await browser.post('/login', { user: 'ada' })).status, 200);
      const me = await browser.get('/me');
      assert.equal(me.status, 200);
      assert.deepEqual(JSON.parse(me.body), { user: 'ada' });
      assert.equal((await store.idsOfPrincipal('ada')).length, 1);
      // Another browser (no cookie) is nobody.
      assert.deepEqual(JSON.parse((await new Client(base).get('/me')).body), { user: null });
    } finally {
      await close();
      await store.close();
    }
  });

  it("a near cache sees another app node's write and destroy, and repeats reads with no round trip", async (t) => {
    const a = await createRedisStore({ client: await client(), nearCache: true, prefix: 'nc:' });
    const b = await createRedisStore({ client: await client(), prefix: 'nc:' });
    try {
      const id = newId();
      await b.merge(id, freshRecord({ n: 1 }));
      assert.equal((await a.get(id))?.attrs.n?.j, '1');
      assert.ok(await cached(a, id), 'a keeps the session');
      const hgetall = hgetallCalls();
      const before = a.nearCacheStats!;
      for (let i = 0; i < 20; i++) assert.equal((await a.get(id))?.attrs.n?.j, '1');
      assert.equal(hgetallCalls(), hgetall, 'no HGETALL for cached reads');
      assert.equal(a.nearCacheStats!.hits - before.hits, 20);
      await b.merge(id, { attrs: { n: { j: '2', t: clock.tick() } } });
      const ackedAt = performance.now();
      // a keeps only this session: its entry goes when the invalidation arrives.
      assert.ok(await eventually(() => a.nearCacheStats!.size === 0, 1000, 0));
      const ms = (performance.now() - ackedAt).toFixed(2);
      t.diagnostic(`a dropped the session ${ms} ms after b's write was acknowledged`);
      assert.equal((await a.get(id))?.attrs.n?.j, '2');
      await b.destroy(id);
      assert.ok(await eventually(async () => (await a.get(id)) === undefined));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a near cache is emptied when its subscription is lost, so a write made meanwhile is not served stale', async () => {
    const a = await createRedisStore({ client: await client(), nearCache: true, prefix: 'nc:' });
    try {
      const id = newId();
      await a.merge(id, freshRecord({ n: 1 }));
      assert.ok(await cached(a, id), 'a keeps the session');
      // Synchronous from here to the write: this process cannot subscribe again before the
      // write's invalidation is published, so that message is lost for it.
      const port = setup.masterPort();
      redisCli(port, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
      writeElsewhere(port, `nc:{${id}}`, 'n', '2', 'nc:invalidate', `elsewhere ${id}`);
      assert.ok(await eventually(() => a.nearCacheStats!.size === 0), 'the cache was emptied');
      assert.equal((await a.get(id))?.attrs.n?.j, '2');
      assert.ok(await cached(a, id), 'the cache keeps entries again once subscribed');
    } finally {
      await a.close();
    }
  });

  // Set by the failover test, used by the ones after it.
  let watcher: RedisStore | undefined;
  let durable: RedisStore | undefined;
  // A near-cache store and the session it keeps from before the kill.
  let near: RedisStore | undefined;
  const nearId = newId();
  // Its subscriber is a client of its own: closed here too if a test stopped before closing it.
  after(async () => near?.close());

  it('keeps serving through a failover; with durability no acknowledged write is lost', async (t) => {
    const plain = await createRedisStore({ client: await client(), events: false, prefix: 'fo:' });
    durable = await createRedisStore({
      client: await client(),
      events: false,
      prefix: 'fo:',
      durability: { replicas: 1, timeoutMs: 500 },
    });
    // Listens for expired events from before the kill on: must follow the master.
    watcher = await createRedisStore({ client: await client(), prefix: 'ev:' });
    near = await createRedisStore({ client: await client(), nearCache: true, prefix: 'nc:' });
    // Acknowledged by the replica, so it survives the failover.
    const nearWriter = await createRedisStore({
      client: await client(),
      events: false,
      prefix: 'nc:',
      durability: { replicas: 1, timeoutMs: 500 },
    });
    await nearWriter.merge(nearId, freshRecord({ n: 1 }, 600_000));
    await nearWriter.close();
    assert.ok(await cached(near, nearId), 'the near cache keeps the session before the kill');
    type Session = { id: string; acked: number; okAfterKill: number };
    const sessions = (n: number): Session[] =>
      Array.from({ length: n }, () => ({ id: newId(), acked: 0, okAfterKill: 0 }));
    const plainSessions = sessions(20);
    const durableSessions = sessions(20);
    for (const s of [...plainSessions, ...durableSessions]) {
      await plain.merge(s.id, freshRecord({ n: 0 }));
    }
    let killedAt = 0;
    let firstOkAfterKill = 0;
    let plainErrors = 0;
    let durableErrors = 0;
    let firstError: unknown;
    let stop = false;
    let counter = 0;
    const deadline = Date.now() + 40_000;
    // The load: one writer per session, 40 at once, each writing its session again as soon as
    // the last write was answered (a growing counter, so a lost write shows as a smaller value).
    // Bounded by `stop` and the deadline.
    const writer = async (store: RedisStore, s: Session, durableWriter: boolean) => {
      while (!stop && Date.now() < deadline) {
        const n = ++counter;
        const startedAt = Date.now();
        try {
          await store.merge(s.id, { attrs: { n: { j: String(n), t: clock.tick() } } });
          s.acked = n;
          s.okAfterKill += killedAt > 0 && startedAt >= killedAt ? 1 : 0;
          if (!durableWriter && killedAt > 0 && startedAt >= killedAt)
            firstOkAfterKill ||= Date.now();
        } catch (err) {
          firstError ??= err;
          // After the failover the new master has no replica to confirm a durable write:
          // refused, not lost (the next test gives it one).
          if (durableWriter) durableErrors++;
          else plainErrors++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const writers = [
      ...plainSessions.map((s) => writer(plain, s, false)),
      ...durableSessions.map((s) => writer(durable!, s, true)),
    ];
    const oldMaster = setup.masterPort();
    await new Promise((r) => setTimeout(r, 1000));
    killedAt = Date.now();
    await setup.master.kill();
    // Until every plain writer has had 5 writes through after the kill (bounded by the deadline).
    while (Date.now() < deadline && plainSessions.some((s) => s.okAfterKill < 5))
      await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(writers);
    if (firstError) t.diagnostic(`first error: ${(firstError as Error).message}`);
    t.diagnostic(
      `writes ${counter}; failed: ${plainErrors} plain, ${durableErrors} durable; ` +
        `plain writers with 5 writes through after the kill: ` +
        `${plainSessions.filter((s) => s.okAfterKill >= 5).length}/20`,
    );
    assert.ok(
      plainSessions.every((s) => s.okAfterKill >= 5),
      'the store did not serve again after the kill',
    );
    assert.notEqual(setup.masterPort(), oldMaster, 'the sentinels promoted the replica');

    const reader = await createRedisStore({ client: await client(), events: false, prefix: 'fo:' });
    const lost = async (list: { id: string; acked: number }[]) => {
      let count = 0;
      for (const s of list) {
        const n = Number((await reader.get(s.id))?.attrs?.['n']?.j ?? -1);
        if (n < s.acked) count++;
      }
      return count;
    };
    const plainLost = await lost(plainSessions);
    const durableLost = await lost(durableSessions);
    t.diagnostic(
      `the first write started after the SIGKILL of the master succeeded ` +
        `${firstOkAfterKill - killedAt} ms after it; ` +
        `sessions behind their last acknowledged write: ${plainLost}/20 plain, ${durableLost}/20 with durability`,
    );
    assert.equal(durableLost, 0, 'a write acknowledged after WAIT was lost');
    for (const store of [plain, reader]) await store.close();
  });

  it('a near cache from before the failover serves the writes made after it, not stale ones', async (t) => {
    assert.ok(near, 'the failover test ran');
    const store = near;
    const writer = await createRedisStore({ client: await client(), prefix: 'nc:' });
    try {
      let n = 1;
      const write = async () => {
        // The sentinel client may still be settling on the new master: retry (bounded).
        for (let attempt = 0; ; attempt++) {
          try {
            return await writer.merge(nearId, {
              attrs: { n: { j: String(++n), t: clock.tick() } },
            });
          } catch (err) {
            if (attempt >= 20) throw err;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      };
      await write();
      const first = String(n);
      assert.ok(
        await eventually(async () => (await store.get(nearId))?.attrs.n?.j === first),
        'the write after the failover was seen',
      );
      // Listening on the promoted master: it keeps entries again, and hears the next write.
      const started = Date.now();
      assert.ok(await cached(store, nearId, 15_000), 'the near cache keeps entries again');
      t.diagnostic(`the near cache kept entries again ${Date.now() - started} ms after the check`);
      await write();
      const second = String(n);
      assert.ok(
        await eventually(async () => (await store.get(nearId))?.attrs.n?.j === second),
        'the next write was seen',
      );
    } finally {
      await writer.close();
      await store.close();
    }
  });

  it('hears expiry events from the promoted master', async (t) => {
    assert.ok(watcher, 'the failover test ran');
    const store = watcher;
    const id = newId();
    const heard: string[] = [];
    const listener = (got: string) => {
      if (got === id) heard.push(got);
    };
    store.on('expired', listener);
    const started = Date.now();
    try {
      // The sentinel client may still be settling on the new master: retry the write (bounded).
      for (let attempt = 0; ; attempt++) {
        try {
          await store.merge(id, freshRecord({ a: 1 }, 300));
          break;
        } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      const until = Date.now() + 15_000;
      while (heard.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      t.diagnostic(`expired event after ${Date.now() - started} ms (idle 300 ms)`);
      assert.equal(heard.length, 1, 'the expired event was heard once from the new master');
      assert.deepEqual(store.eventsUnavailableOn, []);
    } finally {
      store.off('expired', listener);
      await store.close();
    }
  });

  it('takes durable writes again once the new master has a replica', async (t) => {
    assert.ok(durable, 'the failover test ran');
    const store = durable;
    const started = Date.now();
    // The old master stays dead (an operator would bring it back; the sentinels take ~10 s or
    // more to turn a returning old master into a replica): a new replica of the new master.
    await setup.addReplica();
    await setup.waitForSyncedReplica(30_000);
    t.diagnostic(`a new replica was in sync ${Date.now() - started} ms after it started`);
    const id = newId();
    for (let attempt = 0; ; attempt++) {
      try {
        await store.merge(id, freshRecord({ back: true }));
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    assert.equal((await store.get(id))?.attrs?.['back']?.j, 'true');
    await store.close();
  });
});

/**
 * Until a read of `id` is a near-cache hit: an invalidation of a write made before the store's
 * read may reach it after, and drop the entry once.
 */
function cached(store: RedisStore, id: string, ms = 1000): Promise<boolean> {
  return eventually(async () => {
    const hits = store.nearCacheStats!.hits;
    await store.get(id).catch(() => undefined);
    return store.nearCacheStats!.hits > hits;
  }, ms);
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

function hgetallCalls(): number {
  const stats = redisCli(setup.masterPort(), 'INFO', 'commandstats');
  return Number(/cmdstat_hgetall:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

/**
 * Another writer, through redis-cli (so synchronously): sets attribute `name` of the hash `key`
 * to the JSON `json` with a fresh timestamp, then publishes `message` on `channel`.
 */
function writeElsewhere(
  port: number,
  key: string,
  name: string,
  json: string,
  channel: string,
  message: string,
): void {
  const input = `HSET ${key} a:${name} "${clock.tick()}\\x00${json}"\nPUBLISH ${channel} "${message}"\n`;
  const out = spawnSync('redis-cli', ['-p', String(port)], {
    input,
    encoding: 'utf8',
    timeout: 2000,
  });
  assert.match(out.stdout, /^0\n\d+\n$/, out.stdout + out.stderr);
}
