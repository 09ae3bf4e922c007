import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import {
  createServer as createTcpServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';
import { createProxy, type Proxy } from '../../src/proxy/proxy.js';
import { startUpstream, type TestUpstream } from '../helpers/proxy-upstream.js';
import {
  fetchText,
  sessionCookie,
  spawnUpstream,
  type ChildUpstream,
} from '../helpers/proxy-process.js';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** An app node that reads a request's head and resets the connection: the request may have reached the app. */
async function resettingNode(): Promise<{ port: number; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', (chunk: Buffer) => {
      seen.push(chunk.toString('latin1').split(' ', 1)[0]!);
      socket.resetAndDestroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, seen, server };
}

async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function withProxy(
  upstreams: Array<{ name: string; port: number }>,
  extra = {},
): Promise<Proxy & { port: number }> {
  const proxy = createProxy({ upstreams, health: { fall: 100 }, ...extra });
  const { port } = await proxy.listen(0);
  cleanups.push(() => proxy.close());
  return Object.assign(proxy, { port });
}

const good: TestUpstream[] = [];
async function goodNode(name: string): Promise<TestUpstream> {
  const node = await startUpstream(name);
  good.push(node);
  cleanups.push(() => node.close());
  return node;
}

test('a refused connection is retried on another node, whatever the method', async () => {
  const ok = await goodNode('ok1');
  const proxy = await withProxy([
    { name: 'dead', port: await closedPort() },
    { name: 'ok1', port: ok.port },
  ]);
  const cookie = `sid=${sessionCookie('dead', 'ok1')}`;
  const get = await fetchText(proxy.port, '/', { headers: { cookie } });
  assert.equal(get.status, 200);
  const post = await fetchText(proxy.port, '/sink', {
    method: 'POST',
    headers: { cookie },
    body: 'payload',
  });
  assert.equal(post.status, 200);
  assert.deepEqual(JSON.parse(post.body), { name: 'ok1', bytes: 7 });
  assert.equal(proxy.counters.retries, 2);
});

test('a reset after the request was sent is retried for GET but never for POST', async () => {
  const bad = await resettingNode();
  const ok = await goodNode('ok2');
  const proxy = await withProxy([
    { name: 'reset', port: bad.port },
    { name: 'ok2', port: ok.port },
  ]);
  const cookie = `sid=${sessionCookie('reset', 'ok2')}`;
  const get = await fetchText(proxy.port, '/', { headers: { cookie } });
  assert.equal(get.status, 200);
  assert.equal(JSON.parse(get.body).name, 'ok2');

  const post = await fetchText(proxy.port, '/sink', {
    method: 'POST',
    headers: { cookie },
    body: 'once',
  });
  assert.equal(post.status, 502);
  const emptyPost = await fetchText(proxy.port, '/sink', { method: 'POST', headers: { cookie } });
  assert.equal(emptyPost.status, 502);
  const put = await fetchText(proxy.port, '/sink', {
    method: 'PUT',
    headers: { cookie },
    body: 'streamed',
  });
  assert.equal(put.status, 502, 'a body already streamed cannot be sent again');
  assert.deepEqual(bad.seen, ['GET', 'POST', 'POST', 'PUT']);
  assert.equal(
    ok.hits.get('POST /sink'),
    undefined,
    'no non-idempotent request reached a second node',
  );
  assert.equal(ok.hits.get('PUT /sink'), undefined);
});

test('a node killed under load: no idempotent request fails after the failover window', async () => {
  const nodes: ChildUpstream[] = await Promise.all([spawnUpstream('L1'), spawnUpstream('L2')]);
  cleanups.push(() => nodes.forEach((n) => n.kill()));
  const proxy = await withProxy(
    nodes.map(({ name, port }) => ({ name, port })),
    { health: { path: '/health', intervalMs: 100, timeoutMs: 200, fall: 2, rise: 2 } },
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  cleanups.push(() => agent.destroy());
  const WINDOW_MS = 1000;
  let killedAt = Infinity;
  const failures: number[] = [];
  let ok = 0;
  const stopAt = Date.now() + 2500;
  const loop = async (i: number): Promise<void> => {
    const cookie = `sid=${sessionCookie(i % 2 === 0 ? 'L1' : 'L2')}`;
    while (Date.now() < stopAt) {
      try {
        const reply = await fetchText(proxy.port, '/', { agent, headers: { cookie } });
        if (reply.status === 200) ok++;
        else failures.push(Date.now());
      } catch {
        failures.push(Date.now());
      }
    }
  };
  const kill = new Promise<void>((resolve) =>
    setTimeout(() => {
      killedAt = Date.now();
      nodes[0]!.kill();
      resolve();
    }, 600),
  );
  await Promise.all([kill, ...Array.from({ length: 8 }, (_, i) => loop(i))]);
  const late = failures.filter((at) => at > killedAt + WINDOW_MS);
  assert.ok(ok > 100, `only ${ok} requests succeeded`);
  assert.equal(
    late.length,
    0,
    `${late.length} failed after the window (${failures.length} in all)`,
  );
  assert.equal(proxy.pool.get('L1').state, 'down');
});
