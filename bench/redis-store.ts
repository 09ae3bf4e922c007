// Issue 4's benchmark, Redis half: Express + sessionmesh + RedisStore (without and with the
// near cache) against Express + express-session + connect-redis, the same redis-server, the
// same read+increment workload, measured in rounds (lib/rounds.ts). The apps run on core 0,
// wrk on core 1, redis-server unpinned. `benchRedisStore()` returns the rows for bench/run.ts.
import { fileURLToPath } from 'node:url';
import { startServer } from './lib/server-process.js';
import { loadWithCookies, requireWrk } from './lib/wrk.js';
import { toMarkdown, withRatios, type Row } from './lib/table.js';
import { measureInRounds, rowOf, type Contender } from './lib/rounds.js';
import { startRedis, stopRedis } from '../test/helpers/redis-server.js';

const GROUP = 'Express, existing session: read + increment, one redis-server';
const ANCHOR = 'express-session + connect-redis';
const VARIANTS = [ANCHOR, 'sessionmesh + redis', 'sessionmesh + redis near cache'];
/** The adapter over an in-process store: the ceiling of any store under the same app. */
export const REFERENCE = 'sessionmesh + memory';
/**
 * The same app with no session at all, answering at once. sessionmesh over an in-process store
 * answers at the end of the event-loop turn (src/http/end-of-turn.ts), which under load is
 * faster than this; a remote store's answers are batched the same way by its round trips.
 */
export const CEILING = 'express, no session';
/**
 * The second workload: every request takes the next of this many sessions, so two requests
 * of one session are rarely in flight together and the store's write combining
 * (src/store/merge-coalescer.ts) cannot help; the first workload is one hot session.
 */
export const SESSIONS = 200;
const GROUP_MANY = `Express, ${SESSIONS} sessions in turn: read + increment, one redis-server`;

export async function benchRedisStore(
  options: { durationS?: number; repeats?: number } = {},
): Promise<Row[]> {
  requireWrk();
  const redis = await startRedis();
  process.env.REDIS_URL = redis.url;
  const rows: Row[] = [];
  try {
    for (const sessions of [1, SESSIONS]) {
      const group = sessions === 1 ? GROUP : GROUP_MANY;
      const ceiling = sessions === 1 ? [CEILING] : [];
      rows.push(
        ...(await measure([...VARIANTS, REFERENCE, ...ceiling], group, { ...options, sessions })),
      );
    }
  } finally {
    await stopRedis(redis);
  }
  return withRatios(rows, (row) => (row.name === ANCHOR ? undefined : ANCHOR));
}

/**
 * Variants of bench/redis-app.ts under wrk, measured in rounds (lib/rounds.ts), on existing
 * sessions: one (every connection sends the same cookie) or `sessions` taken in turn.
 */
export async function measure(
  variants: string[],
  group: string,
  options: { durationS?: number; repeats?: number; sessions?: number },
): Promise<Row[]> {
  const results = await measureInRounds(
    variants.map((variant) => () => startVariant(variant, options.sessions ?? 1)),
    options,
  );
  return variants.map((variant) => rowOf(group, variant, results.get(variant)!, NOTES[variant]));
}

const NOTES: Record<string, string> = {
  'sessionmesh + redis': 'target >= 1.3x connect-redis',
  'sessionmesh + redis near cache':
    'target 2x connect-redis; it does what sessionmesh + memory does plus a Redis write, so that row is its ceiling',
  [REFERENCE]: 'reference: no store round trip, not a competitor',
  [CEILING]: 'bare Express, the same route without a session, answering at once',
};

/** A variant of bench/redis-app.ts on core 0, with `sessions` existing sessions to send. */
export async function startVariant(variant: string, sessions: number): Promise<Contender> {
  const server = await startServer('../redis-app.ts', [variant], 0);
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    const cookies: string[] = [];
    for (let i = 0; i < sessions; i++) {
      // The ceiling sets no cookie; it gets one of the same size to parse past.
      const cookie =
        variant === CEILING
          ? `connect.sid=s%3A${'x'.repeat(80)}`
          : (await fetch(url)).headers.getSetCookie()[0];
      if (!cookie) throw new Error(`${variant} sent no cookie`);
      cookies.push(cookie.split(';')[0]!);
    }
    return {
      name: variant,
      run: (durationS) => loadWithCookies(url, cookies, { durationS, repeats: 1, core: 1 }),
      stop: () => server.stop(),
    };
  } catch (err) {
    await server.stop();
    throw err;
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
