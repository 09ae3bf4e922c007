// The stored form of a session, shared by every store and the cluster: metadata plus
// attributes, each attribute a JSON text with the HLC timestamp of its last write.

import type { Hlc } from './hlc.js';

/** One attribute: `j` is its JSON text; no `j` is a tombstone (the attribute was removed at `t`). */
export interface AttributeEntry {
  j?: string;
  t: Hlc;
}

/** A last-writer-wins register. */
export interface Register<T> {
  v: T;
  t: Hlc;
}

/**
 * A session, or a delta of one: every field is optional, and merging two of them (merge.ts)
 * gives the same result in any order. A complete record has createdAt, accessedAt and idle.
 */
export interface SessionRecord {
  /** ms since the epoch; merges by min. */
  createdAt?: number;
  /** ms since the epoch of the last request that used the session; merges by max. */
  accessedAt?: number;
  /** Sliding idle timeout in ms. */
  idle?: Register<number>;
  /** ms since the epoch after which the session is dead whatever its activity; 0 = none. Merges by min. */
  absoluteExpiresAt?: number;
  /** The signed-in user, for "sessions of a user"; null when nobody is signed in. */
  principal?: Register<string | null>;
  attrs?: Record<string, AttributeEntry>;
  /** Set once the session was destroyed: wins over every attribute, whatever their timestamps. */
  destroyed?: Hlc;
}

/** A record as read back from a store: complete and alive. */
export interface LiveRecord extends SessionRecord {
  createdAt: number;
  accessedAt: number;
  idle: Register<number>;
  attrs: Record<string, AttributeEntry>;
}

export function isComplete(record: SessionRecord): record is LiveRecord {
  return (
    record.createdAt !== undefined && record.accessedAt !== undefined && record.idle !== undefined
  );
}

/**
 * When the session dies, in ms since the epoch: the earlier of idle expiry and absolute expiry.
 * A destroyed session keeps its tombstone until then, so it cannot come back from a backup.
 */
export function expiresAt(record: SessionRecord): number {
  const idle = (record.accessedAt ?? record.createdAt ?? 0) + (record.idle?.v ?? 0);
  const absolute = record.absoluteExpiresAt ?? 0;
  return absolute > 0 ? Math.min(idle, absolute) : idle;
}

/** Alive at `now`: complete, not destroyed, not expired. */
export function isAlive(record: SessionRecord | undefined, now: number): record is LiveRecord {
  return (
    record !== undefined &&
    record.destroyed === undefined &&
    isComplete(record) &&
    expiresAt(record) > now
  );
}

/** Bytes of the attributes' JSON texts and keys: what `maxSessionBytes` limits. */
export function attributeBytes(attrs: Record<string, AttributeEntry> | undefined): number {
  let bytes = 0;
  if (attrs)
    for (const key of Object.keys(attrs)) bytes += key.length + (attrs[key]!.j?.length ?? 0);
  return bytes;
}

/**
 * `target[key] = value` as an own property for every key. A plain assignment to '__proto__'
 * would set the prototype instead: the attribute would vanish, and for...in would then list
 * the prototype's fields as attributes. Attribute keys are the app's (or a peer's) strings.
 */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}
