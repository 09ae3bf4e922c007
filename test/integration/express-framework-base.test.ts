// Under Express, sessionmesh holds responses through methods patched once on express's base
// response object, and reads req.sessionID/req.sessionStore through accessors on its base
// request (src/http/framework-base.ts). These tests pin what that must not break: the first
// request of a process (when middleware before the session may hold the unpatched methods),
// sub-apps with their own prototypes, apps of the same process without sessionmesh, and
// express-session running beside it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import express5 from 'express';
import { session } from '../../src/http/express.js';
import { Client, listen, SECRET } from '../helpers/http-client.js';
import { SlowStore } from '../helpers/test-stores.js';

const require = createRequire(import.meta.url);
const express4 = require('express4') as typeof express5;
const expressSession = require('express-session') as (options: object) => express5.RequestHandler;

/** Wraps res.writeHead per request, as on-headers (compression, morgan) does. */
function wrapsWriteHead(_req: unknown, res: ServerResponse, next: () => void): void {
  const before = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    this.setHeader('x-wrapped', 'yes');
    return (before as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
  next();
}

for (const [label, make] of [
  ['Express 5', express5],
  ['Express 4', express4],
] as const) {
  describe(`sessionmesh/express through express's base objects on ${label}`, () => {
    // Runs first in this process for this Express: its first request meets unpatched methods.
    it('commits before an explicit writeHead from the first request on, behind a writeHead wrapper', async () => {
      const app = make();
      app.use(wrapsWriteHead);
      app.use(session({ secret: SECRET, store: new SlowStore(100) }));
      app.post('/login', (req, res) => {
        req.session.user = 'ada';
        res.writeHead(302, { location: '/peek' });
        res.end();
      });
      app.get('/peek', (req, res) => res.json({ user: req.session.user ?? null }));
      const { base, close } = await listen(createServer(app));
      try {
        for (let i = 0; i < 3; i++) {
          const client = new Client(base);
          const login = await client.post('/login');
          assert.equal(login.status, 302);
          assert.equal(login.headers.get('x-wrapped'), 'yes');
          assert.equal(JSON.parse((await client.get('/peek')).body).user, 'ada', `request ${i}`);
        }
      } finally {
        await close();
      }
    });

    it('commits a response sent from a mounted sub-app before its headers leave', async () => {
      const sub = make();
      sub.post('/login', (req, res) => {
        req.session.user = 'grace';
        res.redirect(302, '/peek');
      });
      const app = make();
      app.use(session({ secret: SECRET, store: new SlowStore(100) }));
      app.use('/sub', sub);
      app.get('/peek', (req, res) => res.json({ user: req.session.user ?? null }));
      const { base, close } = await listen(createServer(app));
      try {
        const client = new Client(base);
        assert.equal((await client.post('/sub/login')).status, 302);
        assert.equal(JSON.parse((await client.get('/peek')).body).user, 'grace');
      } finally {
        await close();
      }
    });

    it('gives req.sessionID and req.sessionStore, following regenerate', async () => {
      const store = new SlowStore(0);
      const app = make();
      app.use(session({ secret: SECRET, store }));
      app.get('/ids', async (req, res) => {
        const before = req.sessionID;
        const sameStore = (req as unknown as { sessionStore: unknown }).sessionStore === store;
        await req.session.regenerate();
        req.session.n = 1;
        res.json({ before, after: req.sessionID, id: req.session.id, sameStore });
      });
      const { base, close } = await listen(createServer(app));
      try {
        const ids = JSON.parse((await new Client(base).get('/ids')).body);
        assert.equal(ids.sameStore, true);
        assert.equal(typeof ids.before, 'string');
        assert.notEqual(ids.after, ids.before);
        assert.equal(ids.after, ids.id);
      } finally {
        await close();
      }
    });

    it('answers 500 with its own body when the commit fails, dropping the handler’s body', async () => {
      const app = make();
      app.use(session({ secret: SECRET, maxSessionBytes: 100 }));
      app.get('/big', (req, res) => {
        req.session.big = 'x'.repeat(500);
        res.send('handler body');
      });
      const { base, close } = await listen(createServer(app));
      try {
        const reply = await new Client(base).get('/big');
        assert.equal(reply.status, 500);
        assert.match(reply.body, /SM_ERR_SESSION_TOO_LARGE/);
        assert.doesNotMatch(reply.body, /handler body/);
      } finally {
        await close();
      }
    });

    it('leaves apps without sessionmesh alone, express-session included', async () => {
      const plain = make();
      plain.get('/', (_req, res) => res.send('plain'));
      const classic = make();
      classic.use(expressSession({ secret: SECRET, resave: false, saveUninitialized: false }));
      classic.get('/count', (req, res) => {
        const s = req.session as unknown as { n?: number };
        s.n = (s.n ?? 0) + 1;
        res.json({ n: s.n, sameId: req.sessionID === req.session.id });
      });
      const a = await listen(createServer(plain));
      const b = await listen(createServer(classic));
      try {
        assert.equal((await new Client(a.base).get('/')).body, 'plain');
        const client = new Client(b.base);
        assert.deepEqual(JSON.parse((await client.get('/count')).body), { n: 1, sameId: true });
        assert.deepEqual(JSON.parse((await client.get('/count')).body), { n: 2, sameId: true });
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
