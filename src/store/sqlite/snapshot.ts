// A consistent read of the SQLite store for Snapshot: a read transaction on a connection of its own, held across the
// pages of one stream. WAL mode lets it see one state while the store's connection keeps committing; the price is
// that the WAL cannot be checkpointed past it while it is open, so the domain bounds how long a snapshot may take.
// The main connection cannot hold it: better-sqlite3 runs every statement of a connection in its transaction, so the
// writes committed meanwhile would be read, or held back.
import Sqlite from "better-sqlite3";
import type { SharedPolicy } from "../../../gen/policy/v1/shared_policy_pb.js";
import {
  DENY_COLUMNS,
  FROM_RESOURCES,
  JOIN_DENY,
  POLICY_COLUMNS,
  POLICY_DOCUMENT,
  RESOURCE_COLUMNS,
  decodeRole,
  decodeSharedPolicy,
  encodedPolicyOf,
  pathEnd,
  toStoredPolicy,
  type ResourcePolicyRow,
  type RoleRow,
  type SharedPolicyRow,
} from "../rows.js";
import type { ExportPage, SnapshotLink, StoreSnapshot, StoredPolicy } from "../store.js";
import { exportPage } from "../store-records.js";
import { mapSqliteErrors, storeErrorOf } from "./sqlite-errors.js";
import { ANCESTRY_SQL, ROLES_OF_SQL, SHARED_BOUND_TO_SQL } from "./statements.js";

/** What chainLinks reads besides the links' own rows. */
export interface LinkStatements {
  sharedBoundTo: Sqlite.Statement<[string], SharedPolicyRow & { target_id: number }>;
  rolesOf: Sqlite.Statement<[number], RoleRow>;
}

/**
 * Chain links from their rows: custom roles live on roots only, so only a root's link costs the roles query; the
 * shared policies bound to any of the links take one more query.
 */
export function chainLinks(stmt: LinkStatements, rows: readonly ResourcePolicyRow[], lazyPolicies = false): StoredPolicy[] {
  const shared = new Map<number, SharedPolicy[]>();
  for (const bound of stmt.sharedBoundTo.all(JSON.stringify(rows.map((row) => row.id)))) {
    const list = shared.get(bound.target_id) ?? [];
    list.push(decodeSharedPolicy(bound));
    shared.set(bound.target_id, list);
  }
  return rows.map((row) => {
    let stored = toStoredPolicy(row, lazyPolicies);
    const boundHere = shared.get(row.id);
    if (boundHere) stored = { ...stored, shared: boundHere };
    if (row.parent !== null) return stored;
    const roles = stmt.rolesOf.all(row.id).map(decodeRole);
    return roles.length === 0 ? stored : { ...stored, roles };
  });
}

const SUBTREE_PAGE_SQL = `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS}, ${DENY_COLUMNS}
  ${FROM_RESOURCES} LEFT JOIN ${POLICY_DOCUMENT} ${JOIN_DENY}
  WHERE r.path > @after AND r.path < @end AND (@types IS NULL OR r.type IN (SELECT value FROM json_each(@types)))
  ORDER BY r.path LIMIT @limit`;

/** SUBTREE_PAGE_SQL's columns, in order: its rows are read as arrays and made objects here. */
const SUBTREE_COLUMNS = [
  "id", "name", "path", "parent", "type", "display_name", "create_seq", "revision", "create_time", "update_time",
  "policy", "policy_revision", "policy_update_time", "deny", "deny_revision", "deny_update_time",
] as const;

type RawRow = [number, string, string, string | null, string, string, number, number, number, number,
  Uint8Array | null, number | null, number | null, Uint8Array | null, number | null, number | null];

/**
 * A subtree row from its array. better-sqlite3 makes each row object property by property in C++; an object literal
 * of one shape made here costs a third less to read a page and leaves less garbage (measured with --cpu-prof).
 */
function rowOf(a: RawRow): ResourcePolicyRow {
  return {
    id: a[0], name: a[1], path: a[2], parent: a[3], type: a[4], display_name: a[5], create_seq: a[6], revision: a[7],
    create_time: a[8], update_time: a[9], policy: a[10], policy_revision: a[11], policy_update_time: a[12], deny: a[13],
    deny_revision: a[14], deny_update_time: a[15],
  };
}

export class SqliteSnapshot implements StoreSnapshot {
  private closed = false;

  private constructor(
    private readonly db: Sqlite.Database,
    readonly sequence: number,
    private readonly stmt: LinkStatements & {
      ancestry: Sqlite.Statement<[{ name: string }], ResourcePolicyRow>;
      subtree: Sqlite.Statement<[{ after: string; end: string; types: string | null; limit: number }], RawRow>;
      pathByName: Sqlite.Statement<[string], string>;
    },
  ) {}

  static open(path: string): SqliteSnapshot {
    if (path === ":memory:") throw new Error("an in-memory SQLite store cannot be read by a second connection (snapshots need a file)");
    try {
      const db = new Sqlite(path, { readonly: true, fileMustExist: true });
      try {
        db.pragma("busy_timeout = 5000");
        const stmt = {
          ancestry: db.prepare<[{ name: string }], ResourcePolicyRow>(ANCESTRY_SQL),
          subtree: db.prepare<[{ after: string; end: string; types: string | null; limit: number }], RawRow>(SUBTREE_PAGE_SQL).raw(true),
          pathByName: db.prepare<[string], string>(`SELECT path FROM resources WHERE name = ?`).pluck(),
          sharedBoundTo: db.prepare<[string], SharedPolicyRow & { target_id: number }>(SHARED_BOUND_TO_SQL),
          rolesOf: db.prepare<[number], RoleRow>(ROLES_OF_SQL),
        };
        const columns = stmt.subtree.columns().map((column) => column.name);
        if (columns.join() !== SUBTREE_COLUMNS.join()) throw new Error(`the subtree statement's columns changed: ${columns.join()}`);
        // The first read after BEGIN fixes the transaction's view of the database: every later read sees that state.
        db.exec("BEGIN");
        const sequence = db.prepare<[], number>(`SELECT COALESCE(MAX(seq), 0) FROM change_log`).pluck().get()!;
        return new SqliteSnapshot(db, sequence, stmt);
      } catch (e) {
        db.close();
        throw e;
      }
    } catch (e) {
      throw storeErrorOf(e);
    }
  }

  async ancestry(resource: string): Promise<StoredPolicy[] | undefined> {
    const rows = this.stmt.ancestry.all({ name: resource });
    return rows.length === 0 ? undefined : chainLinks(this.stmt, rows);
  }

  async subtree(root: string, afterCursor: string | undefined, limit: number, types?: readonly string[]): Promise<SnapshotLink[]> {
    const path = this.stmt.pathByName.get(root);
    if (path === undefined) return [];
    // The root's own path is the smallest of its subtree: "after" anything just below it includes it.
    const after = afterCursor !== undefined && afterCursor >= path ? afterCursor : path.slice(0, -1);
    const rows = this.stmt.subtree.all({ after, end: pathEnd(path), types: types?.length ? JSON.stringify(types) : null, limit }).map(rowOf);
    const links = chainLinks(this.stmt, rows, true);
    return links.map((link, i) => ({ link, cursor: rows[i]!.path, policy: encodedPolicyOf(rows[i]!) }));
  }

  async exportRecords(after: string | undefined, limit: number): Promise<ExportPage> {
    return exportPage((sql, params) => this.prepared(sql).all(params) as Record<string, unknown>[], after, limit);
  }

  private readonly statements = new Map<string, Sqlite.Statement>();

  private prepared(sql: string): Sqlite.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.exec("COMMIT");
    } finally {
      this.db.close();
    }
  }
}

mapSqliteErrors(SqliteSnapshot.prototype);
