// Type tests for the public API: compiled by `npm run typecheck`, never run. Each line marked
// with an expect-error directive fails the type check if it ever compiles.
import express from 'express';
import Fastify from 'fastify';
import session, { type SessionOptions } from '../../src/http/express.js';
import sessionmesh from '../../src/http/fastify.js';
import { withSession } from '../../src/http/node.js';
import { createSessionManager, MemoryStore, type SessionStore } from '../../src/index.js';

const secret = 'type-test-secret-0123456789abcdefghij';

const app = express();
app.use(
  session({
    secret,
    cookie: { secure: 'auto', sameSite: 'strict', maxAge: 60_000 },
    rolling: true,
  }),
);
app.get('/', async (req, res) => {
  req.session.views = 1;
  const id: string = req.session.id;
  const sameId: string = req.sessionID;
  req.session.cookie.maxAge = 1000;
  req.session.regenerate((err) => void err);
  await req.session.save();
  await req.session.reload();
  req.session.setPrincipal('user-1');
  res.send(id + sameId);
});

// @ts-expect-error the secret is required
session({});
// @ts-expect-error sameSite takes 'lax' | 'strict' | 'none' | boolean
session({ secret, cookie: { sameSite: 'sometimes' } });
// @ts-expect-error lock is 'none' | 'node' | 'cluster'
const badLock: SessionOptions = { secret, lock: 'everywhere' };
void badLock;

const fastify = Fastify();
void fastify.register(sessionmesh, { secret });
fastify.get('/', async (request) => {
  const views: number | undefined = request.session.get<number>('views');
  request.session.set('views', (views ?? 0) + 1);
  await request.session.regenerate();
  return { id: request.session.sessionId };
});

withSession({ secret }, (req, res) => {
  req.session!.n = 1;
  res.end();
});

const store: SessionStore = new MemoryStore({ maxSessions: 10 });
const manager = createSessionManager({ store, secret });
manager.on('expired', (id: string) => void id);
// @ts-expect-error a manager needs a store
createSessionManager({ secret });
