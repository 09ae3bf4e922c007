// Frames of the cluster transport (docs/cluster-protocol.md#frames): a uint32 big-endian length,
// then a MessagePack 4-array [kind, id, type, body] of plain data, written and read by the
// hand-written msgpack-writer.ts and msgpack-reader.ts.

import { encodeWithRoom } from './msgpack-writer.js';
import { GarbageFrameError } from './msgpack-reader.js';

export { encodeValue } from './msgpack-writer.js';
export { createValueDecoder, GarbageFrameError } from './msgpack-reader.js';

/** Frame kinds, docs/cluster-protocol.md#frames. */
export const Kind = {
  request: 0,
  reply: 1,
  errorReply: 2,
  message: 3,
  keepAlive: 4,
  hello: 16,
  challenge: 17,
  proof: 18,
  welcome: 19,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export interface Envelope {
  readonly kind: Kind;
  readonly id: number;
  readonly type: string;
  readonly body: Record<string, unknown>;
}

/** Encodes one frame: a uint32 big-endian payload length, then the payload. */
export function encodeFrame(
  kind: Kind,
  id: number,
  type: string,
  body: Record<string, unknown>,
): Buffer {
  const frame = encodeWithRoom([kind, id, type, body], 4);
  frame.writeUInt32BE(frame.length - 4, 0);
  return frame;
}

/** Checks the shape of a decoded payload. @throws {GarbageFrameError} */
export function toEnvelope(value: unknown): Envelope {
  if (!Array.isArray(value) || value.length !== 4) throw new GarbageFrameError('not a 4-array');
  const [kind, id, type, body] = value as unknown[];
  if (typeof kind !== 'number' || !kinds.has(kind)) throw new GarbageFrameError('unknown kind');
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0)
    throw new GarbageFrameError('bad id');
  if (typeof type !== 'string') throw new GarbageFrameError('bad type');
  if (!isPlainMap(body)) throw new GarbageFrameError('body is not a map');
  return { kind: kind as Kind, id, type, body };
}

const kinds = new Set<number>(Object.values(Kind));

export function isPlainMap(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  );
}
