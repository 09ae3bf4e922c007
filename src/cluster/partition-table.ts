// The partition table: which member owns each partition and which members back it up, computed
// from a view alone, so every member with the same member set computes the same table
// (docs/cluster-protocol.md, "Partitions"). Pure: no I/O, no clock.

import { PARTITION_COUNT } from '../defaults.js';
import { InvalidOptionError } from '../errors.js';
import { fnv1a32, mix32 } from './hash.js';
import type { MemberAddress } from './transport/transport.js';
import type { ClusterView } from './view.js';

export type Role = 'owner' | 'backup';

export interface PartitionTableOptions {
  /** Number of partitions; default 271. Every member of a cluster must use the same. */
  partitionCount?: number;
  /** Backup replicas per partition; default 1; >= members - 1 is full replication. */
  backups?: number;
}

/** The partition of a session id: a stable hash of its characters. */
export function partitionOf(id: string, partitionCount: number = PARTITION_COUNT): number {
  return mix32(fnv1a32(id)) % partitionCount;
}

export class PartitionTable {
  readonly viewId: number;
  readonly partitionCount: number;
  /** Backups per partition actually placed: min(requested, members - 1). */
  readonly backups: number;
  readonly members: readonly MemberAddress[];
  /** replicas[p]: the owner of p first, then its backups. */
  readonly #replicas: MemberAddress[][];

  /** @throws {InvalidOptionError} when partitionCount or backups is out of range. */
  constructor(view: ClusterView, options: PartitionTableOptions = {}) {
    const count = options.partitionCount ?? PARTITION_COUNT;
    if (!Number.isInteger(count) || count < 1 || count > 65536) {
      throw new InvalidOptionError('partitionCount', 'an integer from 1 to 65536', count);
    }
    const backups = options.backups ?? 1;
    if (!Number.isInteger(backups) || backups < 0)
      throw new InvalidOptionError('backups', 'an integer >= 0', backups);
    const members = uniqueByName(view.members);
    this.viewId = view.viewId;
    this.partitionCount = count;
    this.members = members;
    this.backups = Math.max(0, Math.min(backups, members.length - 1));
    this.#replicas = place(members, count, this.backups);
  }

  partitionOf(id: string): number {
    return partitionOf(id, this.partitionCount);
  }

  /** The owner of partition p; undefined when the view has no member. */
  owner(p: number): MemberAddress | undefined {
    return this.#replicas[p]?.[0];
  }

  /** The owner of p, then its backups. */
  replicas(p: number): readonly MemberAddress[] {
    return this.#replicas[p] ?? [];
  }

  backupsOf(p: number): readonly MemberAddress[] {
    return this.replicas(p).slice(1);
  }

  roleOf(p: number, name: string): Role | undefined {
    const replicas = this.replicas(p);
    for (let i = 0; i < replicas.length; i++)
      if (replicas[i]!.name === name) return i === 0 ? 'owner' : 'backup';
    return undefined;
  }

  /** The partitions `name` owns. */
  ownedBy(name: string): number[] {
    const out: number[] = [];
    for (let p = 0; p < this.partitionCount; p++) if (this.owner(p)?.name === name) out.push(p);
    return out;
  }

  has(name: string): boolean {
    return this.members.some((m) => m.name === name);
  }
}

/** Members by name, each name once (the first address wins), sorted so input order never matters. */
function uniqueByName(members: readonly MemberAddress[]): MemberAddress[] {
  const byName = new Map<string, MemberAddress>();
  for (const member of members) if (!byName.has(member.name)) byName.set(member.name, member);
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function place(members: MemberAddress[], count: number, backups: number): MemberAddress[][] {
  const n = members.length;
  const replicas: MemberAddress[][] = [];
  if (n === 0) {
    for (let p = 0; p < count; p++) replicas.push([]);
    return replicas;
  }
  const nameHashes = members.map((m) => fnv1a32(m.name));
  const ranks: number[][] = [];
  for (let p = 0; p < count; p++) ranks.push(rendezvousRank(nameHashes, members, p));
  for (let p = 0; p < count; p++) replicas.push([]);
  // One pass per replica rank (owner, first backup, …), in partition order, so the same input
  // gives the same table on every member. Each pass is balanced exactly: every member gets
  // floor(P/n) or ceil(P/n) of that rank (consistent hashing with bounded loads, the bound
  // tight), and p goes to the highest-ranked member with room.
  const floor = Math.floor(count / n);
  for (let rank = 0; rank <= backups; rank++) {
    const load = new Array<number>(n).fill(0);
    let extras = count - floor * n;
    for (let p = 0; p < count; p++) {
      const chosen = replicas[p]!;
      let pick = -1;
      for (const i of ranks[p]!) {
        if (chosen.includes(members[i]!)) continue;
        if (pick === -1) pick = i;
        if (load[i]! < floor || (load[i] === floor && extras > 0)) {
          pick = i;
          break;
        }
      }
      if (load[pick] === floor) extras--;
      load[pick]!++;
      chosen.push(members[pick]!);
    }
  }
  return replicas;
}

/** Member indexes by descending rendezvous score for partition p; name order breaks ties. */
function rendezvousRank(nameHashes: number[], members: MemberAddress[], p: number): number[] {
  const salt = mix32(Math.imul(p + 1, 0x9e3779b1));
  const scores = nameHashes.map((h) => mix32(h ^ salt));
  return members.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}
