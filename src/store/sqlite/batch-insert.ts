// Rows of a batch creation (Store.createResources), inserted the way SQLite writes least. A multi-row INSERT that may
// fail on a constraint (a unique name, a foreign key) runs as a statement transaction: before changing a page that
// existed, SQLite copies it to the statement journal (a temporary file) so that it could undo that statement alone.
// Resource, member-index and change-log rows land all over their indexes (names, paths, members), so that was about one
// page write per index entry: two thirds of the writes of a 100,000-item import (strace). A single-row INSERT without
// triggers needs no statement journal. Those rows are therefore inserted one per run of a prepared statement. Document
// rows (the access policies) stay multi-row, BATCH_ROWS at a time: their insert trigger (has_bindings) makes every
// insert of theirs a statement transaction anyway, and a multi-row one journals each page once, not once per row.
import type Sqlite from "better-sqlite3";
import { BATCH_INSERTS, BATCH_ROWS, batchInsertSql } from "./statements.js";

/** Tables whose rows go one per statement (see above). */
const ONE_PER_STATEMENT: ReadonlySet<keyof typeof BATCH_INSERTS> = new Set(["resources", "grants", "changes"]);

/** A batch of at least this many items runs with BATCH_CACHE_KIB of page cache (withBatchCache). */
export const BATCH_CACHE_ITEMS = 1000;
/** 64 MiB: the pages a 10,000-item import touches in an estate of a few hundred thousand resources. */
export const BATCH_CACHE_KIB = 65_536;

export function insertRows(
  table: keyof typeof BATCH_INSERTS,
  rows: readonly unknown[][],
  prepared: (sql: string) => Sqlite.Statement,
): void {
  const { width } = BATCH_INSERTS[table];
  if (ONE_PER_STATEMENT.has(table)) {
    const insert = prepared(batchInsertSql(table, 1));
    for (const row of rows) insert.run(row.length === width ? row : row.slice(0, width));
    return;
  }
  for (let at = 0; at < rows.length; ) {
    // Full chunks, then the rest in power-of-two pieces: a store prepares at most a few shapes per table.
    const left = rows.length - at;
    const count = left >= BATCH_ROWS ? BATCH_ROWS : 2 ** Math.floor(Math.log2(left));
    const values: unknown[] = [];
    for (let r = at; r < at + count; r++) for (let i = 0; i < width; i++) values.push(rows[r]![i]);
    prepared(batchInsertSql(table, count)).run(values);
    at += count;
  }
}

/**
 * Runs `insert` (a batch creation of `items` items) with a larger page cache when the batch is large, and gives the
 * memory back after. With the default cache (2 MiB), a batch that changes pages all over the indexes evicts its own
 * dirty pages to the WAL before the commit (and reads them back to change them again); 64 MiB holds most of them.
 * The extra pages are freed at the commit, so the server's memory grows by at most this much while an import runs.
 */
export function withBatchCache<T>(db: Sqlite.Database, items: number, insert: () => T): T {
  if (items < BATCH_CACHE_ITEMS) return insert();
  const before = db.pragma("cache_size", { simple: true }) as number;
  db.pragma(`cache_size = -${BATCH_CACHE_KIB}`);
  try {
    return insert();
  } finally {
    db.pragma(`cache_size = ${before}`);
  }
}
