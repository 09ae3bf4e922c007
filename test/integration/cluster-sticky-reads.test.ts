// Idle timeouts and stale copies under sticky routing (issue 3): the two classic bugs of session
// clustering. A session only ever read through one member must keep living (its lazy touches
// reach the owner: Hazelcast's web filter evicted active sessions because sticky reads never
// touched the cluster copy), and a member that served a session, lost it to failover and got it
// back must see every write made elsewhere meanwhile (Tomcat's stale local copy).

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterStore } from '../../src/cluster/cluster-store.js';
import { SessionManager } from '../../src/session/manager.js';
import { SimCluster, type SimMember } from '../helpers/cluster-node.js';

const SECRET = 'sticky-reads-secret-0123456789abcdef';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function cluster(names: string[]): Promise<{ sim: SimCluster; members: SimMember[] }> {
  // No anti-entropy: only the protocol may bring a member's copy up to date.
  const sim = new SimCluster({
    operationTimeoutMs: 2000,
    requestTimeoutMs: 100,
    migrationTimeoutMs: 1000,
    antiEntropyIntervalMs: 0,
  });
  after(() => sim.close());
  const members = await sim.add(...names);
  await sim.whenReady();
  return { sim, members };
}

function managerOf(member: SimMember, idleTimeoutMs = 60_000): SessionManager {
  const manager = new SessionManager({
    store: new ClusterStore(member.map, { affinity: 'none' }),
    secret: SECRET,
    idleTimeoutMs,
  });
  after(() => manager.close());
  return manager;
}

/** An id whose partition `owner` owns under `member`'s table. */
function idOwnedBy(manager: SessionManager, member: SimMember, owner: string): string {
  const store = manager.store as ClusterStore;
  for (;;) {
    const id = store.generateId();
    if (member.map.table.owner(member.map.table.partitionOf(id))?.name === owner) return id;
  }
}

describe('the embedded cluster under sticky reads', () => {
  it('keeps a session alive that is only read, through a member that does not own it', async () => {
    const { members } = await cluster(['a', 'b', 'c']);
    const [a, b] = members as [SimMember, SimMember, SimMember];
    const IDLE = 600;
    const writer = managerOf(a, IDLE);
    const reader = managerOf(b, IDLE);
    const session = writer.create({ user: 'ann' }, idOwnedBy(writer, a, 'a'));
    await writer.commit(session);
    // Every request only reads, through b (sticky routing), for three idle timeouts.
    const until = Date.now() + 3 * IDLE;
    let requests = 0;
    while (Date.now() < until) {
      const loaded = await reader.load({ id: session.id, routes: [] });
      assert.ok(loaded, `expired after ${requests} read-only requests through b`);
      assert.equal(loaded.get('user'), 'ann');
      await reader.commit(loaded); // what the HTTP layer does at the end of a request
      requests++;
      await sleep(IDLE / 5);
    }
    assert.ok(reader.stats.touches > 0, 'no lazy touch was sent');
    // The owner's copy is alive: the touches reached it, not only b's near cache.
    assert.ok(await a.map.get(session.id), 'the owner let it expire');
    // And once the reads stop, it does expire at the owner.
    await sleep(IDLE + 400);
    assert.equal(await a.map.get(session.id), undefined);
  });

  it('a member that served a session, lost it to failover and got it back sees every write made meanwhile', async () => {
    const { sim, members } = await cluster(['a', 'b', 'c']);
    const [a, b, c] = members as [SimMember, SimMember, SimMember];
    const onA = managerOf(a);
    const onB = managerOf(b);
    const session = onA.create({ cart: ['book'] }, idOwnedBy(onA, a, 'a'));
    await onA.commit(session);
    // a serves the session (reads it, as owner) and keeps its copy.
    assert.deepEqual((await onA.load({ id: session.id, routes: [] }))!.get('cart'), ['book']);

    // a is cut off and declared dead by b and c (its process goes on, with its copy): failover.
    const addressOf = (m: SimMember): string => m.address.address;
    sim.network.partition([addressOf(a)], [addressOf(b), addressOf(c)]);
    a.view.set([a.address]);
    b.view.set([b.address, c.address]);
    c.view.set([b.address, c.address]);
    await sim.whenReady();
    // Meanwhile the user goes on through b: every write is acknowledged by b and c.
    for (const item of ['pen', 'lamp', 'desk']) {
      const loaded = await onB.load({ id: session.id, routes: [] });
      assert.ok(loaded);
      loaded.set('cart', [...(loaded.get('cart') as string[]), item]);
      await onB.commit(loaded);
    }

    // The network heals, a is back in every view and owns the session again.
    sim.network.heal();
    sim.announce();
    assert.equal(a.map.table.owner(a.map.table.partitionOf(session.id))?.name, 'a');
    // The very first read on a, before any anti-entropy (off here), sees every write.
    const back = await onA.load({ id: session.id, routes: [] });
    assert.ok(back);
    assert.deepEqual(back.get('cart'), ['book', 'pen', 'lamp', 'desk']);
    // And a read through c (its near cache held the pre-heal copy) agrees.
    const viaC = await managerOf(c).load({ id: session.id, routes: [] });
    assert.deepEqual(viaC!.get('cart'), ['book', 'pen', 'lamp', 'desk']);
  });
});
