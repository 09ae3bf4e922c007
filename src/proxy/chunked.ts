// A strict decoder of the chunked transfer coding (RFC 9112 §7.1) for upstream response bodies:
// hands each data piece on as a slice (no copy), and tells where the body ended in the last buffer,
// so that a keep-alive connection knows its response is whole. Trailers are read and dropped.

/** `push` returned this: the body is malformed; the connection cannot be reused. */
export const CHUNKED_ERROR = -2;
/** `push` returned this: the body continues in the next buffer. */
export const CHUNKED_MORE = -1;

const SIZE = 0;
const DATA = 1;
const DATA_END = 2;
const TRAILER = 3;
const DONE = 4;

/** A chunk-size line, with extensions, at most this long. */
const MAX_LINE = 4096;
/** All trailer fields together at most this long. */
const MAX_TRAILERS = 16 * 1024;
/** At most 13 hex digits: sizes stay exact integers in a double. */
const HEX_SIZE = /^[0-9A-Fa-f]{1,13}$/;

export class ChunkedDecoder {
  #state = SIZE;
  #remaining = 0;
  #line = '';
  #trailerBytes = 0;

  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Decodes `buf` from `start`; calls `onData` with each piece of body.
   * @returns the offset just past the body's end in `buf`, CHUNKED_MORE, or CHUNKED_ERROR.
   */
  push(buf: Buffer, start: number, onData: (piece: Buffer) => void): number {
    let pos = start;
    const end = buf.length;
    while (pos < end) {
      if (this.#state === DATA) {
        const take = Math.min(this.#remaining, end - pos);
        onData(buf.subarray(pos, pos + take));
        pos += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = DATA_END;
        continue;
      }
      // Every other state reads a line ending in CRLF.
      const lf = buf.indexOf(10, pos);
      if (lf === -1) {
        this.#line += buf.toString('latin1', pos, end);
        if (this.#line.length > MAX_LINE) return CHUNKED_ERROR;
        return CHUNKED_MORE;
      }
      const line = this.#line + buf.toString('latin1', pos, lf);
      this.#line = '';
      pos = lf + 1;
      if (line.length === 0 || line.charCodeAt(line.length - 1) !== 13) return CHUNKED_ERROR;
      const text = line.slice(0, -1);
      if (text.length > MAX_LINE) return CHUNKED_ERROR;
      if (this.#state === DATA_END) {
        if (text.length !== 0) return CHUNKED_ERROR;
        this.#state = SIZE;
      } else if (this.#state === SIZE) {
        const semi = text.indexOf(';');
        const digits = (semi === -1 ? text : text.slice(0, semi)).replace(/[ \t]+$/, '');
        if (!HEX_SIZE.test(digits)) return CHUNKED_ERROR;
        const size = parseInt(digits, 16);
        if (size === 0) {
          this.#state = TRAILER;
        } else {
          this.#remaining = size;
          this.#state = DATA;
        }
      } else if (this.#state === TRAILER) {
        if (text.length === 0) {
          this.#state = DONE;
          return pos;
        }
        this.#trailerBytes += line.length + 1;
        if (this.#trailerBytes > MAX_TRAILERS || text.indexOf(':') <= 0) return CHUNKED_ERROR;
      } else {
        return CHUNKED_ERROR;
      }
    }
    return CHUNKED_MORE;
  }
}
