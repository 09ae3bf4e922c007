// createCluster: one member of the embedded cluster, wiring its transport, its membership view
// and the replicated map, and exposing the map as a SessionStore (ClusterStore).

import { InvalidOptionError } from '../errors.js';
import { ClusterStore } from './cluster-store.js';
import type { Affinity } from './key-affinity.js';
import type { LockOptions } from './session-lock.js';
import { ReplicatedMap, type ReplicatedMapOptions } from './replicated-map.js';
import type { Transport } from './transport/transport.js';
import { MembershipView, type MembershipLike, type ViewSource } from './view.js';

export interface ClusterOptions extends Omit<ReplicatedMapOptions, 'transport' | 'view'> {
  transport: Transport;
  /** Membership (createMembership); started by createCluster, left by close(). */
  membership?: MembershipLike & { start(): Promise<void>; leave(): Promise<void> };
  /** Instead of membership: a view given by hand (a fixed member list, tests). */
  view?: ViewSource;
  /** Routes of the session cookie: `owner` (default), `ranked`, `local` or `none`. */
  affinity?: Affinity;
  /** The lease and wait of `lock: 'cluster'` (defaults 5 s and 10 s; docs/cluster-protocol.md). */
  lock?: LockOptions;
}

export interface Cluster {
  readonly map: ReplicatedMap;
  /** The SessionStore of this member: hand it to the SessionManager or express-session. */
  readonly store: ClusterStore;
  readonly view: ViewSource;
  /** Whether this member holds its partitions (readiness); it is live before that. */
  readonly ready: boolean;
  whenReady(): Promise<void>;
  /** Hands the partitions off, leaves the membership, closes the transport. */
  close(): Promise<void>;
}

/**
 * Starts one member: the transport, then membership, then the map (which pulls its partitions).
 * @throws {InvalidOptionError} when neither or both of `membership` and `view` are given, or an option is out of range.
 * @example
 * const transport = createTcpTransport({ name: 'node-1', listen: '0.0.0.0:7400', secret });
 * const membership = createMembership({ transport, seeds: ['10.0.0.2:7400'] });
 * const cluster = await createCluster({ transport, membership, backups: 1 });
 * const manager = createSessionManager({ store: cluster.store, secret, route: 'node-1' });
 */
export async function createCluster(options: ClusterOptions): Promise<Cluster> {
  const { transport, membership, view: givenView, affinity, lock, ...mapOptions } = options;
  if ((membership === undefined) === (givenView === undefined)) {
    throw new InvalidOptionError(
      'membership',
      'given, or else a view (exactly one of them)',
      membership,
    );
  }
  await transport.start();
  if (membership) await membership.start();
  const view = givenView ?? new MembershipView(membership!);
  const map = new ReplicatedMap({ ...mapOptions, transport, view });
  const leave = async (): Promise<void> => {
    if (view instanceof MembershipView) view.close();
    await membership?.leave();
  };
  const store = new ClusterStore(map, {
    ...(affinity ? { affinity } : {}),
    ...(lock ? { lock } : {}),
    onLeave: leave,
    onClose: () => transport.close(),
  });
  map.start();
  return {
    map,
    store,
    view,
    get ready() {
      return map.ready;
    },
    whenReady: () => map.whenReady(),
    close: () => store.close(),
  };
}
