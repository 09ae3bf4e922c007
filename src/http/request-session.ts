// The object adapters put on the request as `req.session`: express-session's API (attributes
// as properties; id, cookie, regenerate, destroy, reload, save, touch) with promise forms
// beside the callback forms, plus @fastify/session's get/set. Attributes are the object's own
// enumerable properties; everything else lives on the prototype or behind a symbol.

import type { Session } from '../session/session.js';
import { pinHold } from './hold-headers.js';
import type { SessionHttp } from './session-http.js';

export const STATE = Symbol('sessionmesh.request');

/**
 * What a request's session object knows of its request. Each adapter extends it with how its
 * framework tells HTTPS (one object per request, no closure).
 */
export abstract class RequestState {
  readonly http: SessionHttp;
  readonly session: Session;
  readonly req: { session?: unknown };
  readonly hadToken: boolean;
  #secure: boolean | undefined;
  /** Set by touch() and save(): write even if nothing changed. */
  touched = false;
  #cookie: SessionCookie | undefined;

  constructor(http: SessionHttp, session: Session, req: { session?: unknown }, hadToken: boolean) {
    this.http = http;
    this.session = session;
    this.req = req;
    this.hadToken = hadToken;
  }

  /** Whether the request came over HTTPS (directly, or through a trusted proxy). */
  protected abstract isSecure(): boolean;

  /** Whether the request came over HTTPS; asked only when a cookie is written (it can cost). */
  get secure(): boolean {
    return (this.#secure ??= this.isSecure());
  }

  get cookie(): SessionCookie {
    return (this.#cookie ??= new SessionCookie(this));
  }
}

type Callback = (err?: unknown) => void;

/** Runs `work`; with a callback, reports to it and returns `self`; without, returns the promise. */
function settle(
  self: RequestSession,
  work: Promise<void>,
  callback: Callback | undefined,
): RequestSession | Promise<void> {
  if (!callback) return work;
  work.then(() => callback(), callback);
  return self;
}

/** The shape of `req.session`. Attributes are any other property. */
export interface RequestSession {
  [key: string]: unknown;
  readonly id: string;
  /** @fastify/session's name for the id. */
  readonly sessionId: string;
  readonly cookie: SessionCookie;
  /** New id, empty session; the old id is destroyed at once (call it at sign-in). */
  regenerate(): Promise<void>;
  regenerate(callback: Callback): RequestSession;
  /** Destroys the session in the store; the cookie is cleared. */
  destroy(): Promise<void>;
  destroy(callback: Callback): RequestSession;
  /** Re-reads the session from the store. */
  reload(): Promise<void>;
  reload(callback: Callback): RequestSession;
  /** Writes the session now (it is written before the response anyway). */
  save(): Promise<void>;
  save(callback: Callback): RequestSession;
  /** Marks the session used: it is touched in the store at the end of the request. */
  touch(): RequestSession;
  resetMaxAge(): RequestSession;
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  /** The signed-in user, for "every session of a user" (revokePrincipal). */
  setPrincipal(principal: string | null): void;
}

const proto = {
  get id(): string {
    return state(this).session.id;
  },
  get sessionId(): string {
    return state(this).session.id;
  },
  get cookie(): SessionCookie {
    return state(this).cookie;
  },
  regenerate(this: RequestSession, callback?: Callback) {
    const s = state(this);
    const work = s.http.manager.regenerate(s.session, false, s.http.genid?.(s.req));
    return settle(
      this,
      work.then(() => syncSessionId(s)),
      callback,
    );
  },
  destroy(this: RequestSession, callback?: Callback) {
    const s = state(this);
    const work = s.http.manager.destroy(s.session).then(() => {
      if (s.req.session !== this) return;
      // The commit before the headers clears the cookie: it must still find its hold.
      pinHold(this);
      delete s.req.session;
    });
    return settle(this, work, callback);
  },
  reload(this: RequestSession, callback?: Callback) {
    const s = state(this);
    const work = s.http.manager.reload(s.session).then((found) => {
      if (!found)
        throw Object.assign(new Error('failed to load session'), { code: 'SM_ERR_SESSION_GONE' });
    });
    return settle(this, work, callback);
  },
  save(this: RequestSession, callback?: Callback) {
    const s = state(this);
    const work = s.http.manager
      .commit(s.session, { saveNew: true, touch: true })
      .then(() => undefined);
    return settle(this, work, callback);
  },
  touch(this: RequestSession) {
    state(this).touched = true;
    return this;
  },
  resetMaxAge(this: RequestSession) {
    state(this).touched = true;
    return this;
  },
  get(this: RequestSession, key: string) {
    return Object.hasOwn(this, key) ? this[key] : undefined;
  },
  set(this: RequestSession, key: string, value: unknown) {
    this[key] = value;
  },
  setPrincipal(this: RequestSession, principal: string | null) {
    state(this).session.setPrincipal(principal);
  },
};

function state(self: object): RequestState {
  return (self as { [STATE]: RequestState })[STATE];
}

function syncSessionId(s: RequestState): void {
  // Under Express req.sessionID may be an accessor that reads the session's id (node.ts).
  if (Object.hasOwn(s.req, 'sessionID')) (s.req as { sessionID?: string }).sessionID = s.session.id;
}

/** An empty session object; attributes are copied onto it when its session loads. */
export function newRequestSession(): Record<string, unknown> {
  return Object.create(proto) as Record<string, unknown>;
}

export function bindRequestSession(
  data: Record<string, unknown>,
  requestState: RequestState,
): RequestSession {
  // A symbol key: Object.keys, for…in and JSON.stringify skip it, so it is never an attribute.
  (data as { [STATE]: RequestState })[STATE] = requestState;
  return data as RequestSession;
}

export function requestStateOf(data: unknown): RequestState | undefined {
  return data !== null && typeof data === 'object'
    ? (data as { [STATE]?: RequestState })[STATE]
    : undefined;
}

/** express-session's `req.session.cookie`: the cookie's attributes and its lifetime. */
export class SessionCookie {
  readonly #state: RequestState;
  constructor(requestState: RequestState) {
    this.#state = requestState;
  }
  /** Lifetime of a persistent cookie in ms, or null for a browser-session cookie. */
  get originalMaxAge(): number | null {
    return this.#persistent ? this.#state.session.idleTimeoutMs : null;
  }
  /** Remaining ms until the session's idle expiry (null for a browser-session cookie). */
  get maxAge(): number | null {
    return this.#persistent ? Math.max(0, this.#state.session.expiresAt - Date.now()) : null;
  }
  /** Sets this session's lifetime (e.g. "remember me"): its idle timeout and cookie Max-Age. */
  set maxAge(ms: number | null) {
    const { http, session } = this.#state;
    http.manager.setIdleTimeout(session, ms === null ? http.manager.idleTimeoutMs : ms);
  }
  get expires(): Date | null {
    return this.#persistent ? new Date(this.#state.session.expiresAt) : null;
  }
  set expires(date: Date | null) {
    this.maxAge = date === null ? null : Math.max(1, date.getTime() - Date.now());
  }
  get path(): string {
    return this.#state.http.cookie.path;
  }
  get domain(): string | undefined {
    return this.#state.http.cookie.domain;
  }
  get httpOnly(): boolean {
    return this.#state.http.cookie.httpOnly;
  }
  get secure(): boolean | 'auto' {
    return this.#state.http.cookie.secure;
  }
  get sameSite(): string | false {
    return this.#state.http.cookie.sameSite;
  }
  toJSON(): Record<string, unknown> {
    return {
      originalMaxAge: this.originalMaxAge,
      expires: this.expires,
      path: this.path,
      httpOnly: this.httpOnly,
    };
  }
  get #persistent(): boolean {
    return this.#state.http.isPersistent(this.#state.session);
  }
}
