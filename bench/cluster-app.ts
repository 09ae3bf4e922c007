// A benchmark member of the embedded cluster: Express + sessionmesh/express over ClusterStore,
// TCP transport and SWIM membership on 127.0.0.1. `node --import tsx bench/cluster-app.ts
// <name> [seed address]`. GET / reads a counter from the session, increments it and writes it
// back (the workload of bench/redis-app.ts); GET /_members answers how many members this one
// sees. Prints `cluster <address>` and then `listening <port>`.
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { createCluster } from '../dist/cluster/cluster.js';
import { createMembership } from '../dist/cluster/membership/membership.js';
import { createTcpTransport } from '../dist/cluster/transport/tcp-transport.js';
import { session } from '../dist/http/express.js';

const require = createRequire(import.meta.url);
const express = require('express');
const [name = 'm0', seed] = process.argv.slice(2);
process.on('SIGINT', () => process.exit(0));

const transport = createTcpTransport({
  name,
  cluster: 'bench',
  secret: 'bench-cluster-secret-0123456789abcdef0123',
});
const membership = createMembership({ transport, seeds: seed ? [seed] : [] });
const cluster = await createCluster({ transport, membership, backups: 1 });

const app = express();
app.get('/_members', (_req: unknown, res: { end(body: string): void }) =>
  res.end(String(cluster.map.ready ? cluster.map.table.members.length : 0)),
);
app.use(
  session({
    secret: 'bench-secret-0123456789abcdefghijklmnopq',
    resave: false,
    saveUninitialized: false,
    store: cluster.store,
  } as never),
);
app.get('/', (req: { session: Record<string, unknown> }, res: { end(body: string): void }) => {
  const n = ((req.session['n'] as number) ?? 0) + 1;
  req.session['n'] = n;
  res.end(String(n));
});
console.log(`cluster ${transport.self.address}`);
const server = app.listen(0, '127.0.0.1', () =>
  console.log(`listening ${(server.address() as AddressInfo).port}`),
);
