// Anti-entropy between a partition's owner and its backups (docs/cluster-protocol.md,
// "Migration"): a digest per partition, then per-session hashes, then only the sessions that
// differ travel, both ways. Every step is a CRDT merge, so a repair can never lose a write.

import type { SessionRecord } from '../session/record.js';
import { partitionDigest, recordHash } from './replication/digest.js';
import { readIds, readPartition, readRecords } from './replication/messages.js';
import type { PartitionStore } from './replication/partition-store.js';
import type { Body, MemberAddress, Transport } from './transport/transport.js';

export interface AntiEntropyContext {
  readonly transport: Transport;
  readonly store: PartitionStore;
  readonly partitionCount: number;
  readonly requestTimeoutMs: number;
  /** Merges records that came from a peer (the map's merge, which also replicates). */
  mergeRecords(records: [string, SessionRecord][]): void;
}

/** Owner side: compares partition p with one backup and repairs both. Returns sessions repaired. */
export async function repairWith(
  ctx: AntiEntropyContext,
  p: number,
  backup: MemberAddress,
): Promise<number> {
  const timeoutMs = ctx.requestTimeoutMs;
  const entries = ctx.store.entries(p);
  const answer = await ctx.transport.request(
    backup,
    'map.digest',
    { p, d: partitionDigest(entries) },
    { timeoutMs },
  );
  if (answer['same'] === true) return 0;
  const theirs = new Map<string, string>();
  const hashes = answer['hashes'];
  if (Array.isArray(hashes)) {
    for (const pair of hashes)
      if (Array.isArray(pair) && typeof pair[0] === 'string') theirs.set(pair[0], String(pair[1]));
  }
  const send: [string, unknown][] = [];
  const want: string[] = [];
  const ours = new Set<string>();
  for (const [id, record] of entries) {
    ours.add(id);
    const hash = theirs.get(id);
    if (hash === recordHash(record)) continue;
    send.push([id, record]);
    if (hash !== undefined) want.push(id);
  }
  for (const id of theirs.keys()) if (!ours.has(id)) want.push(id);
  const reply = await ctx.transport.request(
    backup,
    'map.repair',
    { p, records: send, want },
    { timeoutMs },
  );
  const received = readRecords(reply);
  ctx.mergeRecords(received);
  return send.length + received.length;
}

/** Backup side of `map.digest`. */
export function answerDigest(ctx: AntiEntropyContext, body: Body): Body {
  const p = readPartition(body, ctx.partitionCount);
  const entries = ctx.store.entries(p);
  if (body['d'] === partitionDigest(entries)) return { same: true };
  return { hashes: entries.map(([id, record]) => [id, recordHash(record)]) };
}

/** Backup side of `map.repair`: merges what the owner sent, answers what it asked for. */
export function answerRepair(ctx: AntiEntropyContext, body: Body): Body {
  readPartition(body, ctx.partitionCount);
  const records = readRecords(body);
  const want = readIds(body, 'want');
  for (const [id, record] of records) ctx.store.merge(id, record);
  const out: [string, unknown][] = [];
  for (const id of want) {
    const record = ctx.store.raw(id);
    if (record) out.push([id, record]);
  }
  return { records: out };
}
