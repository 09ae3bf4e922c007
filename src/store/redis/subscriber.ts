// A pub/sub connection to one master, the one mechanism behind the expiry listener (keyspace
// events on every master) and the invalidation channel (the near cache's messages, on one):
// opened, connected and subscribed within a deadline, closed quietly, and telling its owner
// when it may have missed messages.

import {
  withDeadline,
  type MasterHandle,
  type RedisClientLike,
  type RedisSentinelLike,
} from './connection.js';

export type Subscriber = RedisClientLike | RedisSentinelLike;

export interface SubscriberEvents {
  /** The connection is ready again (node-redis re-subscribes by itself after a reconnect). */
  ready?(): void;
  /**
   * Messages may have been missed: the connection errored, ended or is reconnecting, or (a
   * sentinel client) its pub/sub moved to a new master, which it re-subscribes on later.
   */
  lost?(): void;
}

/**
 * A subscriber on `master`, connected, on which `subscribe` has run, within `timeoutMs`.
 * @throws {StoreUnavailableError} when that takes longer or fails; the connection is closed.
 */
export async function openSubscriber(
  master: MasterHandle,
  timeoutMs: number,
  subscribe: (client: Subscriber) => Promise<unknown>,
  events: SubscriberEvents = {},
): Promise<Subscriber> {
  const client = await master.subscriber();
  const lost = events.lost ?? (() => {});
  // A listener on 'error' is needed in any case: an EventEmitter throws an unheard one.
  client.on('error', lost);
  client.on('end', lost);
  client.on('reconnecting', lost);
  // A sentinel client swaps its pub/sub connection for one on the promoted master without an
  // error (the old master may still be up, now a replica), and announces it only here.
  client.on('topology-change', (event: { type?: string } | undefined) => {
    if (event?.type === 'MASTER_CHANGE') lost();
  });
  if (events.ready) client.on('ready', events.ready);
  try {
    await withDeadline('subscribing', timeoutMs, async () => {
      await client.connect();
      await subscribe(client);
    });
  } catch (err) {
    void closeQuietly(client);
    throw err;
  }
  return client;
}

export async function closeQuietly(client: Subscriber): Promise<void> {
  try {
    if (client.destroy) client.destroy();
    else await client.close?.();
  } catch {
    // already closed
  }
}
