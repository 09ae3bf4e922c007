// Splits a byte stream into length-prefixed frames. The limit is checked on the 4 length bytes,
// before any buffer is allocated for the payload, so a 1 GB length prefix costs 4 bytes.

import { GarbageFrameError } from './codec.js';

/** A length prefix over the limit; the connection that sent it is closed. */
export class FrameTooLargeError extends Error {
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super(`frame of ${length} bytes over the limit of ${limit}`);
  }
}

export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Current limit; raised after the handshake. */
  maxFrameBytes: number;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /**
   * Adds bytes and returns the payloads of the frames now complete.
   * @throws {FrameTooLargeError} on a length over the limit
   * @throws {GarbageFrameError} on a zero length
   */
  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.#buffered >= 4) {
      const head = this.#peek(4);
      const length = head.readUInt32BE(0);
      if (length === 0) throw new GarbageFrameError('empty frame');
      if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
      if (this.#buffered < 4 + length) break;
      frames.push(this.#take(4 + length).subarray(4));
    }
    return frames;
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.#buffered;
  }

  #peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first;
    const all = Buffer.concat(this.#chunks);
    this.#chunks = [all];
    return all;
  }

  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered -= n;
    return out;
  }
}
