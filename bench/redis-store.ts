// Issue 4's benchmark, Redis half: Express + sessionmesh + RedisStore (without and with the
// near cache) against Express + express-session + connect-redis, the same redis-server, the
// same read+increment workload on one existing session. The app runs on core 0, wrk on core 1,
// redis-server unpinned. `benchRedisStore()` returns the rows for bench/run.ts.
import { fileURLToPath } from 'node:url';
import { startServer } from './lib/server-process.js';
import { load, requireWrk } from './lib/wrk.js';
import { toMarkdown, withRatios, type Row } from './lib/table.js';
import { startRedis, stopRedis } from '../test/helpers/redis-server.js';

const GROUP = 'Express, existing session: read + increment, one redis-server';
const ANCHOR = 'express-session + connect-redis';
const VARIANTS = [ANCHOR, 'sessionmesh + redis', 'sessionmesh + redis near cache'];

export async function benchRedisStore(
  options: { durationS?: number; repeats?: number } = {},
): Promise<Row[]> {
  requireWrk();
  const redis = await startRedis();
  process.env.REDIS_URL = redis.url;
  const rows: Row[] = [];
  try {
    for (const variant of VARIANTS) rows.push(await measure(variant, GROUP, options));
  } finally {
    await stopRedis(redis);
  }
  return withRatios(rows, (row) => (row.name === ANCHOR ? undefined : ANCHOR));
}

/** One variant of bench/redis-app.ts under wrk, on an existing session. */
export async function measure(
  variant: string,
  group: string,
  options: { durationS?: number; repeats?: number },
): Promise<Row> {
  const server = await startServer('../redis-app.ts', [variant], 0);
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    const first = await fetch(url);
    const cookie = first.headers.getSetCookie()[0];
    if (!cookie) throw new Error(`${variant} sent no cookie`);
    const headers = { cookie: cookie.split(';')[0]! };
    await load({ url, headers, durationS: 1, repeats: 1, core: 1 });
    const result = await load({
      url,
      headers,
      durationS: options.durationS ?? 4,
      repeats: options.repeats ?? 3,
      core: 1,
    });
    return {
      group,
      name: variant,
      reqPerSec: result.reqPerSec,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      ...(result.errors > 0 && { note: `${result.errors} errors` }),
    };
  } finally {
    await server.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(
    toMarkdown(
      await benchRedisStore({
        durationS: Number(process.env.BENCH_S ?? 4),
        repeats: Number(process.env.BENCH_REPEATS ?? 3),
      }),
    ),
  );
}
