// Forwards one HTTP request to its upstream over a pooled keep-alive connection and streams the
// response back, both bodies streamed (never buffered), with connect, header and idle timeouts, and
// a retry on another upstream only when the request cannot have reached an app or can safely be
// sent again. The upstream side is written and parsed here (request head written by hand, response
// head and body framing parsed strictly) rather than by node:http's client: that client costs more
// than everything else the proxy does per request.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { channel } from 'node:diagnostics_channel';
import { ChunkedDecoder, CHUNKED_ERROR, CHUNKED_MORE } from './chunked.js';
import type { Exchange, UpstreamConnection } from './connection-pool.js';
import type { Router } from './router.js';
import type { Upstream } from './upstream-pool.js';
import type { ProxyCounters } from './metrics.js';
import type { Observation } from './health-check.js';
import { NodeDownstream, type Downstream } from './downstream.js';
import {
  HEAD_ERROR,
  HEAD_MORE,
  parseResponseHead,
  type Framing,
  type HeadLimits,
  type ResponseHead,
} from './response-head.js';

export interface ForwardConfig {
  readonly router: Router;
  readonly counters: ProxyCounters;
  readonly observe: (upstream: Upstream, outcome: Observation) => void;
  readonly passive5xx: boolean;
  /** Further upstreams tried after the first, when that is safe. */
  readonly retries: number;
  readonly connectTimeoutMs: number;
  readonly headerTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly trustForwarded: boolean;
  readonly responseLimits: HeadLimits;
}

/** Methods that RFC 9110 §9.2.2 defines as idempotent: sending one twice has the effect of once. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

const retryChannel = channel('sessionmesh:proxy:retry');

/** Why an attempt failed, which decides whether it may be retried. */
type Failure = 'connect' | 'connect-timeout' | 'reset' | 'header-timeout' | 'idle-timeout';

/** Forwards a request node:http parsed. */
export function forward(config: ForwardConfig, req: IncomingMessage, res: ServerResponse): void {
  const down = new NodeDownstream(req, res);
  const forwarding = new Forwarding(config, down);
  // The client went away (reset mid-body, or closed before the response ended): free the upstream side.
  down.onClose(() => forwarding.abort());
  forwarding.attempt();
}

export class Forwarding implements Exchange {
  readonly #config: ForwardConfig;
  readonly #down: Downstream;
  readonly #clientIp: string;
  /** The upstream request head, built at the first send and sent as is on every attempt. */
  #head: string | undefined;
  readonly #idempotent: boolean;
  readonly #isHead: boolean;
  #tried: Set<Upstream> | undefined;
  #bodyStarted = false;

  // One attempt's state; reset by attempt().
  #upstream: Upstream | undefined;
  #setCookie: string | undefined;
  #connection: UpstreamConnection | undefined;
  /** Waiting for a connection from a full pool. */
  #waiting = false;
  /** The connect timeout (new connections only); the header timeout is checked by the pool's sweep. */
  #timer: NodeJS.Timeout | undefined;
  /** When the response head is due; 0 when none is awaited. */
  #headerDeadline = 0;
  #done = true;
  #connected = false;
  #responded = false;
  #requestSent = false;
  #pending: Buffer | undefined;
  #framing: Framing = 'none';
  #remaining = 0;
  #chunked: ChunkedDecoder | undefined;
  #keepAlive = false;
  #pausedUpstream = false;
  #pausedClient = false;

  constructor(config: ForwardConfig, down: Downstream) {
    this.#config = config;
    this.#down = down;
    this.#clientIp = down.clientIp;
    const method = down.method;
    this.#idempotent = IDEMPOTENT.has(method);
    this.#isHead = method === 'HEAD';
  }

  /** The client went away: the upstream side is freed (its connection closed, not reused). */
  abort(): void {
    if (this.#done) return;
    this.#settle();
    this.#dropConnection();
  }

  attempt(): void {
    const config = this.#config;
    const decision = config.router.route(
      this.#down.cookie,
      this.#clientIp,
      this.#tried,
      Date.now(),
    );
    if (decision.upstream === undefined) {
      config.counters.rejected[decision.reason === 'strict' ? 'strict' : 'no-upstream']++;
      this.#down.reply(
        503,
        decision.reason === 'strict' ? "the session's node is down" : 'no upstream is available',
      );
      return;
    }
    const upstream = decision.upstream;
    const stats = upstream.stats;
    stats.active++;
    stats.requests++;
    stats.routed[decision.source]++;
    this.#upstream = upstream;
    this.#setCookie = decision.setCookie;
    this.#done = false;
    this.#connected = false;
    this.#responded = false;
    this.#requestSent = false;
    this.#pending = undefined;
    this.#chunked = undefined;
    this.#connection = undefined;
    this.#waiting = true;
    upstream.connections.acquire(this);
  }

  onAcquire(connection: UpstreamConnection): void {
    this.#waiting = false;
    this.#connection = connection;
    if (connection.socket.connecting) {
      this.#timer = setTimeout(() => this.#fail('connect-timeout'), this.#config.connectTimeoutMs);
    } else {
      this.#send();
    }
  }

  onConnect(): void {
    if (!this.#done) this.#send();
  }

  #send(): void {
    this.#connected = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const headerMs = this.#config.headerTimeoutMs;
    this.#headerDeadline = headerMs > 0 ? Date.now() + headerMs : 0;
    const upstream = this.#upstream!;
    const socket = this.#connection!.socket;
    this.#head ??= this.#down.upstreamHead(
      this.#config.trustForwarded,
      `${upstream.host}:${upstream.port}`,
    );
    socket.write(this.#head, 'latin1');
    const req = this.#down.body;
    if (req === undefined) {
      this.#requestSent = true;
      return;
    }
    this.#bodyStarted = true;
    const chunkedBody = this.#down.chunkedBody;
    req.on('data', (chunk: Buffer) => {
      if (this.#done || this.#connection === undefined) return;
      const out = this.#connection.socket;
      let flushed: boolean;
      if (chunkedBody) {
        out.cork();
        out.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        out.write(chunk);
        flushed = out.write('\r\n', 'latin1');
        out.uncork();
      } else {
        flushed = out.write(chunk);
      }
      if (!flushed) {
        this.#pausedClient = true;
        req.pause();
      }
    });
    req.once('end', () => {
      if (this.#done || this.#connection === undefined) return;
      if (chunkedBody) this.#connection.socket.write('0\r\n\r\n', 'latin1');
      this.#requestSent = true;
    });
  }

  onDrain(): void {
    if (this.#pausedClient) {
      this.#pausedClient = false;
      this.#down.body?.resume();
    }
  }

  onData(chunk: Buffer): void {
    if (this.#done) return;
    if (this.#responded) {
      this.#body(chunk, 0);
      return;
    }
    let buf = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    for (;;) {
      const head = parseResponseHead(buf, this.#isHead, this.#config.responseLimits);
      if (head === HEAD_MORE) {
        this.#pending = buf;
        return;
      }
      if (head === HEAD_ERROR || head.status === 101) {
        this.#fail('reset');
        return;
      }
      if (head.status >= 200) {
        this.#pending = undefined;
        this.#respond(head);
        if (this.#done) return;
        if (head.headEnd < buf.length) this.#body(buf, head.headEnd);
        else if (head.framing === 'none' || (head.framing === 'length' && head.length === 0))
          this.#complete(false);
        return;
      }
      // An interim response (100, 102, 103): the client is not told; the final one follows.
      buf = buf.subarray(head.headEnd);
      this.#pending = undefined;
      if (buf.length === 0) return;
    }
  }

  #respond(head: ResponseHead): void {
    this.#responded = true;
    this.#headerDeadline = 0;
    const config = this.#config;
    const upstream = this.#upstream!;
    const status = head.status;
    if (status >= 500) upstream.stats.responses5xx++;
    config.observe(upstream, status >= 500 && config.passive5xx ? 'fail' : 'ok');
    const framing = head.framing;
    this.#framing = framing;
    this.#remaining = head.length;
    this.#keepAlive = head.keepAlive;
    if (framing === 'chunked') this.#chunked = new ChunkedDecoder();
    try {
      this.#down.writeHead(head, this.#setCookie, framing === 'chunked' || framing === 'close');
    } catch {
      // A field node:http will not send: the response cannot be relayed as it is.
      this.#responded = false;
      this.#fail('reset');
    }
  }

  #body(buf: Buffer, start: number): void {
    switch (this.#framing) {
      case 'length': {
        const available = buf.length - start;
        if (available >= this.#remaining) {
          // Bytes past the body: the upstream is out of step; the connection is not reused.
          if (available > this.#remaining) this.#keepAlive = false;
          const last = buf.subarray(start, start + this.#remaining);
          this.#remaining = 0;
          this.#down.end(last);
          this.#complete(true);
        } else {
          this.#remaining -= available;
          this.#write(start === 0 ? buf : buf.subarray(start));
        }
        return;
      }
      case 'chunked': {
        const end = this.#chunked!.push(buf, start, (piece) => this.#write(piece));
        if (end === CHUNKED_MORE) return;
        if (end === CHUNKED_ERROR) {
          this.#fail('reset');
          return;
        }
        if (end < buf.length) this.#keepAlive = false;
        this.#complete(false);
        return;
      }
      case 'close':
        this.#write(start === 0 ? buf : buf.subarray(start));
        return;
      case 'none':
        // Bytes after a response that has no body: out of step.
        this.#keepAlive = false;
        this.#complete(false);
        return;
    }
  }

  #write(piece: Buffer): void {
    if (this.#down.write(piece) || this.#pausedUpstream) return;
    // The client reads slower than the upstream sends: hold the upstream until it catches up.
    this.#pausedUpstream = true;
    this.#connection!.socket.pause();
    this.#down.onceDrain(() => {
      this.#pausedUpstream = false;
      this.#connection?.socket.resume();
    });
  }

  /** The response ended cleanly. */
  #complete(ended: boolean): void {
    const connection = this.#connection!;
    this.#settle();
    this.#connection = undefined;
    const pool = this.#upstream!.connections;
    if (this.#keepAlive && this.#requestSent) {
      if (this.#pausedUpstream) connection.socket.resume();
      pool.release(connection);
    } else {
      pool.discard(connection);
    }
    if (!ended) this.#down.end();
  }

  onClose(error: Error | undefined): void {
    if (this.#done) return;
    this.#connection = undefined;
    if (!this.#responded) this.#fail(this.#connected ? 'reset' : 'connect', error);
    else if (this.#framing === 'close' && error === undefined) this.#endWithConnection();
    else this.#fail('reset', error);
  }

  /** A close-delimited body ended with the connection. */
  #endWithConnection(): void {
    this.#settle();
    this.#down.end();
  }

  onTimeout(): void {
    this.#fail('idle-timeout');
  }

  onSweep(now: number): void {
    if (this.#headerDeadline !== 0 && now >= this.#headerDeadline) this.#fail('header-timeout');
  }

  #settle(): void {
    this.#done = true;
    this.#upstream!.stats.active--;
    this.#headerDeadline = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #dropConnection(): void {
    if (this.#waiting) this.#upstream!.connections.withdraw(this);
    this.#waiting = false;
    if (this.#connection) this.#upstream!.connections.discard(this.#connection);
    this.#connection = undefined;
  }

  #fail(failure: Failure, error?: Error): void {
    if (this.#done) return;
    this.#settle();
    this.#dropConnection();
    const config = this.#config;
    const upstream = this.#upstream!;
    const down = this.#down;
    upstream.stats.errors++;
    config.observe(upstream, 'fail');
    if (this.#responded || down.headersSent) {
      // The response had begun: the client can only learn of the failure by the connection closing.
      down.destroy(error);
      return;
    }
    // Connect failures never reached an app. Otherwise the request may have: send it again only
    // if doing so is harmless (idempotent) and possible (no body byte was taken from the client).
    const reachedNoApp = failure === 'connect' || failure === 'connect-timeout';
    const safe = reachedNoApp ? !this.#bodyStarted : this.#idempotent && !this.#bodyStarted;
    const retriesUsed = this.#tried?.size ?? 0;
    if (safe && retriesUsed < config.retries && !down.destroyed) {
      (this.#tried ??= new Set()).add(upstream);
      config.counters.retries++;
      upstream.stats.retries++;
      if (retryChannel.hasSubscribers)
        retryChannel.publish({ upstream: upstream.name, failure, method: down.method });
      this.attempt();
      return;
    }
    config.counters.rejected['upstream-error']++;
    const timeout =
      failure === 'header-timeout' || failure === 'idle-timeout' || failure === 'connect-timeout';
    down.reply(
      timeout ? 504 : 502,
      timeout ? 'the upstream did not answer in time' : 'the upstream could not be reached',
    );
  }
}
