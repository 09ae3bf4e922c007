import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionTable } from './partition-table.js';
import { setOwn } from '../session/record.js';
import { SimCluster } from '../../test/helpers/cluster-node.js';
import { destroyDelta, fresh, newId, set, valueOf } from '../../test/helpers/cluster-records.js';

function cluster(options: ConstructorParameters<typeof SimCluster>[0] = {}): SimCluster {
  const sim = new SimCluster({
    operationTimeoutMs: 3000,
    requestTimeoutMs: 200,
    migrationTimeoutMs: 1000,
    ...options,
  });
  after(() => sim.close());
  return sim;
}

describe('ReplicatedMap', () => {
  it('reads a write made on any member back from every member', async () => {
    const sim = cluster();
    const [a, b, c] = await sim.add('a', 'b', 'c');
    await sim.whenReady();
    const ids = Array.from({ length: 30 }, newId);
    for (const [i, id] of ids.entries()) await [a, b, c][i % 3]!.map.merge(id, fresh({ n: i }));
    for (const member of [a, b, c]) {
      for (const [i, id] of ids.entries()) assert.equal(valueOf(await member!.map.get(id), 'n'), i);
    }
  });

  it('carries an attribute named __proto__ to the owner and its backup like any other', async () => {
    const sim = cluster();
    const [a, b, c] = await sim.add('a', 'b', 'c');
    await sim.whenReady();
    let id = newId();
    while (a!.map.table.owner(a!.map.table.partitionOf(id))!.name === 'a') id = newId();
    const delta = fresh({ n: 1 });
    setOwn(delta.attrs!, '__proto__', { j: '"x"', t: delta.attrs!['n']!.t });
    await a!.map.merge(id, delta);
    for (const member of [a, b, c]) {
      const attrs = (await member!.map.get(id))!.attrs!;
      assert.deepEqual(Object.keys(attrs).sort(), ['__proto__', 'n']);
      assert.equal(Object.getOwnPropertyDescriptor(attrs, '__proto__')?.value.j, '"x"');
    }
    const copies = [a, b, c].filter((m) => m!.map.localCopy(id)?.attrs?.['n']);
    assert.equal(copies.length, 2, 'the owner and its backup');
  });

  it('keeps each session on its owner and one backup', async () => {
    const sim = cluster();
    const members = await sim.add('a', 'b', 'c');
    await sim.whenReady();
    for (let i = 0; i < 60; i++) await members[0]!.map.merge(newId(), fresh());
    const held = members.reduce((sum, m) => sum + m.map.heldSessions, 0);
    assert.equal(held, 120);
  });

  it('answers retry when asked as owner by a member that is not the owner under its view', async () => {
    const sim = cluster();
    const [a, b] = await sim.add('a', 'b');
    await sim.whenReady();
    let id = newId();
    while (a!.map.table.owner(a!.map.table.partitionOf(id))!.name !== 'a') id = newId();
    const answer = await b!.transport.request(
      b!.address,
      'map.merge',
      { id, r: fresh() },
      { timeoutMs: 500 },
    );
    assert.deepEqual(answer, { retry: 'not-owner' });
  });

  it('serves every session after its owner is killed (backups: 1)', async () => {
    const sim = cluster();
    const [a] = await sim.add('a', 'b', 'c');
    await sim.whenReady();
    const ids = Array.from({ length: 100 }, newId);
    for (const id of ids) await a!.map.merge(id, fresh({ v: id }));
    await sim.crash('b');
    sim.announce();
    for (const id of ids) assert.equal(valueOf(await sim.member('c').map.get(id), 'v'), id);
  });

  it('keeps retrying a write until the view drops a dead owner, then acknowledges it', async () => {
    const sim = cluster();
    await sim.add('a', 'b', 'c');
    await sim.whenReady();
    let id = newId();
    const table = sim.member('a').map.table;
    while (table.owner(table.partitionOf(id))!.name !== 'b') id = newId();
    await sim.member('a').map.merge(id, fresh({ x: 1 }));
    await sim.crash('b');
    setTimeout(() => sim.announce(), 300);
    await sim.member('a').map.merge(id, set({ x: 2 }));
    assert.equal(valueOf(await sim.member('c').map.get(id), 'x'), 2);
  });

  it('lets a member that joins pull its partitions before it serves them', async () => {
    const sim = cluster();
    const [a] = await sim.add('a', 'b');
    await sim.whenReady();
    const ids = Array.from({ length: 200 }, newId);
    for (const id of ids) await a!.map.merge(id, fresh({ v: id }));
    const [c] = await sim.add('c');
    await sim.whenReady();
    assert.ok(c!.map.heldSessions > 0);
    await sim.crash('a');
    sim.announce();
    for (const id of ids) assert.equal(valueOf(await c!.map.get(id), 'v'), id);
  });

  it('moves a partition larger than one page (and than a frame) page by page', async () => {
    const sim = cluster();
    const [a] = await sim.add('a', 'b');
    await sim.whenReady();
    const table = a!.map.table;
    // A partition the joining member c will own.
    const next = new PartitionTable({
      viewId: 0,
      members: ['a', 'b', 'c'].map((name) => ({ name, address: name })),
    });
    let p = 0;
    while (next.owner(p)!.name !== 'c') p++;
    const ids: string[] = [];
    while (ids.length < 6) {
      const id = newId();
      if (table.partitionOf(id) === p) ids.push(id);
    }
    const big = 'x'.repeat(150_000); // 6 x 150 KB: 4 pages of 256 KB at most
    for (const id of ids) await a!.map.merge(id, fresh({ v: id, big }));
    const owner = sim.member(table.owner(p)!.name);
    const pages: number[] = [];
    let after: string | undefined;
    do {
      const body: Record<string, unknown> = after === undefined ? { p } : { p, after };
      const answer = await a!.transport.request(owner.address, 'map.pull', body, {
        timeoutMs: 1000,
      });
      pages.push((answer['records'] as unknown[]).length);
      after = answer['next'] as string | undefined;
    } while (after !== undefined);
    assert.ok(pages.length > 1, `one page: ${pages.join()}`);
    assert.equal(
      pages.reduce((x, y) => x + y),
      6,
    );
    const [c] = await sim.add('c');
    await sim.whenReady();
    assert.equal(c!.map.table.owner(p)!.name, 'c');
    await sim.crash('a');
    await sim.crash('b');
    sim.announce();
    for (const id of ids) assert.equal(valueOf(await c!.map.get(id), 'v'), id);
  });

  it('hands its partitions off on close, so nothing is lost even with backups: 0', async () => {
    const sim = cluster({ backups: 0 });
    const [a] = await sim.add('a', 'b', 'c');
    await sim.whenReady();
    const ids = Array.from({ length: 200 }, newId);
    for (const id of ids) await a!.map.merge(id, fresh({ v: id }));
    await sim.leave('b');
    await sim.leave('a');
    for (const id of ids) assert.equal(valueOf(await sim.member('c').map.get(id), 'v'), id);
  });

  it('never brings a destroyed session back, whatever copy survives', async () => {
    const sim = cluster();
    const [a, b] = await sim.add('a', 'b', 'c');
    await sim.whenReady();
    const id = newId();
    await a!.map.merge(id, fresh({ v: 1 }));
    await b!.map.merge(id, destroyDelta());
    await b!.map.merge(id, set({ v: 2 }));
    const owner = a!.map.table.owner(a!.map.table.partitionOf(id))!.name;
    await sim.crash(owner);
    sim.announce();
    for (const member of sim.live.values()) assert.equal(await member.map.get(id), undefined);
  });

  it('fires the expired event of a timed-out session once on every member, decided by its owner', async () => {
    const sim = cluster({ expiryGraceMs: 0 });
    const members = await sim.add('a', 'b', 'c');
    await sim.whenReady();
    const expired: string[] = [];
    for (const m of members) m.map.on('expired', (id) => expired.push(`${m.address.name}:${id}`));
    const id = newId();
    await members[0]!.map.merge(id, fresh({}, 100));
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual(expired.sort(), [`a:${id}`, `b:${id}`, `c:${id}`]);
    assert.equal(await members[1]!.map.get(id), undefined);
  });

  it('keeps a session alive that is only touched', async () => {
    const sim = cluster();
    const [a, b] = await sim.add('a', 'b');
    await sim.whenReady();
    const id = newId();
    await a!.map.merge(id, fresh({}, 300));
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      await b!.map.merge(id, { accessedAt: Date.now() });
    }
    assert.ok(await a!.map.get(id));
  });

  it('fails a sync write with SM_ERR_CLUSTER_NOT_OWNER when a backup stays unreachable', async () => {
    const sim = cluster({ operationTimeoutMs: 400 });
    const [a] = await sim.add('a', 'b');
    await sim.whenReady();
    let id = newId();
    while (a!.map.table.owner(a!.map.table.partitionOf(id))!.name !== 'a') id = newId();
    sim.network.cut(a!.address.address, sim.member('b').address.address);
    await assert.rejects(a!.map.merge(id, fresh()), { code: 'SM_ERR_CLUSTER_NOT_OWNER' });
  });

  it('combines the backup rounds of one session written at once; every write reaches the backup', async () => {
    const sim = cluster();
    const [a, b, c] = await sim.add('a', 'b', 'c');
    await sim.whenReady();
    let id = newId();
    while (a!.map.table.owner(a!.map.table.partitionOf(id))!.name !== 'a') id = newId();
    await b!.map.merge(id, fresh({ start: 0 }));
    const before = { ...a!.map.counters.backup };
    // 40 writers on two members, each setting its own attribute, all in flight together.
    await Promise.all(
      Array.from({ length: 40 }, (_, k) => [b, c][k % 2]!.map.merge(id, set({ [`k${k}`]: k }))),
    );
    const merges = a!.map.counters.backup.merges - before.merges;
    const rounds = a!.map.counters.backup.rounds - before.rounds;
    assert.equal(merges, 40);
    assert.ok(rounds < merges / 2, `${rounds} backup rounds for ${merges} merges`);
    // The backup holds every acknowledged write: it alone serves them once the owner is gone.
    const backup = [b!, c!].find((m) => m.map.localCopy(id) !== undefined)!;
    for (let k = 0; k < 40; k++) assert.equal(valueOf(backup.map.localCopy(id), `k${k}`), k);
    await sim.crash('a');
    sim.announce();
    for (let k = 0; k < 40; k++) assert.equal(valueOf(await backup.map.get(id), `k${k}`), k);
  });

  it('acknowledges an async write without its backup, and anti-entropy repairs the backup', async () => {
    const sim = cluster({ writeMode: 'async' });
    const [a, b] = await sim.add('a', 'b');
    await sim.whenReady();
    let id = newId();
    while (a!.map.table.owner(a!.map.table.partitionOf(id))!.name !== 'a') id = newId();
    sim.network.cut(a!.address.address, b!.address.address);
    await a!.map.merge(id, fresh({ v: 'only on a' }));
    sim.network.heal();
    assert.ok((await a!.map.antiEntropy()) >= 1);
    await sim.crash('a');
    sim.announce();
    assert.equal(valueOf(await b!.map.get(id), 'v'), 'only on a');
  });

  it('never serves a near-cached copy older than an acknowledged write', async () => {
    const sim = cluster();
    const [a, b, c] = await sim.add('a', 'b', 'c');
    await sim.whenReady();
    let id = newId();
    while (a!.map.table.owner(a!.map.table.partitionOf(id))!.name !== 'a') id = newId();
    await a!.map.merge(id, fresh({ n: 0 }));
    for (let n = 1; n <= 5; n++) {
      assert.equal(valueOf(await b!.map.get(id), 'n'), n - 1);
      await c!.map.merge(id, set({ n }));
      assert.equal(valueOf(await b!.map.get(id), 'n'), n);
    }
  });

  it('acknowledges no write while a holder taken by an earlier attempt may still serve its copy', async () => {
    const sim = cluster({ nearCache: { leaseMs: 1500 } });
    const [a, b, c] = await sim.add('a', 'b', 'c');
    await sim.whenReady();
    // a owns the session and c backs it up: b only reads it, through its near cache.
    let id = newId();
    const replicas = (): string[] =>
      a!.map.table.replicas(a!.map.table.partitionOf(id)).map((m) => m.name);
    while (replicas().join() !== 'a,c') id = newId();
    await a!.map.merge(id, fresh({ n: 0 }));
    assert.equal(valueOf(await b!.map.get(id), 'n'), 0);
    // a's invalidation to b is lost: a waits for b's lease to end before it acknowledges the write.
    // c's attempt times out meanwhile (requestTimeoutMs) and c sends it again; the retry must not
    // be acknowledged before that wait ended (it found no holder left to invalidate).
    sim.network.cut(a!.address.address, b!.address.address);
    await c!.map.merge(id, set({ n: 1 }));
    sim.network.heal();
    assert.equal(valueOf(await b!.map.get(id), 'n'), 1);
  });

  it('finds the sessions of a principal and all ids across partitions', async () => {
    const sim = cluster();
    const [a, b] = await sim.add('a', 'b', 'c');
    await sim.whenReady();
    const mine = Array.from({ length: 20 }, newId);
    const others = Array.from({ length: 20 }, newId);
    for (const id of mine)
      await a!.map.merge(id, { ...fresh(), principal: { v: 'alice', t: '1' } });
    for (const id of others) await a!.map.merge(id, fresh());
    assert.deepEqual((await b!.map.ids('alice')).sort(), [...mine].sort());
    assert.equal((await b!.map.ids()).length, 40);
  });

  it('answers a malformed body with SM_ERR_CLUSTER_PROTOCOL and changes nothing', async () => {
    const sim = cluster();
    const [a, b] = await sim.add('a', 'b');
    await sim.whenReady();
    const bad: [string, Record<string, unknown>][] = [
      ['map.merge', { id: 'short', r: {} }],
      ['map.merge', { id: newId(), r: 'not a record' }],
      ['map.merge', { id: newId(), r: { attrs: { x: { j: 5, t: '1' } } } }],
      ['map.merge', { id: newId(), r: { accessedAt: -1 } }],
      ['map.backup', { p: 99999, id: newId(), r: {} }],
      ['map.push', { p: 0, records: [['x', {}]] }],
      ['map.scan', { ps: 'all' }],
      ['map.pull', { p: 'zero' }],
      ['map.nonsense', {}],
    ];
    for (const [type, body] of bad) {
      await assert.rejects(b!.transport.request(a!.address, type, body, { timeoutMs: 500 }), {
        code: 'SM_ERR_CLUSTER_PROTOCOL',
      });
    }
    assert.equal(a!.map.heldSessions, 0);
    const id = newId();
    await b!.map.merge(id, fresh({ ok: true }));
    assert.equal(valueOf(await a!.map.get(id), 'ok'), true);
  });
});
