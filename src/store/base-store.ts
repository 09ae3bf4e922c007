// The part every store shares: the promise API of SessionStore over four primitives, and the
// callback API of an express-session (connect) store over the same primitives, so any
// sessionmesh store can be handed to express-session unchanged.

import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { IDLE_TIMEOUT_MS } from '../defaults.js';
import { HybridClock } from '../session/hlc.js';
import type { AttributeEntry, LiveRecord, SessionRecord } from '../session/record.js';
import type { SessionStore, StoreEvents } from './store.js';

type Callback<T = void> = (err: unknown, value?: T) => void;

/** The JSON shape express-session keeps in a store: attributes plus `cookie`. */
export type ConnectSessionData = Record<string, unknown> & {
  cookie?: { originalMaxAge?: number | null };
};

export abstract class BaseStore extends EventEmitter<StoreEvents> implements SessionStore {
  /** Stamps the writes that arrive through the connect API, which carry no timestamps. */
  protected readonly clock = new HybridClock(`s${randomBytes(4).toString('base64url')}`);

  protected abstract readRecord(id: string): Promise<LiveRecord | undefined>;
  protected abstract mergeRecord(id: string, delta: SessionRecord): Promise<void>;
  protected abstract listIds(): Promise<string[]>;
  protected abstract listIdsOfPrincipal(principal: string): Promise<string[]>;
  abstract close(): Promise<void>;

  // --- SessionStore, with connect's callback forms of the same names ---

  get(id: string): Promise<LiveRecord | undefined>;
  get(id: string, callback: Callback<ConnectSessionData | null>): void;
  get(
    id: string,
    callback?: Callback<ConnectSessionData | null>,
  ): Promise<LiveRecord | undefined> | void {
    const read = this.readRecord(id);
    if (!callback) return read;
    read.then((record) => callback(null, record ? toConnect(record) : null), callback);
  }

  merge(id: string, delta: SessionRecord): Promise<void> {
    return this.mergeRecord(id, delta);
  }

  destroy(id: string): Promise<void>;
  destroy(id: string, callback: Callback): void;
  destroy(id: string, callback?: Callback): Promise<void> | void {
    const done = this.mergeRecord(id, { destroyed: this.clock.tick(), accessedAt: Date.now() });
    if (!callback) return done;
    done.then(() => callback(null), callback);
  }

  touch(id: string, at?: number): Promise<void>;
  touch(id: string, session: ConnectSessionData, callback: Callback): void;
  touch(
    id: string,
    atOrSession?: number | ConnectSessionData,
    callback?: Callback,
  ): Promise<void> | void {
    const at = typeof atOrSession === 'number' ? atOrSession : Date.now();
    const delta: SessionRecord = { accessedAt: at };
    if (typeof atOrSession === 'object' && atOrSession !== null) {
      const idle = idleOf(atOrSession);
      delta.idle = { v: idle, t: this.clock.tick() };
    }
    const done = this.mergeRecord(id, delta);
    if (!callback) return done;
    done.then(() => callback(null), callback);
  }

  idsOfPrincipal(principal: string): Promise<string[]> {
    return this.listIdsOfPrincipal(principal);
  }

  ids(): Promise<string[]> {
    return this.listIds();
  }

  // --- connect-only calls ---

  /**
   * express-session's `set`: a whole session. Written as a delta against the stored copy: only
   * attributes whose JSON changed get a new timestamp, and removed ones get a tombstone.
   */
  set(id: string, session: ConnectSessionData, callback?: Callback): void {
    this.readRecord(id)
      .then((existing) => this.mergeRecord(id, connectDelta(existing, session, this.clock)))
      .then(
        () => callback?.(null),
        (err: unknown) => callback?.(err),
      );
  }

  all(callback: Callback<Record<string, ConnectSessionData>>): void {
    this.listIds()
      .then(async (ids) => {
        const out: Record<string, ConnectSessionData> = {};
        for (const id of ids) {
          const record = await this.readRecord(id);
          if (record) out[id] = toConnect(record);
        }
        return out;
      })
      .then((all) => callback(null, all), callback);
  }

  length(callback: Callback<number>): void {
    this.listIds().then((ids) => callback(null, ids.length), callback);
  }

  clear(callback?: Callback): void {
    this.listIds()
      .then((ids) => Promise.all(ids.map((id) => this.destroy(id))))
      .then(
        () => callback?.(null),
        (err: unknown) => callback?.(err),
      );
  }

  // express-session calls these three on its own Store base class; ours delegate to it, found
  // in the app's express-session (only an app that uses express-session ever calls them).
  createSession(req: unknown, session: unknown): unknown {
    return connectStorePrototype().createSession.call(this, req, session);
  }
  regenerate(req: unknown, fn: Callback): void {
    connectStorePrototype().regenerate.call(this, req, fn);
  }
  load(id: string, fn: Callback): void {
    connectStorePrototype().load.call(this, id, fn);
  }
}

/** The session's express-session JSON: its attributes, parsed. */
export function toConnect(record: LiveRecord): ConnectSessionData {
  const out: ConnectSessionData = {};
  for (const key in record.attrs) {
    const entry = record.attrs[key]!;
    if (entry.j !== undefined) out[key] = JSON.parse(entry.j);
  }
  if (out.cookie === undefined) out.cookie = { originalMaxAge: record.idle.v };
  return out;
}

function connectDelta(
  existing: LiveRecord | undefined,
  session: ConnectSessionData,
  clock: HybridClock,
): SessionRecord {
  const now = Date.now();
  const attrs: Record<string, AttributeEntry> = {};
  for (const key of Object.keys(session)) {
    const j = JSON.stringify(session[key]);
    if (j === undefined) continue;
    if (existing?.attrs[key]?.j !== j) attrs[key] = { j, t: clock.tick() };
  }
  if (existing) {
    for (const key in existing.attrs) {
      if (!(key in session) && existing.attrs[key]!.j !== undefined)
        attrs[key] = { t: clock.tick() };
    }
  }
  const delta: SessionRecord = { accessedAt: now, attrs };
  const idle = idleOf(session);
  if (!existing || existing.idle.v !== idle) delta.idle = { v: idle, t: clock.tick() };
  if (!existing) {
    delta.createdAt = now;
    delta.absoluteExpiresAt = 0;
  }
  return delta;
}

/** express-session's store TTL: the cookie's maxAge when it has one, else a default. */
function idleOf(session: ConnectSessionData): number {
  const maxAge = session.cookie?.originalMaxAge;
  return typeof maxAge === 'number' && maxAge > 0 ? maxAge : IDLE_TIMEOUT_MS;
}

interface ConnectStorePrototype {
  createSession(this: unknown, req: unknown, session: unknown): unknown;
  regenerate(this: unknown, req: unknown, fn: Callback): void;
  load(this: unknown, id: string, fn: Callback): void;
}

let connectPrototype: ConnectStorePrototype | undefined;
function connectStorePrototype(): ConnectStorePrototype {
  if (!connectPrototype) {
    let loaded: { Store: { prototype: ConnectStorePrototype } };
    try {
      loaded = createRequire(import.meta.url)('express-session');
    } catch {
      loaded = createRequire(`${process.cwd()}/`)('express-session');
    }
    connectPrototype = loaded.Store.prototype;
  }
  return connectPrototype;
}
