// `npm run bench`: runs every benchmark in turn, prints each figure beside its anchor, and
// rewrites bench/RESULTS.md. `npm run bench -- <name>` runs the benchmarks whose name contains it.
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { toMarkdown, type Row } from './lib/table.js';

interface Bench {
  name: string;
  title: string;
  run: () => Promise<Row[]>;
}

const BENCHES: Bench[] = [
  {
    name: 'http-sessions',
    title: 'HTTP sessions with in-memory stores (issue 2)',
    run: async () => (await import('./http-sessions.js')).benchHttpSessions(),
  },
  {
    name: 'cluster',
    title: 'Embedded cluster, 3 members in 3 processes (issue 3)',
    run: async () => (await import('./cluster.js')).benchCluster(),
  },
  {
    name: 'membership-soak',
    title: 'Membership: no false positives in a 10-minute run (issue 3)',
    run: async () => (await import('./membership-soak-rows.js')).benchMembershipSoak(),
  },
  {
    name: 'redis-store',
    title: 'Redis store vs connect-redis (issue 4)',
    run: async () => (await import('./redis-store.js')).benchRedisStore(),
  },
  {
    name: 'postgres-store',
    title: 'PostgreSQL store vs connect-pg-simple (issue 4)',
    run: async () => (await import('./postgres-store.js')).benchPostgresStore(),
  },
  {
    name: 'proxy',
    title: 'Sticky proxy vs nginx, HAProxy, http-proxy, http-proxy-3 (issue 5)',
    run: async () => (await import('./proxy.js')).benchProxy(),
  },
];

const filter = process.argv[2];
const chosen = BENCHES.filter((b) => !filter || b.name.includes(filter));
const resultsPath = new URL('./RESULTS.md', import.meta.url);
const sections = new Map<string, string>();
if (existsSync(resultsPath)) {
  // Keep the sections of benchmarks not run this time.
  const previous = readFileSync(resultsPath, 'utf8');
  for (const part of previous.split(/^## /m).slice(1))
    sections.set(part.split('\n')[0]!.trim(), `## ${part.trimEnd()}\n`);
}
for (const bench of chosen) {
  console.log(`\n== ${bench.title}`);
  const rows = await bench.run();
  const table = toMarkdown(rows);
  console.log(table);
  const stamp = `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, with \`npm run bench -- ${bench.name}\`.`;
  sections.set(bench.title, `## ${bench.title}\n\n${stamp}\n\n${table}`);
}
const header = `# Benchmark results\n\nWritten by \`npm run bench\` (bench/run.ts); every figure beside its anchor, measured in the same run on the same machine. Servers run alone on core 0 (taskset), the load generator (wrk, keep-alive, 50 connections, 1 thread) on core 1; each figure is the median of 3 runs (5 in the HTTP-session tables) of 4 s after a 1 s warm-up. In the HTTP-session, Redis, PostgreSQL and cluster (d) tables the servers compared are started together and measured in rounds, one run of each per round (bench/lib/rounds.ts), so a drift of the machine's speed touches them alike; a share of the bare framework there is the median of the per-round ratios, each server against the bare one measured seconds before it. sessionmesh answers a request that wrote to an in-process store at the end of the event-loop turn (src/http/end-of-turn.ts), which by itself makes a loaded server faster: the rows \`express (batched)\` and \`fastify (batched)\` answer that way with no session, and sessionmesh's share of them is the session's own cost. The servers run sessionmesh as it ships: the compiled JavaScript in dist/ that package.json's exports point at (\`npm run bench\` builds it first), not the TypeScript sources through tsx, whose transform wraps functions and adds microseconds per request.\n\n`;
writeFileSync(resultsPath, header + [...sections.values()].join('\n'));
console.log(`\nwrote ${resultsPath.pathname}`);
