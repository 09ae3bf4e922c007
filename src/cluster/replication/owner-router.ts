// How an operation reaches the owner of its partition (docs/cluster-protocol.md, "Replication"):
// sent under this member's current table, served here when this member is the owner, retried
// with backoff on a retry answer or a retryable failure until the operation's deadline.

import { CLUSTER_RETRY_BASE_MS, CLUSTER_RETRY_MAX_MS } from '../../defaults.js';
import { ClusterTimeoutError, NotOwnerError, RetryableError } from '../../errors.js';
import type { MapCounters } from '../metrics.js';
import type { PartitionTable } from '../partition-table.js';
import type { Body, MemberAddress, Transport } from '../transport/transport.js';
import { readIds, readPartitions, retryOf, type RetryReason } from './messages.js';
import { backoffMs, sleep } from './retry.js';

/** Answer of a local or remote attempt: a body, or a retry reason. */
export type Attempt = { body: Body } | { retry: RetryReason };

export interface OwnerRouterContext {
  readonly transport: Transport;
  readonly counters: MapCounters;
  readonly partitionCount: number;
  readonly operationTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** The table operations are routed by: this member's current view. */
  table(): PartitionTable;
  now(): number;
  /** @throws {StoreClosedError} once the map is closed: a retry loop ends there. */
  checkOpen(): void;
}

export class OwnerRouter {
  readonly #ctx: OwnerRouterContext;

  constructor(ctx: OwnerRouterContext) {
    this.#ctx = ctx;
  }

  /**
   * Sends an operation to the owner of p (or serves it here with `serveHere`), retrying until the
   * deadline; returns the answer and the table it was answered under.
   * @throws {NotOwnerError} when the last attempt was answered with a retry reason.
   * @throws {ClusterTimeoutError} when the owner did not answer.
   */
  async route(
    p: number,
    type: string,
    body: Body,
    serveHere: (body: Body, from: MemberAddress) => Attempt | Promise<Attempt>,
    until?: number,
  ): Promise<{ body: Body; table: PartitionTable }> {
    const ctx = this.#ctx;
    const self = ctx.transport.self;
    const deadline = Math.min(until ?? Infinity, ctx.now() + ctx.operationTimeoutMs);
    let lastRetry: RetryReason | undefined;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      ctx.checkOpen();
      const table = ctx.table();
      const owner = table.owner(p);
      if (owner !== undefined) {
        try {
          const timeoutMs = Math.max(1, Math.min(ctx.requestTimeoutMs, deadline - ctx.now()));
          const outcome: Attempt =
            owner.name === self.name
              ? await serveHere(body, self)
              : asAttempt(
                  await ctx.transport.request(
                    owner,
                    type,
                    { ...body, v: table.viewId },
                    { timeoutMs },
                  ),
                );
          if ('body' in outcome) return { body: outcome.body, table };
          lastRetry = outcome.retry;
        } catch (err) {
          if (!(err instanceof RetryableError)) throw err;
          lastRetry = undefined;
          lastError = err;
        }
      } else {
        lastRetry = 'not-owner';
      }
      ctx.counters.retries++;
      const pause = backoffMs(attempt, CLUSTER_RETRY_BASE_MS, CLUSTER_RETRY_MAX_MS);
      if (ctx.now() + pause >= deadline) {
        const what = `${type} of partition ${p}`;
        if (lastRetry !== undefined) {
          throw new NotOwnerError(
            `${what}: no owner served it in ${ctx.operationTimeoutMs} ms (last: ${lastRetry})`,
          );
        }
        throw new ClusterTimeoutError(
          `${what}: the owner did not answer in ${ctx.operationTimeoutMs} ms`,
          { cause: lastError },
        );
      }
      await sleep(pause);
    }
  }

  /**
   * Ids of every live session, or of the live sessions of `principal`: one `map.scan` per owner
   * for the partitions it owns (`scanHere` for this member's), the refused ones asked again.
   * @throws {ClusterTimeoutError} when some partitions were not answered by the deadline.
   */
  async scan(principal: string | undefined, scanHere: (body: Body) => Body): Promise<string[]> {
    const ctx = this.#ctx;
    const self = ctx.transport.self;
    const deadline = ctx.now() + ctx.operationTimeoutMs;
    let remaining = new Set<number>();
    for (let p = 0; p < ctx.partitionCount; p++) remaining.add(p);
    const out = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      ctx.checkOpen();
      const table = ctx.table();
      const byOwner = new Map<string, { member: MemberAddress; ps: number[] }>();
      for (const p of remaining) {
        const owner = table.owner(p);
        if (!owner) continue;
        const group = byOwner.get(owner.name) ?? { member: owner, ps: [] };
        group.ps.push(p);
        byOwner.set(owner.name, group);
      }
      const next = new Set<number>(byOwner.size === 0 ? remaining : []);
      await Promise.all(
        [...byOwner.values()].map(async ({ member, ps }) => {
          const body: Body = principal === undefined ? { ps } : { ps, principal };
          try {
            const answer =
              member.name === self.name
                ? scanHere(body)
                : await ctx.transport.request(member, 'map.scan', body, {
                    timeoutMs: ctx.requestTimeoutMs,
                  });
            for (const id of readIds(answer, 'ids')) out.add(id);
            for (const p of readPartitions(answer, ctx.partitionCount, 'refused')) next.add(p);
          } catch (err) {
            if (!(err instanceof RetryableError)) throw err;
            for (const p of ps) next.add(p);
          }
        }),
      );
      remaining = next;
      if (remaining.size === 0) return [...out];
      ctx.counters.retries++;
      if (ctx.now() >= deadline) {
        throw new ClusterTimeoutError(
          `ids: ${remaining.size} partitions did not answer in ${ctx.operationTimeoutMs} ms`,
        );
      }
      await sleep(backoffMs(attempt, CLUSTER_RETRY_BASE_MS, CLUSTER_RETRY_MAX_MS));
    }
  }
}

function asAttempt(body: Body): Attempt {
  const retry = retryOf(body);
  return retry === undefined ? { body } : { retry };
}
