// RedisStore behind Express: sessionmesh's adapter (round trips counted on the server) and the
// real express-session package; a Redis outage mid-request answers 503 and corrupts nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import express from 'express';
import { createRequire } from 'node:module';
import { createClient } from 'redis';
import { session } from '../../src/http/express.js';
import { createRedisStore, type RedisStore } from '../../src/store/redis-store.js';
import { Client, listen, SECRET } from '../helpers/http-client.js';
import { startRedis, stopRedis, type RedisProcess } from '../helpers/redis-server.js';

type RedisClient = ReturnType<typeof createClient<any, any, any, any, any>>;
const expressSession = createRequire(import.meta.url)('express-session') as (
  options: unknown,
) => express.RequestHandler;
let server: RedisProcess;
const clients: RedisClient[] = [];
const closers: (() => Promise<void>)[] = [];

async function redisClient(): Promise<RedisClient> {
  const c = createClient({ url: server.url }) as unknown as RedisClient;
  c.on('error', () => {});
  clients.push(c);
  await c.connect();
  return c;
}

async function app(store: RedisStore, useExpressSession = false): Promise<Client> {
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

/** The commands clients sent during `work`, as MONITOR sees them (commands run by scripts excluded). */
async function commandsDuring(work: () => Promise<void>): Promise<string[]> {
  const monitor = spawn('redis-cli', ['-p', String(server.port), 'monitor'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  monitor.stdout.on('data', (chunk) => (out += chunk));
  try {
    for (let i = 0; i < 100 && !out.startsWith('OK'); i++)
      await new Promise((r) => setTimeout(r, 10));
    await work();
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    monitor.kill('SIGKILL');
  }
  return out
    .split('\n')
    .filter((line) => /^\d+\.\d+ \[\d+ [\d.:]+\]/.test(line))
    .map((line) =>
      line
        .replace(/^.*?\] /, '')
        .split(' ')[0]!
        .replace(/"/g, '')
        .toUpperCase(),
    );
}

before(async () => {
  server = await startRedis();
});
after(async () => {
  for (const close of closers) await close();
  for (const c of clients) c.destroy();
  await stopRedis(server);
});

describe('RedisStore behind Express', () => {
  it('costs one round trip to load and one to commit a read+increment request', async () => {
    const store = await createRedisStore({ client: await redisClient(), events: false });
    const client = await app(store);
    assert.equal((await client.request('/count')).body, '1');
    const sent = await commandsDuring(async () =>
      assert.equal((await client.request('/count')).body, '2'),
    );
    assert.deepEqual(sent, ['HGETALL', 'EVALSHA']);
    await store.close();
  });

  it('costs no round trip to load with the near cache', async () => {
    const store = await createRedisStore({
      client: await redisClient(),
      events: false,
      nearCache: true,
    });
    const client = await app(store);
    assert.equal((await client.request('/count')).body, '1');
    const sent = await commandsDuring(async () =>
      assert.equal((await client.request('/count')).body, '2'),
    );
    assert.deepEqual(sent, ['EVALSHA']);
    await store.close();
  });

  it('works as the store of the express-session package', async () => {
    const store = await createRedisStore({ client: await redisClient(), events: false });
    const client = await app(store, true);
    for (let i = 1; i <= 3; i++) assert.equal((await client.request('/count')).body, String(i));
    await store.close();
  });

  it('answers 503 while Redis is paused or dead, and resumes with the data intact', async () => {
    const own = await startRedis();
    const c = createClient({ url: own.url }) as unknown as RedisClient;
    c.on('error', () => {});
    await c.connect();
    const store = await createRedisStore({ client: c, events: false, timeoutMs: 300 });
    const client = await app(store);
    try {
      for (let i = 1; i <= 3; i++) assert.equal((await client.request('/count')).body, String(i));
      own.process.kill('SIGSTOP');
      const started = Date.now();
      assert.equal((await client.request('/count')).status, 503);
      assert.ok(Date.now() - started < 2000, 'no hang');
      own.process.kill('SIGCONT');
      // A commit that timed out either applied whole or not at all: the count is 3 or 4, never broken.
      let body = '';
      for (let i = 0; i < 20; i++) {
        const reply = await client.request('/count');
        if (reply.status === 200) {
          body = reply.body;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(['4', '5'].includes(body), `count after the pause: ${body}`);
      await own.kill();
      assert.equal((await client.request('/count')).status, 503);
    } finally {
      await store.close();
      c.destroy();
      await stopRedis(own);
    }
  });
});
