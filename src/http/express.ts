// sessionmesh for Express 4/5 and Connect: a drop-in for express-session. Same options, same
// `req.session` API; changing the import is the migration.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionOptions } from './options.js';
import { attach, type SessionRequest } from './node.js';
import { SessionHttp } from './session-http.js';

export type { SessionOptions, Logger } from './options.js';
export type { RequestSession, SessionCookie } from './request-session.js';
export { MemoryStore } from '../store/memory-store.js';

export type SessionMiddleware = ((
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void) & {
  /** The lifecycle behind the middleware: its manager, store and options. */
  readonly sessions: SessionHttp;
};

/**
 * The session middleware.
 * @throws {InvalidOptionError} for a missing or short secret and any other bad option.
 * @example
 * import express from 'express';
 * import session from 'sessionmesh/express';
 * const app = express();
 * app.use(session({ secret: process.env.SESSION_SECRET!, cookie: { secure: 'auto' } }));
 * app.get('/', (req, res) => {
 *   req.session.views = (req.session.views ?? 0) + 1;
 *   res.send(`views: ${req.session.views}`);
 * });
 */
export function session(options: SessionOptions): SessionMiddleware {
  const http = new SessionHttp(options);
  const middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => {
    const request = req as SessionRequest;
    if (request.session) return next();
    attach(http, request, res, next);
  };
  return Object.assign(middleware, { sessions: http });
}

export default session;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      session: import('./request-session.js').RequestSession;
      sessionID: string;
    }
  }
}
