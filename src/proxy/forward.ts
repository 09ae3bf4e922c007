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
import { clientAddress, requestHeaders, responseHeaders } from './headers.js';
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

/**
 * The client side of a forwarded request: node:http's request and response, or the fast front's
 * own connection (fast-front.ts). Forwarding only talks to the client through this.
 */
export interface Downstream {
  readonly method: string;
  readonly url: string;
  readonly cookie: string | undefined;
  /** The client's address without the IPv4-mapped prefix. */
  readonly clientIp: string;
  /** The request head for the upstream, with X-Forwarded-* and without hop-by-hop fields. */
  upstreamHead(trustForwarded: boolean, hostFallback: string): string;
  /** The request body, when there is one (only node:http's side takes bodies). */
  readonly body: IncomingMessage | undefined;
  /** The request body is in a transfer coding (chunked): it is chunked again upstream. */
  readonly chunkedBody: boolean;
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  /**
   * Starts the response: the upstream's status and fields less hop-by-hop ones, plus `setCookie`.
   * `unknownLength`: the body's length is not in the fields (chunked or close-delimited upstream).
   */
  writeHead(head: ResponseHead, setCookie: string | undefined, unknownLength: boolean): void;
  /** false: wait for onceDrain. */
  write(piece: Buffer): boolean;
  end(last?: Buffer): void;
  destroy(error?: Error): void;
  onceDrain(listener: () => void): void;
  /** An answer from the proxy itself (503, 502, 504). */
  reply(status: number, message: string): void;
}

/** node:http's request and response as a Downstream. */
class NodeDownstream implements Downstream {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly body: IncomingMessage | undefined;
  readonly chunkedBody: boolean;

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.#req = req;
    this.#res = res;
    const headers = req.headers;
    this.chunkedBody = headers['transfer-encoding'] !== undefined;
    this.body = this.chunkedBody || (headers['content-length'] ?? '0') !== '0' ? req : undefined;
  }

  get method(): string {
    return this.#req.method!;
  }
  get url(): string {
    return this.#req.url!;
  }
  get cookie(): string | undefined {
    return this.#req.headers.cookie;
  }
  get clientIp(): string {
    return clientAddress(this.#req.socket.remoteAddress);
  }
  upstreamHead(trustForwarded: boolean, hostFallback: string): string {
    const req = this.#req;
    const info = {
      clientIp: this.clientIp,
      proto: (req.socket as { encrypted?: boolean }).encrypted
        ? ('https' as const)
        : ('http' as const),
      trustForwarded,
    };
    return requestHead(
      req.method!,
      req.url!,
      requestHeaders(req.rawHeaders, info, false),
      req.headers.host === undefined ? hostFallback : undefined,
    );
  }
  get headersSent(): boolean {
    return this.#res.headersSent;
  }
  get destroyed(): boolean {
    return this.#res.destroyed;
  }
  writeHead(head: ResponseHead, setCookie: string | undefined, unknownLength: boolean): void {
    this.#res.writeHead(
      head.status,
      head.reason || undefined,
      clientFields(head, setCookie, unknownLength),
    );
  }
  write(piece: Buffer): boolean {
    return this.#res.write(piece);
  }
  end(last?: Buffer): void {
    if (last === undefined) this.#res.end();
    else this.#res.end(last);
  }
  destroy(error?: Error): void {
    this.#res.destroy(error);
  }
  onceDrain(listener: () => void): void {
    this.#res.once('drain', listener);
  }
  reply(status: number, message: string): void {
    reply(this.#res, status, message);
  }
  onClose(listener: () => void): void {
    this.#res.once('close', listener);
  }
}

/** Forwards a request node:http parsed. */
export function forward(config: ForwardConfig, req: IncomingMessage, res: ServerResponse): void {
  const down = new NodeDownstream(req, res);
  const forwarding = new Forwarding(config, down);
  // The client went away (reset mid-body, or closed before the response ended): free the upstream side.
  down.onClose(() => forwarding.abort());
  forwarding.attempt();
}

/** A request head from its parts; `host` is added when the client sent none (HTTP/1.0). */
export function requestHead(
  method: string,
  url: string,
  headers: readonly string[],
  host: string | undefined,
): string {
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  if (host !== undefined) head += `Host: ${host}\r\n`;
  return `${head}\r\n`;
}

/** The response fields for the client, as a flat [name, value, …] array. */
export function clientFields(
  head: ResponseHead,
  setCookie: string | undefined,
  unknownLength: boolean,
): string[] {
  const out = responseHeaders(head.raw);
  // A Content-Length beside Transfer-Encoding is not the body's length (RFC 9112 §6.3): dropped.
  if (unknownLength) {
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (out[i]!.length === 14 && out[i]!.toLowerCase() === 'content-length') out.splice(i, 2);
    }
  }
  if (setCookie !== undefined) out.push('Set-Cookie', setCookie);
  return out;
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

/** An answer from the proxy itself; closes the connection when the request body may still be arriving. */
export function reply(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent || res.destroyed) return;
  const body = `${message}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  // An unread request body would otherwise be read to its end to keep the connection: close instead.
  if (!res.req.complete) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}
