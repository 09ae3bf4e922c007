// The cluster-wide session lock (`lock: 'cluster'`, docs/cluster-protocol.md "Session lock"): the
// owner's table of leases with their FIFO waiters, and the loop a member runs to acquire a lease.
// Advisory: it orders request handling; the CRDT merge still decides every write.

import { randomBytes } from 'node:crypto';
import { ClusterProtocolError, LockTimeoutError, RetryableError } from '../errors.js';
import type { PartitionTable } from './partition-table.js';
import { readId, readPartitions, type RetryReason } from './replication/messages.js';
import { backoffMs, sleep } from './replication/retry.js';
import type { Body, MemberAddress } from './transport/transport.js';
import { positive } from '../options.js';

/** A request's lease when it asks for none: longer than almost any request, short after a crash. */
export const LOCK_LEASE_MS = 5000;
/** The longest lease an owner grants; a new owner waits it out after its predecessor died. */
export const LOCK_MAX_LEASE_MS = 5000;
/** How long an acquire waits for its turn before it fails with SM_ERR_LOCK_TIMEOUT. */
export const LOCK_WAIT_MS = 10_000;
/** A waiter the owner has not heard from for this long lost its place (its member died). */
export const LOCK_WAITER_STALE_MS = 2000;
/** The longest the owner parks one `map.lock` request, whatever the sender asks. */
const LOCK_MAX_PARK_MS = 5000;

export interface LockOptions {
  /** How long the lease lasts unless released first; clamped by the owner to its `lockMaxLeaseMs`. */
  leaseMs?: number;
  /** How long to wait for the lease before failing with SM_ERR_LOCK_TIMEOUT. */
  waitMs?: number;
}

export interface LockGrant {
  /** Grows with every grant (a fencing token for the app's own side effects). */
  readonly token: number;
  readonly leaseMs: number;
  /** Ends the lease (best effort, in the background: the lease ends by itself anyway). */
  release(): void;
}

type Answer = { body: Body } | { retry: RetryReason };

interface Lease {
  readonly holder: string;
  readonly token: number;
  readonly until: number;
  readonly timer: NodeJS.Timeout;
}

interface Waiter {
  readonly holder: string;
  leaseMs: number;
  seenAt: number;
  /** Answers the request parked for this waiter, if one is. */
  wake: ((answer: Answer) => void) | undefined;
  timer: NodeJS.Timeout | undefined;
}

interface Entry {
  lease: Lease | undefined;
  readonly queue: Waiter[];
}

export interface SessionLocksOptions {
  self: string;
  partitionCount: number;
  partitionOf(id: string): number;
  /** Why this member cannot serve p as its owner now (the data path's rule), or undefined. */
  servable(p: number): RetryReason | undefined;
  /** Asks a previous owner for its leases of `ps` (`map.leases`). */
  fetchLeases(member: MemberAddress, ps: number[]): Promise<Body>;
  maxLeaseMs: number;
  now(): number;
}

/** The owner's side: leases and waiters of the sessions of the partitions this member owns. */
export class SessionLocks {
  readonly #o: SessionLocksOptions;
  readonly #entries = new Map<string, Entry>();
  /**
   * Partitions this member took over as owner: it grants nothing there before `until` (a grace
   * period after a dead owner) or while `transfer` is asking the previous owner for its leases.
   */
  readonly #holds = new Map<number, { until: number; transfer: number | undefined }>();
  /** Partitions a new owner took the leases of: no grant here until a view change or the time. */
  readonly #fences = new Map<number, number>();
  readonly #holderPrefix = randomBytes(6).toString('base64url');
  #holderCount = 0;
  #transfers = 0;
  #nextToken = 0;
  #closed = false;

  constructor(options: SessionLocksOptions) {
    this.#o = options;
  }

  /** A holder name no other acquire in the cluster uses, so a retried `map.lock` is idempotent. */
  newHolder(): string {
    return `${this.#o.self}/${this.#holderPrefix}/${++this.#holderCount}`;
  }

  /** Sessions with a lease or waiters (for tests: it returns to 0, nothing leaks). */
  get size(): number {
    return this.#entries.size;
  }

  // ---- messages ----

  /** `map.lock`: the grant, `queued` after parking at most `waitMs`, or a retry reason. */
  request(body: Body): Answer | Promise<Answer> {
    const id = readId(body);
    const holder = readHolder(body);
    const leaseMs = Math.min(readMs(body, 'leaseMs', 1), this.#o.maxLeaseMs);
    const parkMs = Math.min(readMs(body, 'waitMs', 0), LOCK_MAX_PARK_MS);
    const p = this.#o.partitionOf(id);
    const refused = this.#refused(p);
    if (refused) return { retry: refused };
    const now = this.#o.now();
    let entry = this.#entry(id);
    if (entry.lease && entry.lease.until <= now) {
      // Its timer is late: end it now, handing over to the head of the queue first.
      this.#endLease(id, entry, true);
      entry = this.#entry(id);
    }
    // A retry of an acquire whose answer was lost, or the poll of a waiter granted meanwhile.
    if (entry.lease?.holder === holder) return granted(entry.lease, now);
    this.#pruneStale(entry, now);
    let waiter = entry.queue.find((w) => w.holder === holder);
    if (waiter) {
      // A newer poll of the same waiter: its earlier one timed out at the sender.
      answerParked(waiter, { body: { queued: true } });
      waiter.leaseMs = leaseMs;
      waiter.seenAt = now;
    } else {
      waiter = { holder, leaseMs, seenAt: now, wake: undefined, timer: undefined };
      entry.queue.push(waiter);
    }
    if (!entry.lease && entry.queue[0] === waiter && this.#grantable(p, now)) {
      return granted(this.#grant(id, entry, waiter), now);
    }
    if (parkMs === 0) return { body: { queued: true } };
    const parked = waiter;
    return new Promise<Answer>((resolve) => {
      parked.wake = resolve;
      parked.timer = setTimeout(() => {
        parked.seenAt = this.#o.now();
        answerParked(parked, { body: { queued: true } });
      }, parkMs);
    });
  }

  /** `map.unlock`: ends `holder`'s lease, or removes it from the queue; any member answers it. */
  release(body: Body): Body {
    const id = readId(body);
    const holder = readHolder(body);
    const entry = this.#entries.get(id);
    if (!entry) return { ok: true };
    if (entry.lease?.holder === holder) {
      this.#endLease(id, entry, true);
    } else {
      const i = entry.queue.findIndex((w) => w.holder === holder);
      if (i >= 0) answerParked(entry.queue.splice(i, 1)[0]!, { body: { queued: true } });
      this.#dropIfIdle(id, entry);
    }
    return { ok: true };
  }

  /**
   * `map.leases` from a new owner: this member's leases of `ps`, and from now on it grants nothing
   * there (its waiters go to the new owner), so no lease escapes the answer.
   */
  leasesFor(body: Body): Body {
    const ps = new Set(readPartitions(body, this.#o.partitionCount));
    const now = this.#o.now();
    for (const p of ps) this.#fences.set(p, now + this.#o.maxLeaseMs);
    const leases: [string, string, number, number][] = [];
    for (const [id, entry] of this.#entries) {
      if (!ps.has(this.#o.partitionOf(id))) continue;
      if (entry.lease && entry.lease.until > now) {
        leases.push([id, entry.lease.holder, entry.lease.token, entry.lease.until - now]);
      }
      this.#sendAway(id, entry, 'migrating');
    }
    return { leases };
  }

  // ---- ownership ----

  /** A view change: lost partitions send their waiters away; gained ones wait for their leases. */
  onView(before: PartitionTable, after: PartitionTable): void {
    if (this.#closed) return;
    const { self } = this.#o;
    const now = this.#o.now();
    this.#fences.clear();
    const asks = new Map<string, { member: MemberAddress; ps: number[] }>();
    for (let p = 0; p < after.partitionCount; p++) {
      const wasOwner = before.owner(p)?.name === self;
      const isOwner = after.owner(p)?.name === self;
      if (wasOwner === isOwner) continue;
      if (!isOwner) {
        this.#holds.delete(p);
        continue;
      }
      const previous = before.owner(p);
      // No previous owner: the cluster starts, nobody can hold a lease of p.
      if (previous === undefined) continue;
      if (after.has(previous.name)) {
        const ask = asks.get(previous.name) ?? { member: previous, ps: [] };
        ask.ps.push(p);
        asks.set(previous.name, ask);
      } else {
        // Its leases died with it: wait until every one it could have granted has ended.
        this.#hold(p, now + this.#o.maxLeaseMs, undefined);
      }
    }
    for (const [id, entry] of this.#entries) {
      if (after.owner(this.#o.partitionOf(id))?.name !== self)
        this.#sendAway(id, entry, 'not-owner');
    }
    for (const { member, ps } of asks.values()) void this.#transfer(member, ps, now);
  }

  /** Stops: parked requests answer `leaving`, timers end. */
  close(): void {
    this.#closed = true;
    for (const [id, entry] of this.#entries) {
      if (entry.lease) clearTimeout(entry.lease.timer);
      entry.lease = undefined;
      this.#sendAway(id, entry, 'leaving');
    }
    this.#entries.clear();
  }

  // ---- inside ----

  /** Asks the previous owner for its leases of ps; if it cannot answer, the grace period applies. */
  async #transfer(member: MemberAddress, ps: number[], since: number): Promise<void> {
    const transfer = ++this.#transfers;
    for (const p of ps) this.#hold(p, Infinity, transfer);
    const deadline = since + this.#o.maxLeaseMs;
    let answer: Body | undefined;
    for (let attempt = 0; !this.#closed && this.#o.now() < deadline; attempt++) {
      try {
        answer = await this.#o.fetchLeases(member, ps);
        break;
      } catch (err) {
        if (!(err instanceof RetryableError)) break;
        await sleep(backoffMs(attempt, 20, 200));
      }
    }
    const mine = ps.filter((p) => this.#holds.get(p)?.transfer === transfer);
    try {
      if (answer) this.#import(answer, new Set(mine));
    } catch {
      answer = undefined; // a malformed answer: as if the previous owner had not answered
    }
    for (const p of mine) {
      if (answer) this.#holds.delete(p);
      else this.#hold(p, deadline, undefined);
    }
    if (answer) this.#handOverIn(new Set(mine));
  }

  #import(answer: Body, ps: Set<number>): void {
    const list = answer['leases'];
    if (!Array.isArray(list)) throw new ClusterProtocolError('"leases" is not a list');
    const now = this.#o.now();
    for (const item of list) {
      if (!Array.isArray(item) || item.length !== 4)
        throw new ClusterProtocolError('"leases" has a malformed entry');
      const row = item as unknown as Body;
      const id = readId(row, '0');
      const holder = readHolder(row, '1');
      const token = readMs(row, '2', 0);
      const remaining = Math.min(readMs(row, '3', 0), this.#o.maxLeaseMs);
      if (!ps.has(this.#o.partitionOf(id))) continue;
      const entry = this.#entry(id);
      if (entry.lease) continue;
      this.#nextToken = Math.max(this.#nextToken, token + 1);
      entry.lease = this.#lease(id, holder, token, now + remaining);
    }
  }

  #hold(p: number, until: number, transfer: number | undefined): void {
    this.#holds.set(p, { until, transfer });
    if (Number.isFinite(until)) {
      const ps = new Set([p]);
      setTimeout(() => this.#handOverIn(ps), Math.max(0, until - this.#o.now()) + 1).unref();
    }
  }

  #refused(p: number): RetryReason | undefined {
    const refused = this.#o.servable(p);
    if (refused) return refused;
    const fence = this.#fences.get(p);
    if (fence === undefined) return undefined;
    if (fence > this.#o.now()) return 'migrating';
    this.#fences.delete(p);
    return undefined;
  }

  #grantable(p: number, now: number): boolean {
    const hold = this.#holds.get(p);
    if (hold === undefined) return true;
    if (hold.transfer !== undefined || hold.until > now) return false;
    this.#holds.delete(p);
    return true;
  }

  #entry(id: string): Entry {
    let entry = this.#entries.get(id);
    if (!entry) {
      entry = { lease: undefined, queue: [] };
      this.#entries.set(id, entry);
    }
    return entry;
  }

  #grant(id: string, entry: Entry, waiter: Waiter): Lease {
    entry.queue.splice(entry.queue.indexOf(waiter), 1);
    const now = this.#o.now();
    // At least the wall clock in µs: tokens keep growing across an owner change.
    const token = Math.max(this.#nextToken, Math.floor(now * 1000));
    this.#nextToken = token + 1;
    const lease = this.#lease(id, waiter.holder, token, now + waiter.leaseMs);
    entry.lease = lease;
    answerParked(waiter, granted(lease, now));
    return lease;
  }

  #lease(id: string, holder: string, token: number, until: number): Lease {
    const timer = setTimeout(
      () => {
        const entry = this.#entries.get(id);
        if (entry?.lease === lease) this.#endLease(id, entry, true);
      },
      Math.max(0, until - this.#o.now()),
    );
    timer.unref();
    const lease: Lease = { holder, token, until, timer };
    return lease;
  }

  #endLease(id: string, entry: Entry, handOver: boolean): void {
    if (entry.lease) clearTimeout(entry.lease.timer);
    entry.lease = undefined;
    if (handOver) this.#handOver(id, entry);
  }

  /** The lease is free: the first live waiter gets it, if this member may grant it now. */
  #handOver(id: string, entry: Entry): void {
    if (this.#closed || entry.lease) return;
    const p = this.#o.partitionOf(id);
    const refused = this.#refused(p);
    if (refused) return this.#sendAway(id, entry, refused);
    const now = this.#o.now();
    this.#pruneStale(entry, now);
    const first = entry.queue[0];
    if (first && this.#grantable(p, now)) this.#grant(id, entry, first);
    this.#dropIfIdle(id, entry);
  }

  #handOverIn(ps: Set<number>): void {
    for (const [id, entry] of this.#entries) {
      if (ps.has(this.#o.partitionOf(id))) this.#handOver(id, entry);
    }
  }

  /** This member may not grant the session's lease any more: its waiters ask elsewhere. */
  #sendAway(id: string, entry: Entry, reason: RetryReason): void {
    for (const waiter of entry.queue.splice(0)) answerParked(waiter, { retry: reason });
    this.#dropIfIdle(id, entry);
  }

  #pruneStale(entry: Entry, now: number): void {
    for (let i = entry.queue.length - 1; i >= 0; i--) {
      const w = entry.queue[i]!;
      if (w.wake === undefined && now - w.seenAt > LOCK_WAITER_STALE_MS) entry.queue.splice(i, 1);
    }
  }

  #dropIfIdle(id: string, entry: Entry): void {
    if (!entry.lease && entry.queue.length === 0) this.#entries.delete(id);
  }
}

/**
 * The sender's side: polls the owner (through `route`, the map's routing with retries) until the
 * lease is granted or `waitMs` passed; then cancels its place and throws.
 * @throws {LockTimeoutError} when not granted within `waitMs`.
 * @throws {InvalidOptionError} for a `leaseMs` or `waitMs` that is not a number > 0.
 */
export async function acquireLock(args: {
  id: string;
  holder: string;
  options: LockOptions;
  /** How long one poll may be parked at the owner (below the request timeout). */
  parkMs: number;
  now: () => number;
  route: (body: Body, deadline: number) => Promise<Body>;
  unlock: () => Promise<void>;
}): Promise<LockGrant> {
  const { id, holder, now, unlock } = args;
  const leaseMs = positive('leaseMs', args.options.leaseMs, LOCK_LEASE_MS);
  const waitMs = positive('waitMs', args.options.waitMs, LOCK_WAIT_MS);
  const deadline = now() + waitMs;
  let lastError: unknown;
  for (let left = waitMs; left > 0; left = deadline - now()) {
    try {
      const answer = await args.route(
        { id, holder, leaseMs, waitMs: Math.max(0, Math.min(args.parkMs, left)) },
        deadline,
      );
      const token = answer['token'];
      if (typeof token === 'number') {
        const granted = typeof answer['leaseMs'] === 'number' ? answer['leaseMs'] : leaseMs;
        let released = false;
        return {
          token,
          leaseMs: granted,
          release: () => {
            if (released) return;
            released = true;
            void unlock();
          },
        };
      }
    } catch (err) {
      if (!(err instanceof RetryableError)) throw err;
      lastError = err;
    }
  }
  // A grant may have come with an answer that was lost: give it back, and leave the queue.
  void unlock();
  throw new LockTimeoutError(`the lock of a session was not granted in ${waitMs} ms`, {
    cause: lastError,
  });
}

function granted(lease: Lease, now: number): Answer {
  return { body: { token: lease.token, leaseMs: Math.max(0, lease.until - now) } };
}

function answerParked(waiter: Waiter, answer: Answer): void {
  if (waiter.timer) clearTimeout(waiter.timer);
  const wake = waiter.wake;
  waiter.wake = undefined;
  waiter.timer = undefined;
  wake?.(answer);
}

function readHolder(body: Body, key = 'holder'): string {
  const holder = body[key];
  if (typeof holder !== 'string' || holder.length === 0 || holder.length > 200)
    throw new ClusterProtocolError(`"${key}" is not a lock holder`);
  return holder;
}

function readMs(body: Body, key: string, min: number): number {
  const value = body[key];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
    throw new ClusterProtocolError(`"${key}" is not a number >= ${min}`);
  return value;
}
