// Shared by the request and response head parsers: fields are found by index in the head's text
// (latin1, one char per byte), validated without allocating, and only the few whose names matter
// are sliced. Kept fields can then be copied toward the other side as whole runs of lines.

/** 1 for the characters of an RFC 9110 token. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/** Stride of `fields`: name start, colon, value start, value end, drop flag. */
export const FIELD = 5;

/**
 * Reads the field lines of `text` from `pos`, appending to `fields` (FIELD numbers each).
 * @returns false when a line is not a valid field (obs-fold, bad name, control characters) or
 * there are more than `maxCount`.
 */
export function scanFields(text: string, pos: number, fields: number[], maxCount: number): boolean {
  const n = text.length;
  while (pos < n) {
    let next = text.indexOf('\r\n', pos);
    if (next === -1) next = n;
    let i = pos;
    while (i < next) {
      const c = text.charCodeAt(i);
      if (c >= 128 || TCHAR[c] !== 1) break;
      i++;
    }
    if (i === pos || i >= next || text.charCodeAt(i) !== 58) return false;
    let start = i + 1;
    while (start < next && isOws(text.charCodeAt(start))) start++;
    let end = next;
    while (end > start && isOws(text.charCodeAt(end - 1))) end--;
    for (let j = start; j < end; j++) {
      const c = text.charCodeAt(j);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
    }
    fields.push(pos, i, start, end, 0);
    if (fields.length > maxCount * FIELD) return false;
    pos = next + 2;
  }
  return true;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Whether text[start..end) is `lower` ignoring ASCII case (`lower` is lower case letters and '-'). */
export function nameIs(text: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if ((text.charCodeAt(start + i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Hop-by-hop fields (RFC 9110 §7.6.1), never forwarded; `upgrade` only with a tunnel. */
export function isHopByHop(text: string, start: number, end: number): boolean {
  switch (end - start) {
    case 2:
      return nameIs(text, start, end, 'te');
    case 7:
      return nameIs(text, start, end, 'trailer') || nameIs(text, start, end, 'upgrade');
    case 10:
      return nameIs(text, start, end, 'connection') || nameIs(text, start, end, 'keep-alive');
    case 14:
      return nameIs(text, start, end, 'http2-settings');
    case 16:
      return nameIs(text, start, end, 'proxy-connection');
    case 18:
      return nameIs(text, start, end, 'proxy-authenticate');
    case 19:
      return nameIs(text, start, end, 'proxy-authorization');
    default:
      return false;
  }
}

/** Whether a Connection value lists only close and keep-alive (nothing else to drop). */
export function connectionIsPlain(value: string): boolean {
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t !== '' && t !== 'close' && t !== 'keep-alive') return false;
  }
  return true;
}

/** Whether a Connection value lists `close`. */
export function connectionCloses(value: string): boolean {
  return /(?:^|,)\s*close\s*(?:,|$)/i.test(value);
}

/** The fields as a flat [name, value, …] array. */
export function rawOf(text: string, fields: readonly number[]): string[] {
  const raw: string[] = [];
  for (let f = 0; f < fields.length; f += FIELD) {
    raw.push(text.slice(fields[f]!, fields[f + 1]!), text.slice(fields[f + 2]!, fields[f + 3]!));
  }
  return raw;
}

/** The kept field lines (drop flag 0), each ending in CRLF, copied as runs of whole lines. */
export function keptLines(text: string, fields: readonly number[]): string {
  let out = '';
  let run = -1;
  for (let f = 0; f < fields.length; f += FIELD) {
    if (fields[f + 4] === 0) {
      if (run === -1) run = fields[f]!;
      continue;
    }
    if (run !== -1) out += text.slice(run, fields[f]!);
    run = -1;
  }
  if (run !== -1) out += `${text.slice(run)}\r\n`;
  return out;
}
