// `npm run backup -- --db ./data/policy.db --out backup.db`: a consistent copy of a live database, taken with
// SQLite's online backup API while the server keeps serving (readers and writers are not blocked for long).
import Sqlite from "better-sqlite3";
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { parseDb } from "./store/db-url.js";

const USAGE = [
  "usage: npm run backup -- [--db ./data/policy.db] --out backups/policy-2025-01-31.db",
  "  --db   the live database (env POLICY_DB, default ./data/policy.db)",
  "  --out  the copy to write: a new file; its folder is created if missing",
].join("\n");

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { db: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const db = values.db ?? process.env.POLICY_DB ?? "./data/policy.db";
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  if (parseDb(db).kind === "postgres") throw new Error("a PostgreSQL database is backed up with pg_dump: see docs/operations.md#backups");
  if (!existsSync(db)) throw new Error(`no database at ${db}\n${USAGE}`);
  if (existsSync(values.out)) throw new Error(`${values.out} exists; choose a new file`);
  mkdirSync(dirname(values.out), { recursive: true });
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
  // parseArgs's errors (an unknown option) are one line too, with the usage.
  const message = (e as Error).message;
  console.error(`backup: ${message}${/^Unknown option|Option '/.test(message) ? `\n${USAGE}` : ""}`);
  process.exit(1);
});
