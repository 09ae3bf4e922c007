// The fast front's request parser: accepts only a plain, complete, body-less HTTP/1.1 request head
// (the common case: a GET with its cookies), strictly. Anything else (a body, an upgrade, Expect,
// HTTP/1.0, an odd target, a head split across packets, a limit reached, anything malformed) is
// not parsed here but handed to node:http, which answers it (and every error) as it always does.

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

export class SimpleRequest {
  readonly method: string;
  readonly url: string;
  readonly cookie: string | undefined;
  readonly host: string;
  /** The client asked to close the connection after this response. */
  readonly close: boolean;
  /** No X-Forwarded-*, Forwarded or Connection-listed field: the upstream head is the client's lines. */
  readonly plain: boolean;
  readonly #text: string;
  readonly #lineEnd: number;
  readonly #fields: number[];
  #raw: string[] | undefined;

  constructor(
    text: string,
    lineEnd: number,
    fields: number[],
    values: Pick<SimpleRequest, 'method' | 'url' | 'cookie' | 'host' | 'close' | 'plain'>,
  ) {
    this.#text = text;
    this.#lineEnd = lineEnd;
    this.#fields = fields;
    this.method = values.method;
    this.url = values.url;
    this.cookie = values.cookie;
    this.host = values.host;
    this.close = values.close;
    this.plain = values.plain;
  }

  /** Every field as received, name and value alternating. */
  get raw(): string[] {
    return (this.#raw ??= rawOf(this.#text, this.#fields));
  }

  /** The request line and the fields less hop-by-hop ones, CRLF-ended; only when `plain`. */
  keptHead(): string {
    return `${this.#text.slice(0, this.#lineEnd)}\r\n${keptLines(this.#text, this.#fields)}`;
  }
}

function valueOf(text: string, fields: readonly number[], f: number): string {
  return text.slice(fields[f + 2]!, fields[f + 3]!);
}

const REQUEST_LINE = /^([A-Z]{1,20}) (\/[!-~]*) HTTP\/1\.1$/;

/**
 * Parses `buf` when it is exactly one simple request head and nothing more.
 * @returns undefined when node:http should handle the request instead.
 */
export function parseSimpleRequest(
  buf: Buffer,
  maxBytes: number,
  maxCount: number,
  reservedPrefix: string,
): SimpleRequest | undefined {
  const length = buf.length;
  if (length > maxBytes || length < 18) return undefined;
  // Exactly one head and no byte after it: no body, no pipelined request.
  if (
    buf[length - 1] !== 10 ||
    buf[length - 2] !== 13 ||
    buf[length - 3] !== 10 ||
    buf[length - 4] !== 13
  )
    return undefined;
  const text = buf.toString('latin1', 0, length - 4);
  let eol = text.indexOf('\r\n');
  if (eol === -1) eol = text.length;
  const line = REQUEST_LINE.exec(text.slice(0, eol));
  if (line === null) return undefined;
  const method = line[1]!;
  const url = line[2]!;
  if (method === 'CONNECT' || url.startsWith(reservedPrefix)) return undefined;
  const fields: number[] = [];
  // A blank line inside (a second head) fails here too: an empty line is not a field.
  if (!scanFields(text, eol + 2, fields, maxCount)) return undefined;

  let host: string | undefined;
  let hosts = 0;
  let lengths = 0;
  let cookie: string | undefined;
  let close = false;
  let plain = true;
  for (let f = 0; f < fields.length; f += FIELD) {
    const start = fields[f]!;
    const colon = fields[f + 1]!;
    if (isHopByHop(text, start, colon)) {
      fields[f + 4] = 1;
      if (nameIs(text, start, colon, 'upgrade')) return undefined;
      if (nameIs(text, start, colon, 'connection')) {
        const v = valueOf(text, fields, f);
        if (/upgrade/i.test(v)) return undefined;
        if (connectionCloses(v)) close = true;
        if (!connectionIsPlain(v)) plain = false;
      }
      continue;
    }
    switch (colon - start) {
      case 4:
        if (nameIs(text, start, colon, 'host')) {
          hosts++;
          host = valueOf(text, fields, f);
        }
        break;
      case 6:
        if (nameIs(text, start, colon, 'cookie')) {
          const v = valueOf(text, fields, f);
          cookie = cookie === undefined ? v : `${cookie}; ${v}`;
        } else if (nameIs(text, start, colon, 'expect')) return undefined;
        break;
      case 9:
        if (nameIs(text, start, colon, 'forwarded')) plain = false;
        break;
      case 14:
        if (nameIs(text, start, colon, 'content-length')) {
          // A body, or several lengths (how smuggling starts): node:http's to judge.
          if (valueOf(text, fields, f) !== '0' || ++lengths > 1) return undefined;
        }
        break;
      case 15:
        if (nameIs(text, start, colon, 'x-forwarded-for')) plain = false;
        break;
      case 16:
        if (nameIs(text, start, colon, 'x-forwarded-host')) plain = false;
        break;
      case 17:
        if (nameIs(text, start, colon, 'transfer-encoding')) return undefined;
        if (nameIs(text, start, colon, 'x-forwarded-proto')) plain = false;
        break;
    }
  }
  // Exactly one Host (none, or several, is node:http's 400 to give).
  if (hosts !== 1 || host === undefined) return undefined;
  return new SimpleRequest(text, eol, fields, { method, url, cookie, host, close, plain });
}
