// The fast front: the proxy's client connections start here. A plain, complete, body-less
// HTTP/1.1 request (request-head.ts) is forwarded straight from the socket, and its response
// written back with one write; the first request that is anything else hands the connection, with
// the bytes already read, to node:http for good, which then serves it as the general path (bodies,
// upgrades, admin API, every error answer, slowloris and header limits). node:http's per-request
// machinery costs more than the rest of the proxy together, so the common case goes around it.

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { clientFields, requestHead, type Downstream } from './downstream.js';
import { Forwarding, type ForwardConfig } from './forward.js';
import { clientAddress, forwardedLines, requestHeaders } from './headers.js';
import { parseSimpleRequest, type SimpleRequest } from './request-head.js';
import type { ResponseHead } from './response-head.js';

export interface FastFrontOptions {
  readonly config: ForwardConfig;
  readonly maxHeaderBytes: number;
  readonly maxHeaderCount: number;
  /** Paths under this go to node:http (the admin API). */
  readonly reservedPrefix: string;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveMs: number;
  /** A new connection must have sent its first request within this (as node:http's headers timeout). */
  readonly firstRequestMs: number;
  /** Gives a connection to node:http, with the bytes read from it so far. */
  readonly handover: (socket: Socket, buffered: Buffer | undefined) => void;
}

export class FastFront {
  readonly #options: FastFrontOptions;
  readonly #connections = new Set<FastConnection>();
  #sweeper: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(options: FastFrontOptions) {
    this.#options = options;
  }

  get options(): FastFrontOptions {
    return this.#options;
  }

  get closing(): boolean {
    return this.#closing;
  }

  accept(socket: Socket): void {
    const connection = new FastConnection(this, socket);
    this.#connections.add(connection);
    if (this.#sweeper === undefined) {
      const { keepAliveMs, firstRequestMs } = this.#options;
      const shortest = Math.min(keepAliveMs || Infinity, firstRequestMs || Infinity);
      if (shortest !== Infinity) {
        const every = Math.max(50, Math.min(1000, shortest / 4));
        this.#sweeper = setInterval(() => this.#sweep(), every).unref();
      }
    }
  }

  /** @internal */
  release(connection: FastConnection): void {
    this.#connections.delete(connection);
  }

  /** Closes idle connections now and the others after their response. */
  close(): void {
    this.#closing = true;
    for (const connection of this.#connections) connection.closeWhenIdle();
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  /** Closes connections that waited too long for a request (one interval for them all). */
  #sweep(): void {
    const now = Date.now();
    for (const connection of this.#connections) {
      if (connection.deadline !== 0 && now >= connection.deadline) connection.socket.destroy();
    }
  }
}

class FastConnection implements Downstream {
  readonly #front: FastFront;
  readonly socket: Socket;
  #forwarding: Forwarding | undefined;
  /** Bytes that came while a response was in flight (a pipelined request). */
  #stash: Buffer | undefined;
  #head: string | undefined;
  #chunked = false;
  #closeAfter = false;

  /** The request in flight. */
  #request: SimpleRequest | undefined;
  readonly body = undefined;
  readonly chunkedBody = false;
  headersSent = false;
  readonly clientIp: string;
  /** When the connection is closed unless a request has come; 0 while one is being served. */
  deadline: number;
  /** The forwarded lines of the last Host seen (the same on every request, as a rule). */
  #forwardedHost: string | undefined;
  #forwarded = '';

  readonly #onData = (chunk: Buffer): void => this.#data(chunk);
  readonly #onClose = (): void => this.#closed();

  constructor(front: FastFront, socket: Socket) {
    this.#front = front;
    this.socket = socket;
    this.clientIp = clientAddress(socket.remoteAddress);
    const firstMs = front.options.firstRequestMs;
    this.deadline = firstMs > 0 ? Date.now() + firstMs : 0;
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
    socket.on('error', noop);
  }

  get method(): string {
    return this.#request!.method;
  }

  get url(): string {
    return this.#request!.url;
  }

  get cookie(): string | undefined {
    return this.#request!.cookie;
  }

  upstreamHead(trustForwarded: boolean): string {
    const request = this.#request!;
    if (!request.plain) {
      const info = { clientIp: this.clientIp, proto: 'http' as const, trustForwarded };
      return requestHead(
        request.method,
        request.url,
        requestHeaders(request.raw, info, false),
        undefined,
      );
    }
    if (this.#forwardedHost !== request.host) {
      this.#forwardedHost = request.host;
      this.#forwarded = `${forwardedLines(this.clientIp, 'http', request.host)}\r\n`;
    }
    return request.keptHead() + this.#forwarded;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  closeWhenIdle(): void {
    if (this.#forwarding === undefined) this.socket.destroy();
    else this.#closeAfter = true;
  }

  #data(chunk: Buffer): void {
    if (this.#forwarding !== undefined) {
      this.#stash = this.#stash === undefined ? chunk : Buffer.concat([this.#stash, chunk]);
      return;
    }
    this.#serve(chunk);
  }

  #serve(buf: Buffer): void {
    const options = this.#front.options;
    const request = parseSimpleRequest(
      buf,
      options.maxHeaderBytes,
      options.maxHeaderCount,
      options.reservedPrefix,
    );
    if (request === undefined) {
      this.#handover(buf);
      return;
    }
    this.deadline = 0;
    this.#request = request;
    this.headersSent = false;
    this.#head = undefined;
    this.#chunked = false;
    this.#closeAfter = request.close || this.#front.closing;
    // Set before the attempt: a response the proxy gives itself (503) ends synchronously.
    const forwarding = new Forwarding(options.config, this);
    this.#forwarding = forwarding;
    forwarding.attempt();
  }

  #handover(buf: Buffer | undefined): void {
    const socket = this.socket;
    socket.off('data', this.#onData);
    socket.off('close', this.#onClose);
    socket.off('error', noop);
    this.#front.release(this);
    this.#front.options.handover(socket, buf);
  }

  #closed(): void {
    this.#front.release(this);
    const forwarding = this.#forwarding;
    this.#forwarding = undefined;
    forwarding?.abort();
  }

  /** The response ended: the connection waits for the next request, or closes. */
  #finished(): void {
    this.#forwarding = undefined;
    if (this.#closeAfter) {
      this.socket.end();
      return;
    }
    const stash = this.#stash;
    if (stash !== undefined) {
      this.#stash = undefined;
      // After this response's bookkeeping is done.
      setImmediate(() => {
        if (!this.socket.destroyed) this.#data(stash);
      });
      return;
    }
    const keepAliveMs = this.#front.options.keepAliveMs;
    this.deadline = keepAliveMs > 0 ? Date.now() + keepAliveMs : 0;
  }

  writeHead(head: ResponseHead, setCookie: string | undefined, unknownLength: boolean): void {
    const status = head.status;
    let text = `HTTP/1.1 ${status} ${head.reason || STATUS_CODES[status] || 'Unknown'}\r\n`;
    if (head.simple) {
      text += head.keptLines();
      if (setCookie !== undefined) text += `Set-Cookie: ${setCookie}\r\n`;
    } else {
      const raw = clientFields(head, setCookie, unknownLength);
      for (let i = 0; i < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
    }
    if (unknownLength) {
      text += 'Transfer-Encoding: chunked\r\n';
      this.#chunked = true;
    }
    if (this.#closeAfter) text += 'Connection: close\r\n';
    this.#head = `${text}\r\n`;
    this.headersSent = true;
  }

  write(piece: Buffer): boolean {
    const socket = this.socket;
    if (this.#head === undefined && !this.#chunked) return socket.write(piece);
    socket.cork();
    this.#flushHead();
    if (this.#chunked) socket.write(`${piece.length.toString(16)}\r\n`, 'latin1');
    socket.write(piece);
    const flushed = this.#chunked ? socket.write('\r\n', 'latin1') : !socket.writableNeedDrain;
    socket.uncork();
    return flushed;
  }

  end(last?: Buffer): void {
    const socket = this.socket;
    const head = this.#head;
    if (this.#chunked) {
      if (last !== undefined && last.length > 0) this.write(last);
      this.#flushHead();
      socket.write('0\r\n\r\n', 'latin1');
    } else if (head !== undefined && last !== undefined && last.length < 16 * 1024) {
      // Head and body in one buffer: one write, one packet.
      const size = Buffer.byteLength(head, 'latin1');
      const out = Buffer.allocUnsafe(size + last.length);
      out.write(head, 0, 'latin1');
      last.copy(out, size);
      this.#head = undefined;
      socket.write(out);
    } else {
      socket.cork();
      this.#flushHead();
      if (last !== undefined) socket.write(last);
      socket.uncork();
    }
    this.#finished();
  }

  #flushHead(): void {
    if (this.#head === undefined) return;
    this.socket.write(this.#head, 'latin1');
    this.#head = undefined;
  }

  destroy(): void {
    this.#forwarding = undefined;
    this.socket.destroy();
  }

  onceDrain(listener: () => void): void {
    this.socket.once('drain', listener);
  }

  reply(status: number, message: string): void {
    if (this.headersSent) return;
    const body = `${message}\n`;
    this.headersSent = true;
    this.socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\n` +
        (this.#closeAfter ? 'Connection: close\r\n' : '') +
        `\r\n${body}`,
      'latin1',
    );
    this.#finished();
  }
}

function noop(): void {}
