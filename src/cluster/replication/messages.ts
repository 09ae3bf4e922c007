// The bodies of the replicated map's messages (docs/cluster-protocol.md, "Replication"), and
// their validation: a peer's body is data from the network, checked before anything is changed.

import { ClusterProtocolError } from '../../errors.js';
import { isValidId } from '../../session/id.js';
import type { AttributeEntry, SessionRecord } from '../../session/record.js';
import type { Body } from '../transport/transport.js';

/** Why a member asks the sender to try again. */
export type RetryReason = 'not-owner' | 'not-backup' | 'migrating' | 'leaving' | 'backup';

export const MESSAGE_PREFIX = 'map.';

export function retryBody(reason: RetryReason): Body {
  return { retry: reason };
}

export function retryOf(body: Body): RetryReason | undefined {
  const reason = body['retry'];
  return typeof reason === 'string' ? (reason as RetryReason) : undefined;
}

export function readId(body: Body, key = 'id'): string {
  const id = body[key];
  if (typeof id !== 'string' || !isValidId(id))
    throw new ClusterProtocolError(`"${key}" is not a session id`);
  return id;
}

export function readPartition(body: Body, partitionCount: number, key = 'p'): number {
  const p = body[key];
  if (!Number.isInteger(p) || (p as number) < 0 || (p as number) >= partitionCount) {
    throw new ClusterProtocolError(`"${key}" is not a partition`);
  }
  return p as number;
}

export function readPartitions(body: Body, partitionCount: number, key = 'ps'): number[] {
  const ps = body[key];
  if (!Array.isArray(ps)) throw new ClusterProtocolError(`"${key}" is not a list of partitions`);
  return ps.map((_, i) => readPartition(ps as unknown as Body, partitionCount, String(i)));
}

export function readIds(body: Body, key: string): string[] {
  const ids = body[key];
  if (!Array.isArray(ids)) throw new ClusterProtocolError(`"${key}" is not a list of ids`);
  return ids.map((_, i) => readId(ids as unknown as Body, String(i)));
}

/** A list of [id, record] pairs. */
export function readRecords(body: Body, key = 'records'): [string, SessionRecord][] {
  const list = body[key];
  if (!Array.isArray(list)) throw new ClusterProtocolError(`"${key}" is not a list of records`);
  return list.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2)
      throw new ClusterProtocolError(`"${key}" has a malformed entry`);
    return [readId(pair as unknown as Body, '0'), readRecord(pair as unknown as Body, '1')];
  });
}

/** A SessionRecord (or a delta): every field optional, each of its own type; unknown fields dropped. */
export function readRecord(body: Body, key = 'r'): SessionRecord {
  const value = body[key];
  if (!isObject(value)) throw new ClusterProtocolError(`"${key}" is not a session record`);
  const out: SessionRecord = {};
  const fail = (field: string): never => {
    throw new ClusterProtocolError(`"${key}.${field}" is malformed`);
  };
  if (value['createdAt'] !== undefined)
    out.createdAt = isTime(value['createdAt']) ? value['createdAt'] : fail('createdAt');
  if (value['accessedAt'] !== undefined)
    out.accessedAt = isTime(value['accessedAt']) ? value['accessedAt'] : fail('accessedAt');
  if (value['absoluteExpiresAt'] !== undefined) {
    out.absoluteExpiresAt = isTime(value['absoluteExpiresAt'])
      ? value['absoluteExpiresAt']
      : fail('absoluteExpiresAt');
  }
  if (value['destroyed'] !== undefined)
    out.destroyed = isStamp(value['destroyed']) ? value['destroyed'] : fail('destroyed');
  if (value['idle'] !== undefined) {
    const idle = value['idle'];
    if (!isObject(idle) || !isTime(idle['v']) || !isStamp(idle['t'])) fail('idle');
    out.idle = { v: (idle as Body)['v'] as number, t: (idle as Body)['t'] as string };
  }
  if (value['principal'] !== undefined) {
    const principal = value['principal'];
    if (!isObject(principal) || !isStamp(principal['t'])) fail('principal');
    const v = (principal as Body)['v'];
    if (v !== null && typeof v !== 'string') fail('principal');
    out.principal = { v: v as string | null, t: (principal as Body)['t'] as string };
  }
  if (value['attrs'] !== undefined) {
    const attrs = value['attrs'];
    if (!isObject(attrs)) fail('attrs');
    // A null prototype: an attribute named "__proto__" stays an attribute.
    const outAttrs: Record<string, AttributeEntry> = Object.create(null);
    for (const name of Object.keys(attrs as Body)) {
      const entry = (attrs as Body)[name];
      if (!isObject(entry) || !isStamp(entry['t'])) fail('attrs');
      const j = (entry as Body)['j'];
      const t = (entry as Body)['t'] as string;
      if (j === undefined || j === null) outAttrs[name] = { t };
      else if (typeof j === 'string') outAttrs[name] = { j, t };
      else fail('attrs');
    }
    out.attrs = outAttrs;
  }
  return out;
}

function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isStamp(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 200;
}
