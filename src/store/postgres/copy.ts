// Copies a SQLite database into an empty PostgreSQL database, in one transaction under the write lock, and verifies
// it: row counts per table and every etag. Used by `npm run migrate-store` and the PostgreSQL benchmark.
import type Sqlite from "better-sqlite3";
import type pg from "pg";
import { resourceEtag, revisionEtag } from "../../etag.js";
import { POLICY_KIND } from "../documents.js";
import { WRITE_LOCK, migrate, withConnection } from "./database.js";
import { migrations } from "./migrations/index.js";

const BATCH = 1000;

/** Columns copied per table, in an order that keeps foreign keys satisfied (parents before children). */
export const TABLES = [
  {
    name: "resources",
    columns: ["id", "name", "parent_id", "path", "type", "display_name", "create_seq", "revision", "create_time", "update_time", "has_bindings"],
    select: "SELECT id, name, parent_id, path, type, display_name, create_seq, revision, create_time, update_time, has_bindings FROM resources ORDER BY length(path), id",
  },
  {
    // Every attached document: access policies (kind 'policy'), deny policies, custom roles, shared policies.
    name: "documents",
    columns: ["resource_id", "kind", "key", "body", "entries", "revision", "update_time"],
    select: "SELECT resource_id, kind, key, body, entries, revision, update_time FROM documents ORDER BY resource_id, kind, key",
  },
  {
    // The reverse-lookup index as SQLite keeps it (the same rows a rebuild from the policies would make).
    name: "member_grants",
    columns: ["member", "role", "path", "resource_id"],
    select: "SELECT member, role, path, resource_id FROM member_grants ORDER BY member, role, path",
  },
  {
    name: "links",
    columns: ["kind", "from_id", "to_id", "revision", "create_time"],
    select: "SELECT kind, from_id, to_id, revision, create_time FROM links ORDER BY kind, from_id, to_id",
  },
  {
    // The reverse-lookup index of shared policies, as SQLite keeps it.
    name: "shared_member_grants",
    columns: ["member", "role", "policy_id"],
    select: "SELECT member, role, policy_id FROM shared_member_grants ORDER BY member, role, policy_id",
  },
  {
    name: "change_log",
    columns: ["seq", "time", "principal", "action", "resource", "etag_before", "etag_after", "change", "resource_type", "parent", "previous_parent", "lineage", "previous_lineage"],
    select: "SELECT seq, time, principal, action, resource, etag_before, etag_after, change, resource_type, parent, previous_parent, lineage, previous_lineage FROM change_log ORDER BY seq",
  },
  {
    name: "consumers",
    columns: ["name", "display_name", "subtree", "resource_types", "acknowledged_seq", "acknowledge_time", "create_time", "root", "failure_count", "version"],
    select:
      "SELECT name, display_name, subtree, resource_types, acknowledged_seq, acknowledge_time, create_time, root, failure_count, version FROM consumers ORDER BY name",
  },
  {
    name: "consumer_failures",
    columns: ["consumer", "resource", "seq", "message", "time"],
    select: "SELECT consumer, resource, seq, message, time FROM consumer_failures ORDER BY consumer, resource",
  },
  // One row each, made by the migrations: replaced by the source's (see copySqliteToPostgres).
  { name: "consumer_clock", columns: ["version", "last_delete"], select: "SELECT version, last_delete FROM consumer_clock" },
  { name: "secrets", columns: ["name", "value"], select: "SELECT name, value FROM secrets ORDER BY name" },
] as const;

/** What every etag is made from: each resource's revision and its policy's (or its creation's, without one). */
export const ETAG_SOURCES = `SELECT r.name, r.revision, COALESCE(p.revision, r.create_seq) AS policy_revision
  FROM resources r LEFT JOIN documents p ON p.resource_id = r.id AND p.kind = '${POLICY_KIND}' AND p.key = ''`;

/**
 * Copies `source` into the database of `pool` (migrated first) and verifies the copy; refuses a database that holds
 * any resource or change. Returns the rows copied per table.
 */
export async function copySqliteToPostgres(source: Sqlite.Database, pool: pg.Pool): Promise<Record<string, number>> {
  const version = source.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").pluck().get() as number;
  // The two stores number their migrations alike (same version, same tables): the copy needs the newest schema.
  if (version !== migrations.at(-1)!.version) {
    throw new Error(`the SQLite database has schema version ${version}; start this server version on it once, then copy`);
  }
  await migrate(pool);
  // One transaction: a failure closes the connection, which rolls it back (nothing is left half copied).
  const counts = await withConnection(pool, async (client) => {
    const copied: Record<string, number> = {};
    await client.query("BEGIN");
    await client.query(`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`);
    const { rows } = await client.query<{ used: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM resources) OR EXISTS (SELECT 1 FROM change_log) OR EXISTS (SELECT 1 FROM consumers) AS used",
    );
    if (rows[0]!.used) throw new Error("the target database already holds data; give an empty database");
    // The page-token key comes along, so page tokens handed out before the move stay valid.
    await client.query("DELETE FROM secrets");
    // The consumers' clock comes along with their versions, so it stays ahead of them.
    await client.query("DELETE FROM consumer_clock");
    for (const table of TABLES) copied[table.name] = await copyTable(source, client, table);
    await client.query("COMMIT");
    return copied;
  });
  await verify(source, pool);
  return counts;
}

async function copyTable(source: Sqlite.Database, client: pg.PoolClient, table: (typeof TABLES)[number]): Promise<number> {
  let batch: unknown[][] = [];
  let copied = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const values = batch.flat();
    const width = table.columns.length;
    const tuples = batch.map((_, row) => `(${table.columns.map((_, col) => `$${row * width + col + 1}`).join(", ")})`);
    await client.query(`INSERT INTO ${table.name} (${table.columns.join(", ")}) VALUES ${tuples.join(", ")}`, values);
    copied += batch.length;
    batch = [];
  };
  for (const row of source.prepare(table.select).raw().iterate() as IterableIterator<unknown[]>) {
    // SQLite's 0/1 flags are valid PostgreSQL booleans as text; BLOBs arrive as Buffers, which are sent as bytea.
    batch.push(row);
    if (batch.length === BATCH) await flush();
  }
  await flush();
  return copied;
}

export type EtagRow = { name: string; revision: number; policy_revision: number };

/** A resource's etag and its policy's, from an ETAG_SOURCES row, as one comparable string. */
export const etags = (row: EtagRow) => `${resourceEtag(row.revision)} ${Buffer.from(revisionEtag(row.policy_revision)).toString("hex")}`;

/** Counts per table and the etags of every resource and policy, read back from PostgreSQL after the commit. */
async function verify(source: Sqlite.Database, pool: pg.Pool): Promise<void> {
  for (const table of TABLES) {
    const expected = source.prepare(`SELECT COUNT(*) FROM ${table.name}`).pluck().get() as number;
    const { rows } = await pool.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM ${table.name}`);
    if (rows[0]!.n !== expected) throw new Error(`verification failed: ${table.name} has ${rows[0]!.n} rows, expected ${expected}`);
  }
  const copied = new Map((await pool.query<EtagRow>(ETAG_SOURCES)).rows.map((row) => [row.name, etags(row)]));
  for (const row of source.prepare(ETAG_SOURCES).iterate() as IterableIterator<EtagRow>) {
    if (copied.get(row.name) !== etags(row)) throw new Error(`verification failed: the etags of ${row.name} differ`);
  }
}
