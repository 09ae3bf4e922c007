// The TCP transport passes the transport contract on real loopback sockets, and keeps one
// connection per pair of members, with back-pressure and reconnects.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import {
  createTcpTransport,
  type TcpTransport,
} from '../../src/cluster/transport/tcp-transport.js';
import { transportContract } from '../../src/cluster/transport/transport.contract.js';

const SECRET = 'a-cluster-secret-of-at-least-32-characters';

export async function freeAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return `127.0.0.1:${port}`;
}

transportContract('TCP', () => ({
  async create(name) {
    const t = createTcpTransport({ name, cluster: 'contract', secret: SECRET });
    await t.start();
    return t;
  },
  async deadAddress() {
    return { name: 'nobody', address: await freeAddress() };
  },
}));

describe('TCP transport connections', () => {
  const open: TcpTransport[] = [];
  const make = async (
    name: string,
    extra: Partial<Parameters<typeof createTcpTransport>[0]> = {},
  ) => {
    const t = createTcpTransport({ name, cluster: 'c', secret: SECRET, ...extra });
    open.push(t);
    await t.start();
    return t;
  };
  after(() => Promise.all(open.map((t) => t.close())));

  it('two members that dial each other at once end with a single connection between them, reused', async () => {
    const a = await make('a');
    const b = await make('b');
    a.onRequest(() => ({ ok: 'a' }));
    b.onRequest(() => ({ ok: 'b' }));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0
          ? a.request(b.self, 't', {}, { timeoutMs: 2000 })
          : b.request(a.self, 't', {}, { timeoutMs: 2000 }),
      ),
    );
    // Let the duplicate drain and close.
    for (
      let i = 0;
      i < 50 && (a.stats().connectionsOpen > 1 || b.stats().connectionsOpen > 1);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(a.stats().connectionsOpen, 1);
    assert.equal(b.stats().connectionsOpen, 1);
    const before = a.stats().connectionsOpened;
    for (let i = 0; i < 10; i++) await a.request(b.self, 't', {}, { timeoutMs: 2000 });
    for (let i = 0; i < 10; i++) await b.request(a.self, 't', {}, { timeoutMs: 2000 });
    assert.equal(a.stats().connectionsOpened, before, 'no new connection for later requests');
  });

  it('a full send queue fails requests with SM_ERR_CLUSTER_BACKPRESSURE instead of buffering without bound', async () => {
    const a = await make('bp-a', { maxQueuedBytes: 256 * 1024 });
    const b = await make('bp-b');
    b.onRequest(() => new Promise(() => {}));
    const big = { blob: new Uint8Array(64 * 1024) };
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () => a.request(b.self, 't', big, { timeoutMs: 300 })),
    );
    const codes = results.map((r) =>
      r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok',
    );
    assert.ok(codes.includes('SM_ERR_CLUSTER_BACKPRESSURE'), 'some requests were refused at once');
    assert.ok(
      codes.every((c) => c === 'SM_ERR_CLUSTER_BACKPRESSURE' || c === 'SM_ERR_CLUSTER_TIMEOUT'),
    );
  });

  it('reconnects to a member restarted on the same address, after backoff', async () => {
    const a = await make('rc-a');
    let b = await make('rc-b');
    const address = b.self.address;
    b.onRequest(() => ({ gen: 1 }));
    assert.deepEqual(await a.request(b.self, 't', {}, { timeoutMs: 1000 }), { gen: 1 });
    await b.close();
    await assert.rejects(a.request(b.self, 't', {}, { timeoutMs: 1000 }), {
      code: 'SM_ERR_CLUSTER_UNREACHABLE',
    });
    const port = Number(address.split(':')[1]);
    b = await make('rc-b', { port });
    b.onRequest(() => ({ gen: 2 }));
    const started = Date.now();
    let reply: unknown;
    for (let i = 0; i < 100 && reply === undefined; i++) {
      reply = await a.request(b.self, 't', {}, { timeoutMs: 500 }).catch(() => undefined);
      if (reply === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(reply, { gen: 2 });
    assert.ok(Date.now() - started < 2000, 'reached again within the max backoff');
  });

  it('refuses bad options by name', () => {
    assert.throws(() => createTcpTransport({ name: 'x y', cluster: 'c', secret: SECRET }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
    assert.throws(() => createTcpTransport({ name: 'x', cluster: 'c', secret: 'short' }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
    assert.throws(() => createTcpTransport({ name: 'x', cluster: '', secret: SECRET }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
    assert.throws(
      () => createTcpTransport({ name: 'x', cluster: 'c', secret: SECRET, maxFrameBytes: -1 }),
      {
        code: 'SM_ERR_OPTION_INVALID',
      },
    );
  });
});
