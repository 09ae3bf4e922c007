import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeFrame, Kind, createValueDecoder, toEnvelope, GarbageFrameError } from './codec.js';
import { FrameReader, FrameTooLargeError } from './frame-reader.js';
import { Backoff } from './backoff.js';

describe('FrameReader', () => {
  it('yields the same frames however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ type: fc.string(), n: fc.integer() }), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 50 }),
        (messages, cuts) => {
          const stream = Buffer.concat(
            messages.map((m, i) => encodeFrame(Kind.message, i, m.type, { n: m.n })),
          );
          const reader = new FrameReader(1 << 20);
          const decode = createValueDecoder(1 << 20);
          const got = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const size = cuts[i % cuts.length]!;
            got.push(...reader.push(stream.subarray(at, at + size)));
            at += size;
          }
          assert.equal(reader.buffered, 0);
          assert.deepEqual(
            got.map((p) => toEnvelope(decode(p))),
            messages.map((m, i) => ({ kind: Kind.message, id: i, type: m.type, body: { n: m.n } })),
          );
        },
      ),
    );
  });

  it('refuses a length over the limit from its 4 bytes alone', () => {
    const reader = new FrameReader(1024);
    assert.throws(() => reader.push(Buffer.from([0x40, 0, 0, 0])), FrameTooLargeError);
  });

  it('refuses an empty frame', () => {
    assert.throws(() => new FrameReader(1024).push(Buffer.from([0, 0, 0, 0])), GarbageFrameError);
  });

  it('never throws anything but its two errors on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const decode = createValueDecoder(1024);
        try {
          for (const p of new FrameReader(1024).push(Buffer.from(bytes))) toEnvelope(decode(p));
        } catch (err) {
          assert.ok(
            err instanceof FrameTooLargeError || err instanceof GarbageFrameError,
            String(err),
          );
        }
      }),
    );
  });
});

describe('Backoff', () => {
  it('doubles up to the max, with a jitter between half and all of the step', () => {
    const backoff = new Backoff(50, 1000, () => 0.999);
    const delays = Array.from({ length: 7 }, () => backoff.fail(0));
    assert.deepEqual(
      delays.map((d) => Math.round(d)),
      [50, 100, 200, 400, 800, 1000, 1000],
    );
    const low = new Backoff(50, 1000, () => 0);
    assert.equal(low.fail(0), 25);
  });

  it('is not ready until the delay passed, and a reset makes it ready at once', () => {
    const backoff = new Backoff(100, 1000, () => 0.5);
    backoff.fail(1000);
    assert.equal(backoff.ready(1000), false);
    assert.equal(backoff.ready(1075), true);
    backoff.fail(2000);
    backoff.reset();
    assert.equal(backoff.ready(2000), true);
  });
});
