import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryNetwork } from './memory-network.js';
import { transportContract } from './transport.contract.js';

let dead = 0;
transportContract('in-memory', () => {
  const net = createMemoryNetwork({ seed: 1 });
  return {
    async create(name) {
      const t = net.createTransport({ name, address: `mem:${name}` });
      await t.start();
      return t;
    },
    async deadAddress() {
      return { name: `dead${++dead}`, address: `mem:dead${dead}` };
    },
  };
});

describe('MemoryNetwork', () => {
  const setup = async (seed = 7) => {
    const net = createMemoryNetwork({ seed });
    const ts = await Promise.all(
      ['a', 'b', 'c'].map(async (name) => {
        const t = net.createTransport({ name, address: name });
        await t.start();
        t.onRequest(() => ({ from: name }));
        return t;
      }),
    );
    return { net, ts, close: () => Promise.all(ts.map((t) => t.close())) };
  };

  it('a partition cuts links between groups and keeps links inside them; heal restores them', async () => {
    const { net, ts, close } = await setup();
    const [a, b, c] = ts as [(typeof ts)[0], (typeof ts)[0], (typeof ts)[0]];
    net.partition(['a', 'b'], ['c']);
    assert.deepEqual(await a.request(b.self, 't', {}, { timeoutMs: 200 }), { from: 'b' });
    await assert.rejects(a.request(c.self, 't', {}, { timeoutMs: 100 }), {
      code: 'SM_ERR_CLUSTER_TIMEOUT',
    });
    await assert.rejects(c.request(b.self, 't', {}, { timeoutMs: 100 }), {
      code: 'SM_ERR_CLUSTER_TIMEOUT',
    });
    net.heal();
    assert.deepEqual(await a.request(c.self, 't', {}, { timeoutMs: 200 }), { from: 'c' });
    await close();
  });

  it('a cut link fails one pair only', async () => {
    const { net, ts, close } = await setup();
    const [a, b, c] = ts as [(typeof ts)[0], (typeof ts)[0], (typeof ts)[0]];
    net.cut('a', 'c');
    await assert.rejects(a.request(c.self, 't', {}, { timeoutMs: 100 }), {
      code: 'SM_ERR_CLUSTER_TIMEOUT',
    });
    assert.deepEqual(await b.request(c.self, 't', {}, { timeoutMs: 200 }), { from: 'c' });
    await close();
  });

  it('drops about the configured share of messages, the same ones for the same seed', async () => {
    const run = async (seed: number) => {
      const { net, ts, close } = await setup(seed);
      net.setDropRate(0.3);
      const outcomes = [];
      for (let i = 0; i < 100; i++) {
        outcomes.push(
          await ts[0]!.request(ts[1]!.self, 't', {}, { timeoutMs: 20 }).then(
            () => 1,
            () => 0,
          ),
        );
      }
      await close();
      return outcomes;
    };
    const first = await run(11);
    assert.deepEqual(await run(11), first);
    const ok = first.reduce<number>((s, x) => s + x, 0);
    // A round trip survives with probability 0.7^2 = 0.49.
    assert.ok(ok > 30 && ok < 70, `${ok} of 100 round trips survived`);
  });

  it('delays messages within the configured range', async () => {
    const { net, ts, close } = await setup();
    net.setDelay(30, 40);
    const started = Date.now();
    await ts[0]!.request(ts[1]!.self, 't', {}, { timeoutMs: 500 });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 58 && elapsed < 200, `round trip took ${elapsed} ms`);
    await close();
  });

  it('refuses two transports on one address', async () => {
    const net = createMemoryNetwork();
    await net.createTransport({ name: 'a', address: 'x' }).start();
    await assert.rejects(net.createTransport({ name: 'b', address: 'x' }).start(), {
      code: 'SM_ERR_OPTION_INVALID',
    });
  });
});
