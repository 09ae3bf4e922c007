// Every sessionmesh store is an express-session store: an app can keep express-session and
// swap only the store. Run with the real express-session package.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import express from 'express';
import { MemoryStore } from '../../src/store/memory-store.js';
import { Client, listen, SECRET } from '../helpers/http-client.js';

const require = createRequire(import.meta.url);
const expressSession = require('express-session');

describe('MemoryStore under the real express-session', () => {
  it('keeps, regenerates and destroys sessions through the connect Store API', async () => {
    const store = new MemoryStore();
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(
      expressSession({
        secret: SECRET,
        store,
        resave: false,
        saveUninitialized: false,
        cookie: { maxAge: 60_000 },
      }),
    );
    app.get('/count', (req, res) => {
      const s = req.session as unknown as Record<string, number>;
      s.n = (s.n ?? 0) + 1;
      res.json({ n: s.n });
    });
    app.post('/login', (req, res, next) =>
      req.session.regenerate((err) => {
        if (err) return next(err);
        (req.session as unknown as Record<string, string>).user = 'ada';
        req.session.save(() => res.redirect('/me'));
      }),
    );
    app.get('/me', (req, res) =>
      res.json({ user: (req.session as unknown as Record<string, string>).user ?? null }),
    );
    app.post('/logout', (req, res) => req.session.destroy(() => res.json({ ok: true })));
    app.get('/reload', (req, res, next) =>
      req.session.reload((err) => (err ? next(err) : res.json({ ok: true }))),
    );
    const { base, close } = await listen(createServer(app));
    try {
      const client = new Client(base);
      for (let i = 1; i <= 3; i++) assert.equal(JSON.parse((await client.get('/count')).body).n, i);
      assert.equal((await client.get('/reload')).status, 200);
      const before = client.jar.get('connect.sid');
      await client.post('/login');
      assert.notEqual(client.jar.get('connect.sid'), before);
      assert.equal(JSON.parse((await client.get('/me')).body).user, 'ada');
      assert.equal((await store.ids()).length, 1);
      await client.post('/logout');
      assert.equal((await store.ids()).length, 0);
      assert.equal(JSON.parse((await client.get('/me')).body).user, null);
    } finally {
      await close();
    }
  });
});
