// The one place that chooses a store implementation: from the --db setting (a SQLite file or a postgres:// URL),
// wrapped in the read cache.
import { cachingStore } from "./caching-store.js";
import { tracedStore } from "./traced-store.js";
import { parseDb } from "./db-url.js";
import { PostgresStore } from "./postgres/postgres-store.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

export interface StoreOptions {
  /** --db: a SQLite file path, or a postgres:// / postgresql:// URL. */
  db: string;
  /** Memory budget of the read cache in bytes (0: no cache). */
  cacheBytes: number;
  /** PostgreSQL: connections per process (--db-pool). */
  poolSize?: number;
  /** PostgreSQL: the longest a statement may run, in milliseconds (--db-statement-timeout-ms). */
  statementTimeoutMs?: number;
  /** SQLite: rows one group commit may change before it takes no more writes (--sqlite-batch-rows; write-queue.ts). */
  sqliteBatchRows?: number;
  /** Tracing is on: the database's work gets spans in traced calls (traced-store.ts); off, nothing wraps it. */
  traced?: boolean;
}

/** The SQLite group commit's row budget by default (0: none); the write queue owns it, the configuration reads it here. */
export { SQLITE_BATCH_ROWS } from "./sqlite/write-queue.js";
export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;

export async function openStore(options: StoreOptions): Promise<Store> {
  const target = parseDb(options.db);
  const database =
    target.kind === "sqlite"
      ? new SqliteStore(target.path, { batchRows: options.sqliteBatchRows })
      : await PostgresStore.open({
          url: target.url,
          poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
          statementTimeoutMs: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
        });
  const store = options.traced ? tracedStore(database, target.kind === "sqlite" ? "sqlite" : "postgresql") : database;
  return options.cacheBytes > 0 ? cachingStore(store, options.cacheBytes) : store;
}
