// The merge as one SQL statement, INSERT … ON CONFLICT DO UPDATE: a missing row is inserted as
// the delta alone; an existing one is locked and merged with the delta by the rule of
// session/merge.ts in the same statement. The row lock is held only for that statement and its
// commit, which bounds the throughput of one busy session (every request to it waits for it).

import { qualified, type TableName } from './migration.js';

/** What the merge leaves in the row's `last_merge` column: outcome + (expired ? 4 : 0). */
export const EXPIRED_FLAG = 4;

const COLUMNS = [
  'created_at',
  'accessed_at',
  'idle_t',
  'idle_v',
  'absolute_expires_at',
  'principal_t',
  'principal',
  'destroyed',
  'attrs',
  'expires_at',
  'last_merge',
];

/**
 * Parameters: $1 id, $2 now (ms), $3 tombstone ms, then the delta: $4 createdAt, $5 accessedAt,
 * $6 idle.t, $7 idle.v, $8 absoluteExpiresAt, $9 principal.t, $10 principal.v, $11 destroyed,
 * $12 attrs (jsonb). Returns `last_merge`: outcome 0 nothing kept, 1 merged, 2 destroyed by
 * this merge, 3 merged into a tombstone; plus EXPIRED_FLAG when the row was dead (past its
 * deadline, not yet cleaned) and this merge retired it (its expired event is then due).
 */
export function mergeStatement(name: TableName): string {
  return `INSERT INTO ${qualified(name)} AS s (id, ${COLUMNS.join(', ')})
SELECT $1::text, r.* FROM (${mergedRow(FRESH, true)}) r
ON CONFLICT (id) DO UPDATE SET (${COLUMNS.join(', ')}) = (${mergedRow(STORED, false)})
RETURNING last_merge`;
}

/** A missing row: the merge starts from nothing. */
const FRESH = `SELECT false AS dead, false AS existed, false AS was_destroyed,
  NULL::bigint AS created_at, NULL::bigint AS accessed_at, NULL::text AS idle_t,
  NULL::bigint AS idle_v, NULL::bigint AS absolute_expires_at, NULL::text AS principal_t,
  NULL::text AS principal, NULL::text AS destroyed, '{}'::jsonb AS attrs`;

// The stored row `s`. Past its deadline and not destroyed, it is dead (kept only until the
// cleanup): the merge starts from nothing instead, so nothing revives it, and its expired
// event is due now.
const STORED = `SELECT x.dead, NOT x.dead AND (s.created_at IS NOT NULL OR s.accessed_at IS NOT NULL
    OR s.idle_t IS NOT NULL OR s.destroyed IS NOT NULL) AS existed,
  s.destroyed IS NOT NULL AS was_destroyed,
  CASE WHEN x.dead THEN NULL ELSE s.created_at END AS created_at,
  CASE WHEN x.dead THEN NULL ELSE s.accessed_at END AS accessed_at,
  CASE WHEN x.dead THEN NULL ELSE s.idle_t END AS idle_t,
  CASE WHEN x.dead THEN NULL ELSE s.idle_v END AS idle_v,
  CASE WHEN x.dead THEN NULL ELSE s.absolute_expires_at END AS absolute_expires_at,
  CASE WHEN x.dead THEN NULL ELSE s.principal_t END AS principal_t,
  CASE WHEN x.dead THEN NULL ELSE s.principal END AS principal,
  s.destroyed,
  CASE WHEN x.dead THEN '{}'::jsonb ELSE s.attrs END AS attrs
FROM (SELECT s.destroyed IS NULL AND s.expires_at <= $2::bigint AND (s.created_at IS NOT NULL
  OR s.accessed_at IS NOT NULL OR s.idle_t IS NOT NULL) AS dead) x`;

/**
 * The row after merging the delta ($4…$12) into the base row `b`, in the order of COLUMNS.
 * `fresh`: `b` is FRESH, whose attributes are empty, so every attribute of the delta wins and
 * the per-attribute comparison is skipped: the insert side is computed on every call, even when
 * the row exists and the update side is the one kept.
 */
function mergedRow(base: string, fresh: boolean): string {
  const attrs = fresh
    ? `coalesce($12::jsonb, '{}'::jsonb)`
    : `b.attrs || coalesce((
      SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each($12::jsonb) e
      WHERE NOT (b.attrs ? e.key)
         OR (e.value->>'t') COLLATE "C" > (b.attrs->e.key->>'t')
         OR ((e.value->>'t') = (b.attrs->e.key->>'t') AND b.attrs->e.key ? 'j'
             AND (NOT e.value ? 'j' OR (e.value->>'j') COLLATE "C" > (b.attrs->e.key->>'j')))
    ), '{}'::jsonb)`;
  return `SELECT
  CASE WHEN g.gone THEN NULL ELSE m.created_at END,
  CASE WHEN g.gone THEN NULL ELSE m.accessed_at END,
  CASE WHEN g.gone THEN NULL ELSE i.idle_t END,
  CASE WHEN g.gone THEN NULL ELSE i.idle_v END,
  CASE WHEN g.gone THEN NULL ELSE m.absolute_expires_at END,
  CASE WHEN g.live THEN (CASE WHEN m.pw THEN $9::text ELSE b.principal_t END) END,
  CASE WHEN g.live THEN (CASE WHEN m.pw THEN $10::text ELSE b.principal END) END,
  m.destroyed,
  CASE WHEN g.live THEN ${attrs} ELSE '{}'::jsonb END,
  CASE WHEN m.destroyed IS NOT NULL THEN greatest(d.dl, $2::bigint + $3::bigint)
    WHEN g.gone THEN 0 ELSE d.dl END,
  ((CASE WHEN m.destroyed IS NOT NULL THEN
      CASE WHEN b.existed AND NOT b.was_destroyed THEN 2 ELSE 3 END
    WHEN g.gone THEN 0 ELSE 1 END) + CASE WHEN b.dead THEN ${EXPIRED_FLAG} ELSE 0 END)::smallint
FROM (${base} OFFSET 0) b
CROSS JOIN LATERAL (SELECT
  least(b.created_at, $4::bigint) AS created_at,
  greatest(b.accessed_at, $5::bigint) AS accessed_at,
  CASE WHEN $8::bigint IS NOT NULL AND (b.absolute_expires_at IS NULL OR ($8::bigint > 0
      AND (b.absolute_expires_at = 0 OR $8::bigint < b.absolute_expires_at)))
    THEN $8::bigint ELSE b.absolute_expires_at END AS absolute_expires_at,
  CASE WHEN $11::text IS NOT NULL AND (b.destroyed IS NULL OR $11::text COLLATE "C" > b.destroyed)
    THEN $11::text ELSE b.destroyed END AS destroyed,
  ($6::text IS NOT NULL AND (b.idle_t IS NULL OR $6::text COLLATE "C" > b.idle_t
    OR ($6::text = b.idle_t AND $7::bigint::text COLLATE "C" > b.idle_v::text))) AS iw,
  ($9::text IS NOT NULL AND (b.principal_t IS NULL OR $9::text COLLATE "C" > b.principal_t
    OR ($9::text = b.principal_t AND coalesce(to_json($10::text)::text, 'null') COLLATE "C"
      > coalesce(to_json(b.principal)::text, 'null')))) AS pw OFFSET 0) m
CROSS JOIN LATERAL (SELECT
  CASE WHEN m.iw THEN $6::text ELSE b.idle_t END AS idle_t,
  CASE WHEN m.iw THEN $7::bigint ELSE b.idle_v END AS idle_v OFFSET 0) i
CROSS JOIN LATERAL (SELECT
  coalesce(m.accessed_at, m.created_at, 0) + coalesce(i.idle_v, 0) AS idle_dl OFFSET 0) k
CROSS JOIN LATERAL (SELECT CASE WHEN coalesce(m.absolute_expires_at, 0) > 0
  AND m.absolute_expires_at < k.idle_dl THEN m.absolute_expires_at ELSE k.idle_dl END AS dl OFFSET 0) d
CROSS JOIN LATERAL (SELECT
  m.destroyed IS NULL AND NOT b.existed AND d.dl <= $2::bigint AS gone OFFSET 0) g0
CROSS JOIN LATERAL (SELECT g0.gone, m.destroyed IS NULL AND NOT g0.gone AS live OFFSET 0) g`;
}
