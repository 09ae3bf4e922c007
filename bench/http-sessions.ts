// Issue 2's benchmark: the cost of a session per request, sessionmesh against express-session
// and @fastify/session (all with in-memory stores), with bare node:http, Express and Fastify
// as the ceiling. Each server runs in its own process on core 0 (the others idle meanwhile);
// wrk runs on core 1. Runs are interleaved across the servers (see below).
//   (a) a new session per request (no cookie sent: the handler creates and writes one)
//   (b) an existing session: read a counter, increment it, write it back
import { load, median, requireWrk, type LoadResult } from './lib/wrk.js';
import { startServer } from './lib/server-process.js';
import { withRatios, type Row } from './lib/table.js';

const SERVER_CORE = 0;
const LOAD_CORE = 1;

const ANCHORS: Record<string, string> = {
  'express + sessionmesh': 'express + express-session',
  "express + sessionmesh lock:'node'": 'express + express-session',
  'fastify + sessionmesh': 'fastify + @fastify/session',
  express: 'node:http',
  'express + express-session': 'express',
  'fastify + @fastify/session': 'fastify',
};
/** The second ratio the issue asks for: each session variant against its bare framework. */
const CEILING: Record<string, string> = {
  'express + sessionmesh': 'express',
  "express + sessionmesh lock:'node'": 'express',
  'express + express-session': 'express',
  'fastify + sessionmesh': 'fastify',
  'fastify + @fastify/session': 'fastify',
};

export async function benchHttpSessions(
  options: { durationS?: number; repeats?: number } = {},
): Promise<Row[]> {
  requireWrk();
  const variants = Object.keys(ANCHORS).concat(['node:http', 'fastify']);
  const order = [
    'node:http',
    'express',
    'express + express-session',
    'express + sessionmesh',
    "express + sessionmesh lock:'node'",
    'fastify',
    'fastify + @fastify/session',
    'fastify + sessionmesh',
  ];
  // Every server of a workload is started (idle ones cost nothing), warmed up, and then measured
  // in rounds: one wrk run of each server per round, the median of the rounds kept. A drift of
  // the machine's speed during the minutes a workload takes then touches every server alike,
  // so the ratios (sessionmesh against bare Express, say) do not depend on when each ran.
  const rows: Row[] = [];
  const repeats = options.repeats ?? 3;
  for (const workload of ['b', 'a'] as const) {
    const names = order.filter(
      (v) => variants.includes(v) && (workload === 'b' || v.includes('+')),
    );
    const servers: {
      name: string;
      url: string;
      headers: Record<string, string>;
      stop(): Promise<void>;
    }[] = [];
    try {
      for (const name of names) {
        const server = await startServer('../servers/session-app.ts', [name], SERVER_CORE);
        const url = `http://127.0.0.1:${server.port}/`;
        const headers: Record<string, string> = {};
        servers.push({ name, url, headers, stop: () => server.stop() });
        if (workload === 'b' && name.includes('+')) {
          const cookie = (await fetch(url)).headers.getSetCookie()[0];
          if (!cookie) throw new Error(`${name} sent no cookie`);
          headers.cookie = cookie.split(';')[0]!;
        }
        // Warm up the JIT before measuring.
        await load({ url, headers, durationS: 1, repeats: 1, core: LOAD_CORE });
      }
      const runs = new Map<string, LoadResult[]>(names.map((n) => [n, []]));
      for (let round = 0; round < repeats; round++) {
        for (const server of servers) {
          runs.get(server.name)!.push(
            await load({
              url: server.url,
              headers: server.headers,
              durationS: options.durationS ?? 4,
              repeats: 1,
              core: LOAD_CORE,
            }),
          );
        }
      }
      for (const name of names) {
        const result = median(runs.get(name)!);
        rows.push({
          group:
            workload === 'a'
              ? '(a) new session per request'
              : '(b) existing session: read + increment',
          name,
          reqPerSec: result.reqPerSec,
          p50Ms: result.p50Ms,
          p99Ms: result.p99Ms,
          ...(result.errors > 0 && { note: `${result.errors} errors` }),
        });
      }
    } finally {
      for (const server of servers) await server.stop();
    }
  }
  const withAnchors = withRatios(rows, (row) => ANCHORS[row.name]);
  return withAnchors.map((row) => {
    const ceiling = CEILING[row.name];
    const bare =
      ceiling &&
      rows.find((r) => r.name === ceiling && r.group === '(b) existing session: read + increment');
    if (!bare || !row.reqPerSec || row.group !== '(b) existing session: read + increment')
      return row;
    const share = `${((row.reqPerSec / bare.reqPerSec!) * 100).toFixed(0)}% of bare ${ceiling}`;
    return { ...row, note: row.note ? `${row.note}; ${share}` : share };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { toMarkdown } = await import('./lib/table.js');
  console.log(toMarkdown(await benchHttpSessions()));
}
