// The fast front (plain body-less requests served around node:http) and its hand-over to node:http
// for everything else, on one keep-alive connection, seen from a raw client socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createProxy, type Proxy } from '../../src/proxy/proxy.js';
import { startUpstream, type TestUpstream } from '../helpers/proxy-upstream.js';

let node: TestUpstream;
let proxy: Proxy;
let port: number;
const sockets: Socket[] = [];
before(async () => {
  node = await startUpstream('fast');
  proxy = createProxy({ upstreams: [{ name: 'fast', port: node.port }] });
  port = (await proxy.listen(0)).port;
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  await proxy.close();
  await node.close();
});

/** A raw client: sends bytes, reads whole responses (Content-Length or chunked) in order. */
function client(): {
  send(bytes: string): void;
  next(isHead?: boolean): Promise<{ head: string; body: string }>;
  closed: Promise<void>;
} {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let buffer = '';
  const waiting: Array<() => void> = [];
  socket.setEncoding('latin1');
  socket.on('data', (text: string) => {
    buffer += text;
    for (const wake of waiting.splice(0)) wake();
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const take = (isHead: boolean): { head: string; body: string } | undefined => {
    const end = buffer.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const head = buffer.slice(0, end);
    const rest = buffer.slice(end + 4);
    if (isHead) {
      buffer = rest;
      return { head, body: '' };
    }
    const length = /\r\ncontent-length: (\d+)/i.exec(head);
    if (length) {
      const n = Number(length[1]);
      if (rest.length < n) return undefined;
      buffer = rest.slice(n);
      return { head, body: rest.slice(0, n) };
    }
    if (/\r\ntransfer-encoding: chunked/i.test(head)) {
      let body = '';
      let pos = 0;
      for (;;) {
        const eol = rest.indexOf('\r\n', pos);
        if (eol === -1) return undefined;
        const size = parseInt(rest.slice(pos, eol), 16);
        if (size === 0) {
          if (rest.length < eol + 4) return undefined;
          buffer = rest.slice(eol + 4);
          return { head, body };
        }
        if (rest.length < eol + 2 + size + 2) return undefined;
        body += rest.slice(eol + 2, eol + 2 + size);
        pos = eol + 2 + size + 2;
      }
    }
    buffer = rest;
    return { head, body: '' };
  };
  return {
    send: (bytes) => socket.write(bytes),
    closed,
    async next(isHead = false) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const response = take(isHead);
        if (response) return response;
        if (Date.now() > deadline)
          throw new Error(`no whole response; have ${JSON.stringify(buffer)}`);
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

test('one keep-alive connection: fast GETs, then a POST with a body hands it to node:http, which serves the rest', async () => {
  const c = client();
  c.send(get('/'));
  const first = await c.next();
  assert.match(first.head, /^HTTP\/1\.1 200 OK/);
  assert.equal((JSON.parse(first.body) as { url: string }).url, '/');
  c.send(get('/again'));
  assert.equal((JSON.parse((await c.next()).body) as { url: string }).url, '/again');
  c.send('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
  assert.equal((await c.next()).body, 'hello');
  c.send(get('/after'));
  assert.equal((JSON.parse((await c.next()).body) as { url: string }).url, '/after');
  assert.equal(node.connections, 1, 'one upstream connection served them all');
});

test('pipelined requests are answered in order', async () => {
  const c = client();
  c.send(get('/p1') + get('/p2') + get('/p3'));
  for (const path of ['/p1', '/p2', '/p3']) {
    assert.equal((JSON.parse((await c.next()).body) as { url: string }).url, path);
  }
});

test('a request split across packets is served', async () => {
  const c = client();
  c.send('GET /split HTTP/1.1\r\nHo');
  await new Promise((resolve) => setTimeout(resolve, 30));
  c.send('st: x\r\n\r\n');
  assert.equal((JSON.parse((await c.next()).body) as { url: string }).url, '/split');
});

test('Connection: close is answered with Connection: close, and the connection ends', async () => {
  const c = client();
  c.send(get('/bye', 'Connection: close\r\n'));
  const response = await c.next();
  assert.match(response.head, /\r\nConnection: close/i);
  await c.closed;
});

test('after a fast request, the admin API on the same connection goes to node:http, and bad input there closes it', async () => {
  const c = client();
  c.send(get('/'));
  await c.next();
  c.send(get('/_mesh/api/upstreams'));
  const admin = await c.next();
  assert.match(admin.head, /^HTTP\/1\.1 200/);
  assert.equal((JSON.parse(admin.body) as { upstreams: unknown[] }).upstreams.length, 1);
  // A connection that has carried responses is closed on bad input (no 400 mid-stream).
  c.send('GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n');
  await c.closed;
});

test('a 300 KB response streams through whole, and a HEAD has no body', async () => {
  const c = client();
  c.send(get('/bytes?n=300000'));
  const big = await c.next();
  assert.equal(big.body.length, 300000);
  c.send('HEAD /bytes?n=10 HTTP/1.1\r\nHost: x\r\n\r\n');
  const head = await c.next(true);
  assert.match(head.head, /\r\ncontent-length: 10/i);
  c.send(get('/again'));
  assert.equal((JSON.parse((await c.next()).body) as { url: string }).url, '/again');
});

test('timeouts: a silent new connection, an idle keep-alive one, and a late response head', async (t) => {
  const timed = createProxy({
    upstreams: [{ name: 'fast', port: node.port }],
    timeouts: { clientHeadersMs: 300, clientKeepAliveMs: 300, headerMs: 300 },
    retries: 0,
  });
  t.after(() => timed.close());
  const timedPort = (await timed.listen(0)).port;
  const opened = (): Promise<Socket> =>
    new Promise((resolve) => {
      const socket = connect(timedPort, '127.0.0.1', () => resolve(socket));
      sockets.push(socket);
    });
  const closedWithin = (socket: Socket, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });

  const silent = await opened();
  assert.equal(await closedWithin(silent, 2000), true, 'no request within clientHeadersMs');

  const idle = await opened();
  idle.write(get('/'));
  await new Promise((resolve) => idle.once('data', resolve));
  assert.equal(await closedWithin(idle, 2000), true, 'idle past clientKeepAliveMs');

  const started = Date.now();
  const late = await fetchOnce(timedPort, '/slow?ms=1500');
  assert.equal(late, 504);
  assert.ok(Date.now() - started < 1400, 'the header timeout answered before the upstream did');
});

function fetchOnce(p: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(p, '127.0.0.1', () => socket.write(get(path)));
    sockets.push(socket);
    socket.setEncoding('latin1');
    socket.once('data', (text: string) => resolve(Number(text.split(' ')[1])));
    socket.once('error', reject);
  });
}
