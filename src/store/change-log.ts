// The change log's reads that both stores run as they are (named parameters: SQLite takes them as they are,
// PostgreSQL through documents.ts's `numbered`). The batch reads (at sequences, within a byte budget) and the audit
// log's filters differ by dialect (JSON arrays or array parameters, window functions) and stay in each store.
import { REMOVALS, sqlActions } from "./change-actions.js";
import { CHANGE_COLUMNS } from "./rows.js";

export const CHANGE_LOG_SQL = {
  latestSeq: `SELECT COALESCE(MAX(seq), 0) AS seq FROM change_log`,
  changedAfter: `SELECT seq, resource FROM change_log WHERE seq > @after ORDER BY seq LIMIT @limit`,
  readChanges: `SELECT ${CHANGE_COLUMNS} FROM change_log WHERE seq > @after ORDER BY seq LIMIT @limit`,
  /** change_log_by_resource: the name's rows from the sequence on, to its first removal. */
  removalOf: `SELECT ${CHANGE_COLUMNS} FROM change_log WHERE resource = @name AND seq >= @from
    AND action IN (${sqlActions(REMOVALS)}) ORDER BY seq LIMIT 1`,
} as const;
