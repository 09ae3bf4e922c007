// A bare node:http app node for the proxy tests: tells who it is, echoes, streams bytes, resets on
// demand, answers health checks and echoes WebSocket text frames. Runs in-process or as a child.

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface TestUpstream {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
  /** Requests seen, by `METHOD path`. */
  readonly hits: Map<string, number>;
  /** TCP connections accepted so far. */
  connections: number;
  /** When false, /health answers 503. */
  healthy: boolean;
  close(): Promise<void>;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One unmasked text frame (server to client), payload < 126 bytes. */
export function wsFrame(text: string, mask = false): Buffer {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error('short frames only');
  if (!mask) return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
  const key = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), key, masked]);
}

/** Decodes one (masked or not) short text frame. */
export function wsText(frame: Buffer): string {
  const masked = (frame[1]! & 0x80) !== 0;
  const length = frame[1]! & 0x7f;
  if (!masked) return frame.subarray(2, 2 + length).toString();
  const key = frame.subarray(2, 6);
  return Buffer.from(frame.subarray(6, 6 + length).map((b, i) => b ^ key[i % 4]!)).toString();
}

function upgrade(req: IncomingMessage, socket: Duplex, name: string): void {
  const accept = createHash('sha1')
    .update(`${req.headers['sec-websocket-key']}${WS_GUID}`)
    .digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Upstream: ${name}\r\n\r\n`,
  );
  socket.on('data', (chunk: Buffer) => socket.write(wsFrame(`${name}:${wsText(chunk)}`)));
  socket.on('error', () => socket.destroy());
}

export function startUpstream(name: string, port = 0): Promise<TestUpstream> {
  const hits = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const key = `${req.method} ${url.pathname}`;
    hits.set(key, (hits.get(key) ?? 0) + 1);
    switch (url.pathname) {
      case '/health':
        res.writeHead(upstream.healthy ? 200 : 503).end(upstream.healthy ? 'ok' : 'sick');
        return;
      case '/echo':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-upstream': name });
        req.pipe(res);
        return;
      case '/sink': {
        let bytes = 0;
        req.on('data', (chunk: Buffer) => (bytes += chunk.length));
        req.on('end', () =>
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ name, bytes })),
        );
        return;
      }
      case '/bytes': {
        let left = Number(url.searchParams.get('n') ?? '0');
        const chunk = Buffer.alloc(64 * 1024, 120);
        res.writeHead(200, { 'content-length': left, 'x-upstream': name });
        const pump = (): void => {
          while (left > 0) {
            const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
            left -= piece.length;
            if (!res.write(piece)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      case '/reset-mid':
        res.writeHead(200, { 'content-length': 1000 });
        res.write('x'.repeat(100), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      case '/reset-now':
        req.socket.resetAndDestroy();
        return;
      case '/slow':
        setTimeout(() => res.end(name), Number(url.searchParams.get('ms') ?? '100'));
        return;
      case '/fail':
        res.writeHead(500).end(name);
        return;
      default:
        res.writeHead(200, {
          'content-type': 'application/json',
          'x-upstream': name,
          connection: 'keep-alive, x-private',
          'x-private': 'hop',
          'set-cookie': ['a=1', 'b=2'],
        });
        res.end(JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers }));
    }
  });
  server.on('upgrade', (req, socket) => upgrade(req, socket, name));
  server.on('connection', (socket: Socket) => {
    upstream.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const upstream: TestUpstream = {
    name,
    port: 0,
    server,
    hits,
    connections: 0,
    healthy: true,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      (upstream as { port: number }).port = (server.address() as AddressInfo).port;
      resolve(upstream);
    });
  });
}
