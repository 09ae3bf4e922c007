// Issue 4's benchmark, PostgreSQL half: Express + sessionmesh + PostgresStore against Express +
// express-session + connect-pg-simple, the machine's PostgreSQL (a schema of their own, dropped
// afterwards), the same read+increment workload on one existing session.
import { fileURLToPath } from 'node:url';
import { toMarkdown, withRatios, type Row } from './lib/table.js';
import { measure, REFERENCE, SESSIONS } from './redis-store.js';
import { createTestSchema } from '../test/helpers/postgres-schema.js';
import { POSTGRES_URL } from '../test/helpers/postgres-schema.js';

const GROUP = 'Express, existing session: read + increment, PostgreSQL on 127.0.0.1';
const GROUP_MANY = `Express, ${SESSIONS} sessions in turn: read + increment, PostgreSQL on 127.0.0.1`;
const ANCHOR = 'express-session + connect-pg-simple';

export async function benchPostgresStore(
  options: { durationS?: number; repeats?: number } = {},
): Promise<Row[]> {
  const schema = await createTestSchema();
  process.env.DATABASE_URL = POSTGRES_URL;
  process.env.PG_SCHEMA = schema.name;
  const rows: Row[] = [];
  try {
    for (const sessions of [1, SESSIONS]) {
      const group = sessions === 1 ? GROUP : GROUP_MANY;
      rows.push(
        ...(await measure([ANCHOR, 'sessionmesh + postgres', REFERENCE], group, {
          ...options,
          sessions,
        })),
      );
    }
  } finally {
    await schema.drop();
  }
  return withRatios(rows, (row) => (row.name === ANCHOR ? undefined : ANCHOR));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(
    toMarkdown(
      await benchPostgresStore({
        durationS: Number(process.env.BENCH_S ?? 4),
        repeats: Number(process.env.BENCH_REPEATS ?? 3),
      }),
    ),
  );
}
