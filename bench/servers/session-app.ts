// One benchmark server: `node --import tsx bench/servers/session-app.ts <variant>`.
// Every variant answers GET / by reading a counter from the session, incrementing it and
// writing it back (the bare variants just answer), and prints `listening <port>`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

const require = createRequire(import.meta.url);
const SECRET = 'bench-secret-0123456789abcdefghijklmnopq';
const variant = process.argv[2];
// A clean exit on SIGINT lets --cpu-prof write its profile.
process.on('SIGINT', () => process.exit(0));

function ready(port: number): void {
  console.log(`listening ${port}`);
}

/** "(batched)": no session, but the response waits for the end of the turn, as sessionmesh's writes do. */
const batched = variant?.endsWith('(batched)') ?? false;
const { endOfTurn } = await import('../../dist/http/end-of-turn.js');

async function expressApp(middleware: unknown): Promise<void> {
  const express = require('express');
  const app = express();
  if (middleware) app.use(middleware);
  app.get('/', (req: { session?: Record<string, unknown> }, res: { end(body: string): void }) => {
    if (batched) return void endOfTurn().then(() => res.end('ok'));
    if (!req.session) return res.end('ok');
    const n = ((req.session.n as number) ?? 0) + 1;
    req.session.n = n;
    res.end(String(n));
  });
  const server = app.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
}

async function fastifyApp(register?: (app: any) => Promise<void>): Promise<void> {
  const Fastify = require('fastify');
  const app = Fastify();
  if (register) await register(app);
  app.get('/', async (request: any) => {
    if (batched) await endOfTurn();
    if (!request.session) return 'ok';
    const n = ((request.session.get('n') as number) ?? 0) + 1;
    request.session.set('n', n);
    return String(n);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  ready(app.server.address().port);
}

const variants: Record<string, () => Promise<void>> = {
  'node:http': async () => {
    const server = createServer((_req: IncomingMessage, res: ServerResponse) => res.end('ok'));
    server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
  },
  express: () => expressApp(undefined),
  'express (batched)': () => expressApp(undefined),
  'express + express-session': () => {
    const session = require('express-session');
    return expressApp(
      session({
        secret: SECRET,
        resave: false,
        saveUninitialized: false,
        store: new session.MemoryStore(),
      }),
    );
  },
  'express + sessionmesh': async () => {
    const { session } = await import('../../dist/http/express.js');
    return expressApp(session({ secret: SECRET }));
  },
  "express + sessionmesh lock:'node'": async () => {
    const { session } = await import('../../dist/http/express.js');
    return expressApp(session({ secret: SECRET, lock: 'node' }));
  },
  fastify: () => fastifyApp(),
  'fastify (batched)': () => fastifyApp(),
  'fastify + @fastify/session': () =>
    fastifyApp(async (app) => {
      await app.register(require('@fastify/cookie'));
      await app.register(require('@fastify/session'), {
        secret: SECRET,
        saveUninitialized: false,
        cookie: { secure: false },
      });
    }),
  'fastify + sessionmesh': () =>
    fastifyApp(async (app) => {
      const { sessionmesh } = await import('../../dist/http/fastify.js');
      await app.register(sessionmesh, { secret: SECRET });
    }),
};

const start = variants[variant ?? ''];
if (!start) {
  console.error(`unknown variant "${variant}"; one of: ${Object.keys(variants).join(', ')}`);
  process.exit(2);
}
await start();
