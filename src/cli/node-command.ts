// `sessionmesh node`: runs one app node: an HTTP server with the user's app (or the demo app)
// and sessions in the chosen store; with the cluster store, a member of the embedded cluster.
// SIGTERM hands the node's partitions off before it exits.

import { createServer, type Server } from 'node:http';
import { createCluster, type Cluster } from '../cluster/cluster.js';
import { createMembership, type Membership } from '../cluster/membership/membership.js';
import { createTcpTransport } from '../cluster/transport/tcp-transport.js';
import { attach } from '../http/node.js';
import type { SessionOptions } from '../http/options.js';
import { SessionHttp } from '../http/session-http.js';
import { MemoryStore } from '../store/memory-store.js';
import type { SessionStore } from '../store/store.js';
import { loadAppModule, type Handler } from './app-module.js';
import { describeFlags, parseFlags, UsageError, type Specs } from './args.js';
import { createDemoApp } from './demo-app.js';
import { createNodeEndpoints } from './node-endpoints.js';

export const STORES = ['cluster', 'memory', 'redis', 'postgres'] as const;

export const NODE_FLAGS: Specs = {
  name: {
    type: 'string',
    describe: 'node name, also its session route [A-Za-z0-9_-]',
    env: 'SESSIONMESH_NAME',
    required: true,
  },
  host: {
    type: 'string',
    describe: 'HTTP interface',
    default: '127.0.0.1',
    env: 'SESSIONMESH_HOST',
  },
  port: {
    type: 'number',
    describe: 'HTTP port (0: any free port)',
    default: 3000,
    min: 0,
    max: 65535,
    env: 'PORT',
  },
  app: {
    type: 'string',
    describe:
      'app module: an Express app, a Fastify instance or a (req, res) handler; default: the demo app',
    env: 'SESSIONMESH_APP',
  },
  secret: {
    type: 'string',
    describe: 'cookie secret, at least 32 characters',
    env: 'SESSIONMESH_SECRET',
    required: true,
  },
  store: {
    type: 'string',
    describe: 'where sessions live',
    choices: STORES,
    default: 'cluster',
    env: 'SESSIONMESH_STORE',
  },
  'cluster-host': {
    type: 'string',
    describe: 'cluster interface',
    default: '127.0.0.1',
    env: 'SESSIONMESH_CLUSTER_HOST',
  },
  'cluster-port': {
    type: 'number',
    describe: 'cluster port (0: any free port)',
    default: 7400,
    min: 0,
    max: 65535,
    env: 'SESSIONMESH_CLUSTER_PORT',
  },
  seeds: {
    type: 'list',
    describe: 'cluster members to join through, host:port,…',
    default: [],
    env: 'SESSIONMESH_SEEDS',
  },
  'cluster-secret': {
    type: 'string',
    describe: 'cluster secret (default: derived from --secret)',
    env: 'SESSIONMESH_CLUSTER_SECRET',
  },
  'cluster-name': {
    type: 'string',
    describe: 'cluster name; members of another cluster are refused',
    default: 'sessionmesh',
    env: 'SESSIONMESH_CLUSTER_NAME',
  },
  backups: {
    type: 'number',
    describe: 'backup copies of each partition',
    default: 1,
    min: 0,
    max: 10,
    env: 'SESSIONMESH_BACKUPS',
  },
  'redis-url': {
    type: 'string',
    describe: 'Redis URL for --store redis',
    default: 'redis://127.0.0.1:6379',
    env: 'REDIS_URL',
  },
  'postgres-url': {
    type: 'string',
    describe: 'PostgreSQL URL for --store postgres',
    default: 'postgres://postgres@127.0.0.1:5432/test',
    env: 'DATABASE_URL',
  },
  'idle-timeout': {
    type: 'number',
    describe: 'session idle timeout, seconds',
    default: 1800,
    min: 1,
    env: 'SESSIONMESH_IDLE_TIMEOUT',
  },
  lock: {
    type: 'string',
    describe:
      'requests of one session one at a time: on this node, or cluster-wide (--store cluster)',
    choices: ['none', 'node', 'cluster'],
    default: 'none',
    env: 'SESSIONMESH_LOCK',
  },
};

export const NODE_HELP = `Usage: sessionmesh node --name NAME --secret SECRET [options]\n\n${describeFlags(NODE_FLAGS)}`;

export async function nodeCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(NODE_HELP);
    return 0;
  }
  const flags = parseFlags('node', argv, NODE_FLAGS);
  const name = flags.name as string;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new UsageError(
      `sessionmesh node: --name must be 1 to 64 characters of [A-Za-z0-9_-]; got ${JSON.stringify(name)}`,
    );
  }
  const started = await startNode(flags);
  const stop = (signal: string) => {
    console.log(`sessionmesh node ${name}: ${signal}, handing off and leaving`);
    started.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`sessionmesh node ${name}: shutdown failed:`, err);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return new Promise(() => undefined); // runs until a signal
}

interface StartedNode {
  server: Server;
  cluster: Cluster | undefined;
  shutdown(): Promise<void>;
}

async function startNode(flags: Record<string, unknown>): Promise<StartedNode> {
  const name = flags.name as string;
  const { store, cluster, membership, closeStore } = await openStore(flags);
  const options: SessionOptions = {
    secret: flags.secret as string,
    store,
    idleTimeoutMs: (flags['idle-timeout'] as number) * 1000,
    lock: flags.lock as 'none' | 'node' | 'cluster',
    ...(cluster ? {} : { route: name }),
  };
  const http = new SessionHttp(options);
  let requests = 0;
  const app: Handler = flags.app
    ? await loadAppModule(flags.app as string, http, options)
    : (req, res) =>
        attach(
          http,
          req,
          res,
          () => void createDemoApp(name)(req, res).catch((err: unknown) => fail(res, err)),
        );

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () =>
    (shuttingDown ??= (async () => {
      server.close();
      await closeStore();
      server.closeAllConnections();
    })());
  // Counting a shared store's sessions scans it: at most once per 5 s, however often it is asked.
  let counted = { at: 0, count: Promise.resolve(0) };
  const countSessions = () => {
    if (Date.now() - counted.at > 5000) {
      counted = {
        at: Date.now(),
        count: store.ids().then(
          (ids) => ids.length,
          () => 0,
        ),
      };
    }
    return counted.count;
  };
  const endpoints = createNodeEndpoints({
    name,
    manager: http.manager,
    cluster,
    membership,
    requests: () => requests,
    sessions: () => (cluster ? cluster.map.heldSessions : countSessions()),
    drain: () => void shutdown().then(() => process.exit(0)),
  });
  const server = createServer((req, res) => {
    if (endpoints(req, res)) return;
    requests++;
    app(req, res);
  });
  await listen(server, flags.port as number, flags.host as string);
  const address = server.address() as { port: number };
  const clusterAddress = cluster ? ` cluster ${cluster.map.self.address}` : '';
  console.log(
    `sessionmesh node ${name} listening http://${flags.host}:${address.port}${clusterAddress} store ${flags.store}`,
  );
  if (cluster) {
    cluster.whenReady().then(
      () => console.log(`sessionmesh node ${name} ready`),
      () => undefined,
    );
  }
  return { server, cluster, shutdown };
}

async function openStore(flags: Record<string, unknown>): Promise<{
  store: SessionStore;
  cluster: Cluster | undefined;
  membership: Membership | undefined;
  closeStore: () => Promise<void>;
}> {
  switch (flags.store) {
    case 'memory': {
      const store = new MemoryStore();
      return { store, cluster: undefined, membership: undefined, closeStore: () => store.close() };
    }
    case 'redis': {
      const { createClient } = await import('redis');
      const { createRedisStore } = await import('../store/redis-store.js');
      const client = createClient({ url: flags['redis-url'] as string });
      client.on('error', () => undefined); // reported through the store's own errors
      await client.connect();
      const store = await createRedisStore({ client: client as never });
      return {
        store,
        cluster: undefined,
        membership: undefined,
        closeStore: async () => {
          await store.close();
          await client.quit();
        },
      };
    }
    case 'postgres': {
      const pg = await import('pg');
      const { createPostgresStore } = await import('../store/postgres-store.js');
      const pool = new pg.default.Pool({ connectionString: flags['postgres-url'] as string });
      const store = await createPostgresStore({ pool });
      return {
        store,
        cluster: undefined,
        membership: undefined,
        closeStore: async () => {
          await store.close();
          await pool.end();
        },
      };
    }
    default: {
      const secret =
        (flags['cluster-secret'] as string | undefined) ?? `cluster:${flags.secret as string}`;
      const transport = createTcpTransport({
        name: flags.name as string,
        cluster: flags['cluster-name'] as string,
        secret,
        host: flags['cluster-host'] as string,
        port: flags['cluster-port'] as number,
      });
      const membership = createMembership({ transport, seeds: flags.seeds as string[] });
      const cluster = await createCluster({
        transport,
        membership,
        backups: flags.backups as number,
      });
      return { store: cluster.store, cluster, membership, closeStore: () => cluster.close() };
    }
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageError(
              `sessionmesh node: port ${port} on ${host} is in use; choose another with --port`,
            )
          : err,
      );
    });
    server.listen(port, host, () => resolve());
  });
}

function fail(res: import('node:http').ServerResponse, err: unknown): void {
  console.error('sessionmesh node: the demo app failed:', err);
  if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
  res.end('Internal Server Error\n');
}
