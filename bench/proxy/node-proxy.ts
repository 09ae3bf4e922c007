// A Node proxy under benchmark: `node --import tsx node-proxy.ts <kind> <upstreamPort>`, kind one of
// sessionmesh, sessionmesh-2-workers, http-proxy, http-proxy-3. Each keeps upstream connections
// alive (http-proxy without a keep-alive agent would measure port exhaustion, not the proxy).
import { createServer, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxy } from '../../dist/proxy/proxy.js';
import { startProxyWorkers } from '../../dist/proxy/workers.js';

// SIGINT exits normally, so that --cpu-prof can write its profile.
process.once('SIGINT', () => process.exit(0));

const [kind, upstreamPort] = [process.argv[2], Number(process.argv[3])];
const upstreams = [{ name: 'u1', port: upstreamPort }];

if (kind === 'sessionmesh') {
  const proxy = createProxy({ upstreams });
  console.log(`listening ${(await proxy.listen(0)).port}`);
} else if (kind === 'sessionmesh-2-workers') {
  const workers = await startProxyWorkers({ upstreams, workers: 2, port: 0 });
  console.log(`listening ${workers.port}`);
} else if (kind === 'http-proxy' || kind === 'http-proxy-3') {
  // A computed specifier: these live in bench/node_modules only, which the typecheck does not need.
  const specifier: string = kind;
  const module = await import(specifier);
  const create = module.createProxyServer ?? module.default.createProxyServer;
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = create({ target: `http://127.0.0.1:${upstreamPort}`, agent, xfwd: true });
  proxy.on('error', (_e: Error, _req: unknown, res: any) => res?.writeHead?.(502).end?.());
  const server = createServer((req, res) => proxy.web(req, res));
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () =>
    console.log(`listening ${(server.address() as AddressInfo).port}`),
  );
} else {
  throw new Error(`unknown proxy kind ${kind}`);
}
