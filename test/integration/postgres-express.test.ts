// PostgresStore behind Express (sessionmesh's adapter and the express-session package), and a
// PostgreSQL outage mid-request through a proxy the test cuts: 503, nothing corrupted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import express from 'express';
import { createRequire } from 'node:module';
import pg from 'pg';
import { session } from '../../src/http/express.js';
import { createPostgresStore, type PostgresStore } from '../../src/store/postgres-store.js';
import { Client, listen, SECRET } from '../helpers/http-client.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres-schema.js';
import { startPostgresProxy, type CuttableProxy } from '../helpers/postgres-proxy.js';

const expressSession = createRequire(import.meta.url)('express-session') as (
  options: unknown,
) => express.RequestHandler;
let schema: TestSchema;
let proxy: CuttableProxy;
let proxied: pg.Pool;
const closers: (() => Promise<void>)[] = [];

async function app(store: PostgresStore, useExpressSession = false): Promise<Client> {
  const a = express();
  const options = { secret: SECRET, store, resave: false, saveUninitialized: false };
  a.use(useExpressSession ? expressSession(options as never) : session(options as never));
  a.get('/count', (req, res) => {
    const s = req.session as unknown as { views?: number };
    s.views = (s.views ?? 0) + 1;
    res.send(String(s.views));
  });
  const { base, close } = await listen(createServer(a));
  closers.push(close);
  return new Client(base);
}

before(async () => {
  schema = await createTestSchema();
  proxy = await startPostgresProxy();
  proxied = new pg.Pool({
    host: '127.0.0.1',
    port: proxy.port,
    user: 'postgres',
    database: 'test',
    max: 4,
    connectionTimeoutMillis: 500,
  });
  proxied.on('error', () => {});
});
after(async () => {
  for (const close of closers) await close();
  await proxied?.end().catch(() => {});
  await proxy?.close();
  await schema?.drop();
});

describe('PostgresStore behind Express', () => {
  it('counts with sessionmesh/express and with the express-session package', async () => {
    const store = await createPostgresStore({
      pool: schema.pool,
      schema: schema.name,
      cleanupIntervalMs: 0,
    });
    for (const useExpressSession of [false, true]) {
      const client = await app(store, useExpressSession);
      for (let i = 1; i <= 3; i++) assert.equal((await client.request('/count')).body, String(i));
    }
    await store.close();
  });

  it('answers 503 while the connection to PostgreSQL is cut, and resumes with the data intact', async () => {
    const store = await createPostgresStore({
      pool: proxied,
      schema: schema.name,
      cleanupIntervalMs: 0,
      timeoutMs: 800,
    });
    const client = await app(store);
    for (let i = 1; i <= 3; i++) assert.equal((await client.request('/count')).body, String(i));
    proxy.cut();
    const started = Date.now();
    assert.equal((await client.request('/count')).status, 503);
    assert.ok(Date.now() - started < 3000, 'no hang');
    proxy.restore();
    let body = '';
    for (let i = 0; i < 30 && body === ''; i++) {
      const reply = await client.request('/count');
      if (reply.status === 200) body = reply.body;
      else await new Promise((r) => setTimeout(r, 100));
    }
    // The cut commit either applied whole or not at all.
    assert.ok(['4', '5'].includes(body), `count after the outage: ${body}`);
    await store.close();
  });
});
