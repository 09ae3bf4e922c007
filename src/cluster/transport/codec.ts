// The frame payload codec: MessagePack, data only. Extension types (the timestamp one included)
// are refused, so nothing received is revived into a class or code; `__proto__` keys are refused
// by the decoder; every string, binary, array and map is bounded by the frame size.

import { Decoder, Encoder, type ExtData, type ExtensionCodecType } from '@msgpack/msgpack';

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

/** A payload that is not a frame of ours; the connection that sent it is closed. */
export class GarbageFrameError extends Error {}

const noExtensions: ExtensionCodecType<undefined> = {
  tryToEncode(): ExtData | null {
    return null;
  },
  decode(_data: Uint8Array, extType: number): unknown {
    throw new GarbageFrameError(`extension type ${extType} refused`);
  },
};

const encoder = new Encoder({ extensionCodec: noExtensions, ignoreUndefined: true });
const kinds = new Set<number>(Object.values(Kind));

/** Encodes a value as MessagePack (plain data: maps, arrays, strings, numbers, booleans, null, bytes). */
export function encodeValue(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** A decoder whose every length is bounded by `maxBytes`. */
export function createValueDecoder(maxBytes: number): (bytes: Uint8Array) => unknown {
  const decoder = new Decoder({
    extensionCodec: noExtensions,
    maxStrLength: maxBytes,
    maxBinLength: maxBytes,
    maxArrayLength: maxBytes,
    maxMapLength: maxBytes,
    maxExtLength: 0,
  });
  return (bytes) => {
    try {
      return decoder.decode(bytes);
    } catch (err) {
      throw err instanceof GarbageFrameError
        ? err
        : new GarbageFrameError('not MessagePack', { cause: err });
    }
  };
}

/** Encodes one frame: a uint32 big-endian payload length, then the payload. */
export function encodeFrame(
  kind: Kind,
  id: number,
  type: string,
  body: Record<string, unknown>,
): Buffer {
  const payload = encodeValue([kind, id, type, body]);
  const frame = Buffer.allocUnsafe(4 + payload.byteLength);
  frame.writeUInt32BE(payload.byteLength, 0);
  frame.set(payload, 4);
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

export function isPlainMap(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  );
}
