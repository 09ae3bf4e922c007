// How a session lives in a Redis hash: one field per attribute (`a:<name>`), whose value is
// the HLC timestamp, a NUL, and the JSON text (a tombstone is the timestamp alone), plus
// metadata fields `m:*`. A delta becomes the merge script's arguments; a hash becomes a record.

import { setOwn, type AttributeEntry, type SessionRecord } from '../../session/record.js';

const SEP = '\0';

/** The merge script's ARGV after its six leading parameters. */
export function deltaArguments(delta: SessionRecord): string[] {
  const args = [
    delta.createdAt === undefined ? '' : String(delta.createdAt),
    delta.accessedAt === undefined ? '' : String(delta.accessedAt),
    delta.idle === undefined ? '' : `${delta.idle.t}${SEP}${JSON.stringify(delta.idle.v)}`,
    delta.absoluteExpiresAt === undefined ? '' : String(delta.absoluteExpiresAt),
    delta.principal === undefined
      ? ''
      : `${delta.principal.t}${SEP}${JSON.stringify(delta.principal.v)}`,
    delta.destroyed ?? '',
  ];
  if (delta.attrs) {
    for (const key in delta.attrs) {
      const entry = delta.attrs[key]!;
      args.push(`a:${key}`, entry.j === undefined ? entry.t : `${entry.t}${SEP}${entry.j}`);
    }
  }
  return args;
}

/** The field/value pairs of HGETALL, as node-redis returns them under RESP2 or RESP3. */
export function hashEntries(reply: unknown): [string, string][] {
  if (Array.isArray(reply)) {
    const out: [string, string][] = [];
    for (let i = 0; i + 1 < reply.length; i += 2)
      out.push([String(reply[i]), String(reply[i + 1])]);
    return out;
  }
  if (reply instanceof Map) return [...reply].map(([k, v]) => [String(k), String(v)]);
  if (reply && typeof reply === 'object')
    return Object.entries(reply).map(([k, v]) => [k, String(v)]);
  return [];
}

/** The record a hash holds (possibly incomplete, destroyed or expired: the caller decides). */
export function decodeHash(entries: [string, string][]): SessionRecord {
  const record: SessionRecord = {};
  const attrs: Record<string, AttributeEntry> = {};
  for (const [field, value] of entries) {
    if (field.startsWith('a:')) {
      setOwn(attrs, field.slice(2), entry(value));
      continue;
    }
    switch (field) {
      case 'm:c':
        record.createdAt = Number(value);
        break;
      case 'm:a':
        record.accessedAt = Number(value);
        break;
      case 'm:x':
        record.absoluteExpiresAt = Number(value);
        break;
      case 'm:d':
        record.destroyed = value;
        break;
      case 'm:i': {
        const { t, j } = entry(value);
        record.idle = { t, v: Number(j) };
        break;
      }
      case 'm:p': {
        const { t, j } = entry(value);
        record.principal = { t, v: j === undefined ? null : (JSON.parse(j) as string | null) };
        break;
      }
    }
  }
  if (record.destroyed === undefined) record.attrs = attrs;
  return record;
}

/** The principal of an encoded `m:p` value ('' or a null principal: none). */
export function decodePrincipal(value: string): string | null {
  if (value === '') return null;
  const { j } = entry(value);
  return j === undefined ? null : (JSON.parse(j) as string | null);
}

function entry(value: string): AttributeEntry {
  const at = value.indexOf(SEP);
  return at < 0 ? { t: value } : { t: value.slice(0, at), j: value.slice(at + 1) };
}

/** The hash fields of a session's metadata: all but its attributes. */
export const METADATA_FIELDS = ['m:c', 'm:a', 'm:i', 'm:x', 'm:d', 'm:p'] as const;

/** The record of an HMGET of METADATA_FIELDS (no attributes; {} for a gone session). */
export function decodeMetadata(reply: unknown): SessionRecord {
  const values = reply as (string | null)[];
  return decodeHash(
    METADATA_FIELDS.flatMap((field, k): [string, string][] =>
      values[k] == null ? [] : [[field, String(values[k])]],
    ),
  );
}
