// A MessagePack writer for plain data, hand-written for speed (docs/cluster-protocol.md#frames):
// values go into a shared slab and come back as slices of it, headers are always the shortest,
// and short ASCII strings are copied without a call into native code.

import { MAX_DEPTH } from './msgpack-reader.js';

/**
 * Values are written one after another into a slab, each a slice of it never written again, so a
 * frame needs no copy. A queued frame keeps its slab alive: 8 KiB, like Node's own Buffer pool
 * that the frames came from before (64 KiB measured no faster).
 */
const SLAB_BYTES = 8 * 1024;
/** Below this much room left a slab is retired rather than grown in the middle of a value. */
const SLAB_MIN_ROOM = 1024;

class Writer {
  #buf = Buffer.allocUnsafeSlow(SLAB_BYTES);
  /** Where the value being written starts. */
  #start = 0;
  #pos = 0;
  busy = false;

  /** Writes `value` after `reserved` bytes left to the caller; returns them and the value. */
  write(value: unknown, reserved: number): Buffer {
    // Sent frames keep their slab alive until they are written out: a slab that grew for a large
    // value is not kept for the next ones.
    if (this.#buf.length - this.#start < SLAB_MIN_ROOM || this.#buf.length > SLAB_BYTES) {
      this.#buf = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.#start = 0;
    }
    this.#pos = this.#start + reserved;
    this.#value(value, 0);
    const out = this.#buf.subarray(this.#start, this.#pos);
    this.#start = this.#pos;
    return out;
  }

  /** Makes room for `n` more bytes; the value written so far moves to the start of a new slab. */
  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const written = this.#pos - this.#start;
    const next = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, (written + n) * 2));
    this.#buf.copy(next, 0, this.#start, this.#pos);
    this.#buf = next;
    this.#start = 0;
    this.#pos = written;
  }

  #value(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'string':
        this.#string(value);
        return;
      case 'number':
        this.#number(value);
        return;
      case 'boolean':
        this.#ensure(1);
        this.#buf[this.#pos++] = value ? 0xc3 : 0xc2;
        return;
      case 'undefined':
        this.#ensure(1);
        this.#buf[this.#pos++] = 0xc0;
        return;
      case 'object':
        if (value === null) {
          this.#ensure(1);
          this.#buf[this.#pos++] = 0xc0;
        } else if (Array.isArray(value)) {
          this.#array(value, depth + 1);
        } else if (ArrayBuffer.isView(value)) {
          this.#binary(value);
        } else {
          this.#map(value as Record<string, unknown>, depth + 1);
        }
        return;
      default:
        throw new TypeError(`a ${typeof value} is not MessagePack data`);
    }
  }

  #number(value: number): void {
    this.#ensure(9);
    const buf = this.#buf;
    const pos = this.#pos;
    // -0 is not an integer to MessagePack: as a float it stays -0.
    if (!Number.isSafeInteger(value) || (value === 0 && 1 / value < 0)) {
      buf[pos] = 0xcb;
      buf.writeDoubleBE(value, pos + 1);
      this.#pos = pos + 9;
    } else if (value >= 0) {
      if (value < 0x80) {
        buf[pos] = value;
        this.#pos = pos + 1;
      } else if (value < 0x100) {
        buf[pos] = 0xcc;
        buf[pos + 1] = value;
        this.#pos = pos + 2;
      } else if (value < 0x10000) {
        buf[pos] = 0xcd;
        buf[pos + 1] = value >>> 8;
        buf[pos + 2] = value;
        this.#pos = pos + 3;
      } else if (value < 0x100000000) {
        buf[pos] = 0xce;
        buf.writeUInt32BE(value, pos + 1);
        this.#pos = pos + 5;
      } else {
        buf[pos] = 0xcf;
        buf.writeUInt32BE(Math.floor(value / 0x100000000), pos + 1);
        buf.writeUInt32BE(value >>> 0, pos + 5);
        this.#pos = pos + 9;
      }
    } else if (value >= -0x20) {
      buf[pos] = value; // stored modulo 256: the negative fixint 111xxxxx
      this.#pos = pos + 1;
    } else if (value >= -0x80) {
      buf[pos] = 0xd0;
      buf[pos + 1] = value;
      this.#pos = pos + 2;
    } else if (value >= -0x8000) {
      buf[pos] = 0xd1;
      buf.writeInt16BE(value, pos + 1);
      this.#pos = pos + 3;
    } else if (value >= -0x80000000) {
      buf[pos] = 0xd2;
      buf.writeInt32BE(value, pos + 1);
      this.#pos = pos + 5;
    } else {
      buf[pos] = 0xd3;
      buf.writeInt32BE(Math.floor(value / 0x100000000), pos + 1);
      buf.writeUInt32BE(value >>> 0, pos + 5);
      this.#pos = pos + 9;
    }
  }

  #string(value: string): void {
    const length = value.length;
    if (length >= 64) {
      this.#utf8(value);
      return;
    }
    // Keys, stamps, ids: short and ASCII, one byte a character, copied here faster than a
    // native call would take to start.
    const head = length < 32 ? 1 : 2;
    this.#ensure(head + length);
    const buf = this.#buf;
    const start = this.#pos;
    let pos = start + head;
    for (let i = 0; i < length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        this.#utf8(value);
        return;
      }
      buf[pos++] = c;
    }
    if (head === 1) {
      buf[start] = 0xa0 | length;
    } else {
      buf[start] = 0xd9;
      buf[start + 1] = length;
    }
    this.#pos = pos;
  }

  #utf8(value: string): void {
    // A UTF-16 unit takes at most 3 bytes (a surrogate pair, 2 units, takes 4; a lone surrogate
    // becomes U+FFFD, 3). The bytes go after the longest header they could need, and move back
    // when a shorter one does: headers stay minimal.
    const max = value.length * 3;
    const room = strHeadBytes(max);
    this.#ensure(room + max);
    const buf = this.#buf;
    const start = this.#pos;
    const bytes = buf.write(value, start + room, max);
    const head = strHeadBytes(bytes);
    if (head !== room) buf.copyWithin(start + head, start + room, start + room + bytes);
    if (head === 1) {
      buf[start] = 0xa0 | bytes;
    } else if (head === 2) {
      buf[start] = 0xd9;
      buf[start + 1] = bytes;
    } else if (head === 3) {
      buf[start] = 0xda;
      buf.writeUInt16BE(bytes, start + 1);
    } else {
      buf[start] = 0xdb;
      buf.writeUInt32BE(bytes, start + 1);
    }
    this.#pos = start + head + bytes;
  }

  #binary(value: ArrayBufferView): void {
    const size = value.byteLength;
    this.#ensure(5 + size);
    const buf = this.#buf;
    let pos = this.#pos;
    if (size < 0x100) {
      buf[pos] = 0xc4;
      buf[pos + 1] = size;
      pos += 2;
    } else if (size < 0x10000) {
      buf[pos] = 0xc5;
      buf.writeUInt16BE(size, pos + 1);
      pos += 3;
    } else {
      buf[pos] = 0xc6;
      buf.writeUInt32BE(size, pos + 1);
      pos += 5;
    }
    buf.set(
      value instanceof Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, size),
      pos,
    );
    this.#pos = pos + size;
  }

  #array(value: readonly unknown[], depth: number): void {
    if (depth > MAX_DEPTH) throw new RangeError(`nested deeper than ${MAX_DEPTH}`);
    const length = value.length;
    this.#ensure(5);
    this.#pos += this.#head(this.#pos, length, 0x90, 0xdc);
    for (let i = 0; i < length; i++) this.#value(value[i], depth);
  }

  /** Entries whose value is `undefined` are left out, as if the key were absent. */
  #map(value: Record<string, unknown>, depth: number): void {
    if (depth > MAX_DEPTH) throw new RangeError(`nested deeper than ${MAX_DEPTH}`);
    const keys = Object.keys(value);
    this.#ensure(5);
    // Relative to #start, which moves when the slab grows.
    const at = this.#pos - this.#start;
    const room = collectionHeadBytes(keys.length);
    this.#pos += room;
    let count = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const item = value[key];
      if (item === undefined) continue;
      count++;
      this.#string(key);
      this.#value(item, depth);
    }
    const start = this.#start + at;
    const head = collectionHeadBytes(count);
    if (head !== room) {
      this.#buf.copyWithin(start + head, start + room, this.#pos);
      this.#pos -= room - head;
    }
    this.#head(start, count, 0x80, 0xde);
  }

  /** Writes an array or map header (fix, 16 or 32) at `at`; returns its size. */
  #head(at: number, length: number, fix: number, code16: number): number {
    const buf = this.#buf;
    if (length < 16) {
      buf[at] = fix | length;
      return 1;
    }
    if (length < 0x10000) {
      buf[at] = code16;
      buf.writeUInt16BE(length, at + 1);
      return 3;
    }
    buf[at] = code16 + 1;
    buf.writeUInt32BE(length, at + 1);
    return 5;
  }
}

function strHeadBytes(bytes: number): number {
  return bytes < 32 ? 1 : bytes < 0x100 ? 2 : bytes < 0x10000 ? 3 : 5;
}

function collectionHeadBytes(length: number): number {
  return length < 16 ? 1 : length < 0x10000 ? 3 : 5;
}

const writer = new Writer();

/**
 * Encodes a value as MessagePack (plain data: maps, arrays, strings, numbers, booleans, null,
 * bytes; `undefined` map entries are left out, other `undefined`s are nil).
 * @throws {TypeError} on a bigint, a symbol or a function
 * @throws {RangeError} on arrays and maps nested over 100 deep
 */
export function encodeValue(value: unknown): Buffer {
  return encodeWithRoom(value, 0);
}

/** Encodes `value` after `reserved` bytes left for the caller to fill (a frame's length). */
export function encodeWithRoom(value: unknown, reserved: number): Buffer {
  // Only a getter or a proxy inside `value` could call back in here: it gets its own writer.
  const w = writer.busy ? new Writer() : writer;
  w.busy = true;
  try {
    return w.write(value, reserved);
  } finally {
    w.busy = false;
  }
}
