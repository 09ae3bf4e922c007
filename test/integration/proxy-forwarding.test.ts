import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { createProxy, type Proxy } from '../../src/proxy/proxy.js';
import { startUpstream, wsFrame, wsText, type TestUpstream } from '../helpers/proxy-upstream.js';
import { fetchText, sessionCookie } from '../helpers/proxy-process.js';

const upstreams: TestUpstream[] = [];
const proxies: Proxy[] = [];
after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(upstreams.map((u) => u.close()));
});

async function setup(names: string[], options: Partial<Parameters<typeof createProxy>[0]> = {}) {
  const nodes = await Promise.all(names.map((name) => startUpstream(name)));
  upstreams.push(...nodes);
  const proxy = createProxy({
    upstreams: nodes.map(({ name, port }) => ({ name, port })),
    ...options,
  });
  proxies.push(proxy);
  const { port } = await proxy.listen(0);
  return { nodes, proxy, port };
}

test('the upstream sees X-Forwarded-* and Forwarded, and no hop-by-hop header either way', async () => {
  const { port } = await setup(['f1']);
  const reply = await fetchText(port, '/path?q=1', {
    headers: {
      host: 'example.test',
      connection: 'keep-alive, x-secret',
      'x-secret': 'hop',
      'keep-alive': 'timeout=5',
      'proxy-authorization': 'Basic abc',
      'x-forwarded-for': '10.0.0.1',
      'x-forwarded-proto': 'https',
    },
  });
  const seen = JSON.parse(reply.body);
  assert.equal(seen.url, '/path?q=1');
  assert.equal(seen.headers.host, 'example.test');
  assert.equal(seen.headers['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http', 'an untrusted client cannot claim https');
  assert.equal(seen.headers['x-forwarded-host'], 'example.test');
  assert.equal(seen.headers.forwarded, 'for=127.0.0.1;proto=http;host="example.test"');
  for (const hop of ['x-secret', 'keep-alive', 'proxy-authorization'])
    assert.equal(seen.headers[hop], undefined, hop);
  assert.equal(
    reply.headers['x-private'],
    undefined,
    'a Connection-listed response header is dropped',
  );
  assert.deepEqual(
    reply.headers['set-cookie'],
    ['a=1', 'b=2'],
    'duplicate response headers survive',
  );
});

test('upstream connections are pooled and kept alive across client connections', async () => {
  const { nodes, port } = await setup(['p1']);
  for (let i = 0; i < 20; i++) assert.equal((await fetchText(port, '/')).status, 200);
  assert.equal(nodes[0]!.connections, 1);
});

test('a WebSocket upgrade is tunnelled to the session node and echoes both ways', async (t) => {
  const { port } = await setup(['w1', 'w2']);
  const socket = connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: sid=${sessionCookie('w2')}\r\n\r\n`,
  );
  const chunks: Buffer[] = [];
  const read = (predicate: (text: Buffer) => boolean): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer')), 5000);
      const check = (): void => {
        const all = Buffer.concat(chunks);
        if (predicate(all)) {
          clearTimeout(timer);
          socket.off('data', onData);
          chunks.length = 0;
          resolve(all);
        }
      };
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        check();
      };
      socket.on('data', onData);
      check();
    });
  const head = (await read((b) => b.includes('\r\n\r\n'))).toString();
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.match(head, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
  assert.match(head, /X-Upstream: w2/);
  for (const text of ['hello', 'again']) {
    socket.write(wsFrame(text, true));
    const frame = await read((b) => b.length >= 2 && b.length >= 2 + (b[1]! & 0x7f));
    assert.equal(wsText(frame), `w2:${text}`);
  }
});

test('the admin API lists upstreams, drains one, and requires its bearer token', async () => {
  const { proxy, port } = await setup(['d1', 'd2'], { adminToken: 't0ken' });
  assert.equal((await fetchText(port, '/_mesh/api/upstreams')).status, 401);
  const auth = { authorization: 'Bearer t0ken' };
  const drained = await fetchText(port, '/_mesh/api/upstreams/d1/drain', {
    method: 'POST',
    headers: auth,
  });
  assert.equal(drained.status, 200);
  assert.equal(JSON.parse(drained.body).upstream.draining, true);
  // New visitors avoid a drained node; its sessions still reach it.
  for (let i = 0; i < 6; i++)
    assert.equal(JSON.parse((await fetchText(port, '/')).body).name, 'd2');
  const sticky = await fetchText(port, '/', { headers: { cookie: `sid=${sessionCookie('d1')}` } });
  assert.equal(JSON.parse(sticky.body).name, 'd1');
  const list = JSON.parse((await fetchText(port, '/_mesh/api/upstreams', { headers: auth })).body);
  const d1 = list.upstreams.find((u: { name: string }) => u.name === 'd1');
  assert.equal(d1.state, 'up');
  assert.equal(d1.routed.cookie, 1);
  const unknown = await fetchText(port, '/_mesh/api/upstreams/zz/drain', {
    method: 'POST',
    headers: auth,
  });
  assert.equal(unknown.status, 404);
  assert.equal(JSON.parse(unknown.body).error.code, 'SM_ERR_PROXY_UPSTREAM_UNKNOWN');
  proxy.undrain('d1');
  assert.equal(proxy.pool.get('d1').draining, false);
  assert.throws(() => proxy.drain('zz'), { code: 'SM_ERR_PROXY_UPSTREAM_UNKNOWN' });
});

test('Prometheus metrics count requests by upstream and routing source', async (t) => {
  const { port } = await setup(['q1']);
  const agent = new Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  await fetchText(port, '/', { agent });
  await fetchText(port, '/', { agent, headers: { cookie: `sid=${sessionCookie('q1')}` } });
  const metrics = await fetchText(port, '/_mesh/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /sessionmesh_proxy_upstream_up\{upstream="q1"\} 1/);
  assert.match(
    metrics.body,
    /sessionmesh_proxy_upstream_requests_total\{upstream="q1",source="cookie"\} 1/,
  );
  assert.match(
    metrics.body,
    /sessionmesh_proxy_upstream_requests_total\{upstream="q1",source="balancer"\} 1/,
  );
});
