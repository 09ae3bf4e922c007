// Moving partitions on a view change (docs/cluster-protocol.md, "Migration"): this member pulls
// the partitions it now holds from their previous holders before serving them, pushes the ones
// whose replicas changed to their new replicas, and fences a partition a new owner pulls from it.
// migration.ts decides what to move; this carries it out.

import { CLUSTER_MIGRATION_CONCURRENCY, CLUSTER_MIGRATION_PAGE_BYTES } from '../../defaults.js';
import { ClusterProtocolError, RetryableError } from '../../errors.js';
import type { MapCounters } from '../metrics.js';
import type { MigrationPlan } from '../migration.js';
import type { PartitionTable } from '../partition-table.js';
import type { Body, MemberAddress, Transport } from '../transport/transport.js';
import { Limiter } from './limiter.js';
import { readPartition, readRecords, retryOf } from './messages.js';
import { recordsBytes, type PartitionStore } from './partition-store.js';
import { backoffMs, sleep } from './retry.js';

export interface PartitionMigrationContext {
  readonly transport: Transport;
  readonly counters: MapCounters;
  readonly store: PartitionStore;
  readonly partitionCount: number;
  readonly requestTimeoutMs: number;
  readonly migrationTimeoutMs: number;
  /** A hand-off push (on leave) retries until this long after it started. */
  readonly operationTimeoutMs: number;
  /** This member's current table. */
  table(): PartitionTable;
  now(): number;
  /** The map is closed: nothing more is pulled or pushed. */
  closed(): boolean;
  /** The map is leaving: only hand-off pushes go on. */
  leaving(): boolean;
  /** Resolves once the copies leased of a session a pull brought are dropped. */
  invalidate(id: string): Promise<void>;
  /** A pull ended: the map may now be ready. */
  pulled(): void;
}

/** A member a partition is pulled from: a newer view may add it again (a new object). */
interface PullSource {
  member: MemberAddress;
  /** The last id received: a failed pull resumes after it (merges are idempotent). */
  after: string | undefined;
}

type PartitionState =
  | {
      readonly pulling: true;
      readonly token: number;
      /** Pulled as its owner (fences the old owner); a newer view may change it. */
      owner: boolean;
      /** Sources not pulled yet; a newer view adds its new members here instead of restarting. */
      readonly sources: Map<string, PullSource>;
    }
  | { readonly pulling: false };

const READY: PartitionState = { pulling: false };

export class PartitionMigration {
  readonly #ctx: PartitionMigrationContext;
  /** Partitions this member has a role for, and whether each is still being pulled. */
  readonly #states = new Map<number, PartitionState>();
  #nextToken = 1;
  /**
   * Partitions a new owner pulled from this member while this member still owned them under its
   * own view: it serves no write for them (answers `migrating`) until its view changes or the
   * fence ends, so nothing is acknowledged here that the new owner's pull did not carry.
   */
  readonly #fences = new Map<number, number>();
  /** The push loop in progress for each partition (a newer one supersedes it). */
  readonly #pushes = new Map<number, number>();
  /** Partitions pulled at once, owned ones first; and pushed at once (back-pressure). */
  readonly #pullSlots = new Limiter(CLUSTER_MIGRATION_CONCURRENCY);
  readonly #pushSlots = new Limiter(CLUSTER_MIGRATION_CONCURRENCY);
  readonly #pageBytes = CLUSTER_MIGRATION_PAGE_BYTES;

  constructor(ctx: PartitionMigrationContext) {
    this.#ctx = ctx;
  }

  /** 'migrating' while partition p is pulled here or fenced, else undefined. */
  refusal(p: number): 'migrating' | undefined {
    if (this.#states.get(p)?.pulling !== false) return 'migrating';
    const fence = this.#fences.get(p);
    if (fence !== undefined) {
      if (fence > this.#ctx.now()) return 'migrating';
      this.#fences.delete(p);
    }
    return undefined;
  }

  /** A new view decides who owns what: the fences of the previous one end. */
  endFences(): void {
    this.#fences.clear();
  }

  /** Starts the pulls and pushes of `plan`, made for the table `after` (now current). */
  apply(plan: MigrationPlan, after: PartitionTable): void {
    const self = this.#ctx.transport.self.name;
    for (let p = 0; p < after.partitionCount; p++) {
      if (after.roleOf(p, self) === undefined) this.#states.delete(p);
    }
    for (const { p, from, owner } of plan.pulls) {
      const state = this.#states.get(p);
      if (from.length === 0) {
        if (state === undefined) this.#states.set(p, READY);
        else if (state.pulling) state.owner = owner;
        continue;
      }
      // A pull in progress takes the new sources: a view change (a flapping member) does not
      // restart what was already received.
      if (state?.pulling) {
        state.owner = owner;
        for (const member of from) state.sources.set(member.name, { member, after: undefined });
        continue;
      }
      const token = this.#nextToken++;
      const sources = new Map(from.map((member) => [member.name, { member, after: undefined }]));
      this.#states.set(p, { pulling: true, token, owner, sources });
      void this.#pull(p, token);
    }
    this.#ctx.counters.migrations.promoted += plan.promotions.length;
    for (const { p, to, drop } of plan.pushes) void this.push(p, to, drop, false);
  }

  /** True when no partition is being pulled. */
  allPulled(): boolean {
    for (const state of this.#states.values()) if (state.pulling) return false;
    return true;
  }

  /** Partitions still being pulled (requests for them answer retry). */
  get pulling(): number {
    let n = 0;
    for (const state of this.#states.values()) if (state.pulling) n++;
    return n;
  }

  /** Partitions still being pushed to their new replicas. */
  get pushing(): number {
    return this.#pushes.size;
  }

  isPushing(p: number): boolean {
    return this.#pushes.has(p);
  }

  /** A peer's `map.pull`: one page of p after its cursor; fences p when pulled by its new owner. */
  answerPull(body: Body): Body {
    const ctx = this.#ctx;
    const p = readPartition(body, ctx.partitionCount);
    // A member pulling p as its new owner: this member, if it still owns p under its view,
    // stops acknowledging writes of p now, so every write it acknowledged is in this answer.
    if (body['o'] === true && ctx.table().owner(p)?.name === ctx.transport.self.name)
      this.#fences.set(p, ctx.now() + ctx.migrationTimeoutMs);
    const after = body['after'];
    if (after !== undefined && typeof after !== 'string')
      throw new ClusterProtocolError('"after" is not a string');
    const page = ctx.store.page(p, after, this.#pageBytes);
    ctx.counters.bytesSent += recordsBytes(page.records);
    return page.next === undefined
      ? { records: page.records }
      : { records: page.records, next: page.next };
  }

  /**
   * Pushes this member's copy of p to every member of `to` (the replicas of its new table); when
   * `drop`, forgets p once all acknowledged and nothing was merged into p meanwhile (else it
   * pushes again). Retried while the table stays the same (a hand-off: until its deadline); a
   * newer push of p supersedes this one; what is left is pushed again by the anti-entropy tick.
   */
  async push(p: number, to: MemberAddress[], drop: boolean, handoff: boolean): Promise<boolean> {
    const token = this.#nextToken++;
    this.#pushes.set(p, token);
    const table = this.#ctx.table();
    try {
      return await this.#pushSlots.run(() => this.#pushRounds(p, to, drop, handoff, token, table));
    } catch {
      return false;
    } finally {
      if (this.#pushes.get(p) === token) this.#pushes.delete(p);
    }
  }

  /**
   * Pulls partition p from its sources still in the view, page by page, then serves it. At most
   * CLUSTER_MIGRATION_CONCURRENCY partitions at once, owned ones first; the deadline counts from
   * when this partition's turn came, so a long queue does not serve partitions unpulled.
   */
  async #pull(p: number, token: number): Promise<void> {
    const ctx = this.#ctx;
    const current = () => {
      const state = this.#states.get(p);
      return state?.pulling && state.token === token && !ctx.closed() ? state : undefined;
    };
    const urgent = current()?.owner === true;
    await this.#pullSlots.run(async () => {
      const deadline = ctx.now() + ctx.migrationTimeoutMs;
      for (let attempt = 0; ctx.now() < deadline; attempt++) {
        const state = current();
        if (!state) return;
        const table = ctx.table();
        for (const [name] of state.sources) if (!table.has(name)) state.sources.delete(name);
        if (state.sources.size === 0) break;
        await Promise.all(
          [...state.sources.values()].map(async (source) => {
            const done = await this.#pullFrom(p, source, state, deadline);
            // Unless a newer view added the source again meanwhile.
            if (done && state.sources.get(source.member.name) === source)
              state.sources.delete(source.member.name);
          }),
        );
        if (state.sources.size > 0) await sleep(backoffMs(attempt, 20, 500));
      }
    }, urgent);
    if (!current()) return;
    this.#states.set(p, READY);
    ctx.counters.migrations.pulled++;
    ctx.pulled();
  }

  /** Every page of p from one source; false when a request failed (resumed on the next attempt). */
  async #pullFrom(
    p: number,
    source: PullSource,
    state: PartitionState,
    deadline: number,
  ): Promise<boolean> {
    const ctx = this.#ctx;
    for (;;) {
      if (ctx.closed() || this.#states.get(p) !== state || ctx.now() >= deadline) return false;
      try {
        const body: Body = { p, o: state.pulling && state.owner };
        if (source.after !== undefined) body['after'] = source.after;
        const answer = await ctx.transport.request(source.member, 'map.pull', body, {
          timeoutMs: ctx.requestTimeoutMs,
        });
        const records = readRecords(answer);
        for (const [id, record] of records) ctx.store.merge(id, record);
        // Copies this member leased out before (as owner of p under an earlier view) may be
        // older than what the pull brought: their holders drop them before p is served.
        await Promise.all(records.map(([id]) => ctx.invalidate(id)));
        const next = answer['next'];
        if (typeof next !== 'string') return true;
        source.after = next;
      } catch (err) {
        if (err instanceof RetryableError || err instanceof ClusterProtocolError) return false;
        throw err;
      }
    }
  }

  async #pushRounds(
    p: number,
    to: MemberAddress[],
    drop: boolean,
    handoff: boolean,
    token: number,
    table: PartitionTable,
  ): Promise<boolean> {
    const ctx = this.#ctx;
    const self = ctx.transport.self.name;
    const deadline = ctx.now() + ctx.operationTimeoutMs;
    const current = (): boolean =>
      this.#pushes.get(p) === token &&
      (handoff ? !ctx.closed() && ctx.now() < deadline : !ctx.leaving() && table === ctx.table());
    // Per target, the last id it acknowledged (null: all of this round): a failed page resumes.
    let cursors = new Map<string, string | undefined | null>(to.map((m) => [m.name, undefined]));
    let version = ctx.store.version(p);
    for (let attempt = 0; current(); attempt++) {
      if (ctx.store.sizeOf(p) === 0) return true;
      await Promise.all(
        to.map(async (member) => {
          for (let after = cursors.get(member.name); after !== null;) {
            if (!current()) return;
            const page = ctx.store.page(p, after, this.#pageBytes);
            if (page.records.length === 0) break;
            const body: Body = { p, records: page.records };
            if (handoff) body['handoff'] = true;
            ctx.counters.bytesSent += recordsBytes(page.records);
            const acked = await ctx.transport
              .request(member, 'map.push', body, { timeoutMs: ctx.requestTimeoutMs })
              .then((answer) => retryOf(answer) === undefined)
              .catch((err: unknown) => {
                if (!(err instanceof RetryableError)) throw err;
                return false;
              });
            if (!acked) return;
            after = page.next ?? null;
            cursors.set(member.name, after);
          }
          cursors.set(member.name, null);
        }),
      );
      if ([...cursors.values()].every((c) => c === null)) {
        ctx.counters.migrations.pushed++;
        if (!drop) return true;
        // Dropped only if this member still has no role for p (the view may have moved on), and
        // only what the pushes carried: a merge since this round began means one more round.
        if (!handoff && ctx.table().roleOf(p, self) !== undefined) return true;
        if (ctx.store.version(p) === version) {
          ctx.store.dropPartition(p);
          return true;
        }
        cursors = new Map(to.map((m) => [m.name, undefined]));
        version = ctx.store.version(p);
        continue;
      }
      await sleep(backoffMs(attempt, 20, 500));
    }
    return false;
  }
}
