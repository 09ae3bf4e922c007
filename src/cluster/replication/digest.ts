// Hashes for anti-entropy: one per session record (over a canonical form, so equal records on two
// members hash equal whatever order their fields were merged in) and one per partition.

import { createHash } from 'node:crypto';
import type { SessionRecord } from '../../session/record.js';

export function recordHash(record: SessionRecord): string {
  return createHash('sha1').update(canonical(record)).digest('base64url').slice(0, 16);
}

/** The partition's digest: over its sessions' ids and hashes, in id order. */
export function partitionDigest(entries: [string, SessionRecord][]): string {
  const hash = createHash('sha1');
  for (const [id, record] of [...entries].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    hash.update(id).update('\0').update(recordHash(record)).update('\n');
  }
  return hash.digest('base64url');
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object)
    .filter((k) => object[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(object[k])}`).join(',')}}`;
}
