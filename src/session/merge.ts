// The merge rule that makes a session a CRDT (DESIGN.md, "The session is a CRDT").
// merge() is commutative, associative and idempotent, so retries, replication, migration,
// anti-entropy and split-brain healing are all this one function. Pure: no I/O, no clock.

import { setOwn, type AttributeEntry, type Register, type SessionRecord } from './record.js';

/** The combination of two copies (or a copy and a delta). Neither input is modified. */
export function merge(a: SessionRecord, b: SessionRecord): SessionRecord {
  // Entries and registers are never modified, so sharing them is safe; the maps are copied.
  const out: SessionRecord = { ...a };
  if (a.attrs !== undefined) out.attrs = { ...a.attrs };
  else if (b.attrs !== undefined) out.attrs = {};
  mergeInto(out, b);
  return out;
}

/**
 * Merges `delta` into `target` in place, for stores that own their copy: the same result as
 * merge(target, delta), without copying the target's attributes on every write. Entries of
 * `delta` are stored by reference (entries are never modified).
 */
export function mergeInto(target: SessionRecord, delta: SessionRecord): void {
  const createdAt = minDefined(target.createdAt, delta.createdAt);
  if (createdAt !== undefined) target.createdAt = createdAt;
  const accessedAt = maxDefined(target.accessedAt, delta.accessedAt);
  if (accessedAt !== undefined) target.accessedAt = accessedAt;
  const idle = lww(target.idle, delta.idle);
  if (idle !== undefined) target.idle = idle;
  const absolute = minPositive(target.absoluteExpiresAt, delta.absoluteExpiresAt);
  if (absolute !== undefined) target.absoluteExpiresAt = absolute;
  const destroyed = maxDefined(target.destroyed, delta.destroyed);
  if (destroyed !== undefined) {
    target.destroyed = destroyed;
    delete target.principal;
    delete target.attrs;
    return;
  }
  const principal = lww(target.principal, delta.principal);
  if (principal !== undefined) target.principal = principal;
  if (delta.attrs !== undefined) {
    const attrs = (target.attrs ??= {});
    for (const key of Object.keys(delta.attrs)) {
      const theirs = delta.attrs[key]!;
      const ours = Object.hasOwn(attrs, key) ? attrs[key] : undefined;
      const winner = ours === undefined ? theirs : newerEntry(ours, theirs);
      if (winner !== ours) setOwn(attrs, key, winner);
    }
  }
}

/**
 * The entry that wins. Higher timestamp first; at an equal timestamp (one write seen twice, or
 * a forged clash) a tombstone wins, then the greater JSON text, so every replica picks the same.
 */
export function newerEntry(a: AttributeEntry, b: AttributeEntry): AttributeEntry {
  if (a.t !== b.t) return a.t > b.t ? a : b;
  if (a.j === b.j) return a;
  if (a.j === undefined) return a;
  if (b.j === undefined) return b;
  return a.j > b.j ? a : b;
}

function lww<T>(a: Register<T> | undefined, b: Register<T> | undefined): Register<T> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.t !== b.t) return a.t > b.t ? a : b;
  return JSON.stringify(a.v) >= JSON.stringify(b.v) ? a : b;
}

function minDefined<T extends number | string>(a: T | undefined, b: T | undefined): T | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}

function maxDefined<T extends number | string>(a: T | undefined, b: T | undefined): T | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/** Min over the values that are set and positive; 0 means "no absolute expiry". */
function minPositive(a: number | undefined, b: number | undefined): number | undefined {
  if (a && b) return Math.min(a, b);
  if (a || b) return a || b;
  return a === 0 || b === 0 ? 0 : undefined;
}
