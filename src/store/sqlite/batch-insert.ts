// Rows of a batch creation inserted BATCH_ROWS at a time by one multi-row INSERT (one prepared statement per size:
// full chunks, then the rest in power-of-two pieces, so a store prepares at most a few shapes per table).
import type Sqlite from "better-sqlite3";
import { BATCH_INSERTS, BATCH_ROWS, batchInsertSql } from "./statements.js";

export function insertRows(
  table: keyof typeof BATCH_INSERTS,
  rows: readonly unknown[][],
  prepared: (sql: string) => Sqlite.Statement,
): void {
  const { width } = BATCH_INSERTS[table];
  for (let at = 0; at < rows.length; ) {
    const left = rows.length - at;
    const count = left >= BATCH_ROWS ? BATCH_ROWS : 2 ** Math.floor(Math.log2(left));
    const values: unknown[] = [];
    for (const row of rows.slice(at, at + count)) for (let i = 0; i < width; i++) values.push(row[i]);
    prepared(batchInsertSql(table, count)).run(values);
    at += count;
  }
}
