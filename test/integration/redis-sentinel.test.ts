// RedisStore over a Sentinel-managed Redis (node-redis createSentinel), against real processes:
// a master, a replica and three sentinels (test/helpers/redis-sentinel.ts). The store contract,
// then a failover under writes: SIGKILL the master, the sentinels promote the replica, and the
// store keeps serving. Replication is asynchronous, so a write acknowledged just before the kill
// may be lost; with `durability` (WAIT for a replica) none is, and writes fail clearly while no
// replica is left to confirm them.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSentinel } from 'redis';
import { createRedisStore, type RedisStore } from '../../src/store/redis-store.js';
import { freshRecord, runStoreContract } from '../../src/store/store.contract.js';
import { HybridClock } from '../../src/session/hlc.js';
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

describe('RedisStore over Sentinel', { timeout: 90_000 }, () => {
  it('keeps serving through a failover; with durability no acknowledged write is lost', async (t) => {
    const plain = await createRedisStore({ client: await client(), events: false, prefix: 'fo:' });
    const durable = await createRedisStore({
      client: await client(),
      events: false,
      prefix: 'fo:',
      durability: { replicas: 1, timeoutMs: 500 },
    });
    const sessions = (n: number) => Array.from({ length: n }, () => ({ id: newId(), acked: 0 }));
    const plainSessions = sessions(20);
    const durableSessions = sessions(20);
    for (const s of [...plainSessions, ...durableSessions]) {
      await plain.merge(s.id, freshRecord({ n: 0 }));
    }
    const write = async (store: RedisStore, s: { id: string; acked: number }, n: number) => {
      await store.merge(s.id, { attrs: { n: { j: String(n), t: clock.tick() } } });
      s.acked = n;
    };

    let round = 0;
    let killedAt = 0;
    let firstOkAfterKill = 0;
    let plainErrors = 0;
    let durableErrors = 0;
    let afterKill = 0;
    const oldMaster = setup.masterPort();
    const deadline = Date.now() + 40_000;
    // Bounded: until 30 rounds succeeded after the kill, or the deadline.
    while (afterKill < 30 && Date.now() < deadline) {
      round++;
      if (round === 30) {
        killedAt = Date.now();
        await setup.master.kill();
      }
      const i = round % plainSessions.length;
      try {
        await write(plain, plainSessions[i]!, round);
        if (killedAt > 0) {
          afterKill++;
          firstOkAfterKill ||= Date.now();
        }
      } catch (err) {
        if (plainErrors < 3 || plainErrors % 50 === 0)
          t.diagnostic(
            `${Date.now() - killedAt} ms: ${(err as Error).message}; master ${setup.masterPort()}`,
          );
        plainErrors++;
        await new Promise((r) => setTimeout(r, 50));
      }
      try {
        await write(durable, durableSessions[i]!, round);
      } catch (err) {
        if (durableErrors < 2) t.diagnostic(`durable: ${(err as Error).message}`);
        durableErrors++; // no replica left to confirm it after the failover: refused, not lost
      }
    }
    t.diagnostic(
      `rounds ${round}, killed ${killedAt > 0}, ok after kill ${afterKill}, errors ${plainErrors}/${durableErrors}`,
    );
    assert.ok(killedAt > 0 && afterKill >= 30, `the store did not serve again after the kill`);
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
      `writes failed for ${firstOkAfterKill - killedAt} ms after SIGKILL of the master; ` +
        `errors: ${plainErrors} plain, ${durableErrors} with durability; ` +
        `sessions behind their last acknowledged write: ${plainLost}/20 plain, ${durableLost}/20 with durability`,
    );
    assert.equal(durableLost, 0, 'a write acknowledged after WAIT was lost');
    for (const store of [plain, durable, reader]) await store.close();
  });
});
