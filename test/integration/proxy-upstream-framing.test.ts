// The proxy's own upstream client against an upstream that answers with hand-written bytes: every
// way of delimiting a response body, interim responses, and the malformed answers it must refuse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { request } from 'node:http';
import { createProxy, type Proxy } from '../../src/proxy/proxy.js';
import { fetchText } from '../helpers/proxy-process.js';

/** Answers by path; `/echo-body` answers with the raw request it read (head and body). */
const ANSWERS: Record<string, string | string[]> = {
  '/chunked': [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
    '6;x=y\r\n world\r\n',
    '0\r\nX-Trailer: 1\r\n\r\n',
  ],
  '/http10': ['HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ', 'close'],
  '/early-hints':
    'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  '/malformed': 'HTTP/1.1 200 OK\r\nBad Header\r\n\r\n',
  '/te-and-cl':
    'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  '/extra-bytes': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n',
  '/length': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  '/split-head': ['HTTP/1.1 200 OK\r\nContent-', 'Length: 2\r\n', '\r\no', 'k'],
};

let upstream: Server;
let proxy: Proxy;
let port: number;
let connections = 0;
const sockets = new Set<Socket>();

before(async () => {
  upstream = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buffered.toString('latin1', 0, end);
      const [method, path] = head.split(' ');
      if (path === '/echo-body') {
        // The request body is chunked by the proxy; read up to its last chunk.
        if (!buffered.includes('\r\n0\r\n\r\n', end)) return;
        const body = buffered.subarray(end + 4).toString('latin1');
        buffered = Buffer.alloc(0);
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        return;
      }
      buffered = buffered.subarray(end + 4);
      if (method === 'HEAD') {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
        return;
      }
      const answer = ANSWERS[path!] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
      const parts = Array.isArray(answer) ? answer : [answer];
      let i = 0;
      const next = (): void => {
        if (socket.destroyed) return;
        socket.write(parts[i++]!);
        if (i < parts.length) setTimeout(next, 5);
        else if (path === '/http10') socket.end();
      };
      next();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as { port: number }).port;
  proxy = createProxy({ upstreams: [{ name: 'raw', port: upstreamPort }], retries: 0 });
  port = (await proxy.listen(0)).port;
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await proxy.close();
  await new Promise((resolve) => upstream.close(resolve));
});

/** The upstream connections opened while `fn` ran. */
async function opened(fn: () => Promise<void>): Promise<number> {
  const before = connections;
  await fn();
  return connections - before;
}

test('a chunked response is decoded and relayed whole, and its connection reused', async () => {
  await fetchText(port, '/length');
  const count = await opened(async () => {
    const reply = await fetchText(port, '/chunked');
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'hello world');
    assert.equal((await fetchText(port, '/length')).body, 'ok');
  });
  assert.equal(count, 0);
});

test('a response head that arrives in pieces is read whole', async () => {
  assert.equal((await fetchText(port, '/split-head')).body, 'ok');
});

test('an HTTP/1.0 response delimited by the connection closing is relayed whole, and not reused', async () => {
  const reply = await fetchText(port, '/http10');
  assert.equal(reply.body, 'until close');
  assert.equal((await fetchText(port, '/length')).body, 'ok');
});

test('an interim 103 response is skipped and the final one relayed', async () => {
  const reply = await fetchText(port, '/early-hints');
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'ok');
});

test('a malformed response head gets 502', async () => {
  assert.equal((await fetchText(port, '/malformed')).status, 502);
  assert.equal((await fetchText(port, '/length')).status, 200);
});

test('Transfer-Encoding with Content-Length: the chunks win and the connection is not reused', async () => {
  const count = await opened(async () => {
    await fetchText(port, '/length');
    assert.equal((await fetchText(port, '/te-and-cl')).body, 'ok');
    assert.equal((await fetchText(port, '/length')).body, 'ok');
  });
  assert.equal(count, 1);
});

test('bytes past a response body are not taken for the next response', async () => {
  assert.equal((await fetchText(port, '/extra-bytes')).body, 'ok');
  const reply = await fetchText(port, '/length');
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'ok');
});

test('a HEAD response has no body, whatever its Content-Length, and its connection is reused', async () => {
  await fetchText(port, '/length');
  const count = await opened(async () => {
    const reply = await fetchText(port, '/length', { method: 'HEAD' });
    assert.equal(reply.headers['content-length'], '1000');
    assert.equal(reply.body, '');
    assert.equal((await fetchText(port, '/length')).body, 'ok');
  });
  assert.equal(count, 0);
});

test('a chunked request body is chunked again toward the upstream', async () => {
  const body = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/echo-body', method: 'POST' }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.write('abc');
    setTimeout(() => req.end('defgh'), 10);
  });
  assert.equal(body, '3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n');
});
