// Documents attached to resources (the `documents` table, migration 0008): the SQL both stores run, written once with
// named parameters (`@name`: SQLite takes it as it is, PostgreSQL through `numbered`), and the mapping of its rows.
// The store knows a kind only by name; what a body means is the domain's (domain/kinds.ts). Chain links carry three
// kinds decoded (a resource's access policy and deny rules, a root's custom roles), named here.
import { revisionEtag } from "../etag.js";
import { POLICY_KIND, type AttachedDocuments, type ResourceDocuments, type StoredDocument } from "./store.js";

/**
 * The kinds a chain link carries (StoredPolicy.policy, StoredPolicy.deny, StoredPolicy.roles). An access policy is a
 * document of its resource (key '', entries: its binding count) that the stores read and write through their own
 * statements (chain reads, listPolicies, batch creation); SQLite's triggers keep resources.has_bindings from its entries.
 */
export { POLICY_KIND };
export const DENY_POLICY_KIND = "denyPolicy";
export const ROLE_KIND = "role";
/** A shared policy's content, a document of its own resource (key ''): the store reads it with the resource. */
export const SHARED_POLICY_KIND = "sharedPolicy";

/** `documents <alias>` joined as the shared-policy content of the resource whose id is `id`. */
export const sharedContent = (alias: string, id: string) =>
  `documents ${alias} ON ${alias}.resource_id = ${id} AND ${alias}.kind = '${SHARED_POLICY_KIND}' AND ${alias}.key = ''`;

/** A document's columns (d: the documents row). */
const DOCUMENT_COLUMNS = `d.key, d.body, d.revision, d.update_time`;

export const DOCUMENT_SQL = {
  /**
   * A resource's creation and its documents of a kind (of one key, when @key is not null), by key; one row of nulls
   * when it has none, no row when it does not exist.
   */
  documentsOf: `SELECT r.create_seq, r.create_time, COALESCE(p.name, '') AS parent_name, ${DOCUMENT_COLUMNS}
    FROM resources r LEFT JOIN resources p ON p.id = r.parent_id
      LEFT JOIN documents d ON d.resource_id = r.id AND d.kind = @kind
      AND (CAST(@key AS TEXT) IS NULL OR d.key = @key)
    WHERE r.name = @resource ORDER BY d.key`,
  /**
   * The documents of a kind held by the children of @parent whose names are after @after, at most @limit of those
   * children, by name and key (resources_by_parent's range of names, each checked for a document).
   */
  childDocuments: `WITH page AS (SELECT r.id, r.name, r.create_seq, r.create_time FROM resources r
      WHERE r.parent_id = (SELECT id FROM resources WHERE name = @parent) AND r.name > @after
        AND EXISTS (SELECT 1 FROM documents d WHERE d.resource_id = r.id AND d.kind = @kind)
      ORDER BY r.name LIMIT @limit)
    SELECT page.name, page.create_seq, page.create_time, CAST(@parent AS TEXT) AS parent_name, ${DOCUMENT_COLUMNS}
    FROM page JOIN documents d ON d.resource_id = page.id AND d.kind = @kind ORDER BY page.name, d.key`,
  upsertDocument: `INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
    VALUES (@id, @kind, @key, @body, @entries, @seq, @time)
    ON CONFLICT (resource_id, kind, key) DO UPDATE SET body = excluded.body, entries = excluded.entries,
      revision = excluded.revision, update_time = excluded.update_time`,
  /** A resource's deny policy, only while it has rules (chains carry deny rules, not empty deny policies). */
  joinDeny: `LEFT JOIN documents dp ON dp.resource_id = r.id AND dp.kind = '${DENY_POLICY_KIND}' AND dp.key = ''
    AND dp.entries > 0`,
  denyColumns: `dp.body AS deny, dp.revision AS deny_revision, dp.update_time AS deny_update_time`,
  /** A resource's access policy (one primary-key lookup), empty ones included: a chain link carries its etag. */
  joinPolicy: `documents pol ON pol.resource_id = r.id AND pol.kind = '${POLICY_KIND}' AND pol.key = ''`,
  policyColumns: `pol.body AS policy, pol.revision AS policy_revision, pol.update_time AS policy_update_time`,
  /** A resource's custom roles by role id (?: its id). */
  rolesOf: `SELECT body AS role, revision, update_time FROM documents WHERE resource_id = ? AND kind = '${ROLE_KIND}'
    ORDER BY key`,
} as const;

/**
 * PostgreSQL's form of a statement with named parameters: `$n` for each, `fixed` names taking the numbers given (a
 * change-log row's $1, $2) and the others numbered from `next` in order of appearance; `order` lists the names of
 * $next, $next+1, ...
 */
export function numbered(sql: string, fixed: Readonly<Record<string, number>> = {}, next = 1): { text: string; order: string[] } {
  const order: string[] = [];
  const text = sql.replace(/@([a-zA-Z]+)/g, (_, name: string) => {
    if (fixed[name] !== undefined) return `$${fixed[name]}`;
    let index = order.indexOf(name);
    if (index < 0) index = order.push(name) - 1;
    return `$${next + index}`;
  });
  return { text, order };
}

/** A row of DOCUMENT_SQL.documentsOf (document columns null when the resource has none). */
export interface DocumentRow {
  create_seq: number;
  create_time: number;
  parent_name: string;
  key: string | null;
  body: Uint8Array | null;
  revision: number | null;
  update_time: number | null;
}

/** The documents of documentsOf's rows; undefined when there is none (the resource does not exist). */
export function toAttached(rows: readonly DocumentRow[]): AttachedDocuments | undefined {
  const first = rows[0];
  if (!first) return undefined;
  return {
    createEtag: revisionEtag(Number(first.create_seq)),
    parent: first.parent_name,
    createTimeMs: Number(first.create_time),
    documents: rows.flatMap((row) => (row.body === null ? [] : [toDocument(row.key!, row.body, Number(row.revision), Number(row.update_time))])),
  };
}

export function toDocument(key: string, body: Uint8Array, revision: number, updateTime: number): StoredDocument {
  return { key, body, etag: revisionEtag(revision), updateTimeMs: updateTime };
}

/** The children's documents of childDocuments' rows, by child. */
export function toChildDocuments(rows: readonly (DocumentRow & { name: string })[]): ResourceDocuments[] {
  const byName = new Map<string, (DocumentRow & { name: string })[]>();
  for (const row of rows) {
    const rowsOf = byName.get(row.name);
    if (rowsOf) rowsOf.push(row);
    else byName.set(row.name, [row]);
  }
  return [...byName].map(([resource, rowsOf]) => ({ resource, ...toAttached(rowsOf)! }));
}
