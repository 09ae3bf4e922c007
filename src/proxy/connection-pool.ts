// Keep-alive TCP connections to one upstream, reused last-in first-out (hot sockets stay hot, cold
// ones time out). Each connection has one set of socket listeners for its whole life and hands
// socket events to the exchange that currently uses it, so a request adds and removes none.

import { connect, type Socket } from 'node:net';
import { IdleSweeper } from './idle-sweeper.js';

/** What a connection reports to the request using it. */
export interface Exchange {
  /** The connection is this exchange's now (connecting when `socket.connecting`). */
  onAcquire(connection: UpstreamConnection): void;
  onConnect(): void;
  onData(chunk: Buffer): void;
  /** The upstream closed or reset the connection; `error` when it was not a clean end. */
  onClose(error: Error | undefined): void;
  onTimeout(): void;
  onDrain(): void;
  /** Called every sweep (a fraction of a second) while the exchange holds a connection. */
  onSweep(now: number): void;
}

export class UpstreamConnection {
  readonly socket: Socket;
  exchange: Exchange | undefined;
  /** Has carried a request before: a failure on it may be the upstream closing an idle socket. */
  reused = false;
  idleSince = 0;
  #error: Error | undefined;

  constructor(socket: Socket, pool: ConnectionPool) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', () => this.exchange?.onConnect());
    socket.on('data', (chunk: Buffer) => {
      if (this.exchange) this.exchange.onData(chunk);
      // Bytes nobody asked for: the connection is out of step, never reuse it.
      else socket.destroy();
    });
    socket.on('drain', () => this.exchange?.onDrain());
    socket.on('error', (error: Error) => (this.#error = error));
    socket.on('close', () => {
      pool.closed(this);
      const exchange = this.exchange;
      this.exchange = undefined;
      exchange?.onClose(this.#error);
    });
  }
}

export interface ConnectionPoolOptions {
  readonly host: string;
  readonly port: number;
  /** Open connections at most; further requests wait for one. */
  readonly maxSockets: number;
  readonly maxFree: number;
  /** A free connection unused this long is closed. */
  readonly freeTimeoutMs: number;
  /** No byte either way this long on a connection in use: the exchange is told. */
  readonly idleTimeoutMs: number;
  /** How often connections in use are checked (idle, and the exchange's deadlines). */
  readonly sweepMs: number;
}

export class ConnectionPool {
  readonly #options: ConnectionPoolOptions;
  readonly #free: UpstreamConnection[] = [];
  readonly #waiting: Exchange[] = [];
  readonly #idle: IdleSweeper;
  #open = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #destroyed = false;

  constructor(options: ConnectionPoolOptions) {
    this.#options = options;
    this.#idle = new IdleSweeper(options.idleTimeoutMs, options.sweepMs);
  }

  /** Connections open now, in use or free. */
  get open(): number {
    return this.#open;
  }

  get free(): number {
    return this.#free.length;
  }

  /**
   * Gives `exchange` a connection (its onAcquire): a free one (already connected), a new one
   * (connecting: the exchange hears onConnect), or the next one released when the pool is full.
   */
  acquire(exchange: Exchange): void {
    const free = this.#free.pop();
    if (free) {
      free.exchange = exchange;
      exchange.onAcquire(free);
    } else if (this.#open < this.#options.maxSockets && !this.#destroyed) {
      exchange.onAcquire(this.#connect(exchange));
    } else {
      this.#waiting.push(exchange);
    }
  }

  /** Withdraws an exchange still waiting for a connection. */
  withdraw(exchange: Exchange): void {
    const i = this.#waiting.indexOf(exchange);
    if (i !== -1) this.#waiting.splice(i, 1);
  }

  #handTo(exchange: Exchange, connection: UpstreamConnection): void {
    connection.exchange = exchange;
    exchange.onAcquire(connection);
  }

  /** Returns a connection whose response ended cleanly; it is reused or, past the limit, closed. */
  release(connection: UpstreamConnection): void {
    connection.exchange = undefined;
    connection.reused = true;
    const waiter = this.#waiting.shift();
    if (waiter) {
      this.#handTo(waiter, connection);
      return;
    }
    if (this.#destroyed || this.#free.length >= this.#options.maxFree) {
      connection.socket.destroy();
      return;
    }
    connection.idleSince = Date.now();
    this.#free.push(connection);
    this.#sweeper ??= setInterval(
      () => this.#sweep(),
      Math.max(100, this.#options.freeTimeoutMs / 4),
    ).unref();
  }

  /** Closes a connection that cannot be reused (its exchange hears nothing more). */
  discard(connection: UpstreamConnection): void {
    connection.exchange = undefined;
    connection.socket.destroy();
  }

  /** @internal a connection's socket closed. */
  closed(connection: UpstreamConnection): void {
    this.#open--;
    this.#idle.unwatch(connection.socket);
    const i = this.#free.indexOf(connection);
    if (i !== -1) this.#free.splice(i, 1);
    // A request waiting for a slot gets a new connection.
    const waiter = this.#waiting.shift();
    if (waiter && !this.#destroyed) this.#handTo(waiter, this.#connect(waiter));
  }

  destroy(): void {
    this.#destroyed = true;
    this.#idle.close();
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const connection of this.#free.splice(0)) connection.socket.destroy();
  }

  #connect(exchange: Exchange | undefined): UpstreamConnection {
    this.#open++;
    const socket = connect({ host: this.#options.host, port: this.#options.port });
    const connection = new UpstreamConnection(socket, this);
    // Silent in use: the exchange is told; silent while free: the free timeout closes it first.
    this.#idle.watch(
      socket,
      () => connection.exchange?.onTimeout(),
      (now) => connection.exchange?.onSweep(now),
    );
    connection.exchange = exchange;
    return connection;
  }

  #sweep(): void {
    const oldest = Date.now() - this.#options.freeTimeoutMs;
    // Free connections are in release order: the stale ones are at the front.
    while (this.#free.length > 0 && this.#free[0]!.idleSince <= oldest) {
      this.#free.shift()!.socket.destroy();
    }
    if (this.#free.length === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}
