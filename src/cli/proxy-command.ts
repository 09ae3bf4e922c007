// `sessionmesh proxy`: runs the sticky load balancer in front of app nodes (one process, or N
// workers sharing the port), or prints an nginx/HAProxy config that routes the same way.

import { BALANCE_NAMES, type BalanceName } from '../proxy/balancers/index.js';
import { exportConfig, type ExportKind } from '../proxy/export-config.js';
import { createNodeDrain } from '../proxy/node-drain.js';
import { NodeTopology } from '../proxy/node-topology.js';
import { createProxy } from '../proxy/proxy.js';
import type { UpstreamOptions } from '../proxy/upstream-pool.js';
import { startProxyWorkers } from '../proxy/workers.js';
import { describeFlags, parseFlags, UsageError, type Specs } from './args.js';

/** `least-conn` is the short name HAProxy users know (`balance leastconn`). */
const BALANCE_CHOICES = ['least-conn', ...BALANCE_NAMES] as const;

export const PROXY_FLAGS: Specs = {
  port: {
    type: 'number',
    describe: 'port to listen on (0: any free port)',
    default: 8080,
    min: 0,
    max: 65535,
    env: 'SESSIONMESH_PROXY_PORT',
  },
  host: {
    type: 'string',
    describe: 'interface to listen on (0.0.0.0: all)',
    default: '127.0.0.1',
    env: 'SESSIONMESH_PROXY_HOST',
  },
  upstreams: {
    type: 'list',
    describe: 'app nodes, name=host:port,… (the name is the route in session cookies)',
    env: 'SESSIONMESH_UPSTREAMS',
    required: true,
  },
  balance: {
    type: 'string',
    describe: 'how new visitors are spread',
    choices: BALANCE_CHOICES,
    default: 'least-conn',
    env: 'SESSIONMESH_BALANCE',
  },
  strict: {
    type: 'boolean',
    describe: 'answer 503 rather than move a session whose node is down',
    default: false,
  },
  insert: {
    type: 'boolean',
    describe: "set the proxy's own route cookie (for apps without sessionmesh sessions)",
    default: false,
  },
  workers: {
    type: 'number',
    describe: 'worker processes sharing the port',
    default: 1,
    min: 1,
    max: 64,
    env: 'SESSIONMESH_PROXY_WORKERS',
  },
  'health-path': {
    type: 'string',
    describe: "path of the active health check ('none': passive checks only)",
    default: '/_mesh/health',
  },
  cookie: {
    type: 'string',
    describe: 'session cookie whose route suffix picks the node',
    default: 'sid',
  },
  'admin-token': {
    type: 'string',
    describe: 'bearer token required by /_mesh/api/',
    env: 'SESSIONMESH_ADMIN_TOKEN',
  },
  topology: {
    type: 'string',
    describe:
      "where a session whose node is down goes: 'nodes' asks the nodes for its partition owner",
    choices: ['nodes', 'none'],
    default: 'none',
  },
  'drain-nodes': {
    type: 'boolean',
    describe:
      "a drain sends the node's sessions elsewhere too, then asks the node to hand its partitions off and stop (sessionmesh nodes)",
    default: false,
  },
  export: {
    type: 'string',
    describe: 'print an equivalent nginx or HAProxy config and exit',
    choices: ['nginx', 'haproxy'],
  },
};

export const PROXY_HELP = `Usage: sessionmesh proxy --upstreams name=host:port,… [options]\n\n${describeFlags(PROXY_FLAGS)}`;

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Parses `name=host:port` (IPv6 hosts in brackets: `a=[::1]:3000`). */
export function parseUpstream(text: string): UpstreamOptions {
  const bad = () =>
    new UsageError(
      `sessionmesh proxy: --upstreams entries must be name=host:port (name of [A-Za-z0-9_-], port 1 to 65535), e.g. a=127.0.0.1:3001; got ${JSON.stringify(text)}`,
    );
  const eq = text.indexOf('=');
  if (eq <= 0) throw bad();
  const name = text.slice(0, eq);
  const address = text.slice(eq + 1);
  const colon = address.lastIndexOf(':');
  if (!NAME.test(name) || colon <= 0) throw bad();
  let host = address.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const portText = address.slice(colon + 1);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) throw bad();
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) throw bad();
  return { name, host, port };
}

export async function proxyCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(PROXY_HELP);
    return 0;
  }
  const flags = parseFlags('proxy', argv, PROXY_FLAGS);
  const upstreams = (flags.upstreams as string[]).map(parseUpstream);
  if (upstreams.length === 0) {
    throw new UsageError('sessionmesh proxy: --upstreams needs at least one name=host:port');
  }
  const names = new Set(upstreams.map((u) => u.name));
  if (names.size !== upstreams.length) {
    throw new UsageError('sessionmesh proxy: --upstreams names must be unique');
  }
  const port = flags.port as number;
  const host = flags.host as string;
  const cookieName = flags.cookie as string;

  if (flags.export !== undefined) {
    const config = exportConfig(flags.export as ExportKind, upstreams, {
      cookieName,
      listenPort: port,
      listenHost: host,
    });
    process.stdout.write(config.endsWith('\n') ? config : `${config}\n`);
    return 0;
  }

  const balance: BalanceName =
    flags.balance === 'least-conn' ? 'least-connections' : (flags.balance as BalanceName);
  const healthPath = flags['health-path'] as string;
  const common = {
    upstreams,
    cookieName,
    balance,
    strict: flags.strict as boolean,
    insert: flags.insert as boolean,
    ...(healthPath === 'none' ? {} : { health: { path: healthPath } }),
    ...(flags['admin-token'] === undefined ? {} : { adminToken: flags['admin-token'] as string }),
    drainMovesSessions: flags['drain-nodes'] as boolean,
  };
  const drainNodes = flags['drain-nodes'] as boolean;
  const useTopology = flags.topology === 'nodes';
  const list = upstreams.map((u) => `${u.name}=${u.host}:${u.port}`).join(',');

  let close: () => Promise<void>;
  let listening: number;
  const workers = flags.workers as number;
  if (workers > 1) {
    // The primary decides drains; the requests in flight are the workers' reports made since
    // they applied the drain.
    let inFlight = (_name: string): number => Infinity;
    const started = await startProxyWorkers({
      ...common,
      workers,
      port,
      host,
      ...(useTopology ? { nodeTopology: true } : {}),
      ...(drainNodes ? { onDrain: createNodeDrain({ inFlight: (name) => inFlight(name) }) } : {}),
    });
    inFlight = (name) => started.inFlight(name);
    listening = started.port;
    close = () => started.close();
  } else {
    const topology = useTopology
      ? new NodeTopology({ nodes: upstreams.map((u) => ({ ...u, host: u.host! })) })
      : undefined;
    topology?.start();
    const inFlight = (name: string): number =>
      proxy.upstreams.find((u) => u.name === name)?.stats.active ?? 0;
    const proxy = createProxy({
      ...common,
      ...(topology ? { topology } : {}),
      ...(drainNodes ? { onDrain: createNodeDrain({ inFlight }) } : {}),
    });
    listening = (await proxy.listen(port, host)).port;
    close = async () => {
      topology?.close();
      await proxy.close();
    };
  }
  console.log(
    `sessionmesh proxy listening http://${host.includes(':') ? `[${host}]` : host}:${listening} ` +
      `workers ${workers} balance ${balance} topology ${flags.topology as string} upstreams ${list}`,
  );

  const stop = (signal: string) => {
    console.log(`sessionmesh proxy: ${signal}, finishing requests in flight`);
    // A second signal, or requests that do not finish, end the process anyway.
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return new Promise(() => undefined); // runs until a signal
}
