// A MessagePack reader for plain data, hand-written for speed (docs/cluster-protocol.md#frames):
// it refuses extension types, reads a `__proto__` key as an own property (never the prototype),
// and bounds every length by the frame and every nesting by MAX_DEPTH, so no received frame can
// make it allocate or recurse without end.

/** A payload that is not a frame of ours; the connection that sent it is closed. */
export class GarbageFrameError extends Error {}

/** Arrays and maps nest at most this deep, on both sides (a frame is a 4-array: depth 1). */
export const MAX_DEPTH = 100;

const EMPTY = Buffer.alloc(0);

// One decode at a time: nothing in it calls out, so its state can live here.
let input: Uint8Array = EMPTY;
let buf: Buffer = EMPTY;
let pos = 0;
let end = 0;
let limit = 0;

/** A decoder whose every length is bounded by `maxBytes`. */
export function createValueDecoder(maxBytes: number): (bytes: Uint8Array) => unknown {
  return (bytes) => {
    input = bytes;
    buf = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    pos = 0;
    end = bytes.length;
    limit = maxBytes;
    try {
      const value = readValue(0);
      if (pos !== end) throw new GarbageFrameError(`${end - pos} bytes after the value`);
      return value;
    } catch (err) {
      throw err instanceof GarbageFrameError
        ? err
        : new GarbageFrameError('not MessagePack', { cause: err });
    } finally {
      input = buf = EMPTY;
    }
  };
}

function need(n: number): void {
  if (end - pos < n) throw new GarbageFrameError('truncated');
}

/** A length within the limit, whose items (`min` bytes each at least) fit in the bytes left. */
function checkLength(length: number, min: number): number {
  if (length > limit || length * min > end - pos)
    throw new GarbageFrameError(`length ${length} past the end of the frame`);
  return length;
}

function readValue(depth: number): unknown {
  need(1);
  const b = buf[pos++]!;
  if (b < 0x80) return b;
  if (b < 0x90) return readMap(b & 0x0f, depth + 1);
  if (b < 0xa0) return readArray(b & 0x0f, depth + 1);
  if (b < 0xc0) return readString(b & 0x1f);
  if (b >= 0xe0) return b - 0x100;
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return readBinary(readUint(1));
    case 0xc5:
      return readBinary(readUint(2));
    case 0xc6:
      return readBinary(readUint(4));
    case 0xca:
      need(4);
      pos += 4;
      return buf.readFloatBE(pos - 4);
    case 0xcb:
      need(8);
      pos += 8;
      return buf.readDoubleBE(pos - 8);
    case 0xcc:
      return readUint(1);
    case 0xcd:
      return readUint(2);
    case 0xce:
      return readUint(4);
    case 0xcf:
      // Past 2^53 it loses precision, as JavaScript numbers do.
      return readUint(4) * 0x100000000 + readUint(4);
    case 0xd0:
      need(1);
      return buf.readInt8(pos++);
    case 0xd1:
      need(2);
      pos += 2;
      return buf.readInt16BE(pos - 2);
    case 0xd2:
      need(4);
      pos += 4;
      return buf.readInt32BE(pos - 4);
    case 0xd3:
      need(8);
      pos += 8;
      return buf.readInt32BE(pos - 8) * 0x100000000 + buf.readUInt32BE(pos - 4);
    case 0xd9:
      return readString(readUint(1));
    case 0xda:
      return readString(readUint(2));
    case 0xdb:
      return readString(readUint(4));
    case 0xdc:
      return readArray(readUint(2), depth + 1);
    case 0xdd:
      return readArray(readUint(4), depth + 1);
    case 0xde:
      return readMap(readUint(2), depth + 1);
    case 0xdf:
      return readMap(readUint(4), depth + 1);
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      throw new GarbageFrameError('extension types are refused');
    default:
      throw new GarbageFrameError(`type byte 0x${b.toString(16)} is not MessagePack`);
  }
}

function readUint(bytes: 1 | 2 | 4): number {
  need(bytes);
  const at = pos;
  pos += bytes;
  return bytes === 1 ? buf[at]! : bytes === 2 ? buf.readUInt16BE(at) : buf.readUInt32BE(at);
}

function readString(length: number): string {
  checkLength(length, 1);
  const start = pos;
  pos += length;
  if (length < 8) {
    let s = '';
    for (let i = start; i < pos; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return buf.toString('utf8', start, pos);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return buf.toString('utf8', start, pos);
}

function readBinary(length: number): Uint8Array {
  checkLength(length, 1);
  pos += length;
  // A view of the frame: the caller copies what it keeps.
  return input.subarray(pos - length, pos);
}

function readArray(length: number, depth: number): unknown[] {
  checkLength(length, 1);
  if (depth > MAX_DEPTH) throw new GarbageFrameError(`nested deeper than ${MAX_DEPTH}`);
  const out = new Array<unknown>(length);
  for (let i = 0; i < length; i++) out[i] = readValue(depth);
  return out;
}

function readMap(length: number, depth: number): Record<string, unknown> {
  checkLength(length, 2);
  if (depth > MAX_DEPTH) throw new GarbageFrameError(`nested deeper than ${MAX_DEPTH}`);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < length; i++) {
    const key = readKey(depth);
    const value = readValue(depth);
    // An assignment to "__proto__" would set the map's prototype; the key is a session
    // attribute's name like any other (session/record.ts, setOwn): an own property.
    if (key === '__proto__')
      Object.defineProperty(out, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else out[key] = value;
  }
  return out;
}

function readKey(depth: number): string | number {
  need(1);
  const b = buf[pos]!;
  if (b >= 0xa0 && b < 0xc0) {
    pos++;
    const length = checkLength(b & 0x1f, 1);
    pos += length;
    return cachedKey(pos - length, pos);
  }
  const key = readValue(depth);
  if (typeof key !== 'string' && typeof key !== 'number')
    throw new GarbageFrameError('a map key that is neither a string nor a number');
  return key;
}

// Frames repeat a few dozen keys: the same string for the same bytes saves making one, and
// V8 looks a property up faster by a key it has seen. Slots are overwritten on collisions.
const KEY_SLOTS = 1024;
const keyStrings: string[] = new Array<string>(KEY_SLOTS).fill('');
const keyBytes: Uint8Array[] = new Array<Uint8Array>(KEY_SLOTS).fill(new Uint8Array(0));

function cachedKey(start: number, stop: number): string {
  const length = stop - start;
  let hash = length;
  for (let i = start; i < stop; i++) hash = (Math.imul(hash, 31) + buf[i]!) | 0;
  const slot = (hash ^ (hash >>> 10)) & (KEY_SLOTS - 1);
  const known = keyBytes[slot]!;
  if (known.length === length) {
    let i = 0;
    while (i < length && known[i] === buf[start + i]) i++;
    if (i === length) return keyStrings[slot]!;
  }
  const key = buf.toString('utf8', start, stop);
  keyStrings[slot] = key;
  // A copy: the frame's buffer may be reused, and must not be kept alive.
  keyBytes[slot] = new Uint8Array(buf.subarray(start, stop));
  return key;
}
