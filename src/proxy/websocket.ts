// Upgrades (WebSocket) through the proxy: routed like any request, then, once the upstream has
// answered 101, the two sockets are piped to each other as raw bytes until either side closes.

import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Router } from './router.js';
import type { Upstream } from './upstream-pool.js';
import type { ProxyCounters } from './metrics.js';
import type { Observation } from './health-check.js';
import { clientAddress, requestHeaders, responseHeaders } from './headers.js';

export interface UpgradeConfig {
  readonly router: Router;
  readonly counters: ProxyCounters;
  readonly observe: (upstream: Upstream, outcome: Observation) => void;
  readonly retries: number;
  readonly connectTimeoutMs: number;
  readonly headerTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly trustForwarded: boolean;
}

function head(status: number, message: string, raw: readonly string[]): string {
  let text = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${text}\r\n`;
}

function refuse(socket: Duplex, status: number, message: string): void {
  if (socket.writable)
    socket.end(`HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

export function forwardUpgrade(
  config: UpgradeConfig,
  req: IncomingMessage,
  socket: Duplex,
  firstBytes: Buffer,
): void {
  const clientIp = clientAddress(req.socket.remoteAddress);
  const headers = requestHeaders(
    req.rawHeaders,
    { clientIp, proto: 'http', trustForwarded: config.trustForwarded },
    true,
  );
  let tried: Set<Upstream> | undefined;
  socket.on('error', () => socket.destroy());

  const attempt = (): void => {
    const decision = config.router.route(req.headers.cookie, clientIp, tried, Date.now());
    if (decision.upstream === undefined) {
      config.counters.rejected[decision.reason === 'strict' ? 'strict' : 'no-upstream']++;
      refuse(socket, 503, 'Service Unavailable');
      return;
    }
    const upstream = decision.upstream;
    upstream.stats.requests++;
    upstream.stats.routed[decision.source]++;
    let connected = false;
    let settled = false;
    const timer = setTimeout(
      () => proxyReq.destroy(new Error('timeout')),
      config.connectTimeoutMs + config.headerTimeoutMs,
    );
    // Upgraded sockets leave any pool, so each tunnel gets its own connection.
    const proxyReq = request({
      host: upstream.host,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: headers as unknown as Record<string, string>,
      agent: false,
    });
    proxyReq.on('socket', (s) => s.once('connect', () => (connected = true)));
    proxyReq.on('error', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      upstream.stats.errors++;
      config.observe(upstream, 'fail');
      // Nothing was sent to the client yet; a GET upgrade has no body, so another node may take it.
      if (!connected && (tried?.size ?? 0) < config.retries && !socket.destroyed) {
        (tried ??= new Set()).add(upstream);
        config.counters.retries++;
        attempt();
        return;
      }
      refuse(socket, 502, 'Bad Gateway');
    });
    proxyReq.on('response', (res) => {
      // The upstream refused the upgrade: relay its answer as a plain response, then close.
      settled = true;
      clearTimeout(timer);
      config.observe(upstream, 'ok');
      socket.write(
        head(res.statusCode!, res.statusMessage ?? '', [
          ...responseHeaders(res.rawHeaders),
          'Connection',
          'close',
        ]),
      );
      res.pipe(socket);
    });
    proxyReq.on('upgrade', (res, upstreamSocket, upstreamHead) => {
      settled = true;
      clearTimeout(timer);
      config.observe(upstream, 'ok');
      config.counters.upgrades++;
      upstream.stats.active++;
      const raw = responseHeaders(res.rawHeaders);
      if (decision.setCookie !== undefined) raw.push('Set-Cookie', decision.setCookie);
      raw.push('Connection', 'Upgrade');
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        if (res.rawHeaders[i]!.toLowerCase() === 'upgrade')
          raw.push('Upgrade', res.rawHeaders[i + 1]!);
      }
      socket.write(head(101, res.statusMessage ?? 'Switching Protocols', raw));
      if (upstreamHead.length > 0) socket.write(upstreamHead);
      let closed = false;
      const close = (): void => {
        if (closed) return;
        closed = true;
        upstream.stats.active--;
        socket.destroy();
        upstreamSocket.destroy();
      };
      for (const s of [socket, upstreamSocket]) {
        s.on('error', close);
        s.on('close', close);
        (s as Socket).setTimeout(config.idleTimeoutMs, close);
      }
      // Bytes the client sent right after its upgrade request belong to the tunnel.
      if (firstBytes.length > 0) upstreamSocket.write(firstBytes);
      upstreamSocket.pipe(socket);
      socket.pipe(upstreamSocket);
    });
    proxyReq.end();
  };

  attempt();
}
