import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Decoder, Encoder, encode as referenceEncodeAny } from '@msgpack/msgpack';
import { createValueDecoder, encodeFrame, encodeValue, GarbageFrameError, Kind } from './codec.js';

// @msgpack/msgpack stands for "any MessagePack implementation": what we write it must read, and
// what it writes from plain data we must read.
const reference = new Decoder();
const referenceEncoder = new Encoder({ ignoreUndefined: true });
const referenceDecode = (bytes: Uint8Array): unknown => reference.decode(new Uint8Array(bytes));
const referenceEncode = (value: unknown): Uint8Array => referenceEncoder.encode(value);
const decode = createValueDecoder(16 << 20);

/** Our bytes, read by the reference decoder and by ours. */
function roundTrip(value: unknown): { bytes: Buffer; theirs: unknown; ours: unknown } {
  const bytes = encodeValue(value);
  return { bytes, theirs: referenceDecode(bytes), ours: decode(new Uint8Array(bytes)) };
}

const ints = [
  0,
  1,
  0x7f,
  0x80,
  0xff,
  0x100,
  0xffff,
  0x10000,
  0xffffffff,
  0x100000000,
  1.7e12,
  Number.MAX_SAFE_INTEGER,
  -1,
  -0x20,
  -0x21,
  -0x80,
  -0x81,
  -0x8000,
  -0x8001,
  -0x80000000,
  -0x80000001,
  -1.7e12,
  Number.MIN_SAFE_INTEGER,
];
const floats = [
  0.5,
  -1.5,
  Math.PI,
  1e300,
  -1e-300,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  Infinity,
  -Infinity,
  2 ** 53,
  -(2 ** 53),
  2 ** 64,
];
const ascii = (n: number): string => 'abcdefghij'.repeat(Math.ceil(n / 10)).slice(0, n);
const strings = [
  '',
  'a',
  ...[31, 32, 63, 64, 255, 256, 65535, 65536].map(ascii),
  'ключ',
  'é'.repeat(15), // 30 bytes: fixstr
  'é'.repeat(16), // 32 bytes: str 8 from 16 characters
  '日'.repeat(11), // 33 bytes
  'é'.repeat(127) + 'a', // 255 bytes from 128 characters
  'é'.repeat(128), // 256 bytes: str 16
  ascii(62) + 'é', // non-ASCII at the end of the short path
  'é' + ascii(100),
  '😀 emoji and 中文 and ascii',
  '😀'.repeat(20000), // 80000 bytes: str 32
  '0018c2f1a2b3c.0001.m0',
];
const bytes = [0, 1, 255, 256, 65535, 65536].map((n) =>
  Uint8Array.from({ length: n }, (_, i) => i),
);

describe('frame codec', () => {
  it('writes integers at every MessagePack size boundary as the smallest integer type', () => {
    for (const n of ints) {
      const { bytes: b, theirs, ours } = roundTrip(n);
      assert.equal(theirs, n);
      assert.equal(ours, n);
      assert.deepEqual(b, Buffer.from(referenceEncode(n)), `bytes of ${n}`);
    }
  });

  it('writes other numbers as float 64, -0 and NaN included', () => {
    for (const n of [...floats, -0, NaN]) {
      const { bytes: b, theirs, ours } = roundTrip(n);
      assert.equal(b[0], 0xcb, `type of ${n}`);
      assert.ok(Object.is(theirs, n), `${String(theirs)} for ${n}`);
      assert.ok(Object.is(ours, n), `${String(ours)} for ${n}`);
    }
  });

  it('writes strings of every length and script as standard UTF-8, with minimal headers', () => {
    for (const s of strings) {
      const { bytes: b, theirs, ours } = roundTrip(s);
      assert.equal(theirs, s);
      assert.equal(ours, s);
      assert.deepEqual(b, Buffer.from(referenceEncode(s)), `bytes of a ${s.length}-char string`);
    }
  });

  it('writes a lone surrogate as U+FFFD, like TextEncoder', () => {
    assert.equal(roundTrip('a\ud800b').ours, 'a\ufffdb');
    assert.equal(roundTrip('\udc00' + ascii(80)).theirs, '\ufffd' + ascii(80));
  });

  it('writes bytes as bin, from any typed array or view', () => {
    for (const b of bytes) {
      const { theirs, ours } = roundTrip(b);
      assert.deepEqual(theirs, b);
      assert.deepEqual(new Uint8Array(ours as Uint8Array), b);
    }
    const words = new Uint16Array([1, 0x0203]);
    assert.deepEqual(roundTrip(words).theirs, new Uint8Array(words.buffer));
    const window = Buffer.from([9, 8, 7, 6]).subarray(1, 3);
    assert.deepEqual(roundTrip(window).theirs, new Uint8Array([8, 7]));
  });

  it('writes arrays and maps of every size, empty and nested', () => {
    for (const n of [0, 1, 15, 16, 65535, 65536]) {
      const array = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? i : `s${i}`));
      const map = Object.fromEntries(array.map((v, i) => [`k${i}`, v]));
      for (const value of n < 100 ? [array, map, { nested: [map, [array]] }] : [array, map]) {
        const { bytes: b, theirs, ours } = roundTrip(value);
        assert.deepEqual(theirs, value);
        assert.deepEqual(ours, value);
        assert.deepEqual(b, Buffer.from(referenceEncode(value)));
      }
    }
  });

  it('leaves out map entries whose value is undefined, and writes other undefineds as nil', () => {
    const value = { a: 1, gone: undefined, b: [undefined, 2], c: { d: undefined } };
    const { bytes: b, theirs, ours } = roundTrip(value);
    const expected = { a: 1, b: [null, 2], c: {} };
    assert.deepEqual(theirs, expected);
    assert.deepEqual(ours, expected);
    assert.deepEqual(b, Buffer.from(referenceEncode(value)));
    // 16 keys, one of them undefined: a fixmap of 15, as if the key were absent.
    const wide = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`k${i}`, i || undefined]),
    );
    assert.equal(encodeValue(wide)[0], 0x80 | 15);
    assert.deepEqual(decode(encodeValue(wide)), referenceDecode(encodeValue(wide)));
    assert.equal(encodeValue(undefined)[0], 0xc0);
  });

  it('round-trips arbitrary plain data, read alike by the reference decoder', () => {
    const key = fc.string({ unit: 'binary', maxLength: 20 }).filter((k) => k !== '__proto__');
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constant(null),
        fc.boolean(),
        fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: -0x10001, max: 0x10001 }),
        fc.double(),
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(tie('value'), { maxLength: 20 }),
        fc.dictionary(key, tie('value'), { maxKeys: 20, noNullPrototype: true }),
      ),
    }));
    fc.assert(
      fc.property(value, (v) => {
        const { theirs, ours } = roundTrip(v);
        assert.deepEqual(theirs, v);
        assert.deepEqual(normalizeBytes(ours), v);
      }),
      { numRuns: 300 },
    );
  });

  it('frames carry their payload length, and earlier frames stay intact as later ones are written', () => {
    const frames: [Buffer, unknown][] = [];
    for (let i = 0; i < 3000; i++) {
      // Mostly small frames, across many slabs, with a large one now and then that grows one.
      const body = { i, s: i % 500 === 0 ? ascii(200_000) : ascii(i % 97), b: [i, -i] };
      frames.push([encodeFrame(Kind.request, i, 'map.merge', body), [0, i, 'map.merge', body]]);
    }
    for (const [frame, expected] of frames) {
      assert.equal(frame.readUInt32BE(0), frame.length - 4);
      assert.deepEqual(referenceDecode(frame.subarray(4)), expected);
    }
  });

  it('a value read while another is written (a getter) does not disturb it', () => {
    const inner = { x: 'inner' };
    const outer = {
      a: 'before',
      get b() {
        return decode(encodeValue(inner));
      },
      c: 'after',
    };
    assert.deepEqual(referenceDecode(encodeValue(outer)), {
      a: 'before',
      b: inner,
      c: 'after',
    });
  });

  it('refuses to write what is not data, and nesting over 100 deep', () => {
    assert.throws(() => encodeValue({ n: 1n }), TypeError);
    assert.throws(() => encodeValue([Symbol('s')]), TypeError);
    assert.throws(() => encodeValue({ f: () => 1 }), TypeError);
    assert.deepEqual(decode(encodeValue(nest(100))), nest(100));
    assert.throws(() => encodeValue(nest(101)), RangeError);
  });
});

describe('frame decoder', () => {
  it('reads any standard encoding of plain data, not only the smallest', () => {
    const cases: [number[], unknown][] = [
      [[0xd9, 1, 0x61], 'a'],
      [[0xda, 0, 1, 0x61], 'a'],
      [[0xdb, 0, 0, 0, 1, 0x61], 'a'],
      [[0xcc, 5], 5],
      [[0xcd, 0, 5], 5],
      [[0xce, 0, 0, 0, 5], 5],
      [[0xcf, 0, 0, 0, 0, 0, 0, 0, 5], 5],
      [[0xd0, 5], 5],
      [[0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb], -5],
      [[0xca, 0x3f, 0xc0, 0, 0], 1.5],
      [[0xdc, 0, 1, 0xc3], [true]],
      [[0xdd, 0, 0, 0, 1, 0xc2], [false]],
      [[0xde, 0, 1, 0xa1, 0x6b, 0xc0], { k: null }],
      [[0xdf, 0, 0, 0, 1, 0xd9, 1, 0x6b, 1], { k: 1 }],
      [[0xc5, 0, 1, 7], new Uint8Array([7])],
      [[0x81, 0x01, 0xa1, 0x76], { 1: 'v' }],
    ];
    for (const [input, expected] of cases) {
      const bytes = Buffer.from(input);
      assert.deepEqual(normalizeBytes(decode(bytes)), expected, `0x${bytes.toString('hex')}`);
      assert.deepEqual(referenceDecode(bytes), expected);
    }
    const float32 = new Encoder({ forceFloat32: true, forceIntegerToFloat: true });
    for (const value of [1.5, 7, -7]) assert.equal(decode(float32.encode(value)), value);
    const float64 = new Encoder({ forceIntegerToFloat: true });
    for (const value of [7, 1.7e12]) assert.equal(decode(float64.encode(value)), value);
  });

  it('refuses extension types, the timestamp one included', () => {
    for (const head of [0xd4, 0xd5, 0xd6, 0xd7, 0xd8]) {
      const size = 1 << (head - 0xd4);
      assertGarbage([0x81, 0xa1, 0x78, head, 1, ...new Array<number>(size).fill(0)]);
    }
    for (const head of [0xc7, 0xc8, 0xc9]) assertGarbage([head, 0, 0, 0, 0, 1]);
    assertGarbage(referenceEncodeAny({ at: new Date(0) }));
  });

  it('reads a __proto__ key as an own property, and leaves every prototype alone', () => {
    const decode = createValueDecoder(1 << 20);
    const key = [...Buffer.from('__proto__')];
    const admin = [0x81, 0xa5, ...Buffer.from('admin'), 0xc3];
    for (const bytes of [
      [0x81, 0xa0 | key.length, ...key, ...admin],
      [0x81, 0xd9, key.length, ...key, ...admin],
    ]) {
      const map = decode(Buffer.from(bytes)) as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(map), Object.prototype);
      assert.deepEqual(Object.getOwnPropertyDescriptor(map, '__proto__')?.value, { admin: true });
      assert.deepEqual(Object.keys(map), ['__proto__']);
    }
    assert.equal(({} as { admin?: unknown }).admin, undefined);
    // And it goes back out as it came: a session attribute named "__proto__" survives a hop.
    const attrs: Record<string, unknown> = {};
    Object.defineProperty(attrs, '__proto__', { value: 1, enumerable: true });
    const back = decode(encodeValue(attrs)) as Record<string, unknown>;
    assert.equal(Object.getOwnPropertyDescriptor(back, '__proto__')?.value, 1);
  });

  it('reads each key from the bytes of this frame, whatever became of earlier frames', () => {
    // Keys are cached by their bytes: the cache must not see a frame's buffer reused later.
    const frame = (key: string): Buffer => Buffer.from([0x81, 0xa3, ...Buffer.from(key), 0x01]);
    const first = frame('k00');
    for (let i = 0; i < 2600; i++) {
      const other =
        String.fromCharCode(0x41 + (i % 26)) + String(Math.floor(i / 26)).padStart(2, '0');
      const reused = Buffer.from(first);
      assert.deepEqual(decode(reused), { k00: 1 });
      reused.write(other, 2, 'latin1');
      assert.deepEqual(decode(frame(other)), { [other]: 1 });
    }
  });

  it('refuses map keys that are neither strings nor numbers', () => {
    assertGarbage([0x81, 0xc0, 0x01]);
    assertGarbage([0x81, 0x90, 0x01]);
    assertGarbage([0x81, 0x80, 0x01]);
    assertGarbage([0x81, 0xc4, 0x01, 0x61, 0x01]);
  });

  it('refuses every length past the frame or over the limit, before allocating for it', () => {
    assertGarbage([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]);
    assertGarbage([0xc6, 0xff, 0xff, 0xff, 0xff, 0x61]);
    assertGarbage([0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0]);
    assertGarbage([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61, 0xc0]);
    assertGarbage([0x93, 0xc0, 0xc0]);
    const small = createValueDecoder(4);
    assert.equal(small(Buffer.from([0xa4, 0x61, 0x62, 0x63, 0x64])), 'abcd');
    assert.throws(
      () => small(Buffer.from([0xa5, 0x61, 0x62, 0x63, 0x64, 0x65])),
      GarbageFrameError,
    );
    assert.throws(() => small(Buffer.from([0x95, 1, 2, 3, 4, 5])), GarbageFrameError);
  });

  it('refuses a truncated value, trailing bytes, unused type bytes and nesting over 100 deep', () => {
    const whole = encodeValue({ id: 'x'.repeat(40), n: [1, 300, 70000, 1.7e12, -5, 0.5], b: true });
    for (let n = 0; n < whole.length; n++) assertGarbage(whole.subarray(0, n));
    assertGarbage([...whole, 0xc0]);
    assertGarbage([0xc1]);
    assertGarbage([...new Array<number>(101).fill(0x91), 0xc0]);
    assertGarbage([...new Array<number>(101).fill(0x81, 0, 101).flatMap((b) => [b, 0xa0]), 1]);
  });

  it('throws nothing but GarbageFrameError on arbitrary bytes, and agrees with the reference', () => {
    const bounded = new Decoder({
      extensionCodec: refuseExtensions,
      maxStrLength: 1024,
      maxBinLength: 1024,
      maxArrayLength: 1024,
      maxMapLength: 1024,
      maxExtLength: 0,
    });
    const small = createValueDecoder(1024);
    const tail = fc.uint8Array({ maxLength: 40 });
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      // Mostly well-formed: a valid encoding with a byte changed or bytes appended.
      fc
        .tuple(fc.jsonValue(), fc.nat(), fc.integer({ min: 0, max: 255 }), tail)
        .map(([v, at, byte, extra]) => {
          const b = new Uint8Array(encodeValue(v));
          if (b.length > 0) b[at % b.length] = byte;
          return at % 3 === 0 ? Uint8Array.from([...b, ...extra]) : b;
        }),
    );
    fc.assert(
      fc.property(input, (b) => {
        let ours: { value: unknown } | undefined;
        let theirs: { value: unknown } | undefined;
        try {
          ours = { value: small(Buffer.from(b)) };
        } catch (err) {
          assert.ok(err instanceof GarbageFrameError, String(err));
        }
        try {
          theirs = { value: bounded.decode(b) };
        } catch {
          // refused
        }
        assert.equal(ours !== undefined, theirs !== undefined, Buffer.from(b).toString('hex'));
        // Invalid UTF-8 is replaced differently; valid text must read the same.
        if (ours && theirs && !hasReplacement(ours.value))
          assert.deepEqual(normalizeBytes(ours.value), normalizeBytes(theirs.value));
      }),
      { numRuns: 2000 },
    );
  });
});

const refuseExtensions = {
  tryToEncode: (): null => null,
  decode: (): never => {
    throw new Error('extension refused');
  },
};

function assertGarbage(input: ArrayLike<number>): void {
  assert.throws(
    () => decode(Buffer.from(Array.from(input))),
    GarbageFrameError,
    Buffer.from(Array.from(input)).toString('hex'),
  );
}

function nest(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
}

/** Buffers as plain Uint8Arrays, so values compare whatever view type each decoder returns. */
function normalizeBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(normalizeBytes);
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalizeBytes(v)]));
  return value;
}

function hasReplacement(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\ufffd');
  if (Array.isArray(value)) return value.some(hasReplacement);
  if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array))
    return Object.entries(value).some(([k, v]) => hasReplacement(k) || hasReplacement(v));
  return false;
}
