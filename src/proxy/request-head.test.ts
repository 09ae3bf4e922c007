import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSimpleRequest } from './request-head.js';

const parse = (text: string) =>
  parseSimpleRequest(Buffer.from(text, 'latin1'), 16 * 1024, 100, '/_mesh/');

test('a plain GET is parsed, and its upstream head keeps every line but hop-by-hop ones', () => {
  const request = parse(
    'GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\nCookie: sid=1\r\n' +
      'Cookie: x=2\r\nTE: trailers\r\nAccept: */*\r\n\r\n',
  )!;
  assert.equal(request.method, 'GET');
  assert.equal(request.url, '/a?b=1');
  assert.equal(request.host, 'example.com');
  assert.equal(request.cookie, 'sid=1; x=2');
  assert.equal(request.close, false);
  assert.equal(request.plain, true);
  assert.equal(
    request.keptHead(),
    'GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nCookie: sid=1\r\nCookie: x=2\r\nAccept: */*\r\n',
  );
  assert.equal(parse('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')!.close, true);
  assert.equal(
    parse('GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n')!.plain,
    false,
  );
});

test('anything but a plain complete body-less HTTP/1.1 request is left to node:http', () => {
  const others = [
    'GET / HTTP/1.0\r\nHost: x\r\n\r\n',
    'GET / HTTP/1.1\r\n\r\n', // no Host
    'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n',
    'GET /_mesh/api/upstreams HTTP/1.1\r\nHost: x\r\n\r\n',
    'CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', // pipelined
    'GET / HTTP/1.1\r\nHost: x\r\n', // incomplete
    'GET / HTTP/1.1\r\nHost: x\r\n Folded: y\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n',
    'get / HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n',
  ];
  for (const text of others) assert.equal(parse(text), undefined, JSON.stringify(text));
  const many = `GET / HTTP/1.1\r\nHost: x\r\n${'A: b\r\n'.repeat(100)}\r\n`;
  assert.equal(parse(many), undefined, 'over the field count');
});
