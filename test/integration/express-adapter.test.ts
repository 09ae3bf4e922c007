// sessionmesh/express on Express 5 and Express 4: the express-session API, the commit before
// a redirect leaves, concurrent requests, and the options express-session users rely on.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import express5 from 'express';
import { session } from '../../src/http/express.js';
import type { SessionOptions } from '../../src/http/options.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import {
  assertLockPassesOnAfterAbandonedWaiter,
  Client,
  listen,
  SECRET,
} from '../helpers/http-client.js';
import { SlowStore } from '../helpers/test-stores.js';

const require = createRequire(import.meta.url);
const express4 = require('express4') as typeof express5;

type App = ReturnType<typeof express5>;

function demoApp(make: typeof express5, options: Partial<SessionOptions> = {}): App {
  const app = make();
  app.use(make.urlencoded({ extended: false }));
  app.use(session({ secret: SECRET, ...options }));
  app.get('/count', (req, res) => {
    req.session.n = ((req.session.n as number) ?? 0) + 1;
    res.json({ n: req.session.n, id: req.session.id });
  });
  app.get('/peek', (req, res) => {
    res.json({
      user: req.session.user ?? null,
      n: req.session.n ?? null,
      id: req.sessionID,
      cart: req.session.cart ?? [],
    });
  });
  app.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = req.body.user;
      res.redirect(302, '/peek');
    });
  });
  app.post('/cart', (req, res) => {
    const cart = (req.session.cart as string[] | undefined) ?? [];
    cart.push(String(req.body.item));
    req.session.cart = cart;
    res.json({ cart });
  });
  app.post('/logout', async (req, res) => {
    await req.session.destroy();
    res.json({ ok: true });
  });
  app.post('/remember', (req, res) => {
    req.session.cookie.maxAge = 7 * 24 * 3600 * 1000;
    res.json({ maxAge: req.session.cookie.maxAge });
  });
  app.get('/slow-write/:key', async (req, res) => {
    await new Promise((r) => setTimeout(r, Number(req.query.wait ?? 0)));
    req.session[req.params.key] = true;
    res.json({ ok: true });
  });
  return app;
}

for (const [label, make] of [
  ['Express 5', express5],
  ['Express 4', express4],
] as const) {
  describe(`sessionmesh/express on ${label}`, () => {
    let base: string;
    let close: () => Promise<void>;
    before(async () => {
      ({ base, close } = await listen(createServer(demoApp(make))));
    });
    after(() => close());

    it('keeps a counter across requests with the cookie it issued', async () => {
      const client = new Client(base);
      for (let i = 1; i <= 3; i++) assert.equal(JSON.parse((await client.get('/count')).body).n, i);
    });

    it('issues a cookie with HttpOnly, SameSite=Lax, Path=/ and no Max-Age by default', async () => {
      const reply = await new Client(base).get('/count');
      assert.equal(reply.setCookies.length, 1);
      const cookie = reply.setCookies[0]!;
      assert.match(
        cookie,
        /^sid=[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/,
      );
    });

    it('sends no cookie and stores nothing for a visitor whose session was never written', async () => {
      const reply = await new Client(base).get('/peek');
      assert.equal(reply.setCookies.length, 0);
    });

    it('sends the cookie again only when needed, not on every request', async () => {
      const client = new Client(base);
      await client.get('/count');
      const second = await client.get('/count');
      assert.equal(second.setCookies.length, 0);
    });

    it('regenerates the id at login, and the old cookie no longer finds the session', async () => {
      const client = new Client(base);
      await client.get('/count');
      const before = client.jar.get('sid')!;
      const login = await client.post('/login', { user: 'ada' });
      assert.equal(login.status, 302);
      assert.notEqual(client.jar.get('sid'), before);
      assert.equal(JSON.parse((await client.get('/peek')).body).user, 'ada');
      const attacker = new Client(base);
      attacker.jar.set('sid', before);
      const peek = JSON.parse((await attacker.get('/peek')).body);
      assert.equal(peek.user, null);
      assert.equal(peek.n, null);
    });

    it('keeps a cart mutated in place (nested change detected)', async () => {
      const client = new Client(base);
      await client.post('/cart', { item: 'apple' });
      await client.post('/cart', { item: 'pear' });
      assert.deepEqual(JSON.parse((await client.get('/peek')).body).cart, ['apple', 'pear']);
    });

    it('destroys the session at logout and clears the cookie', async () => {
      const client = new Client(base);
      await client.post('/login', { user: 'bob' });
      const cookie = client.jar.get('sid')!;
      const logout = await client.post('/logout');
      assert.match(logout.setCookies[0] ?? '', /Max-Age=0/);
      const replay = new Client(base);
      replay.jar.set('sid', cookie);
      assert.equal(JSON.parse((await replay.get('/peek')).body).user, null);
    });

    it('gives a "remember me" session a persistent cookie through cookie.maxAge, capped by the absolute timeout', async () => {
      const reply = await new Client(base).post('/remember');
      assert.match(reply.setCookies[0] ?? '', /Max-Age=(86399|86400)\b/);
      assert.ok(JSON.parse(reply.body).maxAge <= 86_400_000);
      const { base: longBase, close: closeLong } = await listen(
        createServer(demoApp(make, { absoluteTimeoutMs: 30 * 24 * 3600 * 1000 })),
      );
      try {
        const long = await new Client(longBase).post('/remember');
        assert.match(long.setCookies[0] ?? '', /Max-Age=604800\b/);
        assert.ok(JSON.parse(long.body).maxAge > 600_000_000);
      } finally {
        await closeLong();
      }
    });

    it('keeps both attributes when two requests of one session change different ones concurrently', async () => {
      const client = new Client(base);
      await client.get('/count');
      await Promise.all([client.get('/slow-write/a?wait=50'), client.get('/slow-write/b?wait=0')]);
      const values = JSON.parse((await client.get('/peek')).body);
      assert.equal(values.n, 1);
      const record = await (
        await fetch(`${base}/peek`, { headers: { cookie: `sid=${client.jar.get('sid')}` } })
      ).json();
      assert.ok(record);
    });
  });
}

describe('sessionmesh/express keeps its promises under load and races', () => {
  it('commits the login before the 302 leaves, even with a store that takes 200 ms to write', async () => {
    const { base, close } = await listen(
      createServer(demoApp(express5, { store: new SlowStore(200) })),
    );
    try {
      const client = new Client(base);
      const login = await client.post('/login', { user: 'ada' });
      assert.equal(login.status, 302);
      // The browser follows the redirect at once: the session must already be there.
      assert.equal(JSON.parse((await client.get('/peek')).body).user, 'ada');
    } finally {
      await close();
    }
  });

  it('persists both attributes of concurrent requests, where express-session + MemoryStore loses one', async () => {
    const expressSession = require('express-session');
    const build = (useMesh: boolean) => {
      const app = express5();
      app.use(
        useMesh
          ? session({ secret: SECRET })
          : expressSession({
              secret: SECRET,
              resave: false,
              saveUninitialized: false,
              store: new expressSession.MemoryStore(),
            }),
      );
      app.get('/init', (req, res) => {
        (req.session as Record<string, unknown>).started = true;
        res.end('ok');
      });
      app.get('/set/:key', async (req, res) => {
        await new Promise((r) => setTimeout(r, req.params.key === 'a' ? 80 : 0));
        (req.session as Record<string, unknown>)[req.params.key] = true;
        res.end('ok');
      });
      app.get('/keys', (req, res) =>
        res.json(Object.keys(req.session).filter((k) => k !== 'cookie')),
      );
      return app;
    };
    const results: Record<string, string[]> = {};
    for (const useMesh of [false, true]) {
      const { base, close } = await listen(createServer(build(useMesh)));
      try {
        const client = new Client(base);
        await client.get('/init');
        if (!useMesh) {
          const name = [...client.jar.keys()][0]!;
          assert.equal(name, 'connect.sid');
        }
        await Promise.all([client.get('/set/a'), client.get('/set/b')]);
        results[useMesh ? 'sessionmesh' : 'express-session'] = JSON.parse(
          (await client.get('/keys')).body,
        ).sort();
      } finally {
        await close();
      }
    }
    assert.deepEqual(results['sessionmesh'], ['a', 'b', 'started']);
    assert.notDeepEqual(
      results['express-session'],
      ['a', 'b', 'started'],
      'express-session loses one write',
    );
  });

  it("serializes one session's requests with lock: 'node', so read-modify-write counts every increment", async () => {
    const app = express5();
    app.use(session({ secret: SECRET, lock: 'node' }));
    app.get('/inc', async (req, res) => {
      const n = (req.session.n as number) ?? 0;
      await new Promise((r) => setTimeout(r, 2));
      req.session.n = n + 1;
      res.end(String(req.session.n));
    });
    const { base, close } = await listen(createServer(app));
    try {
      const client = new Client(base);
      await client.get('/inc');
      await Promise.all(Array.from({ length: 30 }, () => client.get('/inc')));
      assert.equal((await client.get('/inc')).body, '32');
    } finally {
      await close();
    }
  });

  it("lock: 'node' hands the lock on when a waiting request's client went away", async () => {
    const app = express5();
    app.use(session({ secret: SECRET, lock: 'node' }));
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    app.get('/slow', async (req, res) => {
      await gate;
      req.session.n = ((req.session.n as number) ?? 0) + 1;
      res.end(String(req.session.n));
    });
    app.get('/inc', (req, res) => {
      req.session.n = ((req.session.n as number) ?? 0) + 1;
      res.end(String(req.session.n));
    });
    const { base, close } = await listen(createServer(app));
    try {
      await assertLockPassesOnAfterAbandonedWaiter(base, open);
    } finally {
      await close();
    }
  });

  it('carries the token in a header for API clients when `header` is set', async () => {
    const app = express5();
    app.use(session({ secret: SECRET, header: 'X-Session-Id' }));
    app.get('/count', (req, res) => {
      req.session.n = ((req.session.n as number) ?? 0) + 1;
      res.json({ n: req.session.n });
    });
    const { base, close } = await listen(createServer(app));
    try {
      const first = await fetch(`${base}/count`);
      const token = first.headers.get('x-session-id');
      assert.ok(token);
      assert.equal(first.headers.getSetCookie().length, 0);
      const second = await fetch(`${base}/count`, { headers: { 'x-session-id': token } });
      assert.equal(((await second.json()) as { n: number }).n, 2);
    } finally {
      await close();
    }
  });

  it('supports the promise and callback forms of save and reload', async () => {
    const store = new MemoryStore();
    const app = express5();
    app.use(session({ secret: SECRET, store }));
    app.get('/save', async (req, res) => {
      req.session.a = 1;
      await req.session.save();
      req.session.b = 2;
      req.session.save((err) => {
        if (err) throw err;
        req.session.reload((err2) =>
          res.json({ err: err2 ?? null, a: req.session.a, b: req.session.b }),
        );
      });
    });
    const { base, close } = await listen(createServer(app));
    try {
      const body = JSON.parse((await new Client(base).get('/save')).body);
      assert.deepEqual(body, { err: null, a: 1, b: 2 });
      assert.equal((await store.ids()).length, 1);
    } finally {
      await close();
    }
  });

  it("destroys the stored session when the app deletes req.session with unset: 'destroy'", async () => {
    const store = new MemoryStore();
    const app = express5();
    app.use(session({ secret: SECRET, store, unset: 'destroy' }));
    app.get('/set', (req, res) => {
      req.session.a = 1;
      res.end('ok');
    });
    app.get('/unset', (req, res) => {
      delete (req as { session?: unknown }).session;
      res.end('ok');
    });
    const { base, close } = await listen(createServer(app));
    try {
      const client = new Client(base);
      await client.get('/set');
      assert.equal((await store.ids()).length, 1);
      await client.get('/unset');
      assert.equal((await store.ids()).length, 0);
    } finally {
      await close();
    }
  });

  it('sends the cookie on every response with rolling: true', async () => {
    const { base, close } = await listen(createServer(demoApp(express5, { rolling: true })));
    try {
      const client = new Client(base);
      await client.get('/count');
      assert.equal((await client.get('/peek')).setCookies.length, 1);
    } finally {
      await close();
    }
  });

  it('rejects a short secret at startup with the option name', () => {
    assert.throws(() => session({ secret: 'keyboard cat' }), { code: 'SM_ERR_OPTION_INVALID' });
  });
});
