// The PostgreSQL store's statements: the store's SQL in one place (postgres-store.ts runs them). Each write is one
// statement with its change-log row; parameters are positional ($1-$13 a change-log row's columns, see logValues).
import { DOCUMENT_SQL, POLICY_KIND, ROLE_KIND, numbered, sharedContent } from "../documents.js";
import { FROM_LINKS, LINK_COLUMNS, LINK_SQL, type LinkPage } from "../links.js";
import { CONSUMER_SQL } from "../consumers.js";
import { CHANGE_LOG_SQL } from "../change-log.js";
import {
  BINDING_LINK,
  CHANGE_COLUMNS,
  DENY_COLUMNS,
  FROM_RESOURCES,
  JOIN_DENY,
  POLICY_COLUMNS,
  POLICY_DOCUMENT,
  RESOURCE_COLUMNS,
} from "../rows.js";

/** The ids on a resource's path ('/1/5/17/' -> {1,5,17}): its lineage by primary key, O(depth). */
const LINEAGE_IDS = `SELECT unnest(string_to_array(trim(BOTH '/' FROM path), '/'))::bigint FROM resources WHERE name = $1`;

/** The names on `path` (a qualified column), from its end up to its root, as text[]: a lineage, O(depth). */
const lineageOf = (path: string) => `(SELECT array_agg(a.name ORDER BY length(a.path) DESC) FROM resources a
  WHERE a.id = ANY (string_to_array(trim(BOTH '/' FROM ${path}), '/')::bigint[]))`;

/**
 * A root's custom roles in its chain link (the same statement, so a chain read stays one round trip); none below the
 * root, where roles are not defined.
 */
const JOIN_ROLES = `LEFT JOIN LATERAL (SELECT array_agg(cr.role ORDER BY cr.role_id) AS roles,
    array_agg(cr.revision ORDER BY cr.role_id) AS role_revisions,
    array_agg(cr.update_time ORDER BY cr.role_id) AS role_update_times
  FROM (SELECT key AS role_id, body AS role, revision, update_time FROM documents
    WHERE resource_id = r.id AND kind = '${ROLE_KIND}' AND r.parent_id IS NULL) cr) cr ON true`;
/** The shared policies bound to a chain link, in the same statement too (by target: links_by_to). */
const JOIN_SHARED = `LEFT JOIN LATERAL (SELECT array_agg(s.name ORDER BY s.name) AS shared_names,
    array_agg(COALESCE(sp_parent.name, '') ORDER BY s.name) AS shared_parents,
    array_agg(s.create_time ORDER BY s.name) AS shared_create_times,
    array_agg(sp.body ORDER BY s.name) AS shared_policies,
    array_agg(sp.revision ORDER BY s.name) AS shared_revisions,
    array_agg(sp.update_time ORDER BY s.name) AS shared_update_times
  FROM links b JOIN ${sharedContent("sp", "b.from_id")}
    JOIN resources s ON s.id = sp.resource_id LEFT JOIN resources sp_parent ON sp_parent.id = s.parent_id
  WHERE b.kind = '${BINDING_LINK}' AND b.to_id = r.id) sh ON true`;
const CHAIN_COLUMNS = `${RESOURCE_COLUMNS}, ${POLICY_COLUMNS}, ${DENY_COLUMNS}, cr.roles, cr.role_revisions, cr.role_update_times,
  sh.shared_names, sh.shared_parents, sh.shared_create_times, sh.shared_policies, sh.shared_revisions, sh.shared_update_times`;
const FROM_CHAIN = `${FROM_RESOURCES} LEFT JOIN ${POLICY_DOCUMENT} ${JOIN_DENY} ${JOIN_ROLES} ${JOIN_SHARED}`;

/** A document write's row: after the change log's 13 parameters ($1 its sequence, $2 its time). */
export const UPSERT_DOCUMENT = numbered(DOCUMENT_SQL.upsertDocument, { seq: 1, time: 2 }, 14);

/** The children's documents of a kind (documents.ts). */
const CHILD_DOCUMENTS = numbered(DOCUMENT_SQL.childDocuments);
export const CHILD_DOCUMENTS_ORDER = CHILD_DOCUMENTS.order;
/** A link's insert and delete (links.ts): after the change log's 13 parameters ($1 its sequence, $2 its time). */
export const INSERT_LINK = numbered(LINK_SQL.insertLink, { seq: 1, time: 2 }, 14);
export const DELETE_LINK = numbered(LINK_SQL.deleteLink, {}, 14);
/** The pages of links (links.ts, linkPage), numbered once. */
export const LINK_PAGES = Object.fromEntries(
  (["pageFrom", "pageTo", "pageAll", "between"] as const).map((page) => [page, numbered(LINK_SQL[page])]),
) as Record<LinkPage, { text: string; order: string[] }>;

/** The consumers' statements (consumers.ts), numbered once. */
export const CONSUMERS = Object.fromEntries(Object.entries(CONSUMER_SQL).map(([name, sql]) => [name, numbered(sql)])) as {
  [K in keyof typeof CONSUMER_SQL]: { text: string; order: string[] };
};

export const SQL = {
  resourceByName: `SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE r.name = $1`,
  chainLinkByName: `SELECT ${CHAIN_COLUMNS} ${FROM_CHAIN} WHERE r.name = $1`,
  forWriteMany: `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS}, ${lineageOf("r.path")} AS lineage,
      EXISTS (SELECT 1 FROM resources c WHERE c.parent_id = r.id) AS has_children
    ${FROM_RESOURCES} LEFT JOIN ${POLICY_DOCUMENT} WHERE r.name = ANY($1::text[])`,
  forWrite: `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS}, ${lineageOf("r.path")} AS lineage,
      EXISTS (SELECT 1 FROM resources c WHERE c.parent_id = r.id) AS has_children
    ${FROM_RESOURCES} LEFT JOIN ${POLICY_DOCUMENT} WHERE r.name = $1`,
  ancestry: `SELECT ${CHAIN_COLUMNS} ${FROM_CHAIN} WHERE r.id IN (${LINEAGE_IDS}) ORDER BY length(r.path) DESC`,
  lineage: `SELECT r.name, EXISTS (SELECT 1 FROM resources c WHERE c.parent_id = r.id) AS has_children
    FROM resources r WHERE r.id IN (${LINEAGE_IDS}) ORDER BY length(r.path) DESC`,
  /** The resources of these names with their ids, paths and lineages (a batch creation's names and parents). */
  placesOf: `SELECT t.name, t.id, t.path, ${lineageOf("t.path")} AS lineage FROM resources t WHERE t.name = ANY($1::text[])`,
  idAndPath: `SELECT t.id, t.path, ${lineageOf("t.path")} AS lineage FROM resources t WHERE t.name = $1`,
  subtree: `SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE r.path >= $1 AND r.path < $2
    ORDER BY length(r.path) DESC, r.name`,
  /** A resource's documents of a kind (documents.ts): documentsOf with the place a write logs. */
  documentsOf: numbered(DOCUMENT_SQL.documentsOf).text,
  /** And how many links of kind $4 start at the resource (none counted when $4 is null), the newest's revision. */
  documentsForWrite: `SELECT r.id, r.type, p.name AS parent, COALESCE(p.name, '') AS parent_name, r.create_seq, r.create_time,
      ${lineageOf("r.path")} AS lineage,
      d.key, d.body, d.revision, d.update_time,
      (SELECT count(*) FROM links b WHERE b.kind = $4::text AND b.from_id = r.id) AS link_count,
      (SELECT COALESCE(max(b.revision), 0) FROM links b WHERE b.kind = $4::text AND b.from_id = r.id) AS newest_link
    ${FROM_RESOURCES} LEFT JOIN documents d ON d.resource_id = r.id AND d.kind = $2 AND d.key = $3 WHERE r.name = $1`,
  childDocuments: CHILD_DOCUMENTS.text,
  // change-log.ts, numbered in order of appearance: ($1, $2) = (after, limit), and (name, from) for removalOf.
  latestSeq: CHANGE_LOG_SQL.latestSeq,
  changedAfter: numbered(CHANGE_LOG_SQL.changedAfter).text,
  readChanges: numbered(CHANGE_LOG_SQL.readChanges).text,
  /**
   * The rows after $1, at most $2, that fit in $3 bytes of change (at least one). Sizes first (octet_length reads no
   * out-of-line bytes), then only the rows that fit.
   */
  readChangesWithin: `SELECT ${CHANGE_COLUMNS} FROM change_log WHERE seq > $1 AND seq <= (
      SELECT MAX(seq) FROM (
        SELECT seq, SUM(COALESCE(octet_length(change), 0)) OVER (ORDER BY seq) AS total, ROW_NUMBER() OVER (ORDER BY seq) AS n
        FROM (SELECT seq, change FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2) AS first_rows
      ) AS sized WHERE n = 1 OR total <= $3)
    ORDER BY seq`,
  removalOf: numbered(CHANGE_LOG_SQL.removalOf).text,
  /** The deny rules' rows of resources about to be removed: each one's deny policy and bound shared policies' content. */
  removalDenies: `SELECT r.id, dp.body AS deny,
      (SELECT array_agg(sp.body) FROM links b JOIN ${sharedContent("sp", "b.from_id")}
        WHERE b.kind = '${BINDING_LINK}' AND b.to_id = r.id) AS shared
    FROM resources r ${JOIN_DENY}
    WHERE r.id = ANY($1::bigint[])`,
  // Both keep the newest row: the next write numbers its row after it (sequences never restart).
  pruneBefore: `WITH d AS (DELETE FROM change_log WHERE time < $1 AND seq < (SELECT MAX(seq) FROM change_log) RETURNING 1)
    SELECT count(*) AS n FROM d`,
  pruneKeeping: `WITH d AS (DELETE FROM change_log WHERE seq <= (SELECT MAX(seq) FROM change_log) - $1 RETURNING 1)
    SELECT count(*) AS n FROM d`,
  changesAt: `SELECT ${CHANGE_COLUMNS} FROM change_log WHERE seq = ANY($1::bigint[]) ORDER BY seq`,
  resourceFailures: `SELECT consumer, resource, seq, message, time FROM consumer_failures
    WHERE consumer = ANY($1::text[]) AND resource = $2 ORDER BY consumer`,
  upsertFailures: `INSERT INTO consumer_failures (consumer, resource, seq, message, time)
    SELECT $1, f.resource, f.seq, f.message, $5 FROM unnest($2::text[], $3::bigint[], $4::text[]) AS f(resource, seq, message)
    ON CONFLICT (consumer, resource) DO UPDATE SET seq = excluded.seq, message = excluded.message, time = excluded.time`,
  resolveFailures: `DELETE FROM consumer_failures WHERE consumer = $1 AND resource = ANY($2::text[])`,
  secret: `SELECT value FROM secrets WHERE name = $1`,
  pathByName: `SELECT path FROM resources WHERE name = $1`,
  // One (member, role) pair's grant points from a cursor on, each straight off the primary key; the first $5 of their
  // union is among the first $5 of each.
  // With the targets of the shared policies that bind a pair (as many as those policies' bindings).
  grantPoints: `SELECT path, name FROM (
      SELECT g.path, r.name FROM unnest($1::text[]) AS m(member) CROSS JOIN unnest($2::text[]) AS ro(role)
      CROSS JOIN LATERAL (SELECT path, resource_id FROM member_grants
        WHERE member = m.member AND role = ro.role AND path >= $3 AND path < $4 ORDER BY path LIMIT $5) g
      JOIN resources r ON r.id = g.resource_id
      UNION
      SELECT r.path, r.name FROM shared_member_grants sg JOIN links b ON b.kind = '${BINDING_LINK}' AND b.from_id = sg.policy_id
      JOIN resources r ON r.id = b.to_id
      WHERE sg.member = ANY($1::text[]) AND sg.role = ANY($2::text[]) AND r.path >= $3 AND r.path < $4
    ) points ORDER BY path LIMIT $5`,
  // The members' distinct roles by a loose scan of the primary key (one probe per member and role, not per grant),
  // and those their shared policies give them.
  boundRoles: `SELECT role FROM unnest($1::text[]) AS m(member) CROSS JOIN LATERAL (
      WITH RECURSIVE bound(role) AS (
        SELECT MIN(role) FROM member_grants WHERE member = m.member
        UNION ALL
        SELECT (SELECT MIN(g.role) FROM member_grants g WHERE g.member = m.member AND g.role > bound.role)
        FROM bound WHERE bound.role IS NOT NULL)
      SELECT role FROM bound WHERE role IS NOT NULL) b
    UNION SELECT role FROM shared_member_grants WHERE member = ANY($1::text[])
    ORDER BY role`,
  // resources_by_type_path: a range of one type's paths.
  /** A page of a subtree's chain links in cursor order (Snapshot), of some types when $4 is not null. */
  subtreeLinks: `SELECT ${CHAIN_COLUMNS} ${FROM_CHAIN} WHERE r.path > $1 AND r.path < $2
    AND ($4::text[] IS NULL OR r.type = ANY($4::text[])) ORDER BY r.path LIMIT $3`,
  subtreeOfType: `SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE r.type = $1 AND r.path > $2 AND r.path < $3
    ORDER BY r.path LIMIT $4`,
  /** The links of kind $2 from $1 (an id) with their `to` ends' places, for the change-log rows of their delete. */
  linksForDelete: `SELECT ${LINK_COLUMNS}, t.type, tp.name AS parent, ${lineageOf("t.path")} AS lineage
    ${FROM_LINKS} LEFT JOIN resources tp ON tp.id = t.parent_id WHERE b.from_id = $1 AND b.kind = $2 ORDER BY t.name`,
  /**
   * The link of kind $1 from $2 to $3 (ids; null columns when there is none), how many links of the kind end at $3
   * and how many start at $2.
   */
  linkState: `SELECT b.revision AS create_seq, b.create_time,
      (SELECT count(*) FROM links WHERE kind = $1 AND to_id = $3) AS links_to,
      (SELECT count(*) FROM links WHERE kind = $1 AND from_id = $2) AS links_from
    FROM (SELECT 1) one LEFT JOIN links b ON b.kind = $1 AND b.from_id = $2 AND b.to_id = $3`,
} as const;

const LOG_COLUMNS = `seq, time, principal, action, resource, etag_before, etag_after, change,
  resource_type, parent, previous_parent, lineage, previous_lineage`;
/** The types of LOG_COLUMNS, for rows sent as arrays. */
export const LOG_TYPES = ["bigint", "bigint", "text", "text", "text", "bytea", "bytea", "bytea", "text", "text", "text", "text", "text"];

/** Inserts one change-log row; $1-$13 are LOG_COLUMNS (logValues). */
const LOG_ONE = `INSERT INTO change_log (${LOG_COLUMNS}) VALUES (${LOG_TYPES.map((_, i) => `$${i + 1}`).join(", ")})`;

/** Inserts change-log rows whose columns are the array parameters from $`first` on (one element per row). */
const logRows = (first: number) =>
  `INSERT INTO change_log (${LOG_COLUMNS}) SELECT * FROM unnest(${LOG_TYPES.map((type, i) => `$${first + i}::${type}[]`).join(", ")})`;

export const WRITE = {
  // Each write is one statement: the row change and its change-log row, so a write costs one round trip after its read.
  // A move re-roots the subtree (the resource included) in the same UPDATE that changes the resource itself, and
  // the subtree's reverse-lookup rows with it (by resource id: member_grants_by_resource).
  updateResource: `WITH upd AS (
      UPDATE resources SET
        path = CASE WHEN $17::text IS NULL THEN path ELSE $17 || substr(path, length($16) + 1) END,
        parent_id = CASE WHEN id = $14 THEN $15 ELSE parent_id END,
        display_name = CASE WHEN id = $14 THEN $18 ELSE display_name END,
        revision = CASE WHEN id = $14 THEN $1 ELSE revision END,
        update_time = CASE WHEN id = $14 THEN $2 ELSE update_time END
      WHERE id = $14 OR ($17::text IS NOT NULL AND path >= $16 AND path < $19)
      RETURNING id, path),
    grants AS (UPDATE member_grants g SET path = upd.path FROM upd WHERE $17::text IS NOT NULL AND g.resource_id = upd.id)
    ${LOG_ONE}`,
  deleteResources: `WITH del AS (DELETE FROM resources WHERE id = ANY($1::bigint[])) ${logRows(2)}`,
  upsertDocument: `WITH up AS (${UPSERT_DOCUMENT.text}) ${LOG_ONE}`,
  // An owned document's new resource (no display name: the document holds what it shows) and the document.
  createWithDocument: `WITH ins AS (
      INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision, create_time, update_time)
      VALUES ($14, $5, $15, $16, $17, '', $1, $1, $2, $2)),
    doc AS (INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
      VALUES ($14, $18, $19, $20, $21, $1, $2))
    ${LOG_ONE}`,
  insertLink: `WITH ins AS (${INSERT_LINK.text}) ${LOG_ONE}`,
  deleteLink: `WITH del AS (${DELETE_LINK.text}) ${LOG_ONE}`,
  // A shared policy's reverse-lookup rows, rewritten with its content (after it: they reference its row).
  clearSharedGrants: `DELETE FROM shared_member_grants WHERE policy_id = $1`,
  insertSharedGrants: `INSERT INTO shared_member_grants (member, role, policy_id)
    SELECT member, role, $1 FROM unnest($2::text[], $3::text[]) AS g(member, role) ON CONFLICT DO NOTHING`,
} as const;

/** The first parameter of FLUSH_POLICIES's reverse-lookup rows: after the policy documents' 5 and the change log's. */
const GRANTS = 6 + LOG_TYPES.length;
const NEW_GRANTS = `unnest($${GRANTS}::bigint[], $${GRANTS + 1}::text[], $${GRANTS + 2}::text[]) AS n(id, member, role)`;

/**
 * The policy documents (kind POLICY_KIND, key '': $1-$5 their resource ids, bodies, binding counts, revisions, times),
 * the resources' has_bindings flags, their reverse-lookup rows and the change-log rows of a batch's policy writes, in
 * one statement (arrays, one element per row). The written resources' grants that are gone are deleted and the new
 * ones inserted: two disjoint sets of rows, as sibling statements of one WITH must touch.
 */
export const FLUSH_POLICIES = `WITH pol AS (
    INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
    SELECT u.id, '${POLICY_KIND}', '', u.body, u.entries, u.revision, u.update_time
    FROM unnest($1::bigint[], $2::bytea[], $3::integer[], $4::bigint[], $5::bigint[]) AS u(id, body, entries, revision, update_time)
    ON CONFLICT (resource_id, kind, key) DO UPDATE SET body = excluded.body, entries = excluded.entries,
      revision = excluded.revision, update_time = excluded.update_time),
  flag AS (
    UPDATE resources r SET has_bindings = u.bindings > 0 FROM unnest($1::bigint[], $3::integer[]) AS u(id, bindings)
    WHERE r.id = u.id AND r.has_bindings <> (u.bindings > 0)),
  gone AS (
    DELETE FROM member_grants g WHERE g.resource_id = ANY($1::bigint[])
      AND NOT EXISTS (SELECT 1 FROM ${NEW_GRANTS} WHERE n.id = g.resource_id AND n.member = g.member AND n.role = g.role)),
  grants AS (
    INSERT INTO member_grants (member, role, path, resource_id)
    SELECT n.member, n.role, r.path, r.id FROM ${NEW_GRANTS} JOIN resources r ON r.id = n.id ON CONFLICT DO NOTHING)
  ${logRows(6)}`;


/** Resources, documents (access policies) and member-index rows of a batch creation: their columns' types, in parameter order. */
const CREATE_MANY_TYPES = {
  resources: ["bigint", "text", "bigint", "text", "text", "text", "bigint", "bigint", "bigint", "bigint", "boolean"],
  documents: ["bigint", "text", "text", "bytea", "integer", "bigint", "bigint"],
  grants: ["text", "text", "text", "bigint"],
} as const;

/** unnest() of the array parameters from $`first` on, one per type. */
const unnestFrom = (first: number, types: readonly string[]) =>
  `unnest(${types.map((type, i) => `$${first + i}::${type}[]`).join(", ")})`;

const DOCUMENTS_AT = 1 + CREATE_MANY_TYPES.resources.length;
const GRANTS_AT = DOCUMENTS_AT + CREATE_MANY_TYPES.documents.length;

/**
 * A batch creation (Store.createResources) in one statement, arrays one element per row (batch-create.ts, BatchRows):
 * the resources, their policies' documents and member-index rows, then the change-log rows. Foreign keys are checked at the
 * statement's end, when the sibling inserts are all done.
 */
export const CREATE_MANY = `WITH res AS (
    INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision, create_time, update_time,
      has_bindings)
    SELECT * FROM ${unnestFrom(1, CREATE_MANY_TYPES.resources)}),
  doc AS (
    INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
    SELECT * FROM ${unnestFrom(DOCUMENTS_AT, CREATE_MANY_TYPES.documents)}),
  grants AS (
    INSERT INTO member_grants (member, role, path, resource_id)
    SELECT * FROM ${unnestFrom(GRANTS_AT, CREATE_MANY_TYPES.grants)} ON CONFLICT DO NOTHING)
  ${logRows(GRANTS_AT + CREATE_MANY_TYPES.grants.length)}`;

/** The width of each table's rows in CREATE_MANY, for columns(). */
export const CREATE_MANY_WIDTHS = {
  resources: CREATE_MANY_TYPES.resources.length,
  documents: CREATE_MANY_TYPES.documents.length,
  grants: CREATE_MANY_TYPES.grants.length,
};
