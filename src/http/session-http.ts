// The request lifecycle every adapter shares, independent of the framework: find the token,
// load or create the session, and at the end decide what to write and which cookie to send.
// Adapters only move headers in and out of their framework.

import {
  resolveCookieOptions,
  readCookie,
  serializeCookie,
  type ResolvedCookieOptions,
} from '../session/cookie.js';
import { ABSOLUTE_TIMEOUT_MS, COOKIE_NAME } from '../defaults.js';
import { InvalidOptionError, SessionMeshError, StoreUnavailableError } from '../errors.js';
import { SessionManager } from '../session/manager.js';
import type { Session } from '../session/session.js';
import type { SessionRef } from '../session/id.js';
import type { LiveRecord, SessionRecord } from '../session/record.js';
import { MemoryStore } from '../store/memory-store.js';
import type { SessionStore } from '../store/store.js';
import { endOfTurn } from './end-of-turn.js';
import { stderrLogger, type Logger, type SessionOptions } from './options.js';

/** What the end of a request writes: a delta for the store, then response headers. */
export interface Closing {
  /** The delta to write before headers leave; undefined when nothing needs writing. */
  readonly delta: SessionRecord | undefined;
  /** Computes the Set-Cookie (or token header) value once the delta is written; undefined: none. */
  readonly header: () => string | undefined;
}

/** What the end of a request needs to know of it (RequestState is one). */
export interface RequestFacts {
  /** Whether the request came over HTTPS; read only when a cookie is written. */
  readonly secure: boolean;
  /** Whether the client presented a token (a destroyed session's cookie is then cleared). */
  readonly hadToken: boolean;
  /** Write even if nothing changed (touch(), save(), resave). */
  readonly touched: boolean;
}

export interface Opened {
  readonly session: Session;
  /** Releases the per-session lock (`lock: 'node'` or `'cluster'`) once the response is done. */
  readonly release: (() => void) | undefined;
}

export class SessionHttp {
  readonly manager: SessionManager;
  readonly store: SessionStore;
  readonly cookie: ResolvedCookieOptions;
  /** Lower-case header name when tokens travel in a header instead of a cookie. */
  readonly header: string | undefined;
  readonly rolling: boolean;
  readonly resave: boolean;
  readonly saveUninitialized: boolean;
  readonly unset: 'keep' | 'destroy';
  readonly proxy: boolean | undefined;
  /** Whether requests of one session are serialized (`lock: 'node'` or `'cluster'`). */
  readonly lock: boolean;
  readonly #acquire: (id: string) => Promise<() => void>;
  readonly logger: Logger;
  readonly genid: ((req: unknown) => string) | undefined;

  /** @throws {InvalidOptionError} naming the option and what it accepts. */
  constructor(options: SessionOptions) {
    if (!options || typeof options !== 'object')
      throw new InvalidOptionError('options', 'an object', options);
    this.cookie = resolveCookieOptions(options.name ?? COOKIE_NAME, options.cookie);
    this.store = options.store ?? new MemoryStore();
    const idleTimeoutMs = options.idleTimeoutMs ?? this.cookie.maxAge;
    this.manager = new SessionManager({
      store: this.store,
      secret: options.secret,
      ...(idleTimeoutMs !== undefined && { idleTimeoutMs }),
      ...(options.absoluteTimeoutMs !== undefined && {
        absoluteTimeoutMs: options.absoluteTimeoutMs,
      }),
      ...(options.absoluteTimeoutMs === undefined &&
        idleTimeoutMs !== undefined &&
        idleTimeoutMs > ABSOLUTE_TIMEOUT_MS && { absoluteTimeoutMs: idleTimeoutMs }),
      ...(options.touchFraction !== undefined && { touchFraction: options.touchFraction }),
      ...(options.maxSessionBytes !== undefined && { maxSessionBytes: options.maxSessionBytes }),
      ...(options.route !== undefined && { route: options.route }),
    });
    if (options.header !== undefined && !/^[A-Za-z0-9-]{1,64}$/.test(options.header)) {
      throw new InvalidOptionError(
        'header',
        'an HTTP header name such as "x-session-id"',
        options.header,
      );
    }
    this.header = options.header?.toLowerCase();
    this.rolling = options.rolling ?? false;
    this.resave = options.resave ?? false;
    this.saveUninitialized = options.saveUninitialized ?? false;
    const unset = options.unset ?? 'keep';
    if (unset !== 'keep' && unset !== 'destroy')
      throw new InvalidOptionError('unset', "'keep' or 'destroy'", unset);
    this.unset = unset;
    this.proxy = options.proxy;
    const lock = options.lock ?? 'none';
    if (lock !== 'none' && lock !== 'node' && lock !== 'cluster')
      throw new InvalidOptionError('lock', "'none', 'node' or 'cluster'", lock);
    const { store } = this;
    if (lock === 'cluster' && typeof store.lock !== 'function') {
      throw new InvalidOptionError(
        'lock',
        "'none' or 'node' with this store ('cluster' needs a store with a lock, such as ClusterStore)",
        lock,
      );
    }
    this.lock = lock !== 'none';
    this.#acquire = lock === 'cluster' ? (id) => store.lock!(id) : (id) => this.manager.lock(id);
    this.logger = options.logger ?? stderrLogger;
    this.genid = options.genid;
  }

  /** The token the client presented, from the cookie or the configured header. */
  token(cookieHeader: string | undefined, tokenHeader: string | undefined): string | undefined {
    return this.header ? tokenHeader : readCookie(cookieHeader, this.cookie.name);
  }

  /**
   * The session of this request, loaded or new; attributes are copied onto `data`.
   * @throws {StoreUnavailableError} when the store cannot answer (adapters answer 503).
   */
  open(
    token: string | undefined,
    data: Record<string, unknown>,
    req: unknown,
  ): Opened | Promise<Opened> {
    const ref = this.manager.parseToken(token);
    if (!ref) return this.#fresh(data, req);
    const { store } = this;
    if (!this.lock && store.readSync) {
      // An in-process store, or a near cache that holds the session, answers at once: no
      // promise, no microtask on the hot path. null: only the server can tell.
      let record: LiveRecord | undefined | null;
      try {
        record = store.readSync(ref.id);
      } catch (err) {
        return Promise.reject(asUnavailable(err));
      }
      if (record !== null) {
        const session = this.manager.fromRecord(ref, record, data);
        return session ? { session, release: undefined } : this.#fresh(data, req);
      }
    }
    return this.#openAsync(ref, data, req);
  }

  /**
   * Writes a delta made by close(); resolves once the response may carry its acknowledgement.
   * An in-process store writes at once, and the response waits for the end of the event-loop
   * turn (end-of-turn.ts); a remote store resolves when it acknowledged. Undefined: the
   * response may go now.
   */
  commit(session: Session, delta: SessionRecord): Promise<void> | undefined {
    const { store } = this;
    if (store.mergeSync) {
      store.mergeSync(session.id, delta);
      this.manager.applied(session, delta);
      // A locked session passes to its next request when this response closes: waiting for the
      // end of the turn would pass it on once per turn (lock: 'node' lost 15% that way).
      return this.lock ? undefined : endOfTurn();
    }
    return this.manager.apply(session, delta);
  }

  async #openAsync(ref: SessionRef, data: Record<string, unknown>, req: unknown): Promise<Opened> {
    const release = this.lock ? await this.#acquire(ref.id) : undefined;
    let session: Session | undefined;
    try {
      session = await this.manager.load(ref, data);
    } catch (err) {
      release?.();
      throw asUnavailable(err);
    }
    if (session) return { session, release };
    release?.();
    return this.#fresh(data, req);
  }

  #fresh(data: Record<string, unknown>, req: unknown): Opened {
    return { session: this.manager.create(data, this.genid?.(req)), release: undefined };
  }

  /**
   * What to do before the response's headers leave.
   * @throws {SessionTooLargeError} | {SessionValueError} when the session cannot be written.
   */
  close(session: Session, request: RequestFacts): Closing {
    if (session.destroyed) {
      return {
        delta: undefined,
        header: () =>
          request.hadToken && !this.header ? this.#clearCookie(request.secure) : undefined,
      };
    }
    const wasNew = session.isNew;
    const delta = this.manager.delta(session, {
      saveNew: this.saveUninitialized,
      touch: this.resave || request.touched,
    });
    const modified =
      delta !== undefined && (delta.attrs !== undefined || delta.principal !== undefined);
    const send = wasNew
      ? delta !== undefined
      : this.rolling ||
        this.manager.isRerouted(session) ||
        (modified && this.isPersistent(session)) ||
        session.idleChanged;
    return {
      delta,
      header: () => (send ? this.#tokenHeader(session, request.secure) : undefined),
    };
  }

  /** Logs a failed commit and says which status answers it. */
  failure(err: unknown, phase: 'load' | 'commit'): { status: number; body: string } {
    const unavailable = err instanceof StoreUnavailableError || !(err instanceof SessionMeshError);
    const status = phase === 'load' || unavailable ? 503 : 500;
    const code = err instanceof SessionMeshError ? err.code : 'SM_ERR_STORE_UNAVAILABLE';
    this.logger.error(
      { err: { code, message: (err as Error)?.message } },
      `session ${phase} failed, answered ${status}`,
    );
    return {
      status,
      body:
        status === 503
          ? 'Service Unavailable: the session store did not answer\n'
          : `Internal Server Error: the session could not be saved (${code})\n`,
    };
  }

  /** Whether the session's cookie carries a Max-Age (configured, or set per session). */
  isPersistent(session: Session): boolean {
    return this.cookie.maxAge !== undefined || session.idleTimeoutMs !== this.manager.idleTimeoutMs;
  }

  #tokenHeader(session: Session, secure: boolean): string | undefined {
    const token = this.manager.token(session);
    if (this.header) return token;
    // As express-session: a Secure cookie is not sent over plain HTTP (the browser would drop it).
    if (this.cookie.secure === true && !secure) return undefined;
    // Max-Age never promises more than the absolute timeout allows.
    const maxAge = this.isPersistent(session)
      ? Math.min(
          session.idleTimeoutMs,
          session.absoluteExpiresAt > 0 ? session.absoluteExpiresAt - Date.now() : Infinity,
        )
      : undefined;
    return serializeCookie(this.cookie, token, { secureRequest: secure, maxAge: maxAge ?? null });
  }

  #clearCookie(secure: boolean): string {
    return serializeCookie(this.cookie, '', { secureRequest: secure, clear: true });
  }
}

function asUnavailable(err: unknown): unknown {
  if (err instanceof SessionMeshError) return err;
  return new StoreUnavailableError('the session store failed to answer', { cause: err });
}
