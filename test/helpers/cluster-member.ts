// A cluster member as a child process, for fault tests and the bench: TCP transport plus
// membership, reporting on stdout one JSON line per event. Arguments: name, seeds (comma-separated
// addresses, may be empty). Environment: SM_CLUSTER_SECRET.

import { createMembership } from '../../src/cluster/membership/membership.js';
import { createTcpTransport } from '../../src/cluster/transport/tcp-transport.js';

const [name = 'member', seedList = ''] = process.argv.slice(2);
const transport = createTcpTransport({
  name,
  cluster: 'test-cluster',
  secret: process.env['SM_CLUSTER_SECRET'] ?? 'test-cluster-secret-0123456789abcdef012',
});
const membership = createMembership({ transport, seeds: seedList.split(',').filter(Boolean) });

function report(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...line, at: Date.now() })}\n`);
}

for (const event of [
  'member-joined',
  'member-suspect',
  'member-alive',
  'member-dead',
  'member-left',
] as const) {
  membership.on(event, (m) =>
    report({ type: 'event', event, member: m.name, incarnation: m.incarnation }),
  );
}
membership.on('view-changed', (view) =>
  report({
    type: 'view',
    viewId: view.viewId,
    digest: view.digest,
    members: view.members.map((m) => m.name),
  }),
);

await membership.start();
report({
  type: 'ready',
  address: transport.self.address,
  incarnation: membership.self.incarnation,
});
// Lets the parent read this member's incarnation after a refutation.
setInterval(() => report({ type: 'self', incarnation: membership.self.incarnation }), 250).unref();

const stop = async (): Promise<void> => {
  await membership.leave();
  await transport.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.stdin.resume();
process.stdin.on('end', () => process.exit(0)); // the parent went away
