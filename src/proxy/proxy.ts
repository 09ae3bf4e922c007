// The sticky load balancer: an HTTP/1.1 reverse proxy that routes each request to the node holding
// its session (cookie route, then cluster topology, then its own route cookie, then a balancer),
// with health checks, safe retries, drain, an admin API and Prometheus metrics.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createAdminHandler, ADMIN_PREFIX } from './admin.js';
import { createBalancer, type BalanceName } from './balancers/index.js';
import { reply } from './downstream.js';
import { forward, type ForwardConfig } from './forward.js';
import { HealthMonitor, type HealthOptions, type Observation } from './health-check.js';
import { createInsertCookie, type InsertCookieOptions } from './insert-cookie.js';
import { createCounters, type ProxyCounters, type StatsReport } from './metrics.js';
import { createRouter } from './router.js';
import type { TopologySource } from './topology.js';
import {
  UpstreamPool,
  type Upstream,
  type UpstreamOptions,
  type UpstreamView,
} from './upstream-pool.js';
import { forwardUpgrade } from './websocket.js';
import { IdleSweeper } from './idle-sweeper.js';
import { FastFront } from './fast-front.js';
import {
  COOKIE_NAME,
  PROXY_CLIENT_HEADERS_TIMEOUT_MS,
  PROXY_CLIENT_KEEPALIVE_TIMEOUT_MS,
  PROXY_CLIENT_REQUEST_TIMEOUT_MS,
  PROXY_CONNECT_TIMEOUT_MS,
  PROXY_HEADER_TIMEOUT_MS,
  PROXY_IDLE_TIMEOUT_MS,
  PROXY_MAX_HEADER_BYTES,
  PROXY_MAX_HEADER_COUNT,
  PROXY_MAX_RESPONSE_HEADER_BYTES,
  PROXY_MAX_RESPONSE_HEADER_COUNT,
} from '../defaults.js';
import { nonNegative } from '../options.js';

export interface ProxyTimeouts {
  /** Connecting to an upstream (then the request goes to another node). */
  readonly connectMs?: number;
  /** From the request sent to the upstream's response headers. */
  readonly headerMs?: number;
  /** No byte either way on a proxied connection or tunnel. */
  readonly idleMs?: number;
  /** A client must have sent its request headers within this (slowloris). */
  readonly clientHeadersMs?: number;
  /** A client must have sent its whole request within this; 0 for none. */
  readonly clientRequestMs?: number;
  /** An idle keep-alive client connection is closed after this. */
  readonly clientKeepAliveMs?: number;
}

export interface ProxyOptions {
  readonly upstreams: readonly UpstreamOptions[];
  /** The session cookie whose route suffix decides the node; default `sid`. */
  readonly cookieName?: string;
  /** For new visitors; default least-connections. */
  readonly balance?: BalanceName;
  /** Answer 503 rather than move a session whose node is down (apps that cannot fail over). */
  readonly strict?: boolean;
  /** The proxy sets its own route cookie (HAProxy `cookie insert`); `true` for the defaults. */
  readonly insert?: boolean | InsertCookieOptions;
  /** Where the cluster keeps each session, for sessions whose route is dead. */
  readonly topology?: TopologySource;
  readonly health?: HealthOptions;
  /** Slow start after a node comes back, in ms; 0 for none. */
  readonly slowStartMs?: number;
  /** Other nodes tried after a safe failure; default: every other node, at most 2. */
  readonly retries?: number;
  readonly timeouts?: ProxyTimeouts;
  readonly maxHeaderBytes?: number;
  readonly maxHeaderCount?: number;
  /** Connections per upstream at most (pooled keep-alive ones included). */
  readonly maxSocketsPerUpstream?: number;
  /** Bearer token for /_mesh/api/. */
  readonly adminToken?: string;
  /** Keep the client's X-Forwarded-Proto/-Host: only behind another proxy you trust. */
  readonly trustForwarded?: boolean;
  /**
   * A drained node also stops taking its own sessions' requests: they go to their partition
   * owner (with a topology) or another node, as if it were down. Right when sessions live in a
   * shared store (the embedded cluster, Redis, PostgreSQL), and what a rolling deploy needs: the
   * node is idle before it stops. Default false: a drained node keeps its sessions, as HAProxy's
   * drain does, and only new visitors go elsewhere.
   */
  readonly drainMovesSessions?: boolean;
  /** Called when a node is drained or undrained, e.g. to ask the cluster to hand its partitions off. */
  readonly onDrain?: (
    upstream: { name: string; host: string; port: number },
    draining: boolean,
  ) => void;
  /**
   * Serve plain body-less HTTP/1.1 requests (most GETs) straight from the socket, around
   * node:http's per-request machinery; every other request takes node:http's path. Default true.
   */
  readonly fastPath?: boolean;
  /** @internal set by workers.ts: health is decided by the primary. */
  readonly coordinator?: ProxyCoordinator;
}

/** @internal how a worker defers health and drain decisions to the primary. */
export interface ProxyCoordinator {
  observe(name: string, outcome: Observation): void;
  drain(name: string, draining: boolean): void;
  /** The counters summed over every worker, for the admin API and metrics; undefined until known. */
  totals(): StatsReport | undefined;
}

export interface Proxy {
  /** Resolves once listening. */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting, closes idle connections and tunnels, waits for requests in flight, stops health checks. */
  close(): Promise<void>;
  address(): AddressInfo | undefined;
  readonly upstreams: readonly Upstream[];
  /**
   * Adds a node at run time: it takes new visitors at once, and health checks start on it.
   * @throws {InvalidOptionError} on a bad name or port, or a name or route already in use.
   */
  addUpstream(upstream: UpstreamOptions): Upstream;
  /**
   * Removes a node at run time: its requests in flight finish; its sessions go elsewhere (or get
   * 503 in strict mode), as if it were down.
   * @throws {UnknownUpstreamError}
   */
  removeUpstream(name: string): void;
  /** @throws {UnknownUpstreamError} */
  drain(name: string): void;
  /** @throws {UnknownUpstreamError} */
  undrain(name: string): void;
  readonly pool: UpstreamPool;
  readonly counters: ProxyCounters;
  readonly server: Server;
}

/**
 * Creates the sticky load balancer.
 * @throws {InvalidOptionError} on any invalid option.
 * @example
 * const proxy = createProxy({ upstreams: [{ name: 'a', port: 3001 }, { name: 'b', port: 3002 }] });
 * await proxy.listen(8080);
 */
export function createProxy(options: ProxyOptions): Proxy {
  const t = options.timeouts ?? {};
  const connectTimeoutMs = nonNegative(
    'timeouts.connectMs',
    t.connectMs ?? PROXY_CONNECT_TIMEOUT_MS,
  );
  const headerTimeoutMs = nonNegative('timeouts.headerMs', t.headerMs ?? PROXY_HEADER_TIMEOUT_MS);
  const idleTimeoutMs = nonNegative('timeouts.idleMs', t.idleMs ?? PROXY_IDLE_TIMEOUT_MS);
  const clientHeadersMs = nonNegative(
    'timeouts.clientHeadersMs',
    t.clientHeadersMs ?? PROXY_CLIENT_HEADERS_TIMEOUT_MS,
  );
  const clientRequestMs = nonNegative(
    'timeouts.clientRequestMs',
    t.clientRequestMs ?? PROXY_CLIENT_REQUEST_TIMEOUT_MS,
  );
  const clientKeepAliveMs = nonNegative(
    'timeouts.clientKeepAliveMs',
    t.clientKeepAliveMs ?? PROXY_CLIENT_KEEPALIVE_TIMEOUT_MS,
  );
  const maxHeaderBytes = nonNegative(
    'maxHeaderBytes',
    options.maxHeaderBytes ?? PROXY_MAX_HEADER_BYTES,
  );
  const maxHeaderCount = nonNegative(
    'maxHeaderCount',
    options.maxHeaderCount ?? PROXY_MAX_HEADER_COUNT,
  );
  const cookieName = options.cookieName ?? COOKIE_NAME;

  const pool = new UpstreamPool(options.upstreams, {
    maxSockets: options.maxSocketsPerUpstream ?? Infinity,
    idleTimeoutMs,
    // Idle connections and late response heads are found by one sweep: a fraction of the shorter.
    sweepMs: Math.min(1000, Math.min(idleTimeoutMs || Infinity, headerTimeoutMs || Infinity) / 4),
    ...(options.slowStartMs === undefined
      ? {}
      : { slowStartMs: nonNegative('slowStartMs', options.slowStartMs) }),
    drainMovesSessions: options.drainMovesSessions === true,
  });
  const fixedRetries =
    options.retries === undefined ? undefined : nonNegative('retries', options.retries);
  const counters = createCounters();
  const insertOptions = options.insert === true ? {} : options.insert || undefined;
  const router = createRouter({
    pool,
    balancer: createBalancer(options.balance ?? 'least-connections', pool.slowStartMs),
    cookieName,
    strict: options.strict ?? false,
    topology: options.topology,
    insert:
      insertOptions === undefined ? undefined : createInsertCookie(insertOptions, () => pool.list),
  });

  const coordinator = options.coordinator;
  const health = coordinator ? undefined : new HealthMonitor(pool, options.health);
  const observe = coordinator
    ? (upstream: Upstream, outcome: Observation): void =>
        coordinator.observe(upstream.name, outcome)
    : (upstream: Upstream, outcome: Observation): void => health!.observe(upstream, outcome);
  const common = {
    router,
    counters,
    observe,
    // By default every other node, at most 2: follows nodes added and removed at run time.
    get retries() {
      return fixedRetries ?? Math.min(2, pool.list.length - 1);
    },
    connectTimeoutMs,
    headerTimeoutMs,
    idleTimeoutMs,
    trustForwarded: options.trustForwarded ?? false,
  };
  const forwardConfig: ForwardConfig = {
    router,
    counters,
    observe,
    get retries() {
      return common.retries;
    },
    connectTimeoutMs,
    headerTimeoutMs,
    idleTimeoutMs,
    trustForwarded: common.trustForwarded,
    passive5xx: options.health?.passive5xx ?? false,
    responseLimits: {
      maxBytes: PROXY_MAX_RESPONSE_HEADER_BYTES,
      maxCount: PROXY_MAX_RESPONSE_HEADER_COUNT,
    },
  };

  const setDraining = (name: string, draining: boolean): void => {
    const upstream = pool.get(name);
    pool.setDraining(name, draining);
    coordinator?.drain(name, draining);
    options.onDrain?.({ name: upstream.name, host: upstream.host, port: upstream.port }, draining);
  };
  // With workers, the admin API and metrics show the sums over every worker (workers.ts).
  const summed = (): { list: UpstreamView[]; counters: ProxyCounters } | undefined => {
    const totals = coordinator?.totals();
    if (totals === undefined) return undefined;
    const byName = new Map(totals.upstreams);
    const list = pool.list.map((u) => ({
      name: u.name,
      host: u.host,
      port: u.port,
      route: u.route,
      state: u.state,
      draining: u.draining,
      stats: byName.get(u.name) ?? u.stats,
    }));
    return { list, counters: totals.counters };
  };
  const admin = createAdminHandler(
    {
      get pool() {
        return summed() ?? pool;
      },
      get counters() {
        return summed()?.counters ?? counters;
      },
      drain: (name) => setDraining(name, true),
      undrain: (name) => setDraining(name, false),
    },
    { token: options.adminToken },
  );

  const server = createServer({
    maxHeaderSize: maxHeaderBytes,
    headersTimeout: clientHeadersMs,
    requestTimeout: clientRequestMs,
    keepAliveTimeout: clientKeepAliveMs,
    // Timeouts are only enforced at this period: keep it a fraction of the headers timeout.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(clientHeadersMs / 4))),
    // Checked in the handler, after the header count: a truncated list may have lost its Host.
    requireHostHeader: false,
    noDelay: true,
  });
  // One more than the limit, so that a request over it can be seen (node drops the rest silently).
  server.maxHeadersCount = maxHeaderCount + 1;
  let front: FastFront | undefined;

  // Connections start in the fast front; node:http gets those it hands over (fast-front.ts).
  if (options.fastPath ?? true) {
    const [httpConnection] = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeListener('connection', httpConnection!);
    front = new FastFront({
      config: forwardConfig,
      maxHeaderBytes,
      maxHeaderCount,
      reservedPrefix: '/_mesh/',
      keepAliveMs: clientKeepAliveMs,
      firstRequestMs: clientHeadersMs,
      handover(socket, buffered) {
        socket.pause();
        if (buffered !== undefined) socket.unshift(buffered);
        httpConnection!.call(server, socket);
        process.nextTick(() => socket.resume());
      },
    });
    server.on('connection', (socket: Socket) => front!.accept(socket));
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.rawHeaders.length / 2 > maxHeaderCount) {
      counters.rejected['header-too-large']++;
      res.shouldKeepAlive = false;
      reply(res, 431, 'too many header fields');
      return;
    }
    if (req.headers.host === undefined && req.httpVersionMinor === 1) {
      counters.rejected['bad-request']++;
      res.shouldKeepAlive = false;
      reply(res, 400, 'an HTTP/1.1 request needs a Host header');
      return;
    }
    if (req.url!.startsWith(ADMIN_PREFIX) && admin(req, res)) return;
    forward(forwardConfig, req, res);
  });
  // Tunnels leave the HTTP server's bookkeeping; close() ends them itself.
  const tunnels = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.rawHeaders.length / 2 > maxHeaderCount) {
      counters.rejected['header-too-large']++;
      socket.end(
        'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
    forwardUpgrade(common, req, socket, head);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const code = error.code;
    if (code === 'ECONNRESET' || !socket.writable || (socket as Socket).bytesWritten > 0) {
      socket.destroy();
      return;
    }
    const [status, text, reason] =
      code === 'HPE_HEADER_OVERFLOW'
        ? ([431, 'Request Header Fields Too Large', 'header-too-large'] as const)
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? ([408, 'Request Timeout', 'timeout'] as const)
          : ([400, 'Bad Request', 'bad-request'] as const);
    counters.rejected[reason]++;
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  // No byte either way on a client connection for idleTimeoutMs: closed (one sweep for all).
  const clientIdle = new IdleSweeper(idleTimeoutMs);
  server.on('connection', (socket: Socket) => {
    counters.connections++;
    clientIdle.watch(socket, () => socket.destroy());
    socket.once('close', () => {
      counters.connections--;
      clientIdle.unwatch(socket);
    });
  });

  return {
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          health?.start();
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close() {
      health?.close();
      return new Promise((resolve) => {
        front?.close();
        server.close(() => {
          clientIdle.close();
          pool.destroy();
          resolve();
        });
        server.closeIdleConnections();
        for (const tunnel of tunnels) tunnel.destroy();
      });
    },
    address() {
      return (server.address() as AddressInfo | null) ?? undefined;
    },
    get upstreams() {
      return pool.list;
    },
    addUpstream: (upstream) => pool.add(upstream),
    removeUpstream: (name) => void pool.remove(name),
    drain: (name) => setDraining(name, true),
    undrain: (name) => setDraining(name, false),
    pool,
    counters,
    server,
  };
}
