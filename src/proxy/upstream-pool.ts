// The upstreams (app nodes) of the proxy: each with its keep-alive connection pool, health state,
// drain flag and counters. The pool is the one place where state changes, and it emits them.

import { EventEmitter } from 'node:events';
import { ConnectionPool } from './connection-pool.js';
import { InvalidOptionError, UnknownUpstreamError } from '../errors.js';
import { isValidRoute } from '../session/id.js';
import {
  PROXY_SLOW_START_MS,
  PROXY_UPSTREAM_FREE_SOCKET_TIMEOUT_MS,
  PROXY_UPSTREAM_MAX_FREE_SOCKETS,
} from '../defaults.js';

export interface UpstreamOptions {
  /** The node's name; also its route (the suffix of session cookies) unless `route` is given. */
  readonly name: string;
  readonly host?: string;
  readonly port: number;
  /** The route this node writes into session cookies; defaults to `name`. */
  readonly route?: string;
}

/** Where a request's upstream came from; counted per upstream. */
export type RouteSource = 'cookie' | 'topology' | 'insert' | 'balancer';

export type UpstreamState = 'up' | 'down';

export interface UpstreamStats {
  /** Requests and upgrades in flight. */
  active: number;
  requests: number;
  /** Requests that failed to reach the node or got no complete response. */
  errors: number;
  responses5xx: number;
  retries: number;
  readonly routed: Record<RouteSource, number>;
}

/** What the admin API and the metrics read of an upstream. */
export type UpstreamView = Pick<
  Upstream,
  'name' | 'host' | 'port' | 'route' | 'state' | 'draining' | 'stats'
>;

export class Upstream {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly route: string;
  /** Keep-alive connections to the node. */
  readonly connections: ConnectionPool;
  readonly stats: UpstreamStats = {
    active: 0,
    requests: 0,
    errors: 0,
    responses5xx: 0,
    retries: 0,
    routed: { cookie: 0, topology: 0, insert: 0, balancer: 0 },
  };
  #state: UpstreamState = 'up';
  #draining = false;
  /** Whether draining also sends this node's own sessions elsewhere (drainMovesSessions). */
  readonly #drainMovesSessions: boolean;
  /** When it last came up; 0 means "from the start", which gets no slow start. */
  #upSince = 0;

  constructor(
    options: UpstreamOptions,
    config: {
      maxSockets: number;
      idleTimeoutMs: number;
      sweepMs: number;
      drainMovesSessions: boolean;
    },
  ) {
    this.name = options.name;
    this.#drainMovesSessions = config.drainMovesSessions;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port;
    this.route = options.route ?? options.name;
    this.connections = new ConnectionPool({
      host: this.host,
      port: this.port,
      maxSockets: config.maxSockets,
      maxFree: PROXY_UPSTREAM_MAX_FREE_SOCKETS,
      freeTimeoutMs: PROXY_UPSTREAM_FREE_SOCKET_TIMEOUT_MS,
      idleTimeoutMs: config.idleTimeoutMs,
      sweepMs: config.sweepMs,
    });
  }

  get state(): UpstreamState {
    return this.#state;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Takes sticky traffic (its own sessions): up, and draining or not; when a drain moves
   * sessions (their data is shared: the embedded cluster, Redis, PostgreSQL), not while draining.
   */
  get usable(): boolean {
    return this.#state === 'up' && !(this.#draining && this.#drainMovesSessions);
  }

  /** Takes new visitors: up and not draining. */
  get eligible(): boolean {
    return this.#state === 'up' && !this.#draining;
  }

  /** Share of new visitors, 0.05 to 1: ramps up after the node came back (slow start). */
  weight(now: number, slowStartMs: number): number {
    if (this.#upSince === 0 || slowStartMs <= 0) return 1;
    const ramp = (now - this.#upSince) / slowStartMs;
    return ramp >= 1 ? 1 : Math.max(0.05, ramp);
  }

  /** @internal the pool changes state, so that every change is emitted. */
  setState(state: UpstreamState, now: number): void {
    if (state === 'up' && this.#state === 'down') this.#upSince = now;
    this.#state = state;
  }

  /** @internal */
  setDraining(draining: boolean): void {
    this.#draining = draining;
  }
}

export interface UpstreamPoolEvents {
  state: [upstream: Upstream, state: UpstreamState];
  drain: [upstream: Upstream, draining: boolean];
  /** A node joined at run time (addUpstream). */
  added: [upstream: Upstream];
  /** A node left at run time (removeUpstream): its requests in flight finish, nothing new goes there. */
  removed: [upstream: Upstream];
}

export interface UpstreamPoolConfig {
  readonly maxSockets: number;
  readonly slowStartMs?: number;
  /** No byte either way this long on a connection in use; 0 for none. */
  readonly idleTimeoutMs?: number;
  /** How often connections in use are checked for idleness and their request's deadlines. */
  readonly sweepMs?: number;
  /** A drained node also stops taking its own sessions' requests (default false). */
  readonly drainMovesSessions?: boolean;
}

export class UpstreamPool extends EventEmitter<UpstreamPoolEvents> {
  /** Replaced (never changed in place) when a node is added or removed. */
  #list: readonly Upstream[] = [];
  readonly slowStartMs: number;
  readonly #config: UpstreamPoolConfig;
  readonly #byName = new Map<string, Upstream>();
  readonly #byRoute = new Map<string, Upstream>();

  /** @throws {InvalidOptionError} on an empty list, a bad port or route, or a duplicate name or route. */
  constructor(options: readonly UpstreamOptions[], config: UpstreamPoolConfig) {
    super();
    if (!Array.isArray(options) || options.length === 0) {
      throw new InvalidOptionError(
        'upstreams',
        'a non-empty array of { name, host?, port }',
        options,
      );
    }
    this.slowStartMs = config.slowStartMs ?? PROXY_SLOW_START_MS;
    this.#config = config;
    const list: Upstream[] = [];
    for (const option of options) {
      const upstream = this.#create(option);
      this.#byName.set(upstream.name, upstream);
      this.#byRoute.set(upstream.route, upstream);
      list.push(upstream);
    }
    this.#list = list;
  }

  get list(): readonly Upstream[] {
    return this.#list;
  }

  /**
   * Adds a node at run time; it takes new visitors at once.
   * @throws {InvalidOptionError} on a bad name, route or port, or a name or route already in use.
   */
  add(option: UpstreamOptions): Upstream {
    const upstream = this.#create(option);
    this.#byName.set(upstream.name, upstream);
    this.#byRoute.set(upstream.route, upstream);
    this.#list = [...this.#list, upstream];
    this.emit('added', upstream);
    return upstream;
  }

  /**
   * Removes a node at run time: requests in flight finish, its free connections close, its
   * sessions' requests go elsewhere as if it were down.
   * @throws {UnknownUpstreamError}
   */
  remove(name: string): Upstream {
    const upstream = this.get(name);
    this.#byName.delete(upstream.name);
    this.#byRoute.delete(upstream.route);
    this.#list = this.#list.filter((u) => u !== upstream);
    upstream.connections.destroy();
    this.emit('removed', upstream);
    return upstream;
  }

  #create(option: UpstreamOptions): Upstream {
    const route = option?.route ?? option?.name;
    if (typeof route !== 'string' || !isValidRoute(route)) {
      throw new InvalidOptionError(
        'upstreams[].name',
        'a route: 1 to 64 of [A-Za-z0-9_-]',
        option?.name,
      );
    }
    if (
      option.name !== undefined &&
      (typeof option.name !== 'string' || !isValidRoute(option.name))
    ) {
      throw new InvalidOptionError(
        'upstreams[].name',
        'a name: 1 to 64 of [A-Za-z0-9_-]',
        option.name,
      );
    }
    if (!Number.isInteger(option.port) || option.port <= 0 || option.port > 65535) {
      throw new InvalidOptionError('upstreams[].port', 'an integer from 1 to 65535', option.port);
    }
    if (option.host !== undefined && (typeof option.host !== 'string' || option.host === '')) {
      throw new InvalidOptionError('upstreams[].host', 'a host name or address', option.host);
    }
    if (this.#byName.has(option.name) || this.#byRoute.has(route)) {
      throw new InvalidOptionError('upstreams', 'unique names and routes', option.name);
    }
    const upstream = new Upstream(option, {
      maxSockets: this.#config.maxSockets,
      idleTimeoutMs: this.#config.idleTimeoutMs ?? 0,
      sweepMs: this.#config.sweepMs ?? 1000,
      drainMovesSessions: this.#config.drainMovesSessions ?? false,
    });
    return upstream;
  }

  byRoute(route: string): Upstream | undefined {
    return this.#byRoute.get(route);
  }

  /** @throws {UnknownUpstreamError} */
  get(name: string): Upstream {
    const upstream = this.#byName.get(name);
    if (!upstream) throw new UnknownUpstreamError(name);
    return upstream;
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  setState(name: string, state: UpstreamState, now = Date.now()): void {
    const upstream = this.get(name);
    if (upstream.state === state) return;
    upstream.setState(state, now);
    this.emit('state', upstream, state);
  }

  setDraining(name: string, draining: boolean): void {
    const upstream = this.get(name);
    if (upstream.draining === draining) return;
    upstream.setDraining(draining);
    this.emit('drain', upstream, draining);
  }

  /** Closes every pooled connection. */
  destroy(): void {
    for (const upstream of this.#list) upstream.connections.destroy();
  }
}
