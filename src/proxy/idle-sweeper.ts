// Idle timeouts for many sockets at once: a socket whose byte counts have not moved for the whole
// timeout is reported. One interval checks them all, instead of a timer re-armed on every read and
// write of every socket (socket.setTimeout), which costs the proxy on each request.

import type { Socket } from 'node:net';

interface Entry {
  bytes: number;
  since: number;
  readonly onIdle: () => void;
  /** Called on every sweep, e.g. to check a deadline of the socket's current use. */
  readonly onSweep: ((now: number) => void) | undefined;
}

export class IdleSweeper {
  readonly #idleMs: number;
  readonly #intervalMs: number;
  readonly #entries = new Map<Socket, Entry>();
  #timer: NodeJS.Timeout | undefined;

  /**
   * `idleMs` 0 disables idle reports. A socket is reported after idleMs to idleMs + intervalMs of
   * silence; `intervalMs` defaults to a quarter of idleMs.
   */
  constructor(idleMs: number, intervalMs = idleMs / 4) {
    this.#idleMs = idleMs;
    this.#intervalMs = intervalMs > 0 ? Math.max(50, intervalMs) : 0;
  }

  watch(socket: Socket, onIdle: () => void, onSweep?: (now: number) => void): void {
    if (this.#intervalMs === 0) return;
    this.#entries.set(socket, { bytes: -1, since: Date.now(), onIdle, onSweep });
    this.#timer ??= setInterval(() => this.#sweep(), this.#intervalMs).unref();
  }

  /** The interval stops at the next sweep that finds nothing to watch. */
  unwatch(socket: Socket): void {
    this.#entries.delete(socket);
  }

  close(): void {
    this.#entries.clear();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    if (this.#entries.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = Date.now();
    for (const [socket, entry] of this.#entries) {
      entry.onSweep?.(now);
      if (this.#idleMs <= 0) continue;
      const bytes = socket.bytesRead + socket.bytesWritten;
      if (bytes !== entry.bytes) {
        entry.bytes = bytes;
        entry.since = now;
      } else if (now - entry.since >= this.#idleMs) {
        entry.since = now;
        entry.onIdle();
      }
    }
  }
}
