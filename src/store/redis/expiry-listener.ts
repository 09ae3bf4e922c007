// Expired events that survive Redis Cluster and a Redis restart. Keyspace notifications are
// local to the node whose key expired, so the listener subscribes on every master (and follows
// failovers by refreshing the master list); Redis forgets notify-keyspace-events on restart, so
// it is set again on every reconnect. Every app node hears each expiry; the claim script lets
// exactly one of them fire the event.

import { channel } from 'node:diagnostics_channel';
import type { Connection, MasterHandle } from './connection.js';
import { withDeadline } from './connection.js';
import { StoreUnavailableError } from '../../errors.js';
import type { KeyLayout } from './keys.js';
import { closeQuietly, openSubscriber, type Subscriber } from './subscriber.js';

const PATTERN = '__keyevent@*__:expired';
/** Tries at configuring a master that does not answer, refreshMs apart (2 s: 20 s in all). */
const CONFIGURE_ATTEMPTS = 10;
const unavailable = channel('sessionmesh:redis:events-unavailable');
/** An expired event (or a sweep for them) that failed: `{ id, error }` or `{ sweep: true, error }`. */
export const listenerError = channel('sessionmesh:redis:listener-error');

export interface ExpiryListenerOptions {
  connection: Connection;
  keys: KeyLayout;
  timeoutMs: number;
  refreshMs: number;
  /** Set notify-keyspace-events when the server lacks it (needs CONFIG SET). */
  configure: boolean;
  /** Called for every expired marker key heard, on whichever master. */
  onExpiredMarker(id: string): void;
}

export class ExpiryListener {
  readonly #options: ExpiryListenerOptions;
  /** A subscriber per master, by address; set before it connects, so a refresh skips it. */
  readonly #subscriptions = new Map<string, Promise<Subscriber>>();
  #timer: NodeJS.Timeout | undefined;
  readonly #retries = new Set<NodeJS.Timeout>();
  #closed = false;
  /** Masters where notifications could not be enabled (CONFIG forbidden and not preset). */
  readonly unavailableOn = new Set<string>();

  constructor(options: ExpiryListenerOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    await this.refresh();
    if (this.#options.connection.kind === 'cluster') {
      this.#timer = setInterval(() => void this.refresh().catch(() => {}), this.#options.refreshMs);
      this.#timer.unref();
    }
  }

  /** Subscribes on masters not yet listened to and drops those no longer masters. */
  async refresh(): Promise<void> {
    const masters = await withDeadline('listing masters', this.#options.timeoutMs, () =>
      this.#options.connection.masters(),
    );
    const addresses = new Set(masters.map((m) => m.address));
    for (const [address, subscription] of this.#subscriptions) {
      if (!addresses.has(address)) {
        this.#subscriptions.delete(address);
        void subscription.then(closeQuietly, () => {});
      }
    }
    await Promise.all(
      masters.filter((m) => !this.#subscriptions.has(m.address)).map((m) => this.#subscribe(m)),
    );
  }

  async #subscribe(master: MasterHandle): Promise<void> {
    if (this.#closed) return;
    // node-redis re-subscribes after a reconnect; the server may have restarted and forgotten
    // notify-keyspace-events, so every ready sets it again.
    const subscription = openSubscriber(
      master,
      this.#options.timeoutMs,
      (client) =>
        client.pSubscribe(PATTERN, (key) => {
          const id = this.#options.keys.idOfMarker(key);
          if (id !== undefined) this.#options.onExpiredMarker(id);
        }),
      { ready: () => void this.#configure(master) },
    );
    this.#subscriptions.set(master.address, subscription);
    try {
      await subscription;
    } catch (err) {
      if (this.#subscriptions.get(master.address) === subscription)
        this.#subscriptions.delete(master.address);
      throw err;
    }
    await this.#configure(master);
  }

  /**
   * Checks (and sets) notify-keyspace-events on `master`. A master that did not answer is asked
   * again every refreshMs, `attemptsLeft` times: over Sentinel the subscriber's `ready` after a
   * failover can come before the store's own client has found the promoted master.
   */
  async #configure(master: MasterHandle, attemptsLeft = CONFIGURE_ATTEMPTS): Promise<void> {
    if (this.#closed) return;
    try {
      const reply = await withDeadline('CONFIG GET', this.#options.timeoutMs, () =>
        master.send(['CONFIG', 'GET', 'notify-keyspace-events']),
      );
      const flags = configValue(reply);
      if (hasExpiredEvents(flags)) {
        this.unavailableOn.delete(master.address);
        return;
      }
      if (!this.#options.configure) throw new Error('notify-keyspace-events lacks E and x');
      await withDeadline('CONFIG SET', this.#options.timeoutMs, () =>
        master.send(['CONFIG', 'SET', 'notify-keyspace-events', withExpiredEvents(flags)]),
      );
      this.unavailableOn.delete(master.address);
    } catch (err) {
      this.unavailableOn.add(master.address);
      if (unavailable.hasSubscribers) unavailable.publish({ master: master.address, error: err });
      if (err instanceof StoreUnavailableError && attemptsLeft > 1 && !this.#closed) {
        const retry = setTimeout(() => {
          this.#retries.delete(retry);
          void this.#configure(master, attemptsLeft - 1);
        }, this.#options.refreshMs);
        retry.unref();
        this.#retries.add(retry);
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const retry of this.#retries) clearTimeout(retry);
    this.#retries.clear();
    const subscriptions = [...this.#subscriptions.values()];
    this.#subscriptions.clear();
    // One still connecting is closed once it has (or has failed), within timeoutMs.
    await Promise.all(subscriptions.map((s) => s.then(closeQuietly, () => {})));
  }
}

function configValue(reply: unknown): string {
  if (Array.isArray(reply)) return String(reply[1] ?? '');
  if (reply instanceof Map) return String([...reply.values()][0] ?? '');
  if (reply && typeof reply === 'object') return String(Object.values(reply)[0] ?? '');
  return '';
}

/** E (keyevent channel) and x (expired), where A stands for every class including x. */
export function hasExpiredEvents(flags: string): boolean {
  return flags.includes('E') && (flags.includes('x') || flags.includes('A'));
}

export function withExpiredEvents(flags: string): string {
  let out = flags;
  if (!out.includes('E')) out += 'E';
  if (!out.includes('x') && !out.includes('A')) out += 'x';
  return out;
}
