// sessionmesh for Fastify: a plugin giving `request.session` in the style of @fastify/session
// (get/set, regenerate/destroy/reload/save returning promises), with the express-style
// property access as well. The commit runs in onSend, before the headers leave.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import type { SessionOptions } from './options.js';
import {
  bindRequestSession,
  newRequestSession,
  requestStateOf,
  RequestState,
  type RequestSession,
} from './request-session.js';
import type { Session } from '../session/session.js';
import { SessionHttp, type Closing, type Opened } from './session-http.js';
import { whenClosed } from './hold-headers.js';

export type { SessionOptions, Logger } from './options.js';
export type { RequestSession, SessionCookie } from './request-session.js';
export { MemoryStore } from '../store/memory-store.js';

declare module 'fastify' {
  interface FastifyRequest {
    session: RequestSession;
  }
}

async function plugin(fastify: FastifyInstance, options: SessionOptions): Promise<void> {
  const http = new SessionHttp(options);
  // A null default gives every request object the property from its constructor on: one
  // hidden class for all requests, and the assignment below is no shape change.
  fastify.decorateRequest('session', null as unknown as RequestSession);
  fastify.decorate('sessions', http);

  // Callback-style hooks: with an in-process store the whole session work is synchronous,
  // and no closure or promise is made per request.
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const token = http.token(
      request.headers.cookie,
      http.header ? first(request.headers[http.header]) : undefined,
    );
    const data = newRequestSession();
    const opened = http.open(token, data, request);
    if (!(opened instanceof Promise)) {
      start(http, request, reply, token !== undefined, data, opened);
      return done();
    }
    opened.then(
      (later) => {
        start(http, request, reply, token !== undefined, data, later);
        done();
      },
      (err: unknown) => {
        const failure = http.failure(err, 'load');
        reply.code(failure.status).type('text/plain; charset=utf-8').send(failure.body);
      },
    );
  });

  fastify.addHook(
    'onSend',
    (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: OnSendDone) => {
      const state = requestStateOf(request.session);
      if (!state) return done(null, payload);
      let closing: Closing;
      let written: Promise<void> | undefined;
      try {
        closing = http.close(state.session, state);
        written = closing.delta ? http.commit(state.session, closing.delta) : undefined;
      } catch (err) {
        return failed(http, reply, err, done);
      }
      if (!written) return finish(http, reply, closing, payload, done);
      written.then(
        () => finish(http, reply, closing, payload, done),
        (err: unknown) => failed(http, reply, err, done),
      );
    },
  );
}

type OnSendDone = (err: Error | null, payload?: unknown) => void;

function start(
  http: SessionHttp,
  request: FastifyRequest,
  reply: FastifyReply,
  hadToken: boolean,
  data: Record<string, unknown>,
  { session, release }: Opened,
): void {
  request.session = bindRequestSession(
    data,
    new FastifyRequestState(http, session, request, hadToken),
  );
  if (release) whenClosed(reply.raw, release);
}

function finish(
  http: SessionHttp,
  reply: FastifyReply,
  closing: Closing,
  payload: unknown,
  done: OnSendDone,
): void {
  const value = closing.header();
  // Fastify appends Set-Cookie values rather than replacing them.
  if (value !== undefined) reply.header(http.header ?? 'set-cookie', value);
  done(null, payload);
}

function failed(http: SessionHttp, reply: FastifyReply, err: unknown, done: OnSendDone): void {
  const failure = http.failure(err, 'commit');
  reply.code(failure.status).type('text/plain; charset=utf-8');
  reply.removeHeader('location');
  done(null, failure.body);
}

class FastifyRequestState extends RequestState {
  readonly #request: FastifyRequest;

  constructor(http: SessionHttp, session: Session, request: FastifyRequest, hadToken: boolean) {
    super(http, session, request as unknown as { session?: unknown }, hadToken);
    this.#request = request;
  }

  protected isSecure(): boolean {
    return isSecure(this.#request, this.http.proxy);
  }
}

function isSecure(request: FastifyRequest, trustProxy: boolean | undefined): boolean {
  if ((request.raw.socket as TLSSocket).encrypted) return true;
  if (trustProxy === false) return false;
  if (trustProxy === undefined) return request.protocol === 'https'; // Fastify's trustProxy decides
  const proto = first(request.headers['x-forwarded-proto']);
  return proto !== undefined && proto.split(',')[0]!.trim().toLowerCase() === 'https';
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

// Registered without encapsulation, as fastify-plugin does: the hooks apply to the whole app.
const sessionPlugin = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'sessionmesh',
  [Symbol.for('plugin-meta')]: { name: 'sessionmesh', fastify: '>=4' },
});

/**
 * The Fastify plugin.
 * @throws {InvalidOptionError} at registration for a missing or short secret and any other bad option.
 * @example
 * import Fastify from 'fastify';
 * import sessionmesh from 'sessionmesh/fastify';
 * const app = Fastify();
 * await app.register(sessionmesh, { secret: process.env.SESSION_SECRET! });
 * app.get('/', async (request) => {
 *   request.session.set('views', (request.session.get<number>('views') ?? 0) + 1);
 *   return { views: request.session.get('views') };
 * });
 */
export { sessionPlugin as sessionmesh };
export default sessionPlugin;
