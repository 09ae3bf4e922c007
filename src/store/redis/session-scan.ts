// The session hashes on one master, by SCAN: for listing every session (all()) and for the
// expiry sweeper. SCAN never blocks the server the way KEYS does, and on Redis Cluster each
// master is scanned on its own, as no command spans slots.

import type { KeyLayout } from './keys.js';

/** Keys a SCAN step asks for: a hint to the server, not a limit. */
const SCAN_COUNT = '1000';

/**
 * Calls `each` with the ids of every batch of session hashes on one master, one SCAN step at a
 * time (an id may come twice: SCAN's guarantee is at least once). `send` runs one command on
 * that master, with the caller's deadline.
 */
export async function scanSessionIds(
  keys: KeyLayout,
  send: (args: readonly string[]) => Promise<unknown>,
  each: (ids: string[]) => void | Promise<void>,
): Promise<void> {
  let cursor = '0';
  do {
    const reply = (await send([
      'SCAN',
      cursor,
      'MATCH',
      keys.sessionPattern,
      'COUNT',
      SCAN_COUNT,
      'TYPE',
      'hash',
    ])) as [string, string[]];
    cursor = String(reply[0]);
    const ids: string[] = [];
    for (const key of reply[1]) {
      const id = keys.idOfSession(String(key));
      if (id !== undefined) ids.push(id);
    }
    if (ids.length > 0) await each(ids);
  } while (cursor !== '0');
}
