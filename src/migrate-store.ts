// `npm run migrate-store -- --from ./data/policy.db --to postgres://host/db`: copies a SQLite database (stop the
// server first) into an empty PostgreSQL database — every table: resources, policies, deny policies, custom roles,
// shared policies and their bindings, the member index, the change log, consumers and the page-token key — in one
// transaction, then verifies the counts and every etag (store/postgres/copy.ts). The way back,
// `--from postgres://… --to ./policy.db`, copies the same tables from one PostgreSQL snapshot into a new SQLite file and
// verifies it alike (store/postgres/copy-to-sqlite.ts). A target that holds anything is refused.
import Sqlite from "better-sqlite3";
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseDb, redactedDb } from "./store/db-url.js";
import { openStore } from "./store/open-store.js";
import { copySqliteToPostgres } from "./store/postgres/copy.js";
import { copyPostgresToSqlite } from "./store/postgres/copy-to-sqlite.js";
import { createPool } from "./store/postgres/database.js";

const USAGE =
  "usage: npm run migrate-store -- --from ./data/policy.db --to postgres://user@host:5432/policy\n" +
  "   or: npm run migrate-store -- --from postgres://user@host:5432/policy --to ./data/policy.db (a new file)";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: "string" }, to: { type: "string" } } });
  if (!values.from || !values.to) throw new Error(`--from and --to are required\n${USAGE}`);
  const from = parseDb(values.from);
  const to = parseDb(values.to);
  let counts: Record<string, number>;
  if (from.kind === "sqlite" && to.kind === "postgres") counts = await toPostgres(values.from, to.url);
  else if (from.kind === "postgres" && to.kind === "sqlite") counts = await toSqlite(from.url, values.to);
  else throw new Error(`copy from SQLite to PostgreSQL or back\n${USAGE}`);
  for (const [table, rows] of Object.entries(counts)) console.log(`${table}: ${rows} rows`);
  console.log(`copied ${redactedDb(values.from)} to ${redactedDb(values.to)}; counts and etags verified`);
}

async function toPostgres(file: string, url: string): Promise<Record<string, number>> {
  if (!existsSync(file)) throw new Error(`no SQLite database at ${file}`);
  const source = new Sqlite(file, { readonly: true, fileMustExist: true });
  const pool = createPool({ url, poolSize: 2, statementTimeoutMs: 600_000 });
  try {
    return await copySqliteToPostgres(source, pool);
  } finally {
    source.close();
    await pool.end();
  }
}

async function toSqlite(url: string, file: string): Promise<Record<string, number>> {
  if (existsSync(file)) throw new Error(`${file} exists: give the path of a new SQLite file`);
  // The server's own opening creates the file at the newest schema (the copy checks the source has the same).
  await (await openStore({ db: file, cacheBytes: 0 })).close();
  const target = new Sqlite(file, { fileMustExist: true });
  const pool = createPool({ url, poolSize: 2, statementTimeoutMs: 600_000 });
  try {
    return await copyPostgresToSqlite(pool, target);
  } finally {
    target.close();
    await pool.end();
  }
}

main().catch((e: unknown) => {
  console.error(`migrate-store: ${(e as Error).message}`);
  process.exit(1);
});
