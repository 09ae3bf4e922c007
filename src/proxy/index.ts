// sessionmesh/proxy: the sticky load balancer's public API.

export { createProxy, type Proxy, type ProxyOptions, type ProxyTimeouts } from './proxy.js';
export { createStaticTopology, type TopologySource, type StaticTopology } from './topology.js';
export {
  createAdminHandler,
  type AdminHandler,
  type AdminTarget,
  type AdminOptions,
} from './admin.js';
export { BALANCE_NAMES, type BalanceName } from './balancers/index.js';
export type { HealthOptions } from './health-check.js';
export type { InsertCookieOptions } from './insert-cookie.js';
export type { Upstream, UpstreamOptions, UpstreamState, RouteSource } from './upstream-pool.js';
export { exportConfig, type ExportKind, type ExportOptions } from './export-config.js';
export { startProxyWorkers, type ProxyWorkers, type WorkersOptions } from './workers.js';
export { createNodeDrain, type NodeDrainOptions } from './node-drain.js';
export { NodeTopology, type NodeTopologyOptions, type WatchedNode } from './node-topology.js';
export type { StatsReport, ProxyCounters } from './metrics.js';
