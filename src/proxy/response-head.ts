// A strict parser of an upstream's HTTP/1.x response head (RFC 9112 §4, §5, §6.3): status line and
// fields, with limits on size and count, and the body's framing decided from them. Anything it does
// not understand is refused (the proxy answers 502 and drops the connection), never guessed at.
// Fields are kept as indexes into the head's text, so that they can be relayed as whole lines.

import {
  connectionCloses,
  connectionIsPlain,
  FIELD,
  isHopByHop,
  keptLines,
  nameIs,
  rawOf,
  scanFields,
} from './head-fields.js';

/** How the body that follows the head is delimited. */
export type Framing = 'none' | 'length' | 'chunked' | 'close';

export class ResponseHead {
  readonly status: number;
  readonly reason: string;
  readonly framing: Framing;
  /** Body bytes for 'length'. */
  readonly length: number;
  /** The connection may carry another request after this response. */
  readonly keepAlive: boolean;
  /** Offset just past the head's blank line. */
  readonly headEnd: number;
  /** The fields toward the client are the received ones minus the flagged (hop-by-hop) ones. */
  readonly simple: boolean;
  readonly #text: string;
  readonly #fields: number[];
  #raw: string[] | undefined;

  constructor(
    text: string,
    fields: number[],
    values: Pick<
      ResponseHead,
      'status' | 'reason' | 'framing' | 'length' | 'keepAlive' | 'headEnd' | 'simple'
    >,
  ) {
    this.#text = text;
    this.#fields = fields;
    this.status = values.status;
    this.reason = values.reason;
    this.framing = values.framing;
    this.length = values.length;
    this.keepAlive = values.keepAlive;
    this.headEnd = values.headEnd;
    this.simple = values.simple;
  }

  /** Every field as received, name and value alternating (names keep their spelling). */
  get raw(): string[] {
    return (this.#raw ??= rawOf(this.#text, this.#fields));
  }

  /** The fields for the client as CRLF-ended lines; only when `simple`. */
  keptLines(): string {
    return keptLines(this.#text, this.#fields);
  }
}

/** Not a valid response head (or over a limit). */
export const HEAD_ERROR = 'error';
/** The head has not fully arrived. */
export const HEAD_MORE = 'more';

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: (.*))?$/;
const DIGITS = /^\d{1,15}$/;

export interface HeadLimits {
  readonly maxBytes: number;
  readonly maxCount: number;
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/**
 * Parses the head at the start of `buf`.
 * @param noBody the request was HEAD: whatever the fields say, no body follows.
 */
export function parseResponseHead(
  buf: Buffer,
  noBody: boolean,
  limits: HeadLimits,
): ResponseHead | typeof HEAD_ERROR | typeof HEAD_MORE {
  const blank = buf.indexOf('\r\n\r\n');
  if (blank === -1) return buf.length > limits.maxBytes ? HEAD_ERROR : HEAD_MORE;
  if (blank + 4 > limits.maxBytes) return HEAD_ERROR;
  const text = buf.toString('latin1', 0, blank);
  let eol = text.indexOf('\r\n');
  if (eol === -1) eol = text.length;
  const statusLine = STATUS_LINE.exec(text.slice(0, eol));
  if (statusLine === null || hasControl(statusLine[3] ?? '')) return HEAD_ERROR;
  const minor = statusLine[1] === '1' ? 1 : 0;
  const status = Number(statusLine[2]);

  const fields: number[] = [];
  if (!scanFields(text, eol + 2, fields, limits.maxCount)) return HEAD_ERROR;
  let length = -1;
  let chunked = false;
  let transferEncoding = false;
  let close = minor === 0;
  let simple = true;
  for (let f = 0; f < fields.length; f += FIELD) {
    const start = fields[f]!;
    const colon = fields[f + 1]!;
    if (isHopByHop(text, start, colon)) {
      fields[f + 4] = 1;
      if (nameIs(text, start, colon, 'connection')) {
        const value = text.slice(fields[f + 2]!, fields[f + 3]!);
        if (connectionCloses(value)) close = true;
        else if (minor === 0 && /(?:^|,)\s*keep-alive\s*(?:,|$)/i.test(value)) close = false;
        // Connection names other fields to drop: left to the general path (responseHeaders).
        if (!connectionIsPlain(value)) simple = false;
      }
      continue;
    }
    const nameLength = colon - start;
    if (nameLength === 14 && nameIs(text, start, colon, 'content-length')) {
      // A list of equal values is one value (RFC 9110 §8.6); differing ones are an attack.
      for (const part of text.slice(fields[f + 2]!, fields[f + 3]!).split(',')) {
        const v = part.trim();
        if (!DIGITS.test(v)) return HEAD_ERROR;
        const n = Number(v);
        if (length !== -1 && length !== n) return HEAD_ERROR;
        length = n;
      }
    } else if (nameLength === 17 && nameIs(text, start, colon, 'transfer-encoding')) {
      // The client side is framed anew.
      fields[f + 4] = 1;
      transferEncoding = true;
      const codings = text
        .slice(fields[f + 2]!, fields[f + 3]!)
        .toLowerCase()
        .split(',');
      chunked = codings[codings.length - 1]!.trim() === 'chunked';
    }
  }

  let framing: Framing;
  if (noBody || status < 200 || status === 204 || status === 304) framing = 'none';
  else if (transferEncoding) framing = chunked ? 'chunked' : 'close';
  else if (length !== -1) framing = 'length';
  else framing = 'close';
  if (transferEncoding && length !== -1) {
    // Both fields at once is how smuggling starts (RFC 9112 §6.3): the length is ignored, not
    // relayed, and the connection not reused.
    close = true;
    for (let f = 0; f < fields.length; f += FIELD) {
      if (nameIs(text, fields[f]!, fields[f + 1]!, 'content-length')) fields[f + 4] = 1;
    }
  }
  return new ResponseHead(text, fields, {
    status,
    reason: statusLine[3] ?? '',
    framing,
    length: framing === 'length' ? length : 0,
    keepAlive: !close && framing !== 'close',
    headEnd: blank + 4,
    simple,
  });
}
