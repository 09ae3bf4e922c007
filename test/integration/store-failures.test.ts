// A store that is down answers 503 and the handler never runs without req.session; a commit
// that fails answers 500/503 with a log line, never a silent loss; an oversized session is
// refused with a clear error.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { session } from '../../src/http/express.js';
import sessionmesh from '../../src/http/fastify.js';
import type { Logger } from '../../src/http/options.js';
import { Client, listen, SECRET } from '../helpers/http-client.js';
import { FlakyStore } from '../helpers/test-stores.js';

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (obj: unknown, msg?: string) => lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  return { lines, error: log, warn: log };
}

describe('store outages and failed commits (express)', () => {
  it('answers 503 and never runs the handler when the store cannot load the session', async () => {
    const store = new FlakyStore();
    const logger = recordingLogger();
    let handlerRuns = 0;
    const app = express();
    app.use(session({ secret: SECRET, store, logger }));
    app.get('/', (req, res) => {
      handlerRuns++;
      req.session.n = 1;
      res.end('ok');
    });
    const { base, close } = await listen(createServer(app));
    try {
      const client = new Client(base);
      await client.get('/');
      store.readsDown = true;
      const runsBefore = handlerRuns;
      const reply = await client.get('/');
      assert.equal(reply.status, 503);
      assert.equal(handlerRuns, runsBefore);
      assert.match(logger.lines.join('\n'), /SM_ERR_STORE_UNAVAILABLE/);
    } finally {
      await close();
    }
  });

  it('answers 503 with a log line instead of the handler response when the commit fails', async () => {
    const store = new FlakyStore();
    const logger = recordingLogger();
    const app = express();
    app.use(session({ secret: SECRET, store, logger }));
    app.post('/login', (req, res) => {
      req.session.user = 'ada';
      res.redirect(302, '/');
    });
    const { base, close } = await listen(createServer(app));
    try {
      store.writesDown = true;
      const reply = await new Client(base).post('/login');
      assert.equal(reply.status, 503);
      assert.equal(reply.headers.get('location'), null);
      assert.equal(reply.setCookies.length, 0);
      assert.match(logger.lines.join('\n'), /commit failed.*SM_ERR_STORE_UNAVAILABLE/);
    } finally {
      await close();
    }
  });

  it('refuses a session over maxSessionBytes with a 500 naming SM_ERR_SESSION_TOO_LARGE, and keeps the old data', async () => {
    const store = new FlakyStore();
    const logger = recordingLogger();
    const app = express();
    app.use(session({ secret: SECRET, store, logger, maxSessionBytes: 1000 }));
    app.get('/small', (req, res) => {
      req.session.small = 'x';
      res.end('ok');
    });
    app.get('/big', (req, res) => {
      req.session.big = 'y'.repeat(2000);
      res.end('ok');
    });
    app.get('/read', (req, res) =>
      res.json({ small: req.session.small ?? null, big: req.session.big ?? null }),
    );
    const { base, close } = await listen(createServer(app));
    try {
      const client = new Client(base);
      await client.get('/small');
      const big = await client.get('/big');
      assert.equal(big.status, 500);
      assert.match(big.body, /SM_ERR_SESSION_TOO_LARGE/);
      assert.match(logger.lines.join('\n'), /SM_ERR_SESSION_TOO_LARGE/);
      assert.deepEqual(JSON.parse((await client.get('/read')).body), { small: 'x', big: null });
    } finally {
      await close();
    }
  });
});

describe('store outages and failed commits (fastify)', () => {
  it('answers 503 when the store is down, and 503 when the commit fails', async () => {
    const store = new FlakyStore();
    const app = Fastify();
    let handlerRuns = 0;
    await app.register(sessionmesh, { secret: SECRET, store, logger: recordingLogger() });
    app.get('/', async (request) => {
      handlerRuns++;
      request.session.set('n', 1);
      return { ok: true };
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const client = new Client(base);
      assert.equal((await client.get('/')).status, 200);
      store.readsDown = true;
      assert.equal((await client.get('/')).status, 503);
      assert.equal(handlerRuns, 1);
      store.readsDown = false;
      store.writesDown = true;
      assert.equal((await new Client(base).get('/')).status, 503);
    } finally {
      await app.close();
    }
  });
});
