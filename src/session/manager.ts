// The SessionManager: the life of a session from cookie token to store and back. Adapters call
// it; it knows no HTTP. It turns a request's changes into one delta (only the attributes that
// changed), so concurrent requests that change different attributes both persist.

import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  ABSOLUTE_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  MAX_COOKIE_VALUE_CHARS,
  MAX_SESSION_BYTES,
  TOUCH_FRACTION,
} from '../defaults.js';
import { InvalidOptionError, SessionTooLargeError, SessionValueError } from '../errors.js';
import type { SessionBackend } from './backend.js';
import { HybridClock } from './hlc.js';
import { formatRef, generateId, isValidId, isValidRoute, parseRef, type SessionRef } from './id.js';
import { KeyedMutex } from './lock.js';
import { setOwn, type AttributeEntry, type LiveRecord, type SessionRecord } from './record.js';
import { fillData, Session } from './session.js';
import { Signer, type Secrets } from './signature.js';
import { positive, nonNegative } from '../options.js';

export interface SessionManagerOptions {
  store: SessionBackend;
  /** One secret or a list: the first signs, all verify (rotation). At least 32 characters each. */
  secret: Secrets;
  /** Sliding idle timeout, ms. Default 30 min. */
  idleTimeoutMs?: number;
  /** Absolute lifetime from creation, ms; 0 for none. Default 24 h. */
  absoluteTimeoutMs?: number;
  /** A session only read is touched at most once per this fraction of its idle timeout. Default 0.1. */
  touchFraction?: number;
  /** Largest session, in bytes of JSON (keys and values). Default 256 KiB. */
  maxSessionBytes?: number;
  /** This node's route, added to the cookie (`<id>.<route>`) for sticky proxies; none by default. */
  route?: string;
  /** Generates ids; the default draws 192 bits from the CSPRNG. Must return 22–128 base64url characters. */
  genid?: () => string;
  /** The clock, for tests. */
  now?: () => number;
}

export interface DeltaOptions {
  /** Write a new session even when nothing was set in it (express-session's saveUninitialized). Default true. */
  saveNew?: boolean;
  /** Write a touch even when one is not due yet (express-session's resave, or an explicit save()). */
  touch?: boolean;
}

export interface SessionManagerEvents {
  created: [id: string];
  changed: [id: string, keys: string[]];
  destroyed: [id: string];
  expired: [id: string];
}

/** Why a presented token was refused; each is counted in `stats.rejected`. */
export type RejectReason = 'oversized' | 'signature' | 'format';

export interface SessionManagerStats {
  created: number;
  loaded: number;
  commits: number;
  touches: number;
  destroyed: number;
  /** Tokens that failed: each counts as "no session". */
  rejected: Record<RejectReason, number>;
  /** Validly signed tokens whose session is gone (expired, destroyed, never issued here). */
  unknown: number;
}

export class SessionManager extends EventEmitter<SessionManagerEvents> {
  readonly store: SessionBackend;
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  readonly maxSessionBytes: number;
  readonly stats: SessionManagerStats = {
    created: 0,
    loaded: 0,
    commits: 0,
    touches: 0,
    destroyed: 0,
    rejected: { oversized: 0, signature: 0, format: 0 },
    unknown: 0,
  };
  readonly #signer: Signer;
  readonly #clock: HybridClock;
  readonly #touchAfterMs: number;
  readonly #route: string | undefined;
  readonly #genid: () => string;
  readonly #now: () => number;
  readonly #locks = new KeyedMutex();
  readonly #verified = new Map<string, SessionRef>();
  readonly #onExpired = (id: string) => this.emit('expired', id);

  /** @throws {InvalidOptionError} naming the option and what it accepts. */
  constructor(options: SessionManagerOptions) {
    super();
    if (!options || typeof options.store?.merge !== 'function') {
      throw new InvalidOptionError(
        'store',
        'a SessionStore (e.g. new MemoryStore())',
        options?.store,
      );
    }
    this.store = options.store;
    this.#signer = new Signer(options.secret);
    this.idleTimeoutMs = positive('idleTimeoutMs', options.idleTimeoutMs ?? IDLE_TIMEOUT_MS);
    this.absoluteTimeoutMs = nonNegative(
      'absoluteTimeoutMs',
      options.absoluteTimeoutMs ?? ABSOLUTE_TIMEOUT_MS,
    );
    this.maxSessionBytes = positive(
      'maxSessionBytes',
      options.maxSessionBytes ?? MAX_SESSION_BYTES,
    );
    const fraction = options.touchFraction ?? TOUCH_FRACTION;
    if (!(fraction >= 0 && fraction <= 1))
      throw new InvalidOptionError('touchFraction', 'a number from 0 to 1', fraction);
    this.#touchAfterMs = this.idleTimeoutMs * fraction;
    if (options.route !== undefined && !isValidRoute(options.route)) {
      throw new InvalidOptionError('route', '1 to 64 characters of [A-Za-z0-9_-]', options.route);
    }
    this.#route = options.route;
    if (options.genid !== undefined && typeof options.genid !== 'function') {
      throw new InvalidOptionError('genid', 'a function returning an id', options.genid);
    }
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new InvalidOptionError('now', 'a function returning ms since the epoch', options.now);
    }
    this.#genid = options.genid ?? generateId;
    this.#now = options.now ?? Date.now;
    this.#clock = new HybridClock(options.route ?? randomBytes(6).toString('base64url'), this.#now);
    this.store.on('expired', this.#onExpired);
  }

  // --- tokens: what the cookie (or header) carries ---

  /** The session reference inside a presented token, or undefined (counted) when it is not valid. */
  parseToken(token: string | undefined): SessionRef | undefined {
    if (token === undefined || token === '') return undefined;
    const known = this.#verified.get(token);
    if (known !== undefined) return known;
    if (token.length > MAX_COOKIE_VALUE_CHARS) return this.#reject('oversized');
    const value = this.#signer.unsign(token);
    if (value === undefined) return this.#reject('signature');
    const ref = parseRef(value);
    if (ref === undefined) return this.#reject('format');
    // An HMAC costs microseconds, most of a request's session work: remember tokens that
    // verified (the exact string, so nothing unverified can hit), a bounded number of them.
    if (this.#verified.size >= VERIFIED_TOKENS)
      this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, ref);
    return ref;
  }

  /** The signed token for a session: `<id>[.<route>…].<mac>`. */
  token(session: Session): string {
    return this.#signer.sign(formatRef({ id: session.id, routes: this.routesOf(session.id) }));
  }

  /** The routes a cookie for this session should carry now. */
  routesOf(id: string): readonly string[] {
    if (this.store.routesOf) return this.store.routesOf(id);
    return this.#route === undefined ? [] : [this.#route];
  }

  /** Whether the client's cookie must be re-issued because the session's routes moved. */
  isRerouted(session: Session): boolean {
    const now = this.routesOf(session.id);
    const had = session.cookieRoutes;
    return now.length !== had.length || now.some((route, i) => route !== had[i]);
  }

  // --- the session's life ---

  /** A new session; nothing is written until commit(). */
  create(data: Record<string, unknown> = {}, id?: string): Session {
    const now = this.#now();
    this.stats.created++;
    return new Session({
      id: this.#newId(id),
      cookieRoutes: [],
      isNew: true,
      data,
      createdAt: now,
      accessedAt: now,
      idleTimeoutMs: this.idleTimeoutMs,
      idleSetAt: this.#clock.tick(),
      absoluteExpiresAt: this.absoluteTimeoutMs > 0 ? now + this.absoluteTimeoutMs : 0,
      principal: null,
      snapshot: new Map(),
    });
  }

  /**
   * The live session `ref` names, with its attributes copied onto `data`; undefined when it is
   * gone (the caller then creates a new one with a new id: ids are never adopted from clients).
   * @throws {StoreUnavailableError} when the store cannot answer.
   */
  async load(ref: SessionRef, data: Record<string, unknown> = {}): Promise<Session | undefined> {
    return this.fromRecord(ref, await this.store.get(ref.id), data);
  }

  /**
   * The session of a record read from the store (load() without the read), for callers that
   * read synchronously from an in-process store.
   */
  fromRecord(
    ref: SessionRef,
    record: LiveRecord | undefined,
    data: Record<string, unknown> = {},
  ): Session | undefined {
    const now = this.#now();
    if (
      !record ||
      expires(record.accessedAt, record.idle.v, record.absoluteExpiresAt ?? 0) <= now
    ) {
      this.stats.unknown++;
      return undefined;
    }
    this.stats.loaded++;
    // Every write of this request must sort after every write it read, even when the node
    // that made them has a clock ahead of ours: observe the latest stamp, not just one.
    this.#clock.observe(latestStamp(record));
    return new Session({
      id: ref.id,
      cookieRoutes: ref.routes,
      isNew: false,
      data,
      createdAt: record.createdAt,
      accessedAt: record.accessedAt,
      idleTimeoutMs: record.idle.v,
      idleSetAt: record.idle.t,
      absoluteExpiresAt: record.absoluteExpiresAt ?? 0,
      principal: record.principal?.v ?? null,
      snapshot: fillData(record, data),
    });
  }

  /** Re-reads the session from the store, replacing `data`'s attributes. False when it is gone. */
  async reload(session: Session): Promise<boolean> {
    const fresh = await this.load({ id: session.id, routes: session.cookieRoutes });
    if (!fresh) return false;
    for (const key of Object.keys(session.data)) delete session.data[key];
    Object.assign(session.data, fresh.data);
    session.snapshot = fresh.snapshot;
    session.accessedAt = fresh.accessedAt;
    session.idleTimeoutMs = fresh.idleTimeoutMs;
    session.idleSetAt = fresh.idleSetAt;
    session.principal = fresh.principal;
    session.principalChanged = false;
    return true;
  }

  /** Changes this session's idle timeout (e.g. "remember me"); written at the next commit. */
  setIdleTimeout(session: Session, ms: number): void {
    positive('idleTimeoutMs', ms);
    if (ms === session.idleTimeoutMs) return;
    session.idleTimeoutMs = ms;
    session.idleSetAt = this.#clock.tick();
    session.idleChanged = true;
  }

  /**
   * The delta this session's changes make, or undefined when there is nothing to write.
   * Synchronous, so an adapter can let a response through at once when nothing changed.
   * @throws {SessionTooLargeError} when the session exceeds maxSessionBytes.
   * @throws {SessionValueError} when an attribute cannot be serialized.
   */
  delta(session: Session, options: DeltaOptions = {}): SessionRecord | undefined {
    if (session.destroyed) return undefined;
    const attrs = this.#changedAttributes(session);
    const principal = session.principalChanged || (session.isNew && session.principal !== null);
    if (session.isNew && !attrs && !principal && !session.idleChanged && options.saveNew === false)
      return undefined;
    const touch = options.touch === true || this.#touchDue(session);
    if (!attrs && !principal && !session.isNew && !touch && !session.idleChanged) return undefined;
    const delta: SessionRecord = {
      accessedAt: this.#now(),
      idle: { v: session.idleTimeoutMs, t: session.idleSetAt },
      absoluteExpiresAt: session.absoluteExpiresAt,
    };
    // Only a new session's first write is a complete record. A later delta that reaches a store
    // where the session is gone (expired, evicted, its tombstone dropped) must not bring it back
    // with nothing but this request's attributes: without createdAt it stays incomplete, and an
    // incomplete record is never alive (record.ts isAlive).
    if (session.isNew) delta.createdAt = session.createdAt;
    if (attrs) delta.attrs = attrs;
    if (principal) delta.principal = { v: session.principal, t: this.#clock.tick() };
    return delta;
  }

  /**
   * Writes a delta made by delta() and waits for the store's acknowledgement.
   * @throws {StoreUnavailableError} when the store did not acknowledge.
   */
  async apply(session: Session, delta: SessionRecord): Promise<void> {
    await this.store.merge(session.id, delta);
    this.applied(session, delta);
  }

  /** Records that the store acknowledged `delta` (apply() without the write). */
  applied(session: Session, delta: SessionRecord): void {
    const wasNew = session.isNew;
    session.isNew = false;
    session.principalChanged = false;
    session.idleChanged = false;
    session.accessedAt = delta.accessedAt ?? session.accessedAt;
    const attrs = delta.attrs;
    if (attrs) {
      for (const key in attrs) {
        const j = attrs[key]!.j;
        if (j === undefined) session.snapshot.delete(key);
        else session.snapshot.set(key, j);
      }
    }
    this.stats.commits++;
    if (!attrs && !wasNew) this.stats.touches++;
    if (wasNew) this.emit('created', session.id);
    // The key list is built only for a listener: this runs on every request.
    if (attrs && this.listenerCount('changed') > 0)
      this.emit('changed', session.id, Object.keys(attrs));
  }

  /**
   * delta() then apply(): writes what changed. Resolves to false when nothing needed writing.
   * @throws {SessionTooLargeError} | {SessionValueError} | {StoreUnavailableError}
   */
  async commit(session: Session, options: DeltaOptions = {}): Promise<boolean> {
    const delta = this.delta(session, options);
    if (!delta) return false;
    await this.apply(session, delta);
    return true;
  }

  /**
   * Gives the session a new id (fixation defense: call it at sign-in) and destroys the old one
   * in the store. With `keepData` the attributes move to the new id at the next commit;
   * otherwise the session starts empty, as express-session's regenerate() does.
   */
  async regenerate(session: Session, keepData = true, id?: string): Promise<void> {
    const oldId = session.id;
    if (!session.isNew) await this.#destroyInStore(session);
    const now = this.#now();
    session.id = this.#newId(id);
    session.isNew = true;
    session.destroyed = false;
    session.previousId = oldId;
    session.snapshot = new Map();
    session.createdAt = now;
    session.accessedAt = now;
    session.absoluteExpiresAt = this.absoluteTimeoutMs > 0 ? now + this.absoluteTimeoutMs : 0;
    session.idleSetAt = this.#clock.tick();
    if (!keepData) {
      for (const key of Object.keys(session.data)) delete session.data[key];
      session.principal = null;
    }
    this.stats.created++;
  }

  /** Destroys the session in the store: its id never works again. */
  async destroy(session: Session): Promise<void> {
    if (!session.isNew) await this.#destroyInStore(session);
    session.destroyed = true;
  }

  /** Destroys every session of a principal ("sign out everywhere"); returns how many. */
  async revokePrincipal(principal: string): Promise<number> {
    const ids = await this.store.idsOfPrincipal(principal);
    await Promise.all(ids.map((id) => this.store.destroy(id)));
    this.stats.destroyed += ids.length;
    for (const id of ids) this.emit('destroyed', id);
    return ids.length;
  }

  /**
   * Serializes requests of one session on this node (`lock: 'node'`): resolves to a release
   * function once every earlier holder released.
   */
  lock(id: string): Promise<() => void> {
    return this.#locks.acquire(id);
  }

  /** Stops listening to the store; the store itself stays open (it may be shared). */
  close(): void {
    this.store.off('expired', this.#onExpired);
  }

  async #destroyInStore(session: Session): Promise<void> {
    await this.store.merge(session.id, {
      destroyed: this.#clock.tick(),
      createdAt: session.createdAt,
      accessedAt: this.#now(),
      idle: { v: session.idleTimeoutMs, t: session.idleSetAt },
      absoluteExpiresAt: session.absoluteExpiresAt,
    });
    this.stats.destroyed++;
    this.emit('destroyed', session.id);
  }

  /** The attributes whose JSON differs from the snapshot, with tombstones for removed ones. */
  #changedAttributes(session: Session): Record<string, AttributeEntry> | undefined {
    const { data, snapshot } = session;
    let attrs: Record<string, AttributeEntry> | undefined;
    let bytes = 0;
    let seen = 0;
    for (const key of Object.keys(data)) {
      let j: string | undefined;
      try {
        j = JSON.stringify(data[key]);
      } catch (cause) {
        throw new SessionValueError(key, cause);
      }
      if (j === undefined) continue; // undefined and functions are not stored, as in JSON
      bytes += key.length + j.length;
      const before = snapshot.get(key);
      if (before !== undefined) seen++;
      if (before !== j) setOwn((attrs ??= {}), key, { j, t: this.#clock.tick() });
    }
    if (bytes > this.maxSessionBytes) throw new SessionTooLargeError(bytes, this.maxSessionBytes);
    if (seen < snapshot.size) {
      // A loaded attribute that is gone or has no JSON any more (undefined, a function, a
      // symbol) is removed: a tombstone. JSON.stringify cannot throw here; it ran above.
      for (const key of snapshot.keys()) {
        if (!Object.hasOwn(data, key) || JSON.stringify(data[key]) === undefined) {
          setOwn((attrs ??= {}), key, { t: this.#clock.tick() });
        }
      }
    }
    return attrs;
  }

  #touchDue(session: Session): boolean {
    return !session.isNew && this.#now() - session.accessedAt >= this.#touchAfterMs;
  }

  #newId(given?: string): string {
    const id = given ?? this.store.generateId?.() ?? this.#genid();
    if (!isValidId(id))
      throw new InvalidOptionError('genid', 'a function returning 22-128 base64url characters', id);
    return id;
  }

  #reject(reason: RejectReason): undefined {
    this.stats.rejected[reason]++;
    return undefined;
  }
}

/** Verified tokens remembered; at ~200 bytes each, 10k cost about 2 MB. */
const VERIFIED_TOKENS = 10_000;

/** The highest HLC timestamp in a record. */
function latestStamp(record: LiveRecord): string {
  let latest = record.idle.t;
  if (record.principal && record.principal.t > latest) latest = record.principal.t;
  const attrs = record.attrs;
  if (attrs)
    for (const key of Object.keys(attrs)) if (attrs[key]!.t > latest) latest = attrs[key]!.t;
  return latest;
}

function expires(accessedAt: number, idleMs: number, absoluteExpiresAt: number): number {
  const idle = accessedAt + idleMs;
  return absoluteExpiresAt > 0 ? Math.min(idle, absoluteExpiresAt) : idle;
}

/**
 * A SessionManager over a store.
 * @example
 * const manager = createSessionManager({ store: new MemoryStore(), secret: process.env.SESSION_SECRET! });
 */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  return new SessionManager(options);
}
