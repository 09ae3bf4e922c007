// Bad cookies are "no session", never an error page: each kind is answered with a fresh
// session (or none), counted, and never reaches the store as a key.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import express from 'express';
import { session, type SessionMiddleware } from '../../src/http/express.js';
import { Signer } from '../../src/session/signature.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { listen, SECRET } from '../helpers/http-client.js';

const OLD_SECRET = 'retired-secret-0123456789abcdefghijklmn';

describe('bad session cookies get a new session, never a 500', () => {
  let base: string;
  let close: () => Promise<void>;
  let middleware: SessionMiddleware;
  let valid: string;
  const store = new MemoryStore();
  const signer = new Signer(SECRET);

  before(async () => {
    const app = express();
    middleware = session({ secret: SECRET, store, route: 'node1' });
    app.use(middleware);
    app.get('/', (req, res) => {
      const fresh = req.session.n === undefined;
      req.session.n = ((req.session.n as number) ?? 0) + 1;
      res.json({ fresh, id: req.session.id });
    });
    ({ base, close } = await listen(createServer(app)));
    const first = await fetch(base);
    valid = first.headers.getSetCookie()[0]!.split(';')[0]!.slice('sid='.length);
  });
  after(() => close());

  async function send(
    cookieHeader: string,
  ): Promise<{ status: number; fresh: boolean; id: string }> {
    const res = await fetch(base, { headers: { cookie: cookieHeader } });
    const body =
      res.status === 200
        ? ((await res.json()) as { fresh: boolean; id: string })
        : { fresh: false, id: '' };
    return { status: res.status, ...body };
  }

  it('accepts the valid cookie it issued', async () => {
    const reply = await send(`sid=${valid}`);
    assert.equal(reply.status, 200);
    assert.equal(reply.fresh, false);
  });

  type Counter = 'signature' | 'oversized' | 'format' | 'none';
  const cases: [string, () => string, Counter][] = [
    [
      'a tampered signature',
      () => `sid=${valid.slice(0, -2)}${valid.endsWith('AA') ? 'BB' : 'AA'}`,
      'signature',
    ],
    [
      'a cookie signed with a retired secret',
      () => `sid=${new Signer(OLD_SECRET).sign(valid.split('.')[0]!)}`,
      'signature',
    ],
    ['a cookie of 10 KB', () => `sid=${'a'.repeat(10 * 1024)}`, 'oversized'],
    ['a malformed percent-encoding', () => `sid=%E0%A4%A`, 'none'],
    ['an id of the wrong length', () => `sid=${signer.sign('abc')}`, 'format'],
    ['an id of the wrong alphabet', () => `sid=${signer.sign('!'.repeat(32))}`, 'format'],
    ['a forged route suffix', () => `sid=${valid.replace('.node1.', '.node2.')}`, 'signature'],
    [
      'a cookie header with 500 pairs',
      () => Array.from({ length: 500 }, (_, i) => `c${i}=${'x'.repeat(10)}`).join('; '),
      'none',
    ],
  ];

  for (const [what, cookie, counter] of cases) {
    it(`treats ${what} as no session, and counts it`, async () => {
      const before = { ...middleware.sessions.manager.stats.rejected };
      const reply = await send(cookie());
      assert.equal(reply.status, 200);
      assert.equal(reply.fresh, true);
      assert.notEqual(reply.id, valid.split('.')[0]);
      if (counter !== 'none')
        assert.equal(middleware.sessions.manager.stats.rejected[counter], before[counter] + 1);
    });
  }

  it('accepts a cookie signed with a retired secret while that secret is still listed (rotation)', async () => {
    const app = express();
    app.use(session({ secret: [SECRET, OLD_SECRET], store }));
    app.get('/', (req, res) => res.json({ n: req.session.n ?? null }));
    const server = await listen(createServer(app));
    try {
      const id = valid.split('.')[0]!;
      const res = await fetch(server.base, {
        headers: { cookie: `sid=${new Signer(OLD_SECRET).sign(id)}` },
      });
      assert.ok(((await res.json()) as { n: number }).n >= 1);
    } finally {
      await server.close();
    }
  });

  it('never adopts an id the client chose, even validly signed', async () => {
    const chosen = 'A'.repeat(32);
    const reply = await send(`sid=${signer.sign(chosen)}`);
    assert.equal(reply.fresh, true);
    assert.notEqual(reply.id, chosen);
    assert.equal(await store.get(chosen), undefined);
  });
});
