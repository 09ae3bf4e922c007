// Health of the upstreams: active checks (an HTTP GET on a path, every interval, rise/fall counts)
// and passive ones (connect errors, resets, 5xx if asked) that take a node out and put it back.
// In --workers mode the workers only report what they observe; the primary decides and broadcasts.

import { request } from 'node:http';
import { channel } from 'node:diagnostics_channel';
import type { Upstream, UpstreamPool } from './upstream-pool.js';
import { InvalidOptionError } from '../errors.js';
import {
  PROXY_HEALTH_FALL,
  PROXY_HEALTH_INTERVAL_MS,
  PROXY_HEALTH_RISE,
  PROXY_HEALTH_TIMEOUT_MS,
  PROXY_PASSIVE_DOWN_MS,
} from '../defaults.js';
import { positive } from '../options.js';

export interface HealthOptions {
  /** Active checks: GET this path on every upstream; a 2xx or 3xx is a success. Off when absent. */
  readonly path?: string;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly rise?: number;
  readonly fall?: number;
  /** Passive: count 5xx responses as failures (off by default: an app error is not a dead node). */
  readonly passive5xx?: boolean;
  /** Passive only (no `path`): a node taken out is tried again after this long. */
  readonly passiveDownMs?: number;
}

/** What the request path reports about one upstream. */
export type Observation = 'ok' | 'fail';

const upChannel = channel('sessionmesh:proxy:upstream-up');
const downChannel = channel('sessionmesh:proxy:upstream-down');

export class HealthMonitor {
  readonly #pool: UpstreamPool;
  readonly #path: string | undefined;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #rise: number;
  readonly #fall: number;
  readonly #passiveDownMs: number;
  readonly passive5xx: boolean;
  readonly #fails = new Map<Upstream, number>();
  readonly #oks = new Map<Upstream, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;
  #started = false;

  /** @throws {InvalidOptionError} */
  constructor(pool: UpstreamPool, options: HealthOptions = {}) {
    this.#pool = pool;
    if (
      options.path !== undefined &&
      (typeof options.path !== 'string' || !options.path.startsWith('/'))
    ) {
      throw new InvalidOptionError('health.path', 'a path starting with "/"', options.path);
    }
    this.#path = options.path;
    this.#intervalMs = positive(
      'health.intervalMs',
      options.intervalMs ?? PROXY_HEALTH_INTERVAL_MS,
    );
    this.#timeoutMs = positive('health.timeoutMs', options.timeoutMs ?? PROXY_HEALTH_TIMEOUT_MS);
    this.#rise = positive('health.rise', options.rise ?? PROXY_HEALTH_RISE);
    this.#fall = positive('health.fall', options.fall ?? PROXY_HEALTH_FALL);
    this.#passiveDownMs = positive(
      'health.passiveDownMs',
      options.passiveDownMs ?? PROXY_PASSIVE_DOWN_MS,
    );
    this.passive5xx = options.passive5xx ?? false;
    // A node added at run time is checked like the others; a removed one no longer.
    pool.on('added', (upstream) => {
      if (this.#started) this.#schedule(upstream, Math.random() * this.#intervalMs);
    });
    pool.on('state', (upstream, state) => {
      this.#fails.set(upstream, 0);
      this.#oks.set(upstream, 0);
      (state === 'up' ? upChannel : downChannel).publish({ name: upstream.name });
    });
  }

  /** Starts the active checks (when a path is configured). */
  start(): void {
    if (this.#path === undefined) return;
    this.#started = true;
    for (const upstream of this.#pool.list)
      this.#schedule(upstream, Math.random() * this.#intervalMs);
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  /** A request's outcome on an upstream: `fail` for connect errors, resets, timeouts (and 5xx if asked). */
  observe(upstream: Upstream, outcome: Observation): void {
    if (outcome === 'ok') {
      if (upstream.state === 'up') this.#fails.set(upstream, 0);
      return;
    }
    if (upstream.state === 'down' || !this.#current(upstream)) return;
    const fails = (this.#fails.get(upstream) ?? 0) + 1;
    this.#fails.set(upstream, fails);
    if (fails < this.#fall) return;
    this.#pool.setState(upstream.name, 'down');
    // Without active checks nothing else would bring it back: try it again later, as nginx's fail_timeout does.
    if (this.#path === undefined && !this.#closed) {
      this.#after(this.#passiveDownMs, () => {
        if (this.#current(upstream)) this.#pool.setState(upstream.name, 'up');
      });
    }
  }

  #schedule(upstream: Upstream, delayMs: number): void {
    if (this.#closed || !this.#current(upstream)) return;
    this.#after(delayMs, () => {
      this.#probe(upstream, (ok) => {
        this.#record(upstream, ok);
        this.#schedule(upstream, this.#intervalMs);
      });
    });
  }

  #current(upstream: Upstream): boolean {
    return this.#pool.has(upstream.name) && this.#pool.get(upstream.name) === upstream;
  }

  #after(delayMs: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed) fn();
    }, delayMs);
    timer.unref();
    this.#timers.add(timer);
  }

  #record(upstream: Upstream, ok: boolean): void {
    if (!this.#current(upstream)) return;
    if (ok) {
      this.#fails.set(upstream, 0);
      const oks = (this.#oks.get(upstream) ?? 0) + 1;
      this.#oks.set(upstream, oks);
      if (upstream.state === 'down' && oks >= this.#rise) this.#pool.setState(upstream.name, 'up');
    } else {
      this.#oks.set(upstream, 0);
      const fails = (this.#fails.get(upstream) ?? 0) + 1;
      this.#fails.set(upstream, fails);
      if (upstream.state === 'up' && fails >= this.#fall)
        this.#pool.setState(upstream.name, 'down');
    }
  }

  #probe(upstream: Upstream, done: (ok: boolean) => void): void {
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done(ok);
    };
    // A fresh connection each time (no pool), so a probe also checks that the node accepts connections.
    const probe = request(
      {
        host: upstream.host,
        port: upstream.port,
        path: this.#path,
        method: 'GET',
        agent: false,
        headers: { 'user-agent': 'sessionmesh-health' },
      },
      (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode !== undefined && res.statusCode < 400));
        res.on('error', () => finish(false));
      },
    );
    probe.on('error', () => finish(false));
    const timer = setTimeout(() => {
      probe.destroy();
      finish(false);
    }, this.#timeoutMs);
    timer.unref();
    probe.end();
  }
}
