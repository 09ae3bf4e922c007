import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from '../../test/helpers/cluster-node.js';
import { fresh, set } from '../../test/helpers/cluster-records.js';
import { ClusterStore } from './cluster-store.js';

async function threeStores(
  affinity?: 'owner' | 'ranked' | 'local' | 'none',
  operationTimeoutMs = 2000,
) {
  const sim = new SimCluster({ operationTimeoutMs, requestTimeoutMs: 100 });
  after(() => sim.close());
  const members = await sim.add('a', 'b', 'c');
  await sim.whenReady();
  return { sim, stores: members.map((m) => new ClusterStore(m.map, affinity ? { affinity } : {})) };
}

describe('ClusterStore', () => {
  it('draws new ids whose partition the creating member owns (key affinity)', async () => {
    const { stores } = await threeStores();
    for (const store of stores) {
      for (let i = 0; i < 20; i++) {
        const id = store.generateId();
        const table = store.map.table;
        assert.equal(table.owner(table.partitionOf(id))!.name, store.map.self.name);
      }
    }
  });

  it('routes a cookie to the owner, the owner then its backups, this member, or nowhere', async () => {
    const owner = await threeStores('owner');
    const id = owner.stores[0]!.generateId();
    assert.deepEqual(owner.stores[1]!.routesOf(id), ['a']);
    const ranked = await threeStores('ranked');
    const rid = ranked.stores[0]!.generateId();
    const table = ranked.stores[0]!.map.table;
    assert.deepEqual(
      ranked.stores[2]!.routesOf(rid),
      table.replicas(table.partitionOf(rid)).map((m) => m.name),
    );
    assert.equal(ranked.stores[2]!.routesOf(rid).length, 2);
    const local = await threeStores('local');
    assert.deepEqual(local.stores[1]!.routesOf(id), ['b']);
    const none = await threeStores('none');
    assert.deepEqual(none.stores[1]!.routesOf(id), []);
  });

  it('reads synchronously at the owner and from a near-cached copy, and answers null elsewhere', async () => {
    const { stores } = await threeStores();
    const [a, b] = stores as [ClusterStore, ClusterStore];
    const id = a.generateId();
    assert.equal(a.readSync(id), undefined, 'the owner knows at once that there is no session');
    assert.equal(b.readSync(id), null, 'another member must ask the owner');
    await a.merge(id, fresh({ n: 1 }));
    assert.equal(a.readSync(id)!.attrs.n!.j, '1');
    assert.equal((await b.get(id))!.attrs.n!.j, '1');
    assert.equal(b.readSync(id)!.attrs.n!.j, '1', 'the read left a leased copy in b');
    await a.merge(id, set({ n: 2 }));
    assert.equal(
      b.readSync(id),
      null,
      "the owner's write revoked b's copy before it was acknowledged",
    );
    assert.equal((await b.get(id))!.attrs.n!.j, '2');
  });

  it('answers SM_ERR_STORE_UNAVAILABLE when the owner cannot be reached before the deadline', async () => {
    const { sim, stores } = await threeStores('owner', 300);
    const id = stores[0]!.generateId();
    await sim.crash('a');
    await assert.rejects(stores[1]!.get(id), { code: 'SM_ERR_STORE_UNAVAILABLE' });
    await assert.rejects(stores[1]!.merge(id, fresh()), { code: 'SM_ERR_STORE_UNAVAILABLE' });
  });

  it('refuses an unknown affinity', async () => {
    const { stores } = await threeStores();
    assert.throws(() => new ClusterStore(stores[0]!.map, { affinity: 'sticky' as never }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
  });

  it('publishes its metrics as Prometheus text', async () => {
    const { stores } = await threeStores();
    await stores[0]!.merge(stores[1]!.generateId(), fresh());
    const text = stores[0]!.metrics();
    assert.match(text, /sessionmesh_cluster_partitions\{member="a",role="owner"\} \d+/);
    assert.match(text, /sessionmesh_cluster_operations_total\{member="a",op="merge"\} 1/);
    assert.match(text, /sessionmesh_cluster_ready\{member="a"\} 1/);
  });
});
