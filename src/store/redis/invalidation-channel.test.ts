import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Connection, MasterHandle } from './connection.js';
import { InvalidationChannel, invalidationMessage } from './invalidation-channel.js';
import { NearCache } from './near-cache.js';
import type { SessionRecord } from '../../session/record.js';

/**
 * An in-memory pub/sub: masters whose subscribers hear every PUBLISH (as over the cluster bus)
 * unless `deliver` is off, and a subscriber that the test can fail like a dropped connection.
 */
function fakeRedis(addresses = ['m1', 'm2']) {
  const subscribers: FakeSubscriber[] = [];
  const state = { deliver: true, down: new Set<string>(), published: [] as string[] };
  class FakeSubscriber extends EventEmitter {
    listener: ((message: string) => void) | undefined;
    closed = false;
    constructor(readonly address: string) {
      super();
    }
    async connect() {
      if (state.down.has(this.address)) throw new Error(`${this.address} is down`);
    }
    async subscribe(_channel: string, listener: (message: string) => void) {
      this.listener = listener;
    }
    destroy() {
      this.closed = true;
    }
    /** The connection drops; messages published now are not heard. */
    fail() {
      this.listener = undefined;
      this.emit('error', new Error('socket closed'));
    }
    /** node-redis reconnected and subscribed again. */
    resubscribe(listener: (message: string) => void) {
      this.listener = listener;
    }
  }
  const publish = (message: string) => {
    state.published.push(message);
    if (!state.deliver) return;
    for (const s of subscribers) if (!s.closed) s.listener?.(message);
  };
  const masters = (): MasterHandle[] =>
    addresses.map((address) => ({
      address,
      send: async () => null,
      subscriber: async () => {
        const s = new FakeSubscriber(address);
        subscribers.push(s);
        return s as never;
      },
    }));
  const connection: Connection = {
    kind: 'cluster',
    send: async (_key, _readonly, args) => {
      if (args[0] === 'PUBLISH') queueMicrotask(() => publish(args[2]!));
      return 1;
    },
    pipeline: async () => [],
    masters: async () => masters(),
  };
  return { connection, subscribers, state, publish };
}

const record: SessionRecord = { createdAt: 1, accessedAt: 1 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function started(redis: ReturnType<typeof fakeRedis>, reopenMs = 1000) {
  const cache = new NearCache(100, false);
  const channel = new InvalidationChannel({
    connection: redis.connection,
    channel: 'sm:invalidate',
    origin: 'me',
    cache,
    timeoutMs: 1000,
    reopenMs,
  });
  await channel.start();
  return { cache, channel };
}

describe('InvalidationChannel', () => {
  it('keeps nothing until its own probe came back, then drops what others wrote', async () => {
    const redis = fakeRedis();
    const cache = new NearCache(100, false);
    cache.set('s', record, cache.epoch);
    assert.equal(cache.size, 0, 'a cache over pub/sub starts suspended');
    const channel = new InvalidationChannel({
      connection: redis.connection,
      channel: 'sm:invalidate',
      origin: 'me',
      cache,
      timeoutMs: 1000,
      reopenMs: 1000,
    });
    await channel.start();
    assert.equal(redis.subscribers.length, 1, 'one subscription');
    cache.set('s', record, cache.epoch);
    assert.equal(cache.size, 1);
    redis.publish(invalidationMessage('me', 's'));
    assert.equal(cache.size, 1, 'its own writes are skipped');
    redis.publish(invalidationMessage('other', 's'));
    assert.equal(cache.size, 0);
    await channel.close();
  });

  it('does not keep a reply that was in flight while an invalidation of its session arrived', async () => {
    const redis = fakeRedis();
    const { cache, channel } = await started(redis);
    const epoch = cache.epoch;
    redis.publish(invalidationMessage('other', 'unrelated'));
    cache.set('s', record, epoch);
    assert.equal(cache.size, 1, 'another session was invalidated');
    const again = cache.epoch;
    redis.publish(invalidationMessage('other', 's'));
    cache.set('s', record, again);
    assert.equal(cache.size, 0);
    await channel.close();
  });

  it('empties the cache when the subscription drops and keeps nothing until a new probe returns', async () => {
    const redis = fakeRedis();
    const { cache, channel } = await started(redis);
    cache.set('s', record, cache.epoch);
    const subscriber = redis.subscribers[0]!;
    const listener = subscriber.listener!;
    subscriber.fail();
    assert.equal(cache.size, 0, 'emptied on the error');
    await sleep(150);
    cache.set('s', record, cache.epoch);
    assert.equal(cache.size, 0, 'nothing kept while not subscribed');
    assert.ok(
      redis.state.published.some((m) => m.startsWith('me.')),
      'probes were sent',
    );
    // A probe of the generation before the loss proves nothing: only a new one counts.
    redis.state.deliver = false;
    subscriber.resubscribe(listener);
    listener('me.1');
    cache.set('s', record, cache.epoch);
    assert.equal(cache.size, 0);
    redis.state.deliver = true;
    await sleep(250);
    const epoch = cache.epoch;
    cache.set('s', record, epoch);
    assert.equal(cache.size, 1, 'kept again once a probe came back');
    await channel.close();
  });

  it('moves to another master when its subscriber hears nothing for reopenMs', async () => {
    const redis = fakeRedis(['m1', 'm2']);
    const { cache, channel } = await started(redis, 200);
    const first = redis.subscribers[0]!;
    redis.state.down.add(first.address);
    first.fail();
    await sleep(600);
    const second = redis.subscribers.at(-1)!;
    assert.ok(first.closed, 'the old subscriber was closed');
    assert.notEqual(second.address, first.address);
    cache.set('s', record, cache.epoch);
    assert.equal(cache.size, 1, 'live again on the other master');
    await channel.close();
    assert.ok(second.closed);
  });

  it('fails to start, within timeoutMs, when no probe comes back', async () => {
    const redis = fakeRedis();
    redis.state.deliver = false;
    const cache = new NearCache(100, false);
    const channel = new InvalidationChannel({
      connection: redis.connection,
      channel: 'sm:invalidate',
      origin: 'me',
      cache,
      timeoutMs: 300,
      reopenMs: 1000,
    });
    await assert.rejects(channel.start(), { code: 'SM_ERR_STORE_UNAVAILABLE' });
    await channel.close();
  });
});
