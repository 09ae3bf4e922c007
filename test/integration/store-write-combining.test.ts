// The external stores and ClusterStore combine the merges of one session that one app node
// sends at once (src/store/merge-coalescer.ts): against real servers, nothing of any delta is
// lost, each caller is acknowledged, and Redis sees fewer script runs than merges; in the
// cluster the owner replicates fewer merges to its backup than the app made.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { createRedisStore } from '../../src/store/redis-store.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import { createCluster } from '../../src/cluster/cluster.js';
import { MemoryNetwork } from '../../src/cluster/transport/memory-network.js';
import { ManualView } from '../../src/cluster/view.js';
import { freshRecord } from '../../src/store/store.contract.js';
import { HybridClock } from '../../src/session/hlc.js';
import type { SessionStore } from '../../src/store/store.js';
import { redisCli, startRedis, stopRedis, type RedisProcess } from '../helpers/redis-server.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres-schema.js';

const newId = () => randomBytes(24).toString('base64url');
const MERGES = 50;

let redis: RedisProcess;
let schema: TestSchema;
let redisClient: ReturnType<typeof createClient>;
before(async () => {
  redis = await startRedis();
  redisClient = createClient({ url: redis.url });
  redisClient.on('error', () => {});
  await redisClient.connect();
  schema = await createTestSchema();
});
after(async () => {
  redisClient?.destroy();
  await stopRedis(redis);
  await schema?.drop();
});

/** 50 merges into one session at once, from one store: every attribute and the last access land. */
async function mergeAtOnce(store: SessionStore): Promise<void> {
  const id = newId();
  await store.merge(id, freshRecord({ start: 0 }));
  const clock = new HybridClock('w');
  const base = Date.now();
  await Promise.all(
    Array.from({ length: MERGES }, (_, k) =>
      store.merge(id, {
        accessedAt: base + k,
        attrs: {
          [`k${k}`]: { j: String(k), t: clock.tick() },
          last: { j: String(k), t: clock.tick() },
        },
      }),
    ),
  );
  const record = await store.get(id);
  assert.ok(record, 'the session is alive');
  assert.equal(Object.keys(record.attrs).length, MERGES + 2);
  assert.equal(record.attrs.last?.j, String(MERGES - 1));
  assert.equal(record.accessedAt, base + MERGES - 1);
  const destroyed: string[] = [];
  store.on('destroyed', (gone) => destroyed.push(gone));
  await Promise.all([store.destroy(id), store.merge(id, { attrs: { late: { j: '1', t: '0' } } })]);
  assert.equal(await store.get(id), undefined);
  assert.deepEqual(destroyed, [id], 'one destroyed event');
}

describe('write combining in the external stores', () => {
  it('Redis: loses nothing of 50 concurrent merges and runs the script fewer times', async () => {
    const store = await createRedisStore({ client: redisClient, events: false });
    try {
      redisCli(redis.port, 'CONFIG', 'RESETSTAT');
      await mergeAtOnce(store);
      const stats = redisCli(redis.port, 'INFO', 'commandstats');
      const runs = [...stats.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
      assert.ok(runs < MERGES / 2, `${runs} script runs for ${MERGES + 3} merges`);
    } finally {
      await store.close();
    }
  });

  it('PostgreSQL: loses nothing of 50 concurrent merges from one pool', async () => {
    const store = await createPostgresStore({
      pool: schema.pool,
      schema: schema.name,
      table: 'combining',
      cleanupIntervalMs: 0,
    });
    try {
      await mergeAtOnce(store);
    } finally {
      await store.close();
    }
  });

  it('ClusterStore: loses nothing of 50 concurrent merges and sends the map fewer merges', async () => {
    const network = new MemoryNetwork();
    const addresses = ['a', 'b', 'c'].map((name) => ({ name, address: `mem://${name}` }));
    const members = await Promise.all(
      addresses.map((address) =>
        createCluster({
          transport: network.createTransport(address),
          view: new ManualView(addresses),
          operationTimeoutMs: 2000,
        }),
      ),
    );
    try {
      await Promise.all(members.map((m) => m.whenReady()));
      const { store } = members[0]!;
      let mapMerges = 0;
      const merge = store.map.merge.bind(store.map);
      store.map.merge = (id, delta) => {
        mapMerges++;
        return merge(id, delta);
      };
      await mergeAtOnce(store);
      assert.ok(mapMerges < MERGES / 2, `${mapMerges} map merges for ${MERGES + 3} merges`);
    } finally {
      await Promise.all(members.map((m) => m.close()));
    }
  });
});
