// Expired events where keyspace notifications are off. A master whose server forbids CONFIG
// and lacks notify-keyspace-events (managed Redis) never says that a marker expired
// (expiry-listener.ts), so nobody would hear of its sessions' expiries. But a dead session's
// hash outlives its deadline by expiredGraceMs: sweeping such a master more often than that
// sees every dead session once or more. One app node sweeps a master per interval (a lock key,
// SET NX PX), and the claim script fires each event once however many nodes find it.

import { withDeadline, type Connection, type MasterHandle } from './connection.js';
import { listenerError } from './expiry-listener.js';
import type { KeyLayout } from './keys.js';
import { scanSessionIds } from './session-scan.js';

export interface ExpirySweeperOptions {
  connection: Connection;
  keys: KeyLayout;
  /** How often the masters are swept; less than the grace period, or dead hashes go unseen. */
  intervalMs: number;
  timeoutMs: number;
  /** This app node's token, the value of the lock it takes. */
  origin: string;
  /** The addresses of the masters to sweep now: those without expired events. */
  masters(): ReadonlySet<string>;
  /** The ids among `ids` whose sessions are dead by their deadline (not destroyed). */
  expiredAmong(ids: string[]): Promise<string[]>;
  /** Claims and fires the expired event of `id` (once over every app node). */
  expire(id: string): Promise<void>;
}

export class ExpirySweeper {
  readonly #options: ExpirySweeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #closed = false;

  constructor(options: ExpirySweeperOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => {
      // A sweep slower than the interval is not overlapped by the next one on this node.
      if (this.#running || this.#closed) return;
      this.#running = this.sweep()
        .catch((error: unknown) => {
          if (listenerError.hasSubscribers) listenerError.publish({ sweep: true, error });
        })
        .finally(() => (this.#running = undefined));
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Sweeps each master without expired events whose lock this node takes; returns how many dead sessions it found. */
  async sweep(): Promise<number> {
    const wanted = this.#options.masters();
    if (wanted.size === 0) return 0;
    const { connection, timeoutMs } = this.#options;
    const masters = await withDeadline('listing masters', timeoutMs, () => connection.masters());
    let found = 0;
    for (const master of masters) {
      if (this.#closed) break;
      if (wanted.has(master.address) && (await this.#lock(master)))
        found += await this.#sweep(master);
    }
    return found;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  /** Whether this node sweeps `master` in this interval: the first to set the lock does. */
  async #lock(master: MasterHandle): Promise<boolean> {
    const { connection, keys, origin, intervalMs, timeoutMs } = this.#options;
    const lock = keys.sweepLock(master.address);
    const reply = await withDeadline('sweep lock', timeoutMs, () =>
      connection.send(lock, false, ['SET', lock, origin, 'NX', 'PX', String(intervalMs)]),
    );
    return reply !== null;
  }

  async #sweep(master: MasterHandle): Promise<number> {
    const { keys, timeoutMs, expiredAmong, expire } = this.#options;
    let found = 0;
    const send = (args: readonly string[]) =>
      withDeadline('SCAN', timeoutMs, () => master.send(args));
    await scanSessionIds(keys, send, async (ids) => {
      if (this.#closed) return;
      const dead = await expiredAmong(ids);
      found += dead.length;
      await Promise.all(dead.map((id) => expire(id)));
    });
    return found;
  }
}
