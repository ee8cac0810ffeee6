// `npm run migrate-store -- --from ./data/policy.db --to postgres://host/db`: copies a SQLite database (stop the
// server first) into an empty PostgreSQL database — every resource, policy, change-log row and the page-token key, in
// one transaction — then verifies the counts and every etag (store/postgres/copy.ts). A target that holds anything is
// refused.
import Sqlite from "better-sqlite3";
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseDb, redactedDb } from "./store/db-url.js";
import { copySqliteToPostgres } from "./store/postgres/copy.js";
import { createPool } from "./store/postgres/database.js";

const USAGE = "usage: npm run migrate-store -- --from ./data/policy.db --to postgres://user@host:5432/policy";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: "string" }, to: { type: "string" } } });
  if (!values.from || !values.to) throw new Error(`--from and --to are required\n${USAGE}`);
  if (!existsSync(values.from)) throw new Error(`no SQLite database at ${values.from}`);
  const target = parseDb(values.to);
  if (target.kind !== "postgres") throw new Error(`--to must be a postgres:// URL\n${USAGE}`);
  const source = new Sqlite(values.from, { readonly: true, fileMustExist: true });
  const pool = createPool({ url: target.url, poolSize: 2, statementTimeoutMs: 600_000 });
  try {
    const counts = await copySqliteToPostgres(source, pool);
    for (const [table, rows] of Object.entries(counts)) console.log(`${table}: ${rows} rows`);
    console.log(`copied ${values.from} to ${redactedDb(values.to)}; counts and etags verified`);
  } finally {
    source.close();
    await pool.end();
  }
}

main().catch((e: unknown) => {
  console.error(`migrate-store: ${(e as Error).message}`);
  process.exit(1);
});
