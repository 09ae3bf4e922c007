// The near cache's invalidations over a standalone client: a RESP3 connection with client-side
// caching (CLIENT TRACKING), on which Redis itself says which keys this node read have changed.
// Over Cluster and Sentinel clients the stores publish them instead (invalidation-channel.ts).

import type { RedisClientLike } from './connection.js';
import type { KeyLayout } from './keys.js';
import type { NearCache } from './near-cache.js';

/** A duplicate of `client` that reads with tracking on and invalidates `cache` as Redis says. */
export function trackedConnection(
  client: RedisClientLike,
  keys: KeyLayout,
  cache: NearCache,
): RedisClientLike {
  const tracked = client.duplicate({ RESP: 3, emitInvalidate: true, clientSideCache: undefined });
  tracked.on('invalidate', (key: unknown) => {
    if (key === null) return cache.clear();
    const id = keys.idOfSession(String(key));
    if (id !== undefined) cache.invalidate(id);
  });
  // Invalidations sent while disconnected are lost, and tracking restarts empty.
  tracked.on('error', () => cache.clear());
  tracked.on('ready', () => {
    cache.clear();
    // node-redis turns tracking on; NOLOOP spares this connection the invalidations of its
    // own writes (their result comes back from the merge script instead).
    tracked.sendCommand(['CLIENT', 'TRACKING', 'ON', 'NOLOOP']).catch(() => cache.clear());
  });
  return tracked;
}
