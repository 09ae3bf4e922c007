// The client side of a forwarded request: the Downstream interface and its node:http form (the
// fast front has its own, fast-front.ts), the request head written upstream, the response fields
// written back, and the proxy's own short answers (502, 503, 504).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddress, requestHeaders, responseHeaders } from './headers.js';
import type { ResponseHead } from './response-head.js';

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
export class NodeDownstream implements Downstream {
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
