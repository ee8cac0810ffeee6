// The SQLite store's prepared statements, each with its parameter and row types: the store's SQL in one place
// (sqlite-store.ts runs them). Statements that depend on a request's filters are prepared on first use there instead.
import { DENY_POLICY_KIND, DOCUMENT_SQL, POLICY_KIND, sharedContent, type DocumentRow } from "../documents.js";
import { LINK_SQL } from "../links.js";
import { CONSUMER_SQL } from "../consumers.js";
import { CHANGE_LOG_SQL } from "../change-log.js";
import type Sqlite from "better-sqlite3";
import {
  BINDING_LINK,
  CHANGE_COLUMNS,
  DENY_COLUMNS,
  FROM_RESOURCES,
  JOIN_DENY,
  POLICY_COLUMNS,
  POLICY_DOCUMENT,
  RESOURCE_COLUMNS,
  SHARED_COLUMNS,
  type BindingRow,
  type ChangeRow,
  type FailureRow,
  type PolicyRow,
  type ResourcePolicyRow,
  type ResourceRow,
  type RoleRow,
  type SharedPolicyRow,
} from "../rows.js";

/**
 * The resource named @name and its ancestors with their policies, from the resource up to the root: one query, the ids
 * taken from the resource's path and looked up by primary key, so its cost is O(depth) whatever the table's size.
 */
export const ANCESTRY_SQL = `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS}, ${DENY_COLUMNS}
  ${FROM_RESOURCES} LEFT JOIN ${POLICY_DOCUMENT} ${JOIN_DENY}
  WHERE r.id IN (SELECT value FROM json_each(
    '[' || replace(trim((SELECT path FROM resources WHERE name = @name), '/'), '/', ',') || ']'))
  ORDER BY length(r.path) DESC`;

/** The shared policies bound to any of the resources whose ids are in the JSON array (a chain's), by name. */
export const SHARED_BOUND_TO_SQL = `SELECT b.to_id AS target_id, ${SHARED_COLUMNS} FROM links b
  JOIN ${sharedContent("sp", "b.from_id")} JOIN resources s ON s.id = sp.resource_id
  LEFT JOIN resources sp_parent ON sp_parent.id = s.parent_id
  WHERE b.kind = '${BINDING_LINK}' AND b.to_id IN (SELECT value FROM json_each(?)) ORDER BY s.name`;

/** The custom roles a resource defines, by role id. */
export const ROLES_OF_SQL = DOCUMENT_SQL.rolesOf;

/** The names of the resource @name and its ancestors, from it up to the root. */
const LINEAGE_SQL = `SELECT name FROM resources
  WHERE id IN (SELECT value FROM json_each(
    '[' || replace(trim((SELECT path FROM resources WHERE name = @name), '/'), '/', ',') || ']'))
  ORDER BY length(path) DESC`;

/** Typed, so that the declaration files name them (better-sqlite3's own statement type cannot be named). */
export interface Statements {
  consumers: ConsumerStatements;
  resourceByName: Sqlite.Statement<[string], ResourceRow>;
  idByName: Sqlite.Statement<[string], number>;
  policyOf: Sqlite.Statement<[number], PolicyRow>;
  nextResourceId: Sqlite.Statement<[], number>;
  ancestry: Sqlite.Statement<[{ name: string }], ResourcePolicyRow>;
  resourcePolicyByName: Sqlite.Statement<[string], ResourcePolicyRow>;
  nextSeq: Sqlite.Statement<[], number>;
  logChange: Sqlite.Statement<unknown[], unknown>;
  readChanges: Sqlite.Statement<[{ after: number; limit: number }], ChangeRow>;
  changeSizes: Sqlite.Statement<[number, number], { seq: number; size: number }>;
  readChangesThrough: Sqlite.Statement<[number, number], ChangeRow>;
  removalOf: Sqlite.Statement<[{ name: string; from: number }], ChangeRow>;
  sharedContentBoundTo: Sqlite.Statement<[number], Uint8Array>;
  pruneBefore: Sqlite.Statement<[number]>;
  pruneKeeping: Sqlite.Statement<[number]>;
  changesAt: Sqlite.Statement<[string], ChangeRow>;
  resourceFailures: Sqlite.Statement<[string, string], FailureRow>;
  upsertFailure: Sqlite.Statement<unknown[], unknown>;
  resolveFailure: Sqlite.Statement<unknown[], unknown>;
  insertResource: Sqlite.Statement<unknown[], unknown>;
  updateResource: Sqlite.Statement<unknown[], unknown>;
  movePaths: Sqlite.Statement<unknown[], unknown>;
  pathOf: Sqlite.Statement<[number], string>;
  deleteResource: Sqlite.Statement<[number]>;
  hasChildren: Sqlite.Statement<[number], number>;
  subtree: Sqlite.Statement<[string, string], ResourceRow>;
  denyOf: Sqlite.Statement<[number], PolicyRow>;
  rolesOf: Sqlite.Statement<[number], RoleRow>;
  documentsOf: Sqlite.Statement<[{ kind: string; resource: string; key: string | null }], DocumentRow>;
  upsertDocument: Sqlite.Statement<unknown[], unknown>;
  deleteGrant: Sqlite.Statement<[{ member: string; role: string; path: string }]>;
  insertGrant: Sqlite.Statement<unknown[], unknown>;
  grantPaths: Sqlite.Statement<[{ member: string; role: string; from: string; end: string; limit: number }], string>;
  sharedGrantPaths: Sqlite.Statement<[{ member: string; role: string; from: string; end: string; limit: number }], string>;
  boundRoles: Sqlite.Statement<[{ member: string }], string>;
  clearSharedGrants: Sqlite.Statement<[number]>;
  insertSharedGrant: Sqlite.Statement<unknown[], unknown>;
  nameByPath: Sqlite.Statement<[string], string>;
  pathByName: Sqlite.Statement<[string], string>;
  subtreeOfType: Sqlite.Statement<[{ type: string; after: string; end: string; limit: number }], ResourceRow>;
  latestSeq: Sqlite.Statement<[], number>;
  dataVersion: Sqlite.Statement<[], number>;
  changedAfter: Sqlite.Statement<[{ after: number; limit: number }], { seq: number; resource: string }>;
  secret: Sqlite.Statement<[string], Uint8Array>;
  lineage: Sqlite.Statement<[{ name: string }], string>;
  sharedBoundTo: Sqlite.Statement<[string], SharedPolicyRow & { target_id: number }>;
  childDocuments: Sqlite.Statement<[{ kind: string; parent: string; after: string; limit: number }], DocumentRow & { name: string }>;
  linkOf: Sqlite.Statement<[LinkEnds], BindingRow>;
  linksFrom: Sqlite.Statement<[{ kind: string; from: number }], BindingRow>;
  linksFromStats: Sqlite.Statement<[{ kind: string; from: number }], { count: number; newest: number }>;
  linksToCount: Sqlite.Statement<[{ kind: string; to: number }], number>;
  insertLink: Sqlite.Statement<[LinkEnds & { seq: number; time: number }]>;
  deleteLink: Sqlite.Statement<[LinkEnds]>;
}

/** A link's kind and ends (ids), as the link statements take them. */
type LinkEnds = { kind: string; from: number; to: number };

/** The consumers' statements (consumers.ts), prepared once per connection. */
export type ConsumerStatements = { [K in keyof typeof CONSUMER_SQL]: Sqlite.Statement };

/** Every fixed statement of the store, prepared once per connection. */
export function prepareStatements(db: Sqlite.Database): Statements {
  const consumers = Object.fromEntries(Object.entries(CONSUMER_SQL).map(([name, sql]) => [name, db.prepare(sql)]));
  return {
    consumers: consumers as ConsumerStatements,
    resourceByName: db.prepare<[string], ResourceRow>(`SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE r.name = ?`),
    idByName: db.prepare<[string], number>(`SELECT id FROM resources WHERE name = ?`).pluck(),
    policyOf: db.prepare<[number], PolicyRow>(
      `SELECT body AS policy, revision, update_time FROM documents WHERE resource_id = ? AND kind = '${POLICY_KIND}' AND key = ''`,
    ),
    nextResourceId: db.prepare<[], number>(`SELECT COALESCE(MAX(id), 0) + 1 FROM resources`).pluck(),
    ancestry: db.prepare<[{ name: string }], ResourcePolicyRow>(ANCESTRY_SQL),
    resourcePolicyByName: db.prepare<[string], ResourcePolicyRow>(
      `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS}, ${DENY_COLUMNS} ${FROM_RESOURCES}
       LEFT JOIN ${POLICY_DOCUMENT} ${JOIN_DENY} WHERE r.name = ?`,
    ),
    nextSeq: db.prepare<[], number>(`SELECT COALESCE(MAX(seq), 0) + 1 FROM change_log`).pluck(),
    logChange: db.prepare(
      `INSERT INTO change_log (seq, time, principal, action, resource, etag_before, etag_after, change,
         resource_type, parent, previous_parent, lineage, previous_lineage)
       VALUES (@seq, @time, @principal, @action, @resource, @etagBefore, @etagAfter, @change,
         @resourceType, @parent, @previousParent, @lineage, @previousLineage)`,
    ),
    readChanges: db.prepare(CHANGE_LOG_SQL.readChanges),
    // length() of a blob reads its header only, not its bytes.
    changeSizes: db.prepare<[number, number], { seq: number; size: number }>(
      `SELECT seq, COALESCE(length(change), 0) AS size FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?`,
    ),
    readChangesThrough: db.prepare<[number, number], ChangeRow>(
      `SELECT ${CHANGE_COLUMNS} FROM change_log WHERE seq > ? AND seq <= ? ORDER BY seq`,
    ),
    removalOf: db.prepare(CHANGE_LOG_SQL.removalOf),
    sharedContentBoundTo: db.prepare<[number], Uint8Array>(
      `SELECT sp.body FROM links b JOIN ${sharedContent("sp", "b.from_id")}
       WHERE b.kind = '${BINDING_LINK}' AND b.to_id = ?`,
    ).pluck(),
    pruneBefore: db.prepare<[number]>(
      `DELETE FROM change_log WHERE time < ? AND seq < (SELECT MAX(seq) FROM change_log)`,
    ),
    pruneKeeping: db.prepare<[number]>(
      `DELETE FROM change_log WHERE seq <= (SELECT MAX(seq) FROM change_log) - ?`,
    ),
    // The sequences as a JSON array: one statement for any number of them.
    changesAt: db.prepare<[string], ChangeRow>(
      `SELECT ${CHANGE_COLUMNS} FROM change_log WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq`,
    ),
    // The consumers as a JSON array: a primary-key lookup each.
    resourceFailures: db.prepare<[string, string], FailureRow>(
      `SELECT consumer, resource, seq, message, time FROM consumer_failures
       WHERE consumer IN (SELECT value FROM json_each(?)) AND resource = ? ORDER BY consumer`,
    ),
    upsertFailure: db.prepare(
      `INSERT INTO consumer_failures (consumer, resource, seq, message, time) VALUES (@name, @resource, @seq, @message, @time)
       ON CONFLICT (consumer, resource) DO UPDATE SET seq = excluded.seq, message = excluded.message, time = excluded.time`,
    ),
    resolveFailure: db.prepare(`DELETE FROM consumer_failures WHERE consumer = ? AND resource = ?`),
    insertResource: db.prepare(
      `INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision, create_time,
         update_time)
       VALUES (@id, @name, @parentId, @path, @type, @displayName, @seq, @seq, @time, @time)`,
    ),
    updateResource: db.prepare(
      `UPDATE resources SET parent_id = @parentId, display_name = @displayName, revision = @seq, update_time = @time
       WHERE id = @id`,
    ),
    // Re-roots the subtree under `oldPath` (the resource included) at `newPath`.
    movePaths: db.prepare(
      `UPDATE resources SET path = @newPath || substr(path, length(@oldPath) + 1)
       WHERE path >= @oldPath AND path < @oldPathEnd`,
    ),
    pathOf: db.prepare<[number], string>(`SELECT path FROM resources WHERE id = ?`).pluck(),
    deleteResource: db.prepare<[number]>(`DELETE FROM resources WHERE id = ?`),
    hasChildren: db.prepare<[number], number>(`SELECT 1 FROM resources WHERE parent_id = ? LIMIT 1`).pluck(),
    subtree: db.prepare<[string, string], ResourceRow>(
      `SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE r.path >= ? AND r.path < ?
       ORDER BY length(r.path) DESC, r.name`,
    ),
    denyOf: db.prepare<[number], PolicyRow>(
      `SELECT body AS policy, revision, update_time FROM documents WHERE resource_id = ? AND kind = '${DENY_POLICY_KIND}' AND key = ''`,
    ),
    rolesOf: db.prepare<[number], RoleRow>(ROLES_OF_SQL),
    documentsOf: db.prepare<[{ kind: string; resource: string; key: string | null }], DocumentRow>(DOCUMENT_SQL.documentsOf),
    upsertDocument: db.prepare(DOCUMENT_SQL.upsertDocument),
    deleteGrant: db.prepare<[{ member: string; role: string; path: string }]>(
      `DELETE FROM member_grants WHERE member = @member AND role = @role AND path = @path`,
    ),
    insertGrant: db.prepare(
      `INSERT OR IGNORE INTO member_grants (member, role, path, resource_id) VALUES (@member, @role, @path, @id)`,
    ),
    // One (member, role) pair's grant points from a cursor on, straight off the primary key.
    grantPaths: db.prepare<[{ member: string; role: string; from: string; end: string; limit: number }], string>(
      `SELECT path FROM member_grants WHERE member = @member AND role = @role AND path >= @from AND path < @end
       ORDER BY path LIMIT @limit`,
    ).pluck(),
    // And the targets of the shared policies that bind the pair: as many as the policies' bindings, sorted here.
    sharedGrantPaths: db.prepare<[{ member: string; role: string; from: string; end: string; limit: number }], string>(
      `SELECT r.path FROM shared_member_grants g JOIN links b ON b.kind = '${BINDING_LINK}' AND b.from_id = g.policy_id
       JOIN resources r ON r.id = b.to_id
       WHERE g.member = @member AND g.role = @role AND r.path >= @from AND r.path < @end ORDER BY r.path LIMIT @limit`,
    ).pluck(),
    // One member's distinct roles by a loose scan of the primary key (one probe per role, not per grant), and those
    // its shared policies give it.
    boundRoles: db.prepare<[{ member: string }], string>(
      `WITH RECURSIVE bound(role) AS (
         SELECT MIN(role) FROM member_grants WHERE member = @member
         UNION ALL
         SELECT (SELECT MIN(role) FROM member_grants WHERE member = @member AND role > bound.role) FROM bound WHERE bound.role IS NOT NULL)
       SELECT role FROM bound WHERE role IS NOT NULL
       UNION SELECT DISTINCT role FROM shared_member_grants WHERE member = @member`,
    ).pluck(),
    clearSharedGrants: db.prepare<[number]>(`DELETE FROM shared_member_grants WHERE policy_id = ?`),
    insertSharedGrant: db.prepare(
      `INSERT OR IGNORE INTO shared_member_grants (member, role, policy_id) VALUES (@member, @role, @id)`,
    ),
    nameByPath: db.prepare<[string], string>(`SELECT name FROM resources WHERE path = ?`).pluck(),
    pathByName: db.prepare<[string], string>(`SELECT path FROM resources WHERE name = ?`).pluck(),
    // resources_by_type_path: a range of one type's paths.
    subtreeOfType: db.prepare<[{ type: string; after: string; end: string; limit: number }], ResourceRow>(
      `SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE r.type = @type AND r.path > @after AND r.path < @end
       ORDER BY r.path LIMIT @limit`,
    ),
    latestSeq: db.prepare<[], number>(CHANGE_LOG_SQL.latestSeq).pluck(),
    dataVersion: db.prepare<[], number>(`PRAGMA data_version`).pluck(),
    changedAfter: db.prepare(CHANGE_LOG_SQL.changedAfter),
    secret: db.prepare<[string], Uint8Array>(`SELECT value FROM secrets WHERE name = ?`).pluck(),
    lineage: db.prepare<[{ name: string }], string>(LINEAGE_SQL).pluck(),
    // The shared policies bound to any of the resources whose ids are in the JSON array (a chain's), by name.
    sharedBoundTo: db.prepare<[string], SharedPolicyRow & { target_id: number }>(
      SHARED_BOUND_TO_SQL,
    ),
    childDocuments: db.prepare(DOCUMENT_SQL.childDocuments),
    linkOf: db.prepare(LINK_SQL.linkOf),
    linksFrom: db.prepare(LINK_SQL.linksFrom),
    linksFromStats: db.prepare(LINK_SQL.linksFromStats),
    linksToCount: db.prepare<[{ kind: string; to: number }], number>(LINK_SQL.linksToCount).pluck(),
    insertLink: db.prepare(LINK_SQL.insertLink),
    deleteLink: db.prepare(LINK_SQL.deleteLink),
  };
}

/** Rows per multi-row INSERT of a batch creation (createResources): 13 columns x 500 stays far below SQLite's 32,766 parameters. */
export const BATCH_ROWS = 500;

/** The tables a batch creation inserts into, each with its columns (positional parameters, one row after another). */
export const BATCH_INSERTS = {
  resources: {
    head: `INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision, create_time, update_time)`,
    width: 10,
  },
  documents: { head: `INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)`, width: 7 },
  grants: { head: `INSERT OR IGNORE INTO member_grants (member, role, path, resource_id)`, width: 4 },
  changes: {
    head: `INSERT INTO change_log (seq, time, principal, action, resource, etag_before, etag_after, change,
      resource_type, parent, previous_parent, lineage, previous_lineage)`,
    width: 13,
  },
} as const;

/** A multi-row INSERT of `rows` rows into one of BATCH_INSERTS. */
export function batchInsertSql(table: keyof typeof BATCH_INSERTS, rows: number): string {
  const { head, width } = BATCH_INSERTS[table];
  const row = `(${Array.from({ length: width }, () => "?").join(", ")})`;
  return `${head} VALUES ${Array.from({ length: rows }, () => row).join(", ")}`;
}
