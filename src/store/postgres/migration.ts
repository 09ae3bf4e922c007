// The table and indexes of the PostgreSQL store, as SQL that docs/postgres.md shows for the
// default names (the merge is one statement, merge-statement.ts, not a stored function). Timestamps compare under COLLATE "C" (byte order), the order in
// which HLC strings sort by time whatever the database's collation.

export interface TableName {
  /** Schema, or undefined for the search_path. */
  schema?: string | undefined;
  table: string;
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualified(name: TableName, object: string = name.table): string {
  return name.schema === undefined
    ? quoteIdentifier(object)
    : `${quoteIdentifier(name.schema)}.${quoteIdentifier(object)}`;
}

/** Every statement of the migration; idempotent (IF NOT EXISTS, CREATE OR REPLACE). */
export function migrationSql(name: TableName): string {
  const t = qualified(name);
  const schema =
    name.schema === undefined
      ? ''
      : `CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(name.schema)};\n`;
  return `${schema}CREATE TABLE IF NOT EXISTS ${t} (
  id text COLLATE "C" PRIMARY KEY,
  created_at bigint,
  accessed_at bigint,
  idle_t text COLLATE "C",
  idle_v bigint,
  absolute_expires_at bigint,
  principal_t text COLLATE "C",
  principal text,
  destroyed text COLLATE "C",
  -- attribute name -> {"t": HLC, "j": JSON text}; no "j" is a tombstone
  attrs jsonb NOT NULL DEFAULT '{}',
  -- ms since the epoch when the row may be deleted: the session's deadline, or a tombstone's end
  expires_at bigint NOT NULL,
  -- what the last merge did (outcome, +4 when it retired a dead row), for its RETURNING clause
  last_merge smallint NOT NULL DEFAULT 0
);
ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS last_merge smallint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS ${quoteIdentifier(`${name.table}_expires_at`)} ON ${t} (expires_at);
CREATE INDEX IF NOT EXISTS ${quoteIdentifier(`${name.table}_principal`)} ON ${t} (principal) WHERE principal IS NOT NULL;
`;
}
