// The options every adapter takes: express-session's (secret, name, cookie, rolling, resave,
// saveUninitialized, genid, proxy, unset, store) plus sessionmesh's own.

import type { CookieOptions } from '../session/cookie.js';
import type { SessionManagerOptions } from '../session/manager.js';
import type { Secrets } from '../session/signature.js';
import type { SessionStore } from '../store/store.js';

/** A pino-compatible logger; only error and warn are used. */
export interface Logger {
  error(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
}

export interface SessionOptions extends Pick<
  SessionManagerOptions,
  'idleTimeoutMs' | 'absoluteTimeoutMs' | 'touchFraction' | 'maxSessionBytes' | 'route'
> {
  /** One secret or a list (first signs, all verify). At least 32 characters each. Required. */
  secret: Secrets;
  /** Where sessions live. Default: a new MemoryStore (one process only). */
  store?: SessionStore;
  /** Cookie name. Default 'sid'. */
  name?: string;
  /** Cookie attributes. Defaults: path '/', HttpOnly, SameSite=Lax, not Secure, no Max-Age (browser session). */
  cookie?: CookieOptions;
  /** Send the cookie on every response, restarting its Max-Age. Default false. */
  rolling?: boolean;
  /** Write (touch) an unmodified session on every request. Default false: touches are lazy. */
  resave?: boolean;
  /** Store and send a cookie for a new session nothing was written to. Default false. */
  saveUninitialized?: boolean;
  /** Generates a session id; given the request. Must return 22–128 base64url characters. */
  genid?: (req: unknown) => string;
  /** Trust X-Forwarded-Proto for `cookie.secure: 'auto'`. Default: Express's `trust proxy` setting, else false. */
  proxy?: boolean;
  /** What `delete req.session` / `req.session = null` does: 'keep' the stored session, or 'destroy' it. Default 'keep'. */
  unset?: 'keep' | 'destroy';
  /** Read and send the session token in this header instead of a cookie (API and mobile clients), e.g. 'x-session-id'. */
  header?: string;
  /**
   * 'node': serialize the requests of one session on this node; 'cluster': across the cluster,
   * with a store that has a lock (ClusterStore). Default 'none'.
   */
  lock?: 'none' | 'node' | 'cluster';
  /** Where failed commits and store outages are reported. Default: a line on stderr. */
  logger?: Logger;
}

export const stderrLogger: Logger = {
  error: (obj, msg) => console.error(formatLine(obj, msg)),
  warn: (obj, msg) => console.warn(formatLine(obj, msg)),
};

function formatLine(obj: unknown, msg?: string): string {
  if (typeof obj === 'string') return `sessionmesh: ${obj}`;
  const err = (obj as { err?: { code?: string; message?: string } }).err;
  return `sessionmesh: ${msg ?? ''}${err ? ` (${err.code ?? 'error'}: ${err.message})` : ''}`;
}
