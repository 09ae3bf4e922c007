// The broadcast queue of membership updates piggybacked on probes: the least-sent first, each
// sent a bounded number of times, a newer update about a member replacing the queued one.

import type { MemberRecord } from './member.js';

interface Entry {
  record: MemberRecord;
  transmits: number;
}

export class GossipQueue {
  readonly #entries = new Map<string, Entry>();

  enqueue(record: MemberRecord): void {
    this.#entries.set(record.n, { record, transmits: 0 });
  }

  /** Up to `max` records to piggyback; each is dropped after `limit` sends. */
  take(max: number, limit: number): MemberRecord[] {
    if (this.#entries.size === 0) return [];
    const chosen = [...this.#entries.values()]
      .sort((x, y) => x.transmits - y.transmits)
      .slice(0, max);
    for (const entry of chosen) {
      entry.transmits++;
      if (entry.transmits >= limit) this.#entries.delete(entry.record.n);
    }
    return chosen.map((e) => e.record);
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** Sends per update: retransmitMult * ceil(log10(n + 1)), as memberlist. */
export function retransmitLimit(mult: number, members: number): number {
  return mult * Math.max(1, Math.ceil(Math.log10(members + 1)));
}
