// `npm run backup -- --db ./data/policy.db --out backup.db`: a consistent copy of a live database, taken with
// SQLite's online backup API while the server keeps serving (readers and writers are not blocked for long).
import Sqlite from "better-sqlite3";
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseDb } from "./store/db-url.js";

const USAGE = "usage: npm run backup -- --db ./data/policy.db --out backup.db";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { db: { type: "string" }, out: { type: "string" } } });
  const db = values.db ?? process.env.POLICY_DB ?? "./data/policy.db";
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  if (parseDb(db).kind === "postgres") throw new Error("a PostgreSQL database is backed up with pg_dump: see docs/operations.md#backups");
  if (!existsSync(db)) throw new Error(`no database at ${db}\n${USAGE}`);
  if (existsSync(values.out)) throw new Error(`${values.out} exists; choose a new file`);
  const source = new Sqlite(db, { readonly: true, fileMustExist: true });
  source.pragma("busy_timeout = 5000");
  try {
    const result = await source.backup(values.out);
    console.log(`backed up ${db} to ${values.out} (${result.totalPages} pages)`);
  } finally {
    source.close();
  }
}

main().catch((e: unknown) => {
  console.error(`backup: ${(e as Error).message}`);
  process.exit(1);
});
