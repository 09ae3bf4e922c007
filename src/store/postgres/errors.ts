// Which PostgreSQL failures mean "the store is unavailable, try again" (a 503), as opposed to
// a bug or bad data: lost connections, shutdowns, overload, deadlocks and serialization races.

import type { FailurePolicy } from '../deadline.js';

const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
]);

export function isUnavailable(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '');
  if (NETWORK.has(code)) return true;
  // SQLSTATE classes 08 (connection), 53 (resources), 57P0x (shutdown), 40001/40P01 (races)
  if (/^08|^53|^57P0|^40001$|^40P01$/.test(code)) return true;
  const message = String((err as Error)?.message ?? '');
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect|Cannot use a pool after calling end/i.test(
    message,
  );
}

/** PostgreSQL's failures for deadline.ts. */
export const POSTGRES_FAILURES: FailurePolicy = { store: 'postgres', unavailable: isUnavailable };
