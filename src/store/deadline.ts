// The deadline every remote store (Redis, PostgreSQL) puts around its operations. An operation
// that does not answer in time, or fails in a way that means "the server cannot answer now" (a
// lost connection, a failover), ends as StoreUnavailableError, which the adapters answer with
// 503; within its deadline it is tried again with backoff, so a reconnect or a failover that
// completes in time is not seen by the request. Each store says which of its errors mean that.

import { StoreDurabilityError, StoreUnavailableError } from '../errors.js';

export interface FailurePolicy {
  /** Names the store in messages: "redis: merge did not answer within 2000 ms". */
  readonly store: string;
  /** True when `err` means the server could not answer, as opposed to a bug or bad data. */
  unavailable(err: unknown): boolean;
}

/**
 * The operation's result, or StoreUnavailableError once `ms` pass or the operation fails in a
 * way `policy` calls unavailable; any other error is passed on as it is.
 */
export async function withDeadline<T>(
  policy: FailurePolicy,
  what: string,
  ms: number,
  operation: () => Promise<T>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new StoreUnavailableError(`${policy.store}: ${what} did not answer within ${ms} ms`),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([operation(), timeout]);
  } catch (err) {
    if (err instanceof StoreUnavailableError || !policy.unavailable(err)) throw err;
    throw new StoreUnavailableError(
      `${policy.store}: ${what} failed: ${(err as Error)?.message ?? String(err)}`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * withDeadline() tried again after 25 ms, doubling up to 250 ms, for as long as `timeoutMs`
 * allows and the store is open. Only an operation that can be repeated safely belongs here
 * (every merge is idempotent). A durability failure is not retried: the write was applied,
 * only its copies are missing.
 */
export async function withRetries<T>(
  policy: FailurePolicy,
  what: string,
  timeoutMs: number,
  closed: () => boolean,
  operation: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let pause = 25;
  for (;;) {
    try {
      return await withDeadline(policy, what, Math.max(1, deadline - Date.now()), operation);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || err instanceof StoreDurabilityError) throw err;
      if (closed() || deadline - Date.now() <= pause) throw err;
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 250);
    }
  }
}
