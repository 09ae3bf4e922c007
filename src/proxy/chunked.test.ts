import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChunkedDecoder, CHUNKED_ERROR, CHUNKED_MORE } from './chunked.js';

function encode(pieces: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const piece of pieces) {
    if (piece.length === 0) continue;
    parts.push(Buffer.from(`${piece.length.toString(16)};ext=1\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\nX-Trailer: yes\r\n\r\n'));
  return Buffer.concat(parts);
}

test('a chunked body split anywhere decodes to its bytes and ends exactly at its end', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      (pieces, cuts) => {
        const body = Buffer.concat(pieces.map((p) => Buffer.from(p)));
        const wire = Buffer.concat([
          encode(pieces.map((p) => Buffer.from(p))),
          Buffer.from('NEXT'),
        ]);
        const points = [...new Set(cuts.map((c) => c % wire.length))].sort((a, b) => a - b);
        const decoder = new ChunkedDecoder();
        const out: Buffer[] = [];
        let prev = 0;
        let endAt = -1;
        for (const point of [...points, wire.length]) {
          if (point <= prev) continue;
          const slice = wire.subarray(prev, point);
          const end = decoder.push(slice, 0, (piece) => out.push(Buffer.from(piece)));
          assert.notEqual(end, CHUNKED_ERROR);
          if (end >= 0) {
            endAt = prev + end;
            break;
          }
          prev = point;
        }
        assert.deepEqual(Buffer.concat(out), body);
        assert.equal(endAt, wire.length - 4, 'the body ends just before the next response');
        assert.equal(decoder.done, true);
      },
    ),
  );
});

test('malformed chunked bodies are refused', () => {
  const bad = [
    'zz\r\nhello\r\n0\r\n\r\n', // not hex
    '\r\n', // no size
    '5\r\nhelloXX0\r\n\r\n', // no CRLF after the data
    '5\nhello\r\n0\r\n\r\n', // bare LF
    '12345678901234\r\n', // 14 hex digits
    '0\r\nno colon here\r\n\r\n', // a trailer that is not a field
    `${'1'.repeat(5000)}`, // a size line without end
  ];
  for (const text of bad) {
    const decoder = new ChunkedDecoder();
    const end = decoder.push(Buffer.from(text), 0, () => {});
    assert.equal(end, CHUNKED_ERROR, JSON.stringify(text.slice(0, 40)));
  }
  assert.equal(
    new ChunkedDecoder().push(Buffer.from('5\r\nhel'), 0, () => {}),
    CHUNKED_MORE,
  );
});
