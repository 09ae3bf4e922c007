// A member as membership knows it, its wire form, and the order of updates: a higher
// incarnation wins; at equal incarnations the higher state wins (alive < suspect < dead < left),
// so only the member itself can beat a suspicion, by announcing a higher incarnation.

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export interface Member {
  readonly name: string;
  readonly address: string;
  readonly incarnation: number;
  readonly state: MemberState;
  /** false for a member that holds no sessions (the proxy). */
  readonly data: boolean;
}

/** The wire form of a member update, with short keys: it rides on every probe. */
export interface MemberRecord {
  n: string;
  a: string;
  i: number;
  s: MemberState;
  d: boolean;
  /** For a suspicion: who raised it (Lifeguard counts independent confirmations). */
  b?: string;
}

const RANK: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2, left: 3 };
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Whether `update` replaces what we know (`current`). */
export function supersedes(update: Member, current: Member): boolean {
  if (update.incarnation !== current.incarnation) return update.incarnation > current.incarnation;
  return RANK[update.state] > RANK[current.state];
}

export function isLive(member: Member): boolean {
  return member.state === 'alive' || member.state === 'suspect';
}

export function toRecord(member: Member, by?: string): MemberRecord {
  const record: MemberRecord = {
    n: member.name,
    a: member.address,
    i: member.incarnation,
    s: member.state,
    d: member.data,
  };
  if (by !== undefined) record.b = by;
  return record;
}

/** Reads a record received from a peer; undefined when malformed (it is then ignored). */
export function fromRecord(value: unknown): (Member & { by?: string }) | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { n, a, i, s, d, b } = value as Record<string, unknown>;
  if (typeof n !== 'string' || !NAME.test(n)) return undefined;
  if (typeof a !== 'string' || a.length === 0 || a.length > 300) return undefined;
  if (typeof i !== 'number' || !Number.isSafeInteger(i) || i < 0) return undefined;
  if (typeof s !== 'string' || !(s in RANK)) return undefined;
  if (typeof d !== 'boolean') return undefined;
  const member = { name: n, address: a, incarnation: i, state: s as MemberState, data: d };
  return typeof b === 'string' && NAME.test(b) ? { ...member, by: b } : member;
}

/** Reads a list of records, dropping the malformed ones; at most `max`. */
export function fromRecords(value: unknown, max = 10_000): (Member & { by?: string })[] {
  if (!Array.isArray(value)) return [];
  const out = [];
  for (const item of value.slice(0, max)) {
    const member = fromRecord(item);
    if (member !== undefined) out.push(member);
  }
  return out;
}
