import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster, type SimMember } from '../../test/helpers/cluster-node.js';
import { newId } from '../../test/helpers/cluster-records.js';
import { PartitionTable } from './partition-table.js';
import type { LockGrant } from './session-lock.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function cluster(names: string[], lockMaxLeaseMs = 5000): Promise<SimMember[]> {
  return (await simCluster(names, lockMaxLeaseMs)).members;
}

async function simCluster(
  names: string[],
  lockMaxLeaseMs: number,
): Promise<{ sim: SimCluster; members: SimMember[] }> {
  const sim = new SimCluster({
    operationTimeoutMs: 3000,
    requestTimeoutMs: 200,
    migrationTimeoutMs: 1000,
    lockMaxLeaseMs,
  });
  after(() => sim.close());
  const members = await sim.add(...names);
  await sim.whenReady();
  return { sim, members };
}

function idOwnedBy(member: SimMember, owner: string): string {
  const table = member.map.table;
  for (;;) {
    const id = newId();
    if (table.owner(table.partitionOf(id))?.name === owner) return id;
  }
}

describe('the cluster-wide session lock', () => {
  it('grants one holder at a time, in FIFO order, and each release hands over to the next', async () => {
    const [a, b] = await cluster(['a', 'b']);
    const id = idOwnedBy(a!, 'a');
    const first = await b!.map.lock(id);
    // Queue up waiters alternately from the owner and the other member, in a known order.
    const order: number[] = [];
    const waits: Promise<LockGrant>[] = [];
    for (let i = 0; i < 6; i++) {
      const member = i % 2 === 0 ? a! : b!;
      waits.push(
        member.map.lock(id).then((grant) => {
          order.push(i);
          return grant;
        }),
      );
      await sleep(30); // each reaches the owner's queue before the next
    }
    await sleep(100);
    assert.deepEqual(order, [], 'a waiter got the lock while it was held');
    let held = first;
    for (let i = 0; i < 6; i++) {
      held.release();
      held = await waits[i]!;
      await sleep(20);
      assert.deepEqual(
        order,
        Array.from({ length: i + 1 }, (_, k) => k),
        'out of order',
      );
    }
    held.release();
    // Fencing tokens grow with every grant.
    const tokens = await Promise.all(waits.map(async (w) => (await w).token));
    assert.deepEqual(
      tokens,
      [...tokens].sort((x, y) => x - y),
    );
    assert.ok(tokens[0]! > first.token);
  });

  it('never lets two acquirers on different members hold it at once', async () => {
    const [a, b] = await cluster(['a', 'b']);
    const id = idOwnedBy(a!, 'b');
    let inside = 0;
    let most = 0;
    let done = 0;
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const grant = await (i % 2 === 0 ? a! : b!).map.lock(id);
        inside++;
        most = Math.max(most, inside);
        await sleep(5);
        inside--;
        done++;
        grant.release();
      }),
    );
    assert.equal(done, 20);
    assert.equal(most, 1);
  });

  it('takes the lease back from a holder that never releases once leaseMs passed', async () => {
    const [a, b] = await cluster(['a', 'b']);
    const id = idOwnedBy(a!, 'a');
    const started = Date.now(); // the lease starts after this
    await b!.map.lock(id, { leaseMs: 300 }); // never released: its process "died"
    const grant = await a!.map.lock(id, { waitMs: 5000 });
    const waited = Date.now() - started;
    assert.ok(waited >= 290, `granted after ${waited} ms, before the lease ended`);
    assert.ok(waited < 3000, `granted only after ${waited} ms`);
    grant.release();
  });

  it('fails with SM_ERR_LOCK_TIMEOUT when the lock is not granted within waitMs, and leaves the queue', async () => {
    const [a, b] = await cluster(['a', 'b']);
    const id = idOwnedBy(a!, 'a');
    const held = await a!.map.lock(id);
    await assert.rejects(b!.map.lock(id, { waitMs: 300 }), { code: 'SM_ERR_LOCK_TIMEOUT' });
    // The timed-out waiter is gone: the next release goes to a live waiter at once.
    const next = b!.map.lock(id, { waitMs: 3000 });
    await sleep(50);
    const released = Date.now();
    held.release();
    (await next).release();
    assert.ok(Date.now() - released < 1000);
    // Counted on the member that asked: one timeout, one grant (after a wait) on b.
    const text = b!.map.metrics();
    assert.match(text, /sessionmesh_cluster_locks_total\{member="b",outcome="timeout"\} 1/);
    assert.match(text, /sessionmesh_cluster_locks_total\{member="b",outcome="acquired"\} 1/);
    assert.match(text, /sessionmesh_cluster_lock_wait_seconds_sum\{member="b"\} 0\.\d+/);
  });

  it('refuses a lease or wait that is not a positive number', async () => {
    const [a] = await cluster(['a']);
    await assert.rejects(a!.map.lock(newId(), { leaseMs: 0 }), { code: 'SM_ERR_OPTION_INVALID' });
    await assert.rejects(a!.map.lock(newId(), { waitMs: -1 }), { code: 'SM_ERR_OPTION_INVALID' });
  });

  it('after its owner is killed, a waiter gets the lock from the new owner once the grace period ended', async () => {
    const MAX_LEASE = 800;
    const { sim, members } = await simCluster(['a', 'b', 'c'], MAX_LEASE);
    const [a, b, c] = members as [SimMember, SimMember, SimMember];
    const id = idOwnedBy(a, 'a');
    await b.map.lock(id, { leaseMs: MAX_LEASE }); // held when the owner dies, never released
    const waiting = c.map.lock(id, { waitMs: 15_000 });
    await sleep(50);
    const killedAt = Date.now();
    await sim.crash('a');
    await sleep(300); // failure detection
    const announcedAt = Date.now(); // before: the new owner's grace starts within announce()
    sim.announce();
    const grant = await waiting;
    const grantedAt = Date.now();
    // Safety: the new owner knew nothing of b's lease, so it granted nothing before any lease
    // the dead owner could have granted had ended.
    assert.ok(
      grantedAt - announcedAt >= MAX_LEASE - 10,
      `granted ${grantedAt - announcedAt} ms after the view change`,
    );
    // Liveness, the documented bound: detection + lockMaxLeaseMs + a poll (generous slack).
    assert.ok(
      grantedAt - killedAt < 300 + MAX_LEASE + 3000,
      `granted ${grantedAt - killedAt} ms after the kill`,
    );
    grant.release();
    // No deadlock afterwards: the lock goes round again at once.
    (await b.map.lock(id, { waitMs: 3000 })).release();
    (await c.map.lock(id, { waitMs: 3000 })).release();
  });

  it('moves the leases to a new owner that takes the partition over while the old one lives', async () => {
    const { sim, members } = await simCluster(['a', 'b'], 5000);
    const [a, b] = members as [SimMember, SimMember];
    // A session owned by a now and by c once c joined.
    const withC = new PartitionTable(
      { viewId: 1, members: [a.address, b.address, { name: 'c', address: 'mem://c/next' }] },
      { partitionCount: a.map.table.partitionCount, backups: 1 },
    );
    let id = newId();
    while (
      a.map.table.owner(a.map.table.partitionOf(id))?.name !== 'a' ||
      withC.owner(withC.partitionOf(id))?.name !== 'c'
    )
      id = newId();
    const held = await b.map.lock(id, { leaseMs: 4000 });
    await sim.add('c');
    await sim.whenReady();
    const c = sim.member('c');
    assert.equal(c.map.table.owner(c.map.table.partitionOf(id))?.name, 'c');
    let granted = false;
    const waiting = a.map.lock(id, { waitMs: 10_000 }).then((g) => {
      granted = true;
      return g;
    });
    await sleep(400);
    assert.equal(granted, false, 'the new owner granted a lock the old owner had leased');
    const releasedAt = Date.now();
    held.release();
    const grant = await waiting;
    assert.ok(Date.now() - releasedAt < 2000, 'the release did not hand the lock over');
    grant.release();
  });
});
