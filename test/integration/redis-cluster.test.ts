import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createCluster } from 'redis';
import { createRedisStore } from '../../src/store/redis-store.js';
import { freshRecord, runStoreContract } from '../../src/store/store.contract.js';
import { HybridClock } from '../../src/session/hlc.js';
import { startRedisCluster, type RedisClusterProcesses } from '../helpers/redis-server.js';

const clock = new HybridClock('cluster-test');
const newId = () => randomBytes(24).toString('base64url');
type Cluster = ReturnType<typeof createCluster<any, any, any, any, any>>;

let cluster: RedisClusterProcesses;
const clients: Cluster[] = [];
async function connect(): Promise<Cluster> {
  const c = createCluster({ rootNodes: cluster.rootNodes }) as unknown as Cluster;
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
});

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
