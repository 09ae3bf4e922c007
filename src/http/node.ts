// sessionmesh for plain node:http: `withSession(options, handler)` gives the handler
// `req.session`, and holds the response until the session is committed.
// The Express adapter uses the same attach() below.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  answerError,
  appendSetCookie,
  holdHeaders,
  pinHold,
  whenClosed,
  type HeaderHook,
} from './hold-headers.js';
import type { SessionOptions } from './options.js';
import { frameworkBase } from './framework-base.js';
import {
  bindRequestSession,
  newRequestSession,
  requestStateOf,
  RequestState,
  type RequestSession,
} from './request-session.js';
import type { Session } from '../session/session.js';
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
  const opened = http.open(token, data, req);
  // An in-process store answers synchronously: no closure, no promise on that path.
  if (!(opened instanceof Promise))
    return start(http, req, res, next, token !== undefined, data, opened);
  opened.then(
    (later) => start(http, req, res, next, token !== undefined, data, later),
    (err: unknown) => {
      const failure = http.failure(err, 'load');
      answerError(res, failure.status, failure.body);
    },
  );
}

function start(
  http: SessionHttp,
  req: SessionRequest,
  res: ServerResponse,
  next: (err?: unknown) => void,
  hadToken: boolean,
  data: Record<string, unknown>,
  { session, release }: Opened,
): void {
  const state = new NodeRequestState(http, session, req, hadToken, res);
  const requestSession = bindRequestSession(data, state);
  state.data = requestSession;
  req.session = requestSession;
  if (!aliasedOnBase(req)) {
    req.sessionID = session.id;
    req.sessionStore = http.store;
  }
  if (release) whenClosed(res, release);
  holdHeaders(res, state, requestSession);
  // The app may delete req.session, and this hook must still destroy the stored session.
  if (http.unset === 'destroy') pinHold(requestSession);
  next();
}

const aliasedBases = new WeakSet<object>();

/**
 * express-session's req.sessionID ("an alias of req.session.id") and req.sessionStore, as
 * accessors on the framework's base request when there is one (framework-base.ts): under
 * Express two fewer properties added per request. An assignment (express-session in another
 * app of the process sets both) makes an own property, as it would without the accessors.
 */
function aliasedOnBase(req: SessionRequest): boolean {
  const base = frameworkBase(req);
  if (base === undefined) return false;
  if (aliasedBases.has(base)) return true;
  aliasedBases.add(base);
  const alias = (name: string, read: (state: RequestState) => unknown) =>
    Object.defineProperty(base, name, {
      get(this: SessionRequest) {
        const state = requestStateOf(this.session);
        return state && read(state);
      },
      set(this: SessionRequest, value: unknown) {
        Object.defineProperty(this, name, {
          value,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      },
      enumerable: false,
      configurable: true,
    });
  alias('sessionID', (state) => state.session.id);
  alias('sessionStore', (state) => state.http.store);
  return true;
}

/** A node:http request's session state; it is also the hook that commits before the headers. */
class NodeRequestState extends RequestState implements HeaderHook {
  declare readonly req: SessionRequest;
  readonly res: ServerResponse;
  /** The req.session this request started with (the app may remove or replace it). */
  data: RequestSession | undefined;

  constructor(
    http: SessionHttp,
    session: Session,
    req: SessionRequest,
    hadToken: boolean,
    res: ServerResponse,
  ) {
    super(http, session, req, hadToken);
    this.res = res;
    this.data = undefined;
  }

  protected isSecure(): boolean {
    return isSecure(this.req, this.http.proxy);
  }

  /** The commit, run at the first writeHead/write/end; a promise only when it must wait. */
  beforeHeaders(): Promise<void> | undefined {
    const { http, session, req, res } = this;
    if (req.session !== this.data && !session.destroyed) {
      // The app removed req.session: express-session's `unset` option decides.
      if (http.unset === 'destroy' && !session.isNew) return http.manager.destroy(session);
      return undefined;
    }
    const closing = http.close(session, this);
    const written = closing.delta ? http.commit(session, closing.delta) : undefined;
    if (!written) {
      sendToken(http, res, closing.header());
      return undefined;
    }
    return written.then(() => sendToken(http, res, closing.header()));
  }

  failed(err: unknown): void {
    const failure = this.http.failure(err, 'commit');
    answerError(this.res, failure.status, failure.body);
  }
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
