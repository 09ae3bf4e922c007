// A row of the sessions table to a record, and a delta to the merge function's parameters.

import type { AttributeEntry, LiveRecord, SessionRecord } from '../../session/record.js';

export interface SessionRow {
  created_at: string | number | null;
  accessed_at: string | number | null;
  idle_t: string | null;
  idle_v: string | number | null;
  absolute_expires_at: string | number | null;
  principal_t: string | null;
  principal: string | null;
  attrs: Record<string, AttributeEntry>;
}

/** The parameters after (id, now, tombstone ms), in the merge function's order. */
export function deltaParameters(delta: SessionRecord): unknown[] {
  return [
    delta.createdAt ?? null,
    delta.accessedAt ?? null,
    delta.idle?.t ?? null,
    delta.idle?.v ?? null,
    delta.absoluteExpiresAt ?? null,
    delta.principal?.t ?? null,
    delta.principal?.v ?? null,
    delta.destroyed ?? null,
    delta.attrs === undefined ? null : JSON.stringify(delta.attrs),
  ];
}

/** A live row (the query already filtered out destroyed and expired ones). */
export function decodeRow(row: SessionRow): LiveRecord {
  const record: LiveRecord = {
    createdAt: Number(row.created_at),
    accessedAt: Number(row.accessed_at),
    idle: { t: row.idle_t ?? '', v: Number(row.idle_v) },
    attrs: row.attrs ?? {},
  };
  if (row.absolute_expires_at !== null) record.absoluteExpiresAt = Number(row.absolute_expires_at);
  if (row.principal_t !== null) record.principal = { t: row.principal_t, v: row.principal };
  return record;
}
