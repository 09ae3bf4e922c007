// The public surface of the embedded cluster (`sessionmesh/cluster`): one member is a transport,
// a membership and a replicated map, wired by createCluster; the rest is for tests and tools.

export { createCluster, type Cluster, type ClusterOptions } from './cluster.js';
export { ClusterStore, type ClusterStoreOptions } from './cluster-store.js';
export {
  ReplicatedMap,
  type ReplicatedMapEvents,
  type ReplicatedMapOptions,
  type WriteMode,
} from './replicated-map.js';
export {
  PartitionTable,
  partitionOf,
  type PartitionTableOptions,
  type Role,
} from './partition-table.js';
export {
  ManualView,
  MembershipView,
  type ClusterView,
  type MembershipLike,
  type ViewSource,
} from './view.js';
export { AFFINITIES, type Affinity } from './key-affinity.js';
export { type LockGrant, type LockOptions } from './session-lock.js';
export {
  createTcpTransport,
  TcpTransport,
  type TcpTransportOptions,
} from './transport/tcp-transport.js';
export {
  createMemoryNetwork,
  MemoryNetwork,
  type MemoryNetworkOptions,
  type MemoryNetworkStats,
} from './transport/memory-network.js';
export { MemoryTransport } from './transport/memory-transport.js';
export type {
  Body,
  MemberAddress,
  MessageHandler,
  RequestHandler,
  RequestOptions,
  Transport,
} from './transport/transport.js';
export type { RejectReason, TransportStats } from './transport/diagnostics.js';
export {
  createMembership,
  Membership,
  type MembershipEvents,
  type MembershipOptions,
  type View,
} from './membership/membership.js';
export type { Member, MemberState } from './membership/member.js';
