// Every kind of bad peer on the cluster port: each closes its own connection, is published on
// diagnostics_channel and counted, and the member goes on serving good peers.

import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { encodeValue } from '../../src/cluster/transport/codec.js';
import {
  createTcpTransport,
  type TcpTransport,
} from '../../src/cluster/transport/tcp-transport.js';
import { closedWithin, rawConnect, rawHandshake } from '../helpers/cluster-member-raw.js';

const SECRET = 'the-right-cluster-secret-0123456789abcdef';
const OTHER_SECRET = 'the-wrong-cluster-secret-0123456789abcdef';

function frame(payload: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.byteLength);
  return Buffer.concat([head, payload]);
}

describe('the cluster port under bad peers', () => {
  let member: TcpTransport;
  let good: TcpTransport;
  const events: { reason: string }[] = [];
  const onRejected = (message: unknown): void => void events.push(message as { reason: string });
  const extra: TcpTransport[] = [];
  /** Every request body the member received. */
  const bodies: Record<string, unknown>[] = [];

  before(async () => {
    subscribe('sessionmesh:cluster:connection-rejected', onRejected);
    member = createTcpTransport({
      name: 'member',
      cluster: 'prod',
      secret: SECRET,
      handshakeTimeoutMs: 200,
      idleTimeoutMs: 300,
      keepAliveMs: 100,
      maxPendingHandshakes: 8,
    });
    await member.start();
    member.onRequest((_type, body) => {
      bodies.push(body);
      return { alive: true };
    });
    // The good peer's keep-alives must come more often than the member's idle timeout.
    good = createTcpTransport({ name: 'good', cluster: 'prod', secret: SECRET, keepAliveMs: 100 });
    await good.start();
  });
  after(async () => {
    unsubscribe('sessionmesh:cluster:connection-rejected', onRejected);
    await Promise.all([member.close(), good.close(), ...extra.map((t) => t.close())]);
  });

  async function stillServes(): Promise<void> {
    assert.deepEqual(await good.request(member.self, 'ping', {}, { timeoutMs: 1000 }), {
      alive: true,
    });
  }
  async function expectRejected(reason: string, count = 1): Promise<void> {
    for (let i = 0; i < 100 && member.stats().rejected[reason as 'auth'] < count; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(
      member.stats().rejected[reason as 'auth'] >= count,
      `rejected[${reason}] >= ${count}`,
    );
    assert.ok(
      events.some((e) => e.reason === reason),
      `a ${reason} event was published`,
    );
  }

  it('a member with a wrong secret never gets a reply, and both sides count it', async () => {
    const intruder = createTcpTransport({
      name: 'intruder',
      cluster: 'prod',
      secret: OTHER_SECRET,
    });
    extra.push(intruder);
    await intruder.start();
    await assert.rejects(intruder.request(member.self, 'ping', {}, { timeoutMs: 1000 }), {
      code: 'SM_ERR_CLUSTER_UNREACHABLE',
    });
    assert.equal(intruder.stats().rejected.auth, 1, 'the dialer found the listener proof wrong');
    await expectRejected('auth');
    await stillServes();
  });

  it('a forged proof from a raw peer is refused', async () => {
    const socket = await rawConnect(member.self.address);
    await assert.rejects(
      rawHandshake(socket, { cluster: 'prod', secret: OTHER_SECRET, name: 'forger' }),
    );
    assert.ok((await closedWithin(socket, 1000)) >= 0);
    await expectRejected('auth', 2);
    await stillServes();
  });

  it('a member of another cluster is refused', async () => {
    const stranger = createTcpTransport({ name: 'stranger', cluster: 'staging', secret: SECRET });
    extra.push(stranger);
    await stranger.start();
    await assert.rejects(stranger.request(member.self, 'ping', {}, { timeoutMs: 1000 }), {
      code: 'SM_ERR_CLUSTER_UNREACHABLE',
    });
    await expectRejected('cluster-name');
    await stillServes();
  });

  it('a garbage frame before the handshake closes the connection', async () => {
    const socket = await rawConnect(member.self.address);
    socket.write(frame(Buffer.from([0xc1, 0xc1, 0xc1])));
    assert.ok((await closedWithin(socket, 1000)) >= 0);
    await expectRejected('garbage');
    await stillServes();
  });

  it('a request frame before the handshake closes the connection', async () => {
    const socket = await rawConnect(member.self.address);
    socket.write(frame(encodeValue([0, 1, 'ping', {}])));
    assert.ok((await closedWithin(socket, 1000)) >= 0);
    await expectRejected('garbage', 2);
    await stillServes();
  });

  it('a stream of random bytes closes the connection and the member keeps serving', async () => {
    for (let i = 0; i < 5; i++) {
      const socket = await rawConnect(member.self.address);
      socket.write(randomBytes(64 * 1024));
      assert.ok((await closedWithin(socket, 1000)) >= 0);
    }
    await stillServes();
  });

  it('a 1 GB length prefix closes the connection at once, before the handshake and after it', async () => {
    const before = process.memoryUsage().rss;
    const counted = member.stats().rejected['frame-too-large'];
    const socket = await rawConnect(member.self.address);
    socket.write(Buffer.from([0x40, 0, 0, 0]));
    const ms = await closedWithin(socket, 1000);
    assert.ok(ms >= 0 && ms < 500, `closed after ${ms} ms`);
    const authed = await rawConnect(member.self.address);
    await rawHandshake(authed, { cluster: 'prod', secret: SECRET, name: 'raw' });
    authed.write(Buffer.from([0x40, 0, 0, 0, 1, 2, 3]));
    assert.ok((await closedWithin(authed, 1000)) >= 0);
    await expectRejected('frame-too-large', counted + 2);
    assert.ok(
      process.memoryUsage().rss - before < 64 * 1024 * 1024,
      'nothing near 1 GB was allocated',
    );
    await stillServes();
  });

  it('an extension type after the handshake is garbage', async () => {
    const counted = member.stats().rejected.garbage;
    const ext = await rawConnect(member.self.address);
    await rawHandshake(ext, { cluster: 'prod', secret: SECRET, name: 'raw-ext' });
    // fixext 1 of type 1 inside a request body: [0, 1, 't', {x: ext}]
    ext.write(
      frame(Buffer.from([0x94, 0x00, 0x01, 0xa1, 0x74, 0x81, 0xa1, 0x78, 0xd4, 0x01, 0x00])),
    );
    assert.ok((await closedWithin(ext, 1000)) >= 0);
    await expectRejected('garbage', counted + 1);
    await stillServes();
  });

  it('a __proto__ key is read as an own property, never as the prototype', async () => {
    // A session attribute may be named "__proto__" (session/record.ts): its frames must pass,
    // and nothing in them may reach a prototype.
    const garbage = member.stats().rejected.garbage;
    const proto = await rawConnect(member.self.address);
    await rawHandshake(proto, { cluster: 'prod', secret: SECRET, name: 'raw-proto' });
    // [0, 1, 't', {"__proto__": {admin: true}}]
    const key = Buffer.from('__proto__');
    proto.write(
      frame(
        Buffer.concat([
          Buffer.from([0x94, 0x00, 0x01, 0xa1, 0x74, 0x81, 0xa0 | key.length]),
          key,
          Buffer.from([0x81, 0xa5]),
          Buffer.from('admin'),
          Buffer.from([0xc3]),
        ]),
      ),
    );
    let body: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !body; i++) {
      body = bodies.find((b) => Object.hasOwn(b, '__proto__'));
      if (!body) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(body, 'the request reached the handler');
    assert.equal(Object.getPrototypeOf(body), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(body, '__proto__')?.value, { admin: true });
    assert.equal(({} as { admin?: boolean }).admin, undefined);
    assert.equal(await closedWithin(proto, 200), -1, 'the connection stays open');
    assert.equal(member.stats().rejected.garbage, garbage);
    proto.destroy();
    await stillServes();
  });

  it('a connection that never completes the handshake is closed at the handshake timeout', async () => {
    const socket = await rawConnect(member.self.address);
    const ms = await closedWithin(socket, 2000);
    assert.ok(ms >= 150 && ms < 1000, `closed after ${ms} ms`);
    await expectRejected('handshake-timeout');
    await stillServes();
  });

  it('an authenticated connection that falls silent (half-open) is closed at the idle timeout', async () => {
    const socket = await rawConnect(member.self.address);
    await rawHandshake(socket, { cluster: 'prod', secret: SECRET, name: 'silent' });
    // From here on it reads but sends nothing, not even a keep-alive.
    const ms = await closedWithin(socket, 3000);
    assert.ok(ms >= 250 && ms < 2000, `closed after ${ms} ms`);
    await expectRejected('idle');
    await stillServes();
  });

  it('connections past maxPendingHandshakes are closed on accept', async () => {
    const sockets = await Promise.all(
      Array.from({ length: 10 }, () => rawConnect(member.self.address)),
    );
    const closedEarly = await Promise.all(sockets.map((s) => closedWithin(s, 100)));
    assert.ok(
      closedEarly.filter((ms) => ms >= 0).length >= 2,
      'the ones past the limit were closed',
    );
    assert.ok(member.stats().rejected['too-many-handshakes'] >= 2);
    sockets.forEach((s) => s.destroy());
    await stillServes();
  });
});
