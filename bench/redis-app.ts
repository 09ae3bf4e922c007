// A benchmark server over an external store: `node --import tsx bench/redis-app.ts <variant>`
// with REDIS_URL or DATABASE_URL set. GET / reads a counter from the session, increments it and
// writes it back; prints `listening <port>`. Variants:
//   express-session + connect-redis | sessionmesh + redis | sessionmesh + redis near cache
//   express-session + connect-pg-simple | sessionmesh + postgres
//   sessionmesh + memory (a reference: the adapter alone, no store round trip)
//   express, no session (the ceiling: the same app with no session at all)
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { session } from '../dist/http/express.js';
import { createRedisStore } from '../dist/store/redis-store.js';
import { createPostgresStore } from '../dist/store/postgres-store.js';

const require = createRequire(import.meta.url);
const SECRET = 'bench-secret-0123456789abcdefghijklmnopq';
const variant = process.argv[2]!;
process.on('SIGINT', () => process.exit(0));

const express = require('express');
const expressSession = require('express-session');
const options = { secret: SECRET, resave: false, saveUninitialized: false };

async function middleware(): Promise<unknown> {
  if (variant === 'express, no session') return undefined;
  if (variant === 'sessionmesh + memory') return session({ ...options } as never);
  if (variant.includes('redis')) {
    const { createClient } = require('redis');
    const client = createClient({ url: process.env.REDIS_URL });
    await client.connect();
    if (variant === 'express-session + connect-redis') {
      const { RedisStore } = require('connect-redis');
      return expressSession({ ...options, store: new RedisStore({ client }) });
    }
    const store = await createRedisStore({
      client,
      events: false,
      nearCache: variant.endsWith('near cache'),
    });
    return session({ ...options, store } as never);
  }
  const pg = require('pg');
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  if (variant === 'express-session + connect-pg-simple') {
    const PgStore = require('connect-pg-simple')(expressSession);
    return expressSession({
      ...options,
      store: new PgStore({
        pool,
        schemaName: process.env.PG_SCHEMA,
        createTableIfMissing: true,
        pruneSessionInterval: false,
      }),
    });
  }
  const store = await createPostgresStore({
    pool,
    schema: process.env.PG_SCHEMA!,
    cleanupIntervalMs: 0,
  });
  return session({ ...options, store } as never);
}

const app = express();
const sessions = await middleware();
if (sessions) app.use(sessions);
app.get('/', (req: { session?: Record<string, unknown> }, res: { end(body: string): void }) => {
  const data = req.session ?? {};
  const n = ((data.n as number) ?? 0) + 1;
  data.n = n;
  res.end(String(n));
});
const server = app.listen(0, '127.0.0.1', () =>
  console.log(`listening ${(server.address() as AddressInfo).port}`),
);
