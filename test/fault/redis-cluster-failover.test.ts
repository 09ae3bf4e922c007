// SIGKILL a Redis Cluster master under load: the store keeps serving once the replica took
// over, and we count acknowledged writes lost, without and with WAIT-based durability.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createCluster } from 'redis';
import { createRedisStore, type RedisStore } from '../../src/store/redis-store.js';
import { freshRecord } from '../../src/store/store.contract.js';
import { HybridClock } from '../../src/session/hlc.js';
import {
  redisCli,
  startRedisCluster,
  type RedisClusterProcesses,
} from '../helpers/redis-server.js';

type Cluster = ReturnType<typeof createCluster<any, any, any, any, any>>;
let cluster: RedisClusterProcesses;
const clients: Cluster[] = [];

before(async () => {
  cluster = await startRedisCluster(3, 1, 1000);
});
after(async () => {
  for (const c of clients) c.destroy();
  await cluster?.stop();
});

async function store(durability?: { replicas: number; timeoutMs: number }): Promise<RedisStore> {
  // Refresh the topology soon after a node drops (node-redis waits 5 s by default).
  const c = createCluster({
    rootNodes: cluster.rootNodes,
    topologyRefreshOnReconnectionAttemptStrategy: 200,
  }) as unknown as Cluster;
  c.on('error', () => {});
  clients.push(c);
  await c.connect();
  return createRedisStore({
    client: c,
    events: false,
    timeoutMs: 6000,
    ...(durability ? { durability } : {}),
  });
}

interface Load {
  acked: Map<string, string[]>;
  failed: number;
  ackedAfterFailover: number;
}

/** Writers merging a fresh attribute per write into `ids` until `stop()`. */
function load(
  s: RedisStore,
  ids: string[],
  clock: HybridClock,
  failoverAt: () => number,
): { stop: () => Promise<Load> } {
  const result: Load = {
    acked: new Map(ids.map((id) => [id, []])),
    failed: 0,
    ackedAfterFailover: 0,
  };
  let running = true;
  const workers = ids.map(async (id, w) => {
    for (let n = 0; running && n < 100_000; n++) {
      const attr = `w${w}n${n}`;
      try {
        await s.merge(id, { attrs: { [attr]: { j: String(n), t: clock.tick() } } });
        result.acked.get(id)!.push(attr);
        if (failoverAt() > 0 && Date.now() > failoverAt()) result.ackedAfterFailover++;
      } catch {
        result.failed++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return result;
    },
  };
}

async function lost(s: RedisStore, acked: Map<string, string[]>): Promise<number> {
  let missing = 0;
  for (const [id, attrs] of acked) {
    const record = await s.get(id);
    for (const attr of attrs) if (!record?.attrs[attr]) missing++;
  }
  return missing;
}

function masterPortOf(key: string, c: Cluster): number {
  const info = redisCli(cluster.nodes[0]!.port, 'cluster', 'keyslot', key).trim();
  return c.getSlotMaster(Number(info)).port;
}

it(
  'keeps serving after a master is SIGKILLed, and counts lost acknowledged writes with and without WAIT',
  { timeout: 60_000 },
  async () => {
    const plain = await store();
    const durable = await store({ replicas: 1, timeoutMs: 500 });
    const clock = new HybridClock('failover');
    const ids = Array.from({ length: 12 }, () => randomBytes(24).toString('base64url'));
    for (const id of ids) await plain.merge(id, freshRecord({}, 600_000));
    const victimPort = masterPortOf(`sm:{${ids[0]}}`, clients[0]!);
    const victimIds = ids.filter((id) => masterPortOf(`sm:{${id}}`, clients[0]!) === victimPort);
    let killedAt = 0;
    const a = load(plain, ids.slice(0, 6), clock, () => killedAt);
    const b = load(durable, ids.slice(6), clock, () => killedAt);
    await new Promise((r) => setTimeout(r, 1500));
    const victim = cluster.nodes.find((n) => n.port === victimPort)!;
    await victim.kill();
    killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 7000));
    const [plainLoad, durableLoad] = await Promise.all([a.stop(), b.stop()]);
    const plainLost = await lost(plain, plainLoad.acked);
    const durableLost = await lost(durable, durableLoad.acked);
    const count = (l: Load) => [...l.acked.values()].reduce((n, x) => n + x.length, 0);
    console.log(
      `# failover: sessions on the killed master: ${victimIds.length}/12; ` +
        `async replication: ${count(plainLoad)} acked, ${plainLost} lost, ${plainLoad.failed} failed (503); ` +
        `WAIT 1 replica: ${count(durableLoad)} acked, ${durableLost} lost, ${durableLoad.failed} failed (503)`,
    );
    assert.ok(
      plainLoad.ackedAfterFailover > 0 && durableLoad.ackedAfterFailover > 0,
      'the store serves after the failover',
    );
    assert.equal(durableLost, 0, 'with WAIT, an acknowledged write survives the failover');
    await plain.close();
    await durable.close();
  },
);
