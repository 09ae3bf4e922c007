// The near cache's invalidations over a Redis Cluster or Sentinel client, where CLIENT TRACKING
// does not serve (it is per node, and node-redis's sentinel client speaks no RESP3): the merge
// script publishes `<origin> <id>` on `<prefix>invalidate` whenever it writes a session, and
// each app node listens on one connection. Redis Cluster forwards a PUBLISH to every node over
// the cluster bus, so any one master will do; a sentinel client's subscriber follows the master.
// Pub/sub keeps nothing for an absent subscriber, so whenever the connection may have missed a
// message the cache is emptied and kept empty until a probe published since comes back on it.

import { withDeadline, type Connection } from './connection.js';
import type { NearCache } from './near-cache.js';
import { closeQuietly, openSubscriber, type Subscriber } from './subscriber.js';

/** How often a suspended channel publishes its probe (and checks its subscriber), in ms. */
const PROBE_INTERVAL_MS = 100;
/** A subscriber that could not be opened is tried again (on another master) after this, in ms. */
const RETRY_OPEN_MS = 250;

/** The channel of the stores with key prefix `prefix`. */
export function invalidationChannel(prefix: string): string {
  return `${prefix}invalidate`;
}

/** The message that invalidates session `id`, written by the store whose token is `origin`. */
export function invalidationMessage(origin: string, id: string): string {
  return `${origin} ${id}`;
}

export interface InvalidationChannelOptions {
  connection: Connection;
  /** `<prefix>invalidate`. */
  channel: string;
  /** This store's token: messages of its own writes are skipped (the script returned them). */
  origin: string;
  cache: NearCache;
  timeoutMs: number;
  /**
   * A subscriber that has not brought the probe back this long after it was opened or lost is
   * replaced, on another master when there is one (its node may be dead).
   */
  reopenMs: number;
}

interface Attempt {
  /** The master it subscribes on, once chosen. */
  address: string | undefined;
  openedAt: number;
  /** Set once connected and subscribed. */
  client: Subscriber | undefined;
  failed: boolean;
}

export class InvalidationChannel {
  readonly #options: InvalidationChannelOptions;
  #attempt: Attempt | undefined;
  /** The master of the last subscriber that failed or was replaced: chosen last. */
  #avoid: string | undefined;
  // Bumped by every event that may have lost a message; only a probe of the current generation
  // makes the cache live, so a probe sent before a loss proves nothing about after it.
  #generation = 0;
  #live = false;
  #lostAt = 0;
  #probing = false;
  #timer: NodeJS.Timeout | undefined;
  #waiters: (() => void)[] = [];
  #closed = false;

  constructor(options: InvalidationChannelOptions) {
    this.#options = options;
  }

  /**
   * Subscribes, and resolves once the first probe came back: the cache keeps entries from then on.
   * @throws {StoreUnavailableError} when that takes longer than timeoutMs.
   */
  async start(): Promise<void> {
    const live = new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#lost();
    await withDeadline('subscribing to invalidations', this.#options.timeoutMs, () => live);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stopTimer();
    const client = this.#attempt?.client;
    this.#attempt = undefined;
    if (client) await closeQuietly(client);
  }

  /** Anything that may have dropped a message: forget everything until the next probe returns. */
  #lost(): void {
    if (this.#closed) return;
    this.#generation++;
    if (this.#live || this.#lostAt === 0) this.#lostAt = Date.now();
    this.#live = false;
    this.#options.cache.suspend();
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), PROBE_INTERVAL_MS);
      this.#timer.unref();
      this.#tick();
    }
  }

  #tick(): void {
    if (this.#closed || this.#live) return this.#stopTimer();
    const attempt = this.#attempt;
    const now = Date.now();
    if (attempt === undefined) return void this.#open();
    if (attempt.failed) {
      if (now - attempt.openedAt >= RETRY_OPEN_MS) void this.#open();
      return;
    }
    if (now - Math.max(attempt.openedAt, this.#lostAt) >= this.#options.reopenMs) {
      this.#avoid = attempt.address;
      if (attempt.client) void closeQuietly(attempt.client);
      return void this.#open();
    }
    if (attempt.client) this.#probe();
  }

  async #open(): Promise<void> {
    const attempt: Attempt = {
      address: undefined,
      openedAt: Date.now(),
      client: undefined,
      failed: false,
    };
    this.#attempt = attempt;
    const { connection, channel, timeoutMs } = this.#options;
    try {
      const masters = await withDeadline('listing masters', timeoutMs, () => connection.masters());
      const others = masters.filter((m) => m.address !== this.#avoid);
      const choices = others.length > 0 ? others : masters;
      const master = choices[Math.floor(Math.random() * choices.length)];
      if (master === undefined) throw new Error('no master to subscribe on');
      attempt.address = master.address;
      const client = await openSubscriber(
        master,
        timeoutMs,
        (c) => c.subscribe(channel, (message) => this.#heard(message, attempt)),
        {
          lost: () => {
            if (this.#attempt === attempt) this.#lost();
          },
        },
      );
      if (this.#attempt !== attempt || this.#closed) return void closeQuietly(client);
      attempt.client = client;
      this.#probe();
    } catch {
      if (this.#attempt !== attempt) return;
      attempt.failed = true;
      this.#avoid = attempt.address;
    }
  }

  /**
   * Publishes this generation's probe through the store's own connection, so coming back it
   * also crossed the cluster bus. One at a time: a disconnected client queues commands.
   */
  #probe(): void {
    if (this.#probing) return;
    this.#probing = true;
    const { connection, channel, timeoutMs } = this.#options;
    const message = this.#probeMessage();
    withDeadline('publishing a probe', timeoutMs, () =>
      connection.send(undefined, false, ['PUBLISH', channel, message]),
    )
      .catch(() => {})
      .finally(() => {
        this.#probing = false;
      });
  }

  #probeMessage(): string {
    return `${this.#options.origin}.${this.#generation}`;
  }

  #heard(message: string, attempt: Attempt): void {
    const space = message.indexOf(' ');
    if (space >= 0) {
      // From a subscriber since replaced too: dropping an entry is always safe.
      if (message.slice(0, space) !== this.#options.origin)
        this.#options.cache.invalidate(message.slice(space + 1));
      return;
    }
    if (this.#live || attempt !== this.#attempt || message !== this.#probeMessage()) return;
    this.#live = true;
    this.#stopTimer();
    this.#options.cache.resume();
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
