// `npm run migrate-store -- --from <db> --to <db>`: copies a whole store into a new one, any to any (a SQLite file or a
// postgres:// URL on either side), through the store contract (store/copy-store.ts): every resource, policy, document
// and link with its etag, the member index, the change log (so Watch resume tokens and consumers' acknowledged
// sequences stay valid), consumers with their failures and clock, and the page-token key (page tokens stay valid).
// The source is read from one snapshot (a running server may go on writing to it; what it writes after is not
// copied); the target is written in one transaction and must be new: a SQLite file that does not exist, or a
// PostgreSQL database that holds no resource, change or consumer. Then the copy is read back and compared with the
// source, record by record (counts and digests). Both are opened as a server opens them: pending migrations apply.
import { existsSync, rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { copyStore } from "./store/copy-store.js";
import { parseDb, redactedDb } from "./store/db-url.js";
import { openStore } from "./store/open-store.js";

const USAGE =
  "usage: npm run migrate-store -- --from <SQLite file or postgres:// URL> --to <a new SQLite file or an empty PostgreSQL database>\n" +
  "  e.g. npm run migrate-store -- --from ./data/policy.db --to postgres://user@host:5432/policy";

/** Long enough for a page of a large table on a loaded server. */
const STATEMENT_TIMEOUT_MS = 600_000;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: "string" }, to: { type: "string" } } });
  if (!values.from || !values.to) throw new Error(`--from and --to are required\n${USAGE}`);
  const from = parseDb(values.from);
  const to = parseDb(values.to);
  if (from.kind === "sqlite" && !existsSync(from.path)) throw new Error(`no SQLite database at ${from.path}`);
  if (to.kind === "sqlite" && existsSync(to.path)) throw new Error(`${to.path} exists: give the path of a new SQLite file`);
  const options = { cacheBytes: 0, poolSize: 2, statementTimeoutMs: STATEMENT_TIMEOUT_MS };
  const source = await openStore({ ...options, db: values.from });
  try {
    const target = await openStore({ ...options, db: values.to });
    let report: Awaited<ReturnType<typeof copyStore>>;
    try {
      report = await copyStore(source, target);
    } catch (e) {
      await target.close();
      // The new file holds nothing of the source (the import rolled back) or a copy that failed verification.
      if (to.kind === "sqlite") for (const suffix of ["", "-wal", "-shm"]) rmSync(`${to.path}${suffix}`, { force: true });
      throw e;
    }
    await target.close();
    for (const [sort, count] of Object.entries(report.counts)) console.log(`${sort}: ${count}`);
    console.log(
      `copied ${redactedDb(values.from)} to ${redactedDb(values.to)} as of sequence ${report.sequence}; counts and etags verified (every record compared)`,
    );
  } finally {
    await source.close();
  }
}

main().catch((e: unknown) => {
  console.error(`migrate-store: ${(e as Error).message}`);
  process.exit(1);
});
