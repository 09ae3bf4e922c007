// Multi-core: N worker processes (node:cluster) share the listening port. The primary alone runs
// the health checks and holds the drain flags; workers report what they observe and apply the
// state the primary broadcasts, so every worker routes with the same view of the upstreams.

import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { HealthMonitor, type Observation } from './health-check.js';
import { statsReport, sumReports, type StatsReport } from './metrics.js';
import { NodeTopology } from './node-topology.js';
import { createProxy, type ProxyOptions } from './proxy.js';
import { UpstreamPool, type UpstreamState } from './upstream-pool.js';
import { InvalidOptionError } from '../errors.js';

/** Options of a multi-worker proxy: plain data, since each worker receives them as JSON. */
export interface WorkersOptions extends Omit<ProxyOptions, 'topology' | 'onDrain' | 'coordinator'> {
  readonly workers: number;
  readonly port: number;
  readonly host?: string;
  /** Each worker reads the cluster's topology from the upstreams (GET /_mesh/api/node), see NodeTopology. */
  readonly nodeTopology?: boolean;
  /** Called in the primary (which alone decides drains) when a node is drained or undrained. */
  readonly onDrain?: ProxyOptions['onDrain'];
}

export interface ProxyWorkers {
  readonly port: number;
  readonly workers: readonly Worker[];
  /** The primary's view (health and drain), the one broadcast to the workers. */
  readonly pool: UpstreamPool;
  drain(name: string): void;
  undrain(name: string): void;
  /** The counters summed over every worker (as of their last report, at most ~0.5 s old). */
  totals(): StatsReport;
  /**
   * Requests in flight to the upstream `name` over every worker, or Infinity while some worker
   * has not reported since it applied the primary's latest state: a report from before a drain
   * reached that worker would say 0 while the worker still sends the node new requests.
   */
  inFlight(name: string): number;
  close(): Promise<void>;
}

type Snapshot = Array<[name: string, state: UpstreamState, draining: boolean]>;
type ToPrimary =
  | { sm: 'proxy-listening'; port: number }
  /** `applied`: the version of the latest state the worker had applied when it made the report. */
  | { sm: 'proxy-stats'; report: StatsReport; applied: number }
  | { sm: 'proxy-observe'; name: string; outcome: Observation }
  | { sm: 'proxy-drain'; name: string; draining: boolean };
type ToWorker =
  | { sm: 'proxy-state'; snapshot: Snapshot; version: number }
  | { sm: 'proxy-totals'; report: StatsReport };

/** How often workers report their counters, and the primary sends back the sums. */
const STATS_INTERVAL_MS = 500;

const OPTIONS_ENV = 'SESSIONMESH_PROXY_WORKER_OPTIONS';
const ENTRY = fileURLToPath(
  new URL(`./worker-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

/**
 * Starts the primary: forks `workers` processes that share `port`, runs the health checks here.
 * @throws {InvalidOptionError} when `workers` is not a positive integer.
 */
export async function startProxyWorkers(options: WorkersOptions): Promise<ProxyWorkers> {
  if (!Number.isInteger(options.workers) || options.workers < 1) {
    throw new InvalidOptionError('workers', 'a positive integer', options.workers);
  }
  const { onDrain, ...forWorkers } = options;
  const pool = new UpstreamPool(options.upstreams, {
    maxSockets: 1,
    ...(options.slowStartMs === undefined ? {} : { slowStartMs: options.slowStartMs }),
  });
  const health = new HealthMonitor(pool, options.health);
  const workers = new Set<Worker>();
  const reports = new Map<Worker, { report: StatsReport; applied: number }>();
  let closing = false;
  /** Bumped by every change of health or drain, so a report says which state it was made under. */
  let version = 0;
  const totals = (): StatsReport => sumReports([...reports.values()].map((r) => r.report));
  const inFlight = (name: string): number => {
    for (const worker of workers) {
      if (!worker.isConnected()) continue;
      const last = reports.get(worker);
      if (last === undefined || last.applied < version) return Infinity;
    }
    return totals().upstreams.find(([upstream]) => upstream === name)?.[1].active ?? 0;
  };
  const sendTotals = setInterval(() => {
    if (reports.size === 0) return;
    const message: ToWorker = { sm: 'proxy-totals', report: totals() };
    for (const worker of workers) if (worker.isConnected()) worker.send(message);
  }, STATS_INTERVAL_MS).unref();

  const snapshot = (): ToWorker => ({
    sm: 'proxy-state',
    snapshot: pool.list.map((u) => [u.name, u.state, u.draining]),
    version,
  });
  const broadcast = (): void => {
    version++;
    const message = snapshot();
    for (const worker of workers) if (worker.isConnected()) worker.send(message);
  };
  pool.on('state', broadcast);
  pool.on('drain', broadcast);
  if (onDrain) pool.on('drain', (u, draining) => onDrain(u, draining));

  cluster.setupPrimary({ exec: ENTRY, args: [], silent: false });
  const fork = (): Promise<number> => {
    // Every worker asks for the same port as given, even 0: cluster shares one handle per (host, port).
    const worker = cluster.fork({ [OPTIONS_ENV]: JSON.stringify(forWorkers) });
    workers.add(worker);
    worker.on('error', () => {});
    return new Promise((resolve, reject) => {
      worker.on('message', (message: ToPrimary) => {
        if (message?.sm === 'proxy-listening') {
          worker.send(snapshot());
          resolve(message.port);
        } else if (message?.sm === 'proxy-observe' && pool.has(message.name)) {
          health.observe(pool.get(message.name), message.outcome);
        } else if (message?.sm === 'proxy-stats') {
          reports.set(worker, { report: message.report, applied: message.applied });
        } else if (message?.sm === 'proxy-drain' && pool.has(message.name)) {
          pool.setDraining(message.name, message.draining);
        }
      });
      worker.once('exit', (code) => {
        workers.delete(worker);
        reports.delete(worker);
        reject(new Error(`proxy worker exited with code ${code}`));
        // A crashed worker is replaced; the others keep serving meanwhile.
        if (!closing) void fork().catch(() => {});
      });
    });
  };

  const ports = await Promise.all(Array.from({ length: options.workers }, fork));
  const port = ports[0]!;
  health.start();

  return {
    port,
    get workers() {
      return [...workers];
    },
    pool,
    drain: (name) => pool.setDraining(name, true),
    undrain: (name) => pool.setDraining(name, false),
    totals,
    inFlight,
    async close() {
      closing = true;
      clearInterval(sendTotals);
      health.close();
      await Promise.all(
        [...workers].map(
          (worker) =>
            new Promise<void>((resolve) => {
              worker.once('exit', () => resolve());
              worker.process.kill('SIGKILL');
            }),
        ),
      );
      pool.destroy();
    },
  };
}

/** The worker side: runs a proxy whose health and drain decisions are the primary's. */
export async function runProxyWorker(): Promise<void> {
  const options = JSON.parse(process.env[OPTIONS_ENV] ?? '{}') as Omit<WorkersOptions, 'onDrain'>;
  // The primary can die between the check and the write (EPIPE): with a callback the error is
  // the callback's, not an unhandled 'error' event; 'disconnect' below ends this worker.
  const send = (message: ToPrimary): void => {
    if (process.connected) process.send!(message, undefined, {}, ignoreSendError);
  };
  const topology = options.nodeTopology
    ? new NodeTopology({
        nodes: options.upstreams.map((u) => ({
          name: u.name,
          host: u.host ?? '127.0.0.1',
          port: u.port,
        })),
      })
    : undefined;
  topology?.start();
  let totals: StatsReport | undefined;
  let applied = -1;
  const proxy = createProxy({
    ...options,
    ...(topology ? { topology } : {}),
    coordinator: {
      observe: (name, outcome) => send({ sm: 'proxy-observe', name, outcome }),
      drain: (name, draining) => send({ sm: 'proxy-drain', name, draining }),
      totals: () => totals,
    },
  });
  setInterval(
    () =>
      send({ sm: 'proxy-stats', report: statsReport(proxy.pool.list, proxy.counters), applied }),
    STATS_INTERVAL_MS,
  ).unref();
  process.on('message', (message: ToWorker) => {
    if (message?.sm === 'proxy-totals') {
      totals = message.report;
      return;
    }
    if (message?.sm !== 'proxy-state') return;
    for (const [name, state, draining] of message.snapshot) {
      if (!proxy.pool.has(name)) continue;
      proxy.pool.setState(name, state);
      proxy.pool.setDraining(name, draining);
    }
    applied = message.version;
  });
  process.on('disconnect', () => process.exit(0));
  const { port } = await proxy.listen(options.port, options.host ?? '127.0.0.1');
  send({ sm: 'proxy-listening', port });
}

function ignoreSendError(): void {
  // The primary is gone; the worker exits on 'disconnect'.
}
