import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEAD_ERROR, HEAD_MORE, parseResponseHead, type ResponseHead } from './response-head.js';

const limits = { maxBytes: 1024, maxCount: 10 };
const parse = (text: string, head = false) =>
  parseResponseHead(Buffer.from(text, 'latin1'), head, limits);
const ok = (text: string, head = false): ResponseHead => {
  const result = parse(text, head);
  assert.equal(typeof result, 'object', JSON.stringify(text));
  return result as ResponseHead;
};

test('the framing of the body follows RFC 9112 §6.3', () => {
  assert.equal(ok('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n').framing, 'length');
  assert.equal(ok('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n').length, 5);
  assert.equal(ok('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n').framing, 'chunked');
  assert.equal(ok('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n').framing, 'close');
  assert.equal(ok('HTTP/1.1 200 OK\r\n\r\n').framing, 'close');
  assert.equal(ok('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n').framing, 'none');
  assert.equal(ok('HTTP/1.1 304 Not Modified\r\n\r\n').framing, 'none');
  assert.equal(ok('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', true).framing, 'none');
  assert.equal(ok('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n').status, 103);
  assert.equal(ok('HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n').length, 5);
});

test('keep-alive: HTTP/1.1 unless Connection: close, HTTP/1.0 only if asked, never both TE and CL', () => {
  assert.equal(ok('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').keepAlive, true);
  assert.equal(
    ok('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').keepAlive,
    false,
  );
  assert.equal(ok('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').keepAlive, false);
  assert.equal(
    ok('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').keepAlive,
    true,
  );
  const both = ok('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.equal(both.framing, 'chunked');
  assert.equal(both.keepAlive, false);
});

test('fields keep their spelling, order and duplicates; the reason may be empty', () => {
  const head = ok('HTTP/1.1 200 \r\nSet-Cookie: a=1\r\nX-Y:  spaced \r\nSet-Cookie: b=2\r\n\r\n');
  assert.deepEqual(head.raw, ['Set-Cookie', 'a=1', 'X-Y', 'spaced', 'Set-Cookie', 'b=2']);
  assert.equal(head.reason, '');
  assert.equal(ok('HTTP/1.1 200\r\n\r\n').reason, '');
});

test('an incomplete head asks for more, within the size limit', () => {
  assert.equal(parse('HTTP/1.1 200 OK\r\nContent-'), HEAD_MORE);
  assert.equal(parse(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(2000)}`), HEAD_ERROR);
});

test('malformed or oversized heads are refused', () => {
  const bad = [
    'HTTP/2 200 OK\r\n\r\n',
    'HTTP/1.1 20 OK\r\n\r\n',
    'HTTP/1.1 099 OK\r\n\r\n',
    'ICY 200 OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n',
    'HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n',
    'HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX: a\nInjected: b\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n',
    `HTTP/1.1 200 OK\r\n${'X: y\r\n'.repeat(11)}\r\n`,
    `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(1100)}\r\n\r\n`,
  ];
  for (const text of bad) assert.equal(parse(text), HEAD_ERROR, JSON.stringify(text));
});

test('the lines kept for the client are the received ones without hop-by-hop fields and framing', () => {
  const head = ok(
    'HTTP/1.1 200 OK\r\nA: 1\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nB: 2\r\n' +
      'Transfer-Encoding: chunked\r\nSet-Cookie: x=1\r\n\r\n',
  );
  assert.equal(head.simple, true);
  assert.equal(head.keptLines(), 'A: 1\r\nB: 2\r\nSet-Cookie: x=1\r\n');
  const listed = ok('HTTP/1.1 200 OK\r\nConnection: x-private\r\nX-Private: 1\r\n\r\n');
  assert.equal(listed.simple, false, 'fields named by Connection need the general path');
  const both = ok(
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nZ: z\r\n\r\n',
  );
  assert.equal(both.keptLines(), 'Z: z\r\n');
});
