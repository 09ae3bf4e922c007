// Sessions in PostgreSQL: one row per session, attributes in JSONB, merged by one statement
// (postgres/merge-statement.ts) that applies the per-attribute timestamp rule under the row
// lock, prepared once per connection. A batched cleanup deletes expired rows with
// FOR UPDATE SKIP LOCKED, so any number of app nodes can run it without waiting or deadlocking,
// and each expired row is deleted, and its event fired, by exactly one of them.

import type { Pool } from 'pg';
import {
  POSTGRES_CLEANUP_BATCH,
  POSTGRES_CLEANUP_INTERVAL_MS,
  POSTGRES_TABLE,
  STORE_OPERATION_TIMEOUT_MS,
  STORE_TOMBSTONE_MIN_MS,
} from '../defaults.js';
import { InvalidOptionError, InvalidSessionIdError, StoreClosedError } from '../errors.js';
import type { LiveRecord, SessionRecord } from '../session/record.js';
import { BaseStore } from './base-store.js';
import { withRetries } from './deadline.js';
import { MergeCoalescer } from './merge-coalescer.js';
import { decodeRow, deltaParameters, type SessionRow } from './postgres/codec.js';
import { POSTGRES_FAILURES } from './postgres/errors.js';
import { EXPIRED_FLAG, mergeStatement } from './postgres/merge-statement.js';
import { migrationSql, qualified, type TableName } from './postgres/migration.js';
import { createHash } from 'node:crypto';
import { positive } from '../options.js';

/** The part of a pg Pool (or Client) the store uses. */
export type Queryable = Pick<Pool, 'query'>;

export interface PostgresStoreOptions {
  /** A `pg` Pool. The store never ends it. */
  pool: Queryable;
  /** Schema of the table; default: the search_path. */
  schema?: string;
  /** Table name. Default `sessionmesh_sessions`. */
  table?: string;
  /** An operation, retries included, fails with SM_ERR_STORE_UNAVAILABLE after this long. Default 2000. */
  timeoutMs?: number;
  /** How often this node runs the cleanup of expired rows (0: never, run cleanup() yourself). Default 30 s. */
  cleanupIntervalMs?: number;
  /** Rows deleted per cleanup statement. Default 500. */
  cleanupBatch?: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/;

/**
 * A statement pg prepares once per connection (parse and plan skipped after the first run).
 * The name is the text's hash: two stores on one pool with other tables get other names.
 */
function prepared(text: string): { name: string; text: string } {
  return { name: `sm_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text };
}

export class PostgresStore extends BaseStore {
  readonly #pool: Queryable;
  readonly #name: TableName;
  readonly #table: string;
  readonly #read: { name: string; text: string };
  readonly #merge: { name: string; text: string };
  readonly #timeoutMs: number;
  readonly #batch: number;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #coalescer = new MergeCoalescer((id, delta) => this.#mergeNow(id, delta));
  #cleaning: Promise<number> | undefined;
  #closed = false;

  /**
   * @throws {InvalidOptionError} for a missing pool or a bad option.
   * @example
   * import pg from 'pg';
   * import { createPostgresStore } from 'sessionmesh/postgres';
   * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
   * const store = await createPostgresStore({ pool }); // runs the migration
   */
  constructor(options: PostgresStoreOptions) {
    super();
    if (!options?.pool || typeof options.pool.query !== 'function') {
      throw new InvalidOptionError('pool', 'a pg Pool', options?.pool);
    }
    const table = options.table ?? POSTGRES_TABLE;
    if (!IDENTIFIER.test(table))
      throw new InvalidOptionError(
        'table',
        'an identifier ([A-Za-z_][A-Za-z0-9_]*, up to 41)',
        table,
      );
    if (options.schema !== undefined && !IDENTIFIER.test(options.schema)) {
      throw new InvalidOptionError(
        'schema',
        'an identifier ([A-Za-z_][A-Za-z0-9_]*, up to 41)',
        options.schema,
      );
    }
    this.#timeoutMs = positive('timeoutMs', options.timeoutMs ?? STORE_OPERATION_TIMEOUT_MS);
    this.#batch = options.cleanupBatch ?? POSTGRES_CLEANUP_BATCH;
    if (!Number.isInteger(this.#batch) || this.#batch < 1)
      throw new InvalidOptionError('cleanupBatch', 'an integer >= 1', this.#batch);
    const interval = options.cleanupIntervalMs ?? POSTGRES_CLEANUP_INTERVAL_MS;
    if (typeof interval !== 'number' || !(interval >= 0))
      throw new InvalidOptionError('cleanupIntervalMs', 'a number >= 0', interval);
    this.#pool = options.pool;
    this.#name = { schema: options.schema, table };
    this.#table = qualified(this.#name);
    this.#read = prepared(
      `SELECT created_at, accessed_at, idle_t, idle_v, absolute_expires_at, principal_t, principal, attrs
       FROM ${this.#table} WHERE id = $1 AND destroyed IS NULL AND expires_at > $2 AND created_at IS NOT NULL`,
    );
    this.#merge = prepared(mergeStatement(this.#name));
    if (interval > 0) {
      this.#timer = setInterval(() => void this.cleanup().catch(() => {}), interval);
      this.#timer.unref();
    }
  }

  /** Creates the table, indexes and functions if they are missing (idempotent; docs/postgres.md has the SQL). */
  async migrate(): Promise<void> {
    // One migrating node at a time: CREATE OR REPLACE FUNCTION races with itself otherwise.
    await this.#run('migrate', () =>
      this.#pool
        .query(`DO $m$ BEGIN PERFORM pg_advisory_xact_lock(hashtext('sessionmesh-migrate')); END $m$;
${migrationSql(this.#name)}`),
    );
  }

  protected async readRecord(id: string): Promise<LiveRecord | undefined> {
    this.#check();
    if (!isStorableId(id)) return undefined;
    const values = [id, Date.now()];
    const result = await this.#run('read', () =>
      this.#pool.query<SessionRow>({ ...this.#read, values }),
    );
    const row = result.rows[0];
    return row && decodeRow(row);
  }

  protected async mergeRecord(id: string, delta: SessionRecord): Promise<void> {
    this.#check();
    if (!isStorableId(id)) throw new InvalidSessionIdError(id);
    return this.#coalescer.merge(id, delta);
  }

  /** One merge statement; events are fired here, once per statement (merge-coalescer.ts). */
  async #mergeNow(id: string, delta: SessionRecord): Promise<void> {
    const values = [id, Date.now(), STORE_TOMBSTONE_MIN_MS, ...deltaParameters(delta)];
    // One statement, its own transaction; a merge is idempotent, so a retry after a lost reply
    // is safe.
    const result = await this.#run('merge', () =>
      this.#pool.query<{ last_merge: number }>({ ...this.#merge, values }),
    );
    const merged = result.rows[0]!.last_merge;
    const row = { outcome: merged & ~EXPIRED_FLAG, expired_now: (merged & EXPIRED_FLAG) !== 0 };
    if (row.expired_now) this.emit('expired', id);
    if (row.outcome === 2) this.emit('destroyed', id);
  }

  protected async listIds(): Promise<string[]> {
    this.#check();
    const result = await this.#run('list', () =>
      this.#pool.query<{ id: string }>(
        `SELECT id FROM ${this.#table} WHERE destroyed IS NULL AND expires_at > $1 AND created_at IS NOT NULL`,
        [Date.now()],
      ),
    );
    return result.rows.map((r) => r.id);
  }

  protected async listIdsOfPrincipal(principal: string): Promise<string[]> {
    this.#check();
    const result = await this.#run('principal', () =>
      this.#pool.query<{ id: string }>(
        `SELECT id FROM ${this.#table} WHERE principal = $1 AND destroyed IS NULL AND expires_at > $2`,
        [principal, Date.now()],
      ),
    );
    return result.rows.map((r) => r.id);
  }

  /**
   * Deletes expired rows in batches and fires `expired` for the sessions among them (not for
   * tombstones). Batches of short statements; rows another node is deleting are skipped, not
   * waited for, so concurrent cleanups split the work and never deadlock. Returns rows deleted.
   */
  cleanup(): Promise<number> {
    if (this.#closed) return Promise.resolve(0);
    // One cleanup at a time per node; overlapping timer ticks share it.
    this.#cleaning ??= this.#cleanup().finally(() => (this.#cleaning = undefined));
    return this.#cleaning;
  }

  async #cleanup(): Promise<number> {
    let total = 0;
    for (let round = 0; round < 1000 && !this.#closed; round++) {
      const result = await this.#run('cleanup', () =>
        this.#pool.query<{ id: string; expired: boolean }>(
          `WITH victims AS (
             SELECT id FROM ${this.#table} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
           DELETE FROM ${this.#table} s USING victims WHERE s.id = victims.id
           RETURNING s.id, (s.destroyed IS NULL AND s.created_at IS NOT NULL) AS expired`,
          [Date.now(), this.#batch],
        ),
      );
      total += result.rows.length;
      for (const row of result.rows) if (row.expired) this.emit('expired', row.id);
      if (result.rows.length < this.#batch) break;
    }
    return total;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#cleaning?.catch(() => {});
  }

  #run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return withRetries(POSTGRES_FAILURES, what, this.#timeoutMs, () => this.#closed, operation);
  }

  #check(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

/**
 * A PostgresStore whose table exists (runs `migrate()` unless `migrate: false`).
 * @throws {StoreUnavailableError} when PostgreSQL cannot be reached in time.
 */
export async function createPostgresStore(
  options: PostgresStoreOptions & { migrate?: boolean },
): Promise<PostgresStore> {
  const store = new PostgresStore(options);
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  return store;
}

/** The migration's SQL for these names, for teams that run migrations with their own tool. */
export function postgresMigrationSql(options: { schema?: string; table?: string } = {}): string {
  return migrationSql({ schema: options.schema, table: options.table ?? POSTGRES_TABLE });
}

function isStorableId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= 256;
}
