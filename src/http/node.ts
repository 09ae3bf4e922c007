// sessionmesh for plain node:http: `withSession(options, handler)` gives the handler
// `req.session`, and holds the response until the session is committed.
// The Express adapter uses the same attach() below.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { answerError, appendSetCookie, holdHeaders } from './hold-headers.js';
import type { SessionOptions } from './options.js';
import {
  bindRequestSession,
  newRequestSession,
  RequestState,
  type RequestSession,
} from './request-session.js';
import { SessionHttp, type Opened } from './session-http.js';

export type { SessionOptions, Logger } from './options.js';
export type { RequestSession, SessionCookie } from './request-session.js';
export { SessionHttp } from './session-http.js';

export interface SessionRequest extends IncomingMessage {
  session?: RequestSession;
  sessionID?: string;
  sessionStore?: SessionHttp['store'];
  secure?: boolean;
}

/**
 * Loads the request's session, sets req.session, arranges the commit before the headers leave,
 * then calls next(); on a store outage answers 503 and never calls next().
 */
export function attach(
  http: SessionHttp,
  req: SessionRequest,
  res: ServerResponse,
  next: (err?: unknown) => void,
): void {
  const token = http.token(
    req.headers.cookie,
    http.header ? headerValue(req.headers[http.header]) : undefined,
  );
  const data = newRequestSession();
  const start = ({ session, release }: Opened) => {
    const state = new RequestState(
      http,
      session,
      req,
      () => isSecure(req, http.proxy),
      token !== undefined,
    );
    const requestSession = bindRequestSession(data, state);
    req.session = requestSession;
    req.sessionID = session.id;
    req.sessionStore = http.store;
    if (release) res.once('close', release);
    holdHeaders(
      res,
      () => beforeHeaders(http, state, requestSession, res),
      (err) => {
        const failure = http.failure(err, 'commit');
        answerError(res, failure.status, failure.body);
      },
    );
    next();
  };
  const opened = http.open(token, data, req);
  if (!(opened instanceof Promise)) return start(opened);
  opened.then(start, (err: unknown) => {
    const failure = http.failure(err, 'load');
    answerError(res, failure.status, failure.body);
  });
}

/** The commit, run at the first writeHead/write/end; a promise only when it must wait. */
function beforeHeaders(
  http: SessionHttp,
  state: RequestState,
  data: RequestSession,
  res: ServerResponse,
): Promise<void> | undefined {
  const { session, req } = state;
  if (req.session !== data && !session.destroyed) {
    // The app removed req.session: express-session's `unset` option decides.
    if (http.unset === 'destroy' && !session.isNew) return http.manager.destroy(session);
    return undefined;
  }
  const closing = http.close(session, state);
  const written = closing.delta ? http.commit(session, closing.delta) : undefined;
  if (!written) {
    sendToken(http, res, closing.header());
    return undefined;
  }
  return written.then(() => sendToken(http, res, closing.header()));
}

function sendToken(http: SessionHttp, res: ServerResponse, value: string | undefined): void {
  if (value === undefined) return;
  if (http.header) res.setHeader(http.header, value);
  else appendSetCookie(res, value);
}

function isSecure(req: SessionRequest, trustProxy: boolean | undefined): boolean {
  if ((req.socket as TLSSocket).encrypted) return true;
  if (trustProxy === false) return false;
  if (trustProxy === undefined) return req.secure === true; // Express's `trust proxy` decides
  const proto = headerValue(req.headers['x-forwarded-proto']);
  return proto !== undefined && proto.split(',')[0]!.trim().toLowerCase() === 'https';
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Wraps a node:http handler so that it gets `req.session`.
 * @throws {InvalidOptionError} for a bad option (at startup, not per request).
 * @example
 * import { createServer } from 'node:http';
 * import { withSession } from 'sessionmesh/node';
 * createServer(withSession({ secret: process.env.SESSION_SECRET! }, (req, res) => {
 *   req.session!.views = ((req.session!.views as number) ?? 0) + 1;
 *   res.end(`views: ${req.session!.views}`);
 * })).listen(3000);
 */
export function withSession(
  options: SessionOptions,
  handler: (req: SessionRequest, res: ServerResponse) => void | Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const http = new SessionHttp(options);
  return (req, res) => {
    attach(http, req, res, () => {
      Promise.resolve(handler(req, res)).catch((err: unknown) => {
        http.logger.error(
          { err: { code: 'handler', message: (err as Error)?.message } },
          'handler failed',
        );
        answerError(res, 500, 'Internal Server Error\n');
      });
    });
  };
}
