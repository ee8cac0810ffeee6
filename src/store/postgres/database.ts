// The connection pool (node-postgres), what its failures mean in store terms, and migrations under an advisory lock.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { StoreError } from "../store-error.js";
import { pendingMigrations } from "../migrations.js";
import { migrations } from "./migrations/index.js";

export interface PoolOptions {
  url: string;
  /** Connections per server process. */
  poolSize: number;
  /**
   * Longest a statement may run, and longest to wait for a connection, in milliseconds; a statement that gets no
   * answer at all is given up QUERY_TIMEOUT_GRACE_MS later.
   */
  statementTimeoutMs: number;
}

/** Advisory lock keys (pg_advisory_*): any 64-bit constants, one per purpose, the same in every replica. */
export const MIGRATION_LOCK = 0x706f6c6963790001n;
export const WRITE_LOCK = 0x706f6c6963790002n;

const INT8_OID = 20;
const INT8_ARRAY_OID = 1016;
const parseInt8Array = (pg.types.getTypeParser as (oid: number, format: "text") => (value: string) => (string | null)[])(
  INT8_ARRAY_OID,
  "text",
);

// int8 columns and arrays (sequences, ids, epoch milliseconds) as numbers: they stay far below 2^53.
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID
      ? Number
      : oid === INT8_ARRAY_OID
        ? (value: string) => parseInt8Array(value).map((n) => (n === null ? null : Number(n)))
        : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

/** How much longer than the statement timeout the driver waits for an answer before it gives up on the connection. */
export const QUERY_TIMEOUT_GRACE_MS = 1000;

export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    statement_timeout: options.statementTimeoutMs,
    // A statement PostgreSQL never answers (the server hung, the network cut without a reset): given up on here, a
    // moment after PostgreSQL's own statement timeout would have fired; the pool then closes the connection.
    query_timeout: options.statementTimeoutMs + QUERY_TIMEOUT_GRACE_MS,
    connectionTimeoutMillis: options.statementTimeoutMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    types,
  });
  // An idle connection that the server closes (restart, admin shutdown) is dropped by the pool and replaced on demand;
  // without a listener its error event would crash the process.
  pool.on("error", () => undefined);
  return pool;
}

/** SQLSTATE disk_full: the server could not extend a file (its volume, or a quota on it, is full). */
const DISK_FULL = "53100";

// SQLSTATE classes that mean "not now": connection exceptions, insufficient resources (too many connections, disk full),
// operator intervention (admin shutdown, cannot connect now, statement timeout), serialization failures.
const TRANSIENT_CLASSES = new Set(["08", "53", "57", "40"]);
const TRANSIENT_SYSTEM = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/;
const TRANSIENT_MESSAGE = /connection|terminated|timeout|not queryable|shutting down/i;

/** Whether a driver error means the database cannot do the work now (the same call may succeed later). */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (error instanceof pg.DatabaseError) return typeof code === "string" && TRANSIENT_CLASSES.has(code.slice(0, 2));
  if (typeof code === "string" && TRANSIENT_SYSTEM.test(code)) return true;
  return TRANSIENT_MESSAGE.test(error.message);
}

/**
 * A driver error as the store raises it: exhausted when the server's disk is full (as SQLITE_FULL is in SQLite),
 * unavailable when transient, otherwise itself (an internal error).
 */
export function storeErrorOf(error: unknown): unknown {
  if (error instanceof pg.DatabaseError && error.code === DISK_FULL) {
    return new StoreError(
      "exhausted",
      "",
      `the database server's disk is full (SQLSTATE 53100: ${error.message}): free space on its volume or raise its quota; ` +
        "committed data is intact",
      { cause: error },
    );
  }
  if (error instanceof StoreError || !isTransient(error)) return error;
  return new StoreError("unavailable", "", `the database is unavailable: ${(error as Error).message}`, { cause: error });
}

/** Runs `work`, raising driver failures as store errors. */
export async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw storeErrorOf(e);
  }
}

/** A connection checked out of the pool for work of several statements (a transaction, a session lock). */
export interface Connection {
  readonly client: pg.PoolClient;
  /** What the connection raised while checked out (its socket died: PostgreSQL stopped or restarted), if anything. */
  readonly failure: Error | undefined;
  /** Returns it to the pool; closes it instead when `broken`, or when it failed meanwhile. */
  release(broken?: boolean): void;
}

/**
 * Checks a connection out of the pool, listening for its 'error' event until it is released: node-postgres emits
 * one when the socket dies while the connection is checked out (the pool listens only while it is idle), and
 * without a listener that event ends the process. The failure itself reaches the work through its statements, which
 * reject; a connection that failed is closed on release, never handed out again.
 */
export async function checkOut(pool: pg.Pool): Promise<Connection> {
  const client = await guarded(() => pool.connect());
  let failure: Error | undefined;
  const onError = (error: Error) => {
    failure ??= error;
  };
  client.on("error", onError);
  return {
    client,
    get failure() {
      return failure;
    },
    release(broken = false) {
      client.off("error", onError);
      client.release(failure ?? broken);
    },
  };
}

/**
 * Runs `work` on a connection of its own. When it throws, the connection is closed rather than returned: that ends
 * the session, so PostgreSQL rolls back its open transaction and releases its session locks, and no ROLLBACK or
 * unlock has to be sent over a connection that may be dead.
 */
export async function withConnection<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const connection = await checkOut(pool);
  try {
    const result = await work(connection.client);
    connection.release();
    return result;
  } catch (e) {
    connection.release(true);
    throw e;
  }
}

/**
 * Applies pending migrations. Replicas starting together take the same advisory lock, so one migrates and the others
 * find the work done; a database migrated by a newer server is refused. A failure closes the connection, which rolls
 * back the migration in progress and releases the lock.
 */
export async function migrate(pool: pg.Pool): Promise<void> {
  await guarded(() =>
    withConnection(pool, async (client) => {
      await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK.toString()]);
      await client.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)",
      );
      const { rows } = await client.query<{ version: number }>("SELECT version FROM schema_migrations");
      const applied = new Set(rows.map((row) => row.version));
      for (const m of pendingMigrations(migrations, applied)) {
        await client.query("BEGIN");
        await client.query(m.sql);
        await m.run?.(client);
        await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [m.version, m.name, Date.now()]);
        await client.query("COMMIT");
      }
      // The page-token key: made once per database, by whichever replica migrates first.
      await client.query("INSERT INTO secrets (name, value) VALUES ('page_token_key', $1) ON CONFLICT (name) DO NOTHING", [randomBytes(32)]);
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK.toString()]);
    }),
  );
}
