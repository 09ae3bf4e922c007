// The contract every Transport passes (TCP and in-memory): run `transportContract(name, factory)`
// from a test file. The factory makes started transports that can reach each other.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { RetryableError, SessionMeshError } from '../../errors.js';
import type { Body, MemberAddress, Transport } from './transport.js';

export interface TransportFactory {
  /** A started transport named `name`, reachable by the others this factory made. */
  create(name: string): Promise<Transport>;
  /** An address nobody listens on. */
  deadAddress(): Promise<MemberAddress>;
}

export function transportContract(label: string, makeFactory: () => TransportFactory): void {
  describe(`Transport contract: ${label}`, () => {
    let open: Transport[] = [];
    let factory: TransportFactory;
    const create = async (name: string): Promise<Transport> => {
      const t = await factory.create(name);
      open.push(t);
      return t;
    };
    const pair = async (): Promise<[Transport, Transport]> => {
      factory = makeFactory();
      return [await create('a'), await create('b')];
    };
    afterEach(async () => {
      await Promise.all(open.map((t) => t.close()));
      open = [];
    });

    it('a request gets the handler reply, and the handler sees who sent it', async () => {
      const [a, b] = await pair();
      b.onRequest((type, body, from) => ({ type, echo: body['n'], from: from.name }));
      const reply = await a.request(b.self, 'x.echo', { n: 7 }, { timeoutMs: 2000 });
      assert.deepEqual(reply, { type: 'x.echo', echo: 7, from: 'a' });
    });

    it('requests flow both ways between two members', async () => {
      const [a, b] = await pair();
      a.onRequest(() => ({ me: 'a' }));
      b.onRequest(() => ({ me: 'b' }));
      assert.deepEqual(await a.request(b.self, 't', {}, { timeoutMs: 2000 }), { me: 'b' });
      assert.deepEqual(await b.request(a.self, 't', {}, { timeoutMs: 2000 }), { me: 'a' });
    });

    it('a one-way message reaches the message handler with its sender', async () => {
      const [a, b] = await pair();
      const got = new Promise<[string, Body, string]>((resolve) =>
        b.onMessage((type, body, from) => resolve([type, body, from.name])),
      );
      a.send(b.self, 'x.note', { hello: 'world' });
      assert.deepEqual(await got, ['x.note', { hello: 'world' }, 'a']);
    });

    it('plain data round-trips: nested maps, arrays, bytes, null, numbers', async () => {
      const [a, b] = await pair();
      b.onRequest((_t, body) => body);
      const body = {
        m: { k: [1, -2.5, 'x', null, true] },
        bin: new Uint8Array([0, 255, 7]),
        big: 2 ** 40,
      };
      const reply = await a.request(b.self, 't', body, { timeoutMs: 2000 });
      assert.deepEqual(reply['m'], body.m);
      assert.deepEqual(Array.from(reply['bin'] as Uint8Array), [0, 255, 7]);
      assert.equal(reply['big'], 2 ** 40);
    });

    it('concurrent requests each get their own reply', async () => {
      const [a, b] = await pair();
      b.onRequest(async (_t, body) => {
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 5)));
        return { i: body['i'] };
      });
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, i) => a.request(b.self, 't', { i }, { timeoutMs: 5000 })),
      );
      assert.deepEqual(
        replies.map((r) => r['i']),
        Array.from({ length: 50 }, (_, i) => i),
      );
    });

    it('a handler error reaches the requester with its code, retryable or not', async () => {
      const [a, b] = await pair();
      b.onRequest((type) => {
        if (type === 'retry') throw new RetryableError('SM_ERR_CLUSTER_NOT_OWNER', 'not mine');
        if (type === 'fatal') throw new SessionMeshError('SM_ERR_SESSION_GONE', 'gone');
        throw new Error('plain');
      });
      await assert.rejects(a.request(b.self, 'retry', {}, { timeoutMs: 2000 }), (err: unknown) => {
        assert.ok(err instanceof RetryableError);
        assert.equal(err.code, 'SM_ERR_CLUSTER_NOT_OWNER');
        return true;
      });
      await assert.rejects(a.request(b.self, 'fatal', {}, { timeoutMs: 2000 }), (err: unknown) => {
        assert.ok(err instanceof SessionMeshError && !(err instanceof RetryableError));
        assert.equal(err.code, 'SM_ERR_SESSION_GONE');
        return true;
      });
      await assert.rejects(a.request(b.self, 'other', {}, { timeoutMs: 2000 }), {
        code: 'SM_ERR_CLUSTER_REMOTE',
      });
    });

    it('a request with no reply by its deadline fails with SM_ERR_CLUSTER_TIMEOUT', async () => {
      const [a, b] = await pair();
      b.onRequest(() => new Promise<Body>(() => {}));
      const started = Date.now();
      await assert.rejects(a.request(b.self, 't', {}, { timeoutMs: 150 }), (err: unknown) => {
        assert.ok(err instanceof RetryableError);
        assert.equal(err.code, 'SM_ERR_CLUSTER_TIMEOUT');
        return true;
      });
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 140 && elapsed < 1500, `took ${elapsed} ms`);
    });

    it('a request to an address nobody listens on fails retryably before its deadline', async () => {
      const [a] = await pair();
      const dead = await factory.deadAddress();
      const started = Date.now();
      await assert.rejects(a.request(dead, 't', {}, { timeoutMs: 3000 }), (err: unknown) => {
        assert.ok(err instanceof RetryableError);
        assert.equal(err.code, 'SM_ERR_CLUSTER_UNREACHABLE');
        return true;
      });
      assert.ok(Date.now() - started < 2000);
    });

    it('handlers registered for a type prefix take those types; the default takes the rest', async () => {
      const [a, b] = await pair();
      b.onRequest(() => ({ by: 'default' }));
      b.onRequest(() => ({ by: 'swim' }), 'swim.');
      b.onRequest(() => ({ by: 'swim.ping' }), 'swim.ping');
      assert.deepEqual(await a.request(b.self, 'swim.sync', {}, { timeoutMs: 2000 }), {
        by: 'swim',
      });
      assert.deepEqual(await a.request(b.self, 'swim.ping', {}, { timeoutMs: 2000 }), {
        by: 'swim.ping',
      });
      assert.deepEqual(await a.request(b.self, 'map.get', {}, { timeoutMs: 2000 }), {
        by: 'default',
      });
    });

    it('a request of a type nobody handles fails with SM_ERR_CLUSTER_NO_HANDLER, retryable', async () => {
      const [a, b] = await pair();
      b.onRequest(() => ({}), 'swim.');
      await assert.rejects(
        a.request(b.self, 'map.get', {}, { timeoutMs: 2000 }),
        (err: unknown) => {
          assert.ok(err instanceof RetryableError);
          assert.equal(err.code, 'SM_ERR_CLUSTER_NO_HANDLER');
          return true;
        },
      );
    });

    it('closing fails the requests in flight and every later one with SM_ERR_CLUSTER_UNREACHABLE', async () => {
      const [a, b] = await pair();
      b.onRequest(() => new Promise<Body>(() => {}));
      const inFlight = a.request(b.self, 't', {}, { timeoutMs: 5000 });
      await new Promise((r) => setTimeout(r, 50));
      await a.close();
      await assert.rejects(inFlight, { code: 'SM_ERR_CLUSTER_UNREACHABLE' });
      await assert.rejects(a.request(b.self, 't', {}, { timeoutMs: 1000 }), {
        code: 'SM_ERR_CLUSTER_UNREACHABLE',
      });
    });

    it('a member that closed is unreachable to the others, which fail retryably', async () => {
      const [a, b] = await pair();
      b.onRequest(() => ({ ok: true }));
      await a.request(b.self, 't', {}, { timeoutMs: 2000 });
      await b.close();
      await assert.rejects(a.request(b.self, 't', {}, { timeoutMs: 1000 }), (err: unknown) => {
        assert.ok(err instanceof RetryableError);
        return true;
      });
    });
  });
}
