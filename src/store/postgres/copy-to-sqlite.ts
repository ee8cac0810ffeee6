// The way back: copies a PostgreSQL database into a new SQLite file (`npm run migrate-store -- --from postgres://…
// --to ./policy.db`), every table of copy.ts from one PostgreSQL snapshot into one SQLite transaction, then verifies
// it as the copy to PostgreSQL does: row counts per table and every etag. Change-log sequences, etags, consumers and
// the page-token key come along unchanged.
import type Sqlite from "better-sqlite3";
import type pg from "pg";
import { ETAG_SOURCES, TABLES, etags, type EtagRow } from "./copy.js";
import { withConnection } from "./database.js";
import { migrations } from "./migrations/index.js";

/** Rows fetched from PostgreSQL at a time. */
const FETCH = 5000;

/**
 * Copies the database of `pool` into `target`, a SQLite database at the newest schema (a server opened it once) that
 * holds no resource, change or consumer; returns the rows copied per table.
 */
export async function copyPostgresToSqlite(pool: pg.Pool, target: Sqlite.Database): Promise<Record<string, number>> {
  const newest = migrations.at(-1)!.version;
  const { rows: versions } = await pool.query<{ version: number }>("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations");
  if (versions[0]!.version !== newest) {
    throw new Error(`the PostgreSQL database has schema version ${versions[0]!.version}; start this server version on it once, then copy`);
  }
  const used = target
    .prepare("SELECT EXISTS (SELECT 1 FROM resources) OR EXISTS (SELECT 1 FROM change_log) OR EXISTS (SELECT 1 FROM consumers)")
    .pluck()
    .get();
  if (used) throw new Error("the target SQLite database already holds data; give a new file");

  const counts = await withConnection(pool, async (client) => {
    // One snapshot: what the tables hold at one moment, whatever a replica still writes.
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      target.exec("BEGIN IMMEDIATE");
      // The page-token key and the consumers' clock are the source's (made by the target's migrations: replaced).
      target.exec("DELETE FROM secrets; DELETE FROM consumer_clock");
      const copied: Record<string, number> = {};
      for (const table of TABLES) copied[table.name] = await copyTable(client, target, table);
      target.exec("COMMIT");
      return copied;
    } catch (e) {
      if (target.inTransaction) target.exec("ROLLBACK");
      throw e;
    } finally {
      await client.query("ROLLBACK");
    }
  });
  await verify(pool, target);
  return counts;
}

async function copyTable(client: pg.PoolClient, target: Sqlite.Database, table: (typeof TABLES)[number]): Promise<number> {
  const insert = target.prepare(`INSERT INTO ${table.name} (${table.columns.join(", ")}) VALUES (${table.columns.map(() => "?").join(", ")})`);
  await client.query(`DECLARE copy_rows NO SCROLL CURSOR FOR ${table.select}`);
  let copied = 0;
  for (;;) {
    const { rows } = await client.query<unknown[]>({ text: `FETCH ${FETCH} FROM copy_rows`, rowMode: "array" });
    // SQLite has no booleans (has_bindings): 1 and 0. Numbers, text, NULL and bytea (Buffers) bind as they are.
    for (const row of rows) insert.run(row.map((value) => (typeof value === "boolean" ? Number(value) : value)));
    copied += rows.length;
    if (rows.length < FETCH) break;
  }
  await client.query("CLOSE copy_rows");
  return copied;
}

/** Counts per table and the etags of every resource and policy, read back from the SQLite file after the commit. */
async function verify(pool: pg.Pool, target: Sqlite.Database): Promise<void> {
  for (const table of TABLES) {
    const copied = target.prepare(`SELECT COUNT(*) FROM ${table.name}`).pluck().get() as number;
    const { rows } = await pool.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM ${table.name}`);
    // The source may have changed since the snapshot (a replica still running): say so rather than "damaged".
    if (rows[0]!.n !== copied) throw new Error(`verification failed: ${table.name} has ${copied} rows, the source ${rows[0]!.n} (stop every replica, then copy again)`);
  }
  const copied = new Map((target.prepare(ETAG_SOURCES).all() as EtagRow[]).map((row) => [row.name, etags(row)]));
  for (const row of (await pool.query<EtagRow>(ETAG_SOURCES)).rows) {
    if (copied.get(row.name) !== etags(row)) throw new Error(`verification failed: the etags of ${row.name} differ`);
  }
}
