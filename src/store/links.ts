// Links between resources (the `links` table, migration 0010): the SQL both stores run, written once with named
// parameters (`@name`: SQLite takes it as it is, PostgreSQL through documents.ts's `numbered`), every statement
// generic over the link's kind. The store knows a kind only by name (store.ts, LinkKind).
import type { LinkQuery } from "./store.js";

/** A link's columns with its ends' names (rows.ts, BindingRow); the links with their ends' resources (s: from, t: to). */
export const LINK_COLUMNS = `s.name AS shared_policy, t.name AS target, b.revision AS create_seq, b.create_time`;
export const FROM_LINKS = `FROM links b JOIN resources s ON s.id = b.from_id JOIN resources t ON t.id = b.to_id`;

export const LINK_SQL = {
  /** The link of @kind from @from to @to (ids). */
  linkOf: `SELECT ${LINK_COLUMNS} ${FROM_LINKS} WHERE b.kind = @kind AND b.from_id = @from AND b.to_id = @to`,
  /** A page of the links of @kind from the resource named @name, by their `to` end's name (after @after, @limit). */
  pageFrom: `SELECT ${LINK_COLUMNS} ${FROM_LINKS} WHERE b.kind = @kind
    AND b.from_id = (SELECT id FROM resources WHERE name = @name) AND t.name > @after ORDER BY t.name LIMIT @limit`,
  /** A page of the links of @kind to the resource named @name, by their `from` end's name. */
  pageTo: `SELECT ${LINK_COLUMNS} ${FROM_LINKS} WHERE b.kind = @kind
    AND b.to_id = (SELECT id FROM resources WHERE name = @name) AND s.name > @after ORDER BY s.name LIMIT @limit`,
  /** A page of every link of @kind, by their `from` end's name. */
  pageAll: `SELECT ${LINK_COLUMNS} ${FROM_LINKS} WHERE b.kind = @kind AND s.name > @after ORDER BY s.name LIMIT @limit`,
  /** The link of @kind between the resources named @from and @to (a page of at most one). */
  between: `SELECT ${LINK_COLUMNS} ${FROM_LINKS} WHERE b.kind = @kind
    AND b.from_id = (SELECT id FROM resources WHERE name = @from) AND b.to_id = (SELECT id FROM resources WHERE name = @to)
    AND t.name > @after LIMIT @limit`,
  /** The links of @kind from @from (an id), by their `to` end's name. */
  linksFrom: `SELECT ${LINK_COLUMNS} ${FROM_LINKS} WHERE b.kind = @kind AND b.from_id = @from ORDER BY t.name`,
  /** How many links of @kind start at @from (an id), and the newest one's revision (0: none). */
  linksFromStats: `SELECT COUNT(*) AS count, COALESCE(MAX(revision), 0) AS newest FROM links
    WHERE kind = @kind AND from_id = @from`,
  /** How many links of @kind end at @to (an id): links_by_to. */
  linksToCount: `SELECT COUNT(*) AS count FROM links WHERE kind = @kind AND to_id = @to`,
  insertLink: `INSERT INTO links (kind, from_id, to_id, revision, create_time) VALUES (@kind, @from, @to, @seq, @time)`,
  deleteLink: `DELETE FROM links WHERE kind = @kind AND from_id = @from AND to_id = @to`,
} as const;

/** The statements of a page of links. */
export type LinkPage = "pageFrom" | "pageTo" | "pageAll" | "between";

/** The statement of a page of links (Store.listLinks) and its named values. */
export function linkPage(kind: string, query: LinkQuery): { sql: LinkPage; values: Record<string, unknown> } {
  const page = { kind, after: query.afterName ?? "", limit: query.limit };
  if (query.from !== undefined && query.to !== undefined) return { sql: "between", values: { ...page, from: query.from, to: query.to } };
  if (query.from !== undefined) return { sql: "pageFrom", values: { ...page, name: query.from } };
  if (query.to !== undefined) return { sql: "pageTo", values: { ...page, name: query.to } };
  return { sql: "pageAll", values: page };
}
