// A cluster member serving an Express app with `lock: 'cluster'`, as a child process, for
// test/fault/cluster-lock-kill.test.ts: TCP transport, SWIM membership and createCluster as in
// cluster-data-node.ts, then Express + sessionmesh/express over a ClusterStore of the member's map
// on 127.0.0.1. Arguments: name, seeds (comma-separated, may be empty). Reports one JSON line per
// event on stdout (`ready`, `view`, `event`, and `session-error` for every 503 the adapter answers).
//
//   GET /inc      reads req.session.n, waits 1-4 ms, writes n + 1; once committed:
//                 {"n": the value written, "id", "by": this member, "handledAt": when the lock was held}
//   GET /peek     {"n"}: the counter, read under the lock
//   GET /owner?id=  {"owner": the owner of the partition of id, under this member's view}
//   GET /status   {"ready", "members", "owned", "held", "migrating", "pushing"} (waitConverged)

import type { AddressInfo } from 'node:net';
import express from 'express';
import { createCluster } from '../../src/cluster/cluster.js';
import { ClusterStore } from '../../src/cluster/cluster-store.js';
import { createMembership } from '../../src/cluster/membership/membership.js';
import { createTcpTransport } from '../../src/cluster/transport/tcp-transport.js';
import { session } from '../../src/http/express.js';
import { memberStatus, rolesOf } from './cluster-member-status.js';
import { SECRET } from './http-client.js';

const [name = 'member', seedList = ''] = process.argv.slice(2);

function report(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...line, at: Date.now() })}\n`);
}

const transport = createTcpTransport({
  name,
  cluster: 'test-lock-cluster',
  secret: 'test-cluster-secret-0123456789abcdef012',
});
const membership = createMembership({ transport, seeds: seedList.split(',').filter(Boolean) });
for (const event of ['member-dead', 'member-joined', 'member-left', 'member-alive'] as const) {
  membership.on(event, (m) => report({ type: 'event', event, member: m.name }));
}
membership.on('view-changed', (view) =>
  report({ type: 'view', digest: view.digest, members: view.members.map((m) => m.name) }),
);
const { map } = await createCluster({ transport, membership, backups: 1, writeMode: 'sync' });

const app = express();
app.get('/status', (_req, res) => {
  res.json(memberStatus(map, name));
});
app.get('/owner', (req, res) => {
  const id = String(req.query['id'] ?? '');
  res.json(rolesOf(map, id));
});
app.use(
  session({
    secret: SECRET,
    store: new ClusterStore(map),
    lock: 'cluster',
    logger: {
      // Every 503 (or 500), with the phase in the message: a failed commit is a write in doubt.
      error: (obj, msg) => report({ type: 'session-error', msg, err: obj }),
      warn() {},
    },
  }),
);
app.get('/inc', async (req, res) => {
  const handledAt = Date.now();
  const n = (req.session.n as number | undefined) ?? 0;
  await new Promise((r) => setTimeout(r, 1 + Math.floor(Math.random() * 4)));
  req.session.n = n + 1;
  res.json({ n: n + 1, id: req.sessionID, by: name, handledAt });
});
app.get('/peek', (req, res) => {
  res.json({ n: req.session.n ?? null });
});

const server = app.listen(0, '127.0.0.1', () => {
  report({
    type: 'ready',
    address: transport.self.address,
    http: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  });
});
server.keepAliveTimeout = 30_000;
process.stdin.resume();
process.stdin.on('end', () => process.exit(0)); // the parent went away
