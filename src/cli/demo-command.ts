// `sessionmesh demo`: a proxy, several app nodes (child processes running the demo app) and
// the live dashboard, on this machine with no setup. Ctrl-C stops everything it started.
// Programmatic use (tests): `const demo = await startDemo({ nodes: 3, port: 0 }); … demo.stop()`.

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createDashboardHandler } from '../dashboard/index.js';
import { createProxy, type Proxy } from '../proxy/proxy.js';
import { NodeTopology } from '../proxy/node-topology.js';
import { createServer } from 'node:net';
import { describeFlags, parseFlags, UsageError, type Specs } from './args.js';
import { createDemoApi, type DemoControls, type TimelineEvent } from './demo-api.js';
import { NodeProcess } from './node-process.js';
import { STORES } from './node-command.js';

export const DEMO_FLAGS: Specs = {
  nodes: { type: 'number', describe: 'app nodes to start', default: 3, min: 1, max: 9 },
  port: {
    type: 'number',
    describe: "the proxy's port (0: any free port)",
    default: 8080,
    min: 0,
    max: 65535,
  },
  host: { type: 'string', describe: "the proxy's interface", default: '127.0.0.1' },
  store: {
    type: 'string',
    describe: 'where the nodes keep sessions',
    choices: STORES,
    default: 'cluster',
  },
  backups: {
    type: 'number',
    describe: 'backup copies of each partition (cluster store)',
    default: 1,
    min: 0,
    max: 8,
  },
};

export interface DemoOptions {
  nodes: number;
  port: number;
  host?: string;
  store?: string;
  backups?: number;
  /** Prints progress; silent by default when used programmatically. */
  log?: (line: string) => void;
}

export interface Demo {
  readonly url: string;
  readonly proxy: Proxy;
  readonly nodes: readonly NodeProcess[];
  readonly controls: DemoControls;
  /** Resolves once every node holds its partitions and the proxy sees them up. */
  whenReady(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function demoCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(`Usage: sessionmesh demo [options]\n\n${describeFlags(DEMO_FLAGS)}`);
    return 0;
  }
  const flags = parseFlags('demo', argv, DEMO_FLAGS);
  const log = (line: string) => console.log(line);
  const demo = await startDemo({
    nodes: flags.nodes as number,
    port: flags.port as number,
    host: flags.host as string,
    store: flags.store as string,
    backups: flags.backups as number,
    log,
  });
  log(
    `\n  demo app:   ${demo.url}/\n  dashboard:  ${demo.url}/_mesh/\n  admin API:  ${demo.url}/_mesh/api/cluster\n`,
  );
  log('waiting for the cluster to form…');
  await demo.whenReady(30_000).then(
    () =>
      log(
        'ready: sign in at the demo app, then kill the node that served you from the dashboard. Ctrl-C stops everything.',
      ),
    (err: unknown) =>
      log(`not ready yet (${(err as Error).message}); the dashboard shows what is missing`),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log('\nstopping the proxy and every node…');
  await demo.stop();
  return 0;
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const log = options.log ?? (() => undefined);
  const store = options.store ?? 'cluster';
  const secret = randomBytes(32).toString('hex');
  const history: TimelineEvent[] = [];
  const listeners = new Set<(event: TimelineEvent) => void>();
  const record = (kind: string, member: string, detail?: string) => {
    const event: TimelineEvent = {
      at: Date.now(),
      kind,
      member,
      ...(detail !== undefined && { detail }),
    };
    history.push(event);
    if (history.length > 500) history.shift();
    for (const listener of listeners) listener(event);
    log(`  ${kind.padEnd(9)} ${member}${detail ? ` ${detail}` : ''}`);
  };

  await assertPortFree(options.port, options.host ?? '127.0.0.1');
  const nodes: NodeProcess[] = [];
  const seeds = () =>
    nodes.filter((n) => n.state !== 'stopped' && n.clusterAddress).map((n) => n.clusterAddress!);
  const makeNode = (index: number) => {
    const node = new NodeProcess({
      name: `node${index}`,
      secret,
      store,
      port: 0,
      seeds,
      backups: options.backups ?? 1,
    });
    node.on('state', (state) => {
      if (state === 'running') record('ready', node.name);
      if (state === 'left') record('left', node.name);
    });
    node.on('output', (line) => {
      if (/error|failed/i.test(line)) log(`  [${node.name}] ${line}`);
    });
    nodes.push(node);
    return node;
  };

  // The first node starts alone; the others join through it.
  for (let i = 1; i <= options.nodes; i++) {
    const node = makeNode(i);
    await node.start();
    record(
      'started',
      node.name,
      `pid ${node.pid} http :${node.port}${node.clusterAddress ? ` cluster ${node.clusterAddress}` : ''}`,
    );
  }

  const topology = new NodeTopology({
    nodes: nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.port })),
  });
  watchMembership(topology, record);
  topology.start();

  const proxy = createProxy({
    upstreams: nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.port })),
    ...(store === 'cluster' && { topology }),
    health: { path: '/_mesh/health', intervalMs: 500, timeoutMs: 400, rise: 1, fall: 2 },
  });

  const controls: DemoControls = {
    nodes: () => nodes,
    topology,
    kill: async (name) => {
      record('kill', name, 'SIGKILL');
      await find(nodes, name).kill();
    },
    restart: async (name) => {
      record('restart', name);
      await find(nodes, name).restart();
    },
    drain: async (name) => {
      record('drain', name);
      proxy.drain(name);
      await find(nodes, name).drain();
    },
    add: async () => {
      const node = makeNode(nodes.length + 1);
      await node.start();
      topology.add({ name: node.name, host: '127.0.0.1', port: node.port });
      addUpstream(proxy, { name: node.name, host: '127.0.0.1', port: node.port });
      record('add', node.name, `pid ${node.pid} http :${node.port}`);
      return node.name;
    },
    onTimeline: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    timeline: () => history,
  };

  // The demo's routes (cluster view, node controls, dashboard) go before the proxy's own.
  const demoApi = createDemoApi(controls);
  const dashboard = createDashboardHandler({ title: 'sessionmesh demo' });
  const [proxyHandler] = proxy.server.listeners('request') as ((
    req: IncomingMessage,
    res: ServerResponse,
  ) => void)[];
  proxy.server.removeAllListeners('request');
  proxy.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/_mesh/') && (demoApi(req, res) || dashboard(req, res))) return;
    proxyHandler!(req, res);
  });
  let address;
  try {
    address = await proxy.listen(options.port, options.host ?? '127.0.0.1');
  } catch (err) {
    // Nothing the demo started may outlive it.
    topology.close();
    await Promise.all(nodes.map((n) => n.kill()));
    throw err;
  }
  const url = `http://${options.host ?? '127.0.0.1'}:${address.port}`;

  return {
    url,
    proxy,
    nodes,
    controls,
    async whenReady(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await topology.poll();
        const allReady = nodes.every(
          (n) => n.state === 'running' && topology.reports.get(n.name)?.ready,
        );
        const upstreamsUp = proxy.upstreams.every((u) => u.state === 'up');
        if (allReady && upstreamsUp) return;
        if (Date.now() > deadline)
          throw new Error(`the cluster was not ready within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      topology.close();
      await Promise.all(
        nodes.map(async (n) => {
          const stopped = n.stop();
          const timer = setTimeout(() => void n.kill(), 3000);
          await stopped;
          clearTimeout(timer);
        }),
      );
      await proxy.close();
    },
  };
}

function find(nodes: readonly NodeProcess[], name: string): NodeProcess {
  const node = nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node named ${name}`);
  return node;
}

/** Turns the nodes' membership views into timeline events: joins, suspicions, deaths, migrations. */
function watchMembership(
  topology: NodeTopology,
  record: (kind: string, member: string, detail?: string) => void,
): void {
  let states = new Map<string, string>();
  let owners: (string | null)[] = [];
  topology.on('change', () => undefined);
  const check = () => {
    const next = new Map<string, string>();
    for (const report of topology.reports.values()) {
      for (const m of report?.members ?? []) {
        const known = next.get(m.name);
        // The most alarming state any node reports wins: a suspicion is news.
        if (!known || rank(m.state) > rank(known)) next.set(m.name, m.state);
      }
    }
    for (const [name, state] of next) {
      const before = states.get(name);
      if (before === state) continue;
      if (!before) record('join', name);
      else record(state === 'alive' ? 'alive' : state, name);
    }
    for (const name of states.keys()) if (!next.has(name)) record('dead', name);
    states = next;
    const best = [...topology.reports.values()].find((r) => r?.ready && r.partitions.count > 0);
    const nextOwners = best?.partitions.owners ?? owners;
    const moved = nextOwners.filter((o, i) => owners.length > 0 && o !== owners[i]).length;
    if (moved > 0) record('migration', '*', `${moved} partitions changed owner`);
    owners = nextOwners;
  };
  const timer = setInterval(check, 500);
  timer.unref();
}

function rank(state: string): number {
  return ['alive', 'suspect', 'left', 'dead'].indexOf(state);
}

function addUpstream(proxy: Proxy, upstream: { name: string; host: string; port: number }): void {
  const add = (proxy as Proxy & { addUpstream?: (u: typeof upstream) => void }).addUpstream;
  if (!add) throw new Error('this proxy cannot add upstreams at run time');
  add.call(proxy, upstream);
}

/** Refuses a busy port before any node is started, naming it. */
function assertPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageError(
              `sessionmesh demo: port ${port} on ${host} is in use; choose another with --port`,
            )
          : err,
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
