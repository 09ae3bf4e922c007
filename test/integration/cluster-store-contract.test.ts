// ClusterStore passes the shared store contract: three members in one process on the in-memory
// network, the contract driving one member's store (most sessions are owned by the others).

import { createCluster, type Cluster } from '../../src/cluster/cluster.js';
import { MemoryNetwork } from '../../src/cluster/transport/memory-network.js';
import { ManualView } from '../../src/cluster/view.js';
import { runStoreContract } from '../../src/store/store.contract.js';

async function threeMembers(): Promise<Cluster[]> {
  const network = new MemoryNetwork();
  const addresses = ['a', 'b', 'c'].map((name) => ({ name, address: `mem://${name}` }));
  return Promise.all(
    addresses.map((address) =>
      createCluster({
        transport: network.createTransport(address),
        view: new ManualView(addresses),
        operationTimeoutMs: 2000,
        expiryGraceMs: 0,
      }),
    ),
  );
}

let members: Cluster[] = [];

runStoreContract({
  name: 'ClusterStore (3 members, in-memory network)',
  create: async () => {
    members = await threeMembers();
    await Promise.all(members.map((m) => m.whenReady()));
    return members[0]!.store;
  },
  dispose: async () => {
    await Promise.all(members.map((m) => m.close()));
  },
});
