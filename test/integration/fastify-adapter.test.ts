// sessionmesh/fastify: request.session in the style of @fastify/session, the commit in
// onSend before a redirect leaves, and cookies beside the app's own.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import sessionmesh from '../../src/http/fastify.js';
import {
  assertLockPassesOnAfterAbandonedWaiter,
  Client,
  newSessionHeaders,
  SECRET,
} from '../helpers/http-client.js';
import { SlowStore } from '../helpers/test-stores.js';

async function build(store = new SlowStore(0)): Promise<FastifyInstance> {
  const app = Fastify();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  await app.register(sessionmesh, { secret: SECRET, store });
  app.get('/count', async (request) => {
    const n = (request.session.get<number>('n') ?? 0) + 1;
    request.session.set('n', n);
    return { n, id: request.session.sessionId };
  });
  app.get('/me', async (request) => ({ user: request.session.user ?? null }));
  app.post('/login', async (request, reply) => {
    await request.session.regenerate();
    request.session.user = (request.body as { user: string }).user;
    return reply.redirect('/me', 302);
  });
  app.post('/logout', async (request) => {
    await request.session.destroy();
    return { ok: true };
  });
  app.get('/other-cookie', async (request, reply) => {
    request.session.set('x', 1);
    reply.header('set-cookie', 'theme=dark; Path=/');
    return 'ok';
  });
  return app;
}

describe('sessionmesh/fastify', () => {
  let app: FastifyInstance;
  let base: string;
  before(async () => {
    app = await build();
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(() => app.close());

  it('keeps a counter through get/set', async () => {
    const client = new Client(base);
    for (let i = 1; i <= 3; i++) assert.equal(JSON.parse((await client.get('/count')).body).n, i);
  });

  it('regenerates at login and the old id is dead', async () => {
    const client = new Client(base);
    await client.get('/count');
    const before = client.jar.get('sid')!;
    assert.equal((await client.post('/login', { user: 'ada' })).status, 302);
    assert.equal(JSON.parse((await client.get('/me')).body).user, 'ada');
    const replay = new Client(base);
    replay.jar.set('sid', before);
    assert.equal(JSON.parse((await replay.get('/me')).body).user, null);
  });

  it('destroys at logout', async () => {
    const client = new Client(base);
    await client.post('/login', { user: 'bob' });
    await client.post('/logout');
    assert.equal(JSON.parse((await client.get('/me')).body).user, null);
  });

  it("adds its cookie beside the app's own Set-Cookie", async () => {
    const reply = await new Client(base).get('/other-cookie');
    assert.equal(reply.setCookies.length, 2);
    assert.ok(reply.setCookies.some((c) => c.startsWith('theme=dark')));
    assert.ok(reply.setCookies.some((c) => c.startsWith('sid=')));
  });

  it('commits the login before the 302 leaves, with a store that takes 200 ms to write', async () => {
    const slow = await build(new SlowStore(200));
    const slowBase = await slow.listen({ port: 0, host: '127.0.0.1' });
    try {
      const client = new Client(slowBase);
      assert.equal((await client.post('/login', { user: 'ada' })).status, 302);
      assert.equal(JSON.parse((await client.get('/me')).body).user, 'ada');
    } finally {
      await slow.close();
    }
  });

  describe("lock: 'node'", () => {
    let locked: FastifyInstance;
    let lockedBase: string;
    let open!: () => void;
    let gate: Promise<void>;
    before(async () => {
      locked = Fastify();
      await locked.register(sessionmesh, { secret: SECRET, lock: 'node' });
      const inc = (request: {
        session: { get<T>(k: string): T | undefined; set(k: string, v: unknown): void };
      }) => {
        const n = (request.session.get<number>('n') ?? 0) + 1;
        request.session.set('n', n);
        return String(n);
      };
      locked.get('/slow', async (request) => {
        await gate;
        return inc(request);
      });
      locked.get('/inc', async (request) => inc(request));
      lockedBase = await locked.listen({ port: 0, host: '127.0.0.1' });
    });
    after(() => locked.close());

    it('runs the requests of one session one at a time', async () => {
      gate = new Promise<void>((resolve) => (open = resolve));
      const headers = await newSessionHeaders(`${lockedBase}/inc`);
      const slow = fetch(`${lockedBase}/slow`, { headers }).then((r) => r.text());
      await new Promise((r) => setTimeout(r, 50));
      const fast = fetch(`${lockedBase}/inc`, { headers }).then((r) => r.text());
      await new Promise((r) => setTimeout(r, 50));
      open();
      // Without the lock /inc would read 1 and answer 2 while /slow waits, and both write 2.
      assert.deepEqual([await slow, await fast], ['2', '3']);
    });

    it("hands the lock on when a waiting request's client went away", async () => {
      gate = new Promise<void>((resolve) => (open = resolve));
      await assertLockPassesOnAfterAbandonedWaiter(lockedBase, open);
    });
  });
});
