import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { createProxy, type Proxy } from '../../src/proxy/proxy.js';
import { startUpstream, type TestUpstream } from '../helpers/proxy-upstream.js';
import { fetchText } from '../helpers/proxy-process.js';

let node: TestUpstream;
let proxy: Proxy;
let port: number;
const sockets: Socket[] = [];
before(async () => {
  node = await startUpstream('bad');
  proxy = createProxy({
    upstreams: [{ name: 'bad', port: node.port }],
    timeouts: { clientHeadersMs: 400 },
    maxHeaderCount: 50,
  });
  port = (await proxy.listen(0)).port;
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  await proxy.close();
  await node.close();
});

/** Sends raw bytes; resolves with everything received until the proxy closes the connection. */
function raw(bytes: string | Buffer, { endAfterMs = 5000 } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let text = '';
    const timer = setTimeout(
      () => reject(new Error(`connection still open; got ${JSON.stringify(text)}`)),
      endAfterMs,
    );
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.on('error', () => {});
    socket.write(bytes);
  });
}

test('a malformed request line gets 400 and the connection is closed', async () => {
  for (const line of [
    'GARBAGE\r\n\r\n',
    'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
    'GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n',
  ]) {
    const answer = await raw(line);
    assert.match(answer, /^HTTP\/1\.1 400 /, JSON.stringify(line));
    assert.match(answer, /Connection: close/i);
  }
  assert.equal(node.hits.size, 0, 'nothing reached the app');
});

test('100 KB of headers get 431 and the connection is closed', async () => {
  const answer = await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`);
  assert.match(answer, /^HTTP\/1\.1 431 /);
});

test('more header fields than the limit get 431', async () => {
  const headers: Record<string, string> = {};
  for (let i = 0; i < 60; i++) headers[`x-h${i}`] = 'v';
  const reply = await fetchText(port, '/', { headers });
  assert.equal(reply.status, 431);
});

test('a slowloris client is cut off once the headers timeout passes', async () => {
  const started = Date.now();
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => {});
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  const drip = setInterval(() => socket.writable && socket.write('X-Drip: 1\r\n'), 100);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await new Promise((resolve) => socket.once('close', resolve));
  clearInterval(drip);
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 3000, `closed after ${elapsed} ms`);
  assert.match(text, /^HTTP\/1\.1 408 /);
});

test('a client that resets mid-body frees the upstream side, and the proxy keeps serving', async () => {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => {});
  socket.write('POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n');
  socket.write(Buffer.alloc(10_000, 1));
  await new Promise((resolve) => setTimeout(resolve, 100));
  socket.resetAndDestroy();
  const deadline = Date.now() + 3000;
  while (proxy.pool.get('bad').stats.active > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal(proxy.pool.get('bad').stats.active, 0);
  assert.equal((await fetchText(port, '/')).status, 200);
});

test('an upstream that resets mid-response closes the client connection without a whole-looking body', async () => {
  const outcome = await new Promise<string>((resolve) => {
    request({ host: '127.0.0.1', port, path: '/reset-mid' }, (res) => {
      assert.equal(res.statusCode, 200);
      res.on('data', () => {});
      res.on('end', () => resolve('complete'));
      res.on('error', () => resolve('error'));
      res.on('aborted', () => resolve('aborted'));
    })
      .on('error', () => resolve('error'))
      .end();
  });
  assert.notEqual(outcome, 'complete');
  assert.equal((await fetchText(port, '/')).status, 200);
});
