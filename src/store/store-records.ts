// A whole store's copy in the contract's records (StoreRecord: migrate-store): the export's pages and the import's
// writes, SQL written once for both databases (their tables are the same; named parameters as in documents.ts).
// The export reads each table by its key, a page at a time (keyset pagination: bounded memory, one index range per
// page); the import writes a batch of records of one sort per statement, resolving the names they refer to to the
// target's ids in the statement (by index lookups). A resource keeps its cursor (its path of ids, `/1/5/17/`) and so its id: listing page
// tokens, which carry cursors, stay valid. Allow policies are documents of kind POLICY_KIND (migration 11): exported
// with the others, imported with the listing flag their writes set (resources.has_bindings).
import { StoreError } from "./store-error.js";
import {
  POLICY_KIND,
  type ExportPage,
  type ExportedChange,
  type ExportedConsumer,
  type ExportedDocument,
  type ExportedGrant,
  type ExportedLink,
  type ExportedResource,
  type ResourceFailure,
  type StoreRecord,
} from "./store.js";

type Row = Record<string, unknown>;

export type Column = "int" | "text" | "bytes";

/** Runs an export statement (named parameters `@ka`, `@kb`..., `@limit`) and returns its rows. */
export type RunQuery = (sql: string, params: Record<string, unknown>) => Promise<Row[]> | Row[];

/** What the import needs of a database: run a statement, counting the rows it changed; rows as a FROM item. */
export interface RecordWriter {
  run(sql: string, values: unknown[]): Promise<number> | number;
  /**
   * `rows` (each of `types`) as a FROM item named v, its columns column1, column2...: SQLite's VALUES list,
   * PostgreSQL's unnest of one array per column (one parameter each, however many rows: far less to parse).
   */
  rows(types: readonly Column[], rows: readonly unknown[][]): { sql: string; values: unknown[] };
  /** Records per statement. */
  batch: number;
}

const bytes = (value: unknown) => (value === null || value === undefined ? null : (value as Uint8Array));
const names = (value: unknown) => (value === null || value === undefined ? null : (JSON.parse(value as string) as string[]));

interface Section {
  /** The key columns, in the order of the table's primary key (or a unique index): the export's order. */
  keys: readonly string[];
  /** Selects `k0`... (the key) and the record's columns. */
  select: string;
  record(row: Row): StoreRecord;
}

/**
 * The name of the resource of id `column`: a scalar subquery, one primary-key lookup per row of the page (PostgreSQL
 * may plan a join as a scan of every resource, per page).
 */
const nameOf = (column: string) => `(SELECT name FROM resources WHERE id = ${column})`;

/** The sections of an export, in an order an import can write them (foreign keys satisfied). */
const SECTIONS: readonly Section[] = [
  {
    // By path: a parent's path is a prefix of its children's, so it comes first.
    keys: ["r.path"],
    select: `SELECT r.path AS k0, r.name, COALESCE(${nameOf("r.parent_id")}, '') AS parent, r.type, r.display_name,
      r.create_seq, r.revision, r.create_time, r.update_time FROM resources r`,
    record: (row) => ({
      resource: {
        name: row.name as string, parent: row.parent as string, type: row.type as string, displayName: row.display_name as string,
        cursor: row.k0 as string, createSeq: Number(row.create_seq), revision: Number(row.revision),
        createTimeMs: Number(row.create_time), updateTimeMs: Number(row.update_time),
      },
    }),
  },
  {
    keys: ["d.resource_id", "d.kind", "d.key"],
    select: `SELECT d.resource_id AS k0, d.kind AS k1, d.key AS k2, ${nameOf("d.resource_id")} AS name, d.body, d.entries,
      d.revision, d.update_time FROM documents d`,
    record: (row) => ({
      document: {
        resource: row.name as string, kind: row.k1 as string, key: row.k2 as string, body: row.body as Uint8Array,
        entries: Number(row.entries), revision: Number(row.revision), updateTimeMs: Number(row.update_time),
      },
    }),
  },
  {
    keys: ["g.member", "g.role", "g.path"],
    select: `SELECT g.member AS k0, g.role AS k1, g.path AS k2, ${nameOf("g.resource_id")} AS name FROM member_grants g`,
    record: (row) => ({ grant: { resource: row.name as string, member: row.k0 as string, role: row.k1 as string, document: false } }),
  },
  {
    keys: ["g.member", "g.role", "g.policy_id"],
    select: `SELECT g.member AS k0, g.role AS k1, g.policy_id AS k2, ${nameOf("g.policy_id")} AS name
      FROM shared_member_grants g`,
    record: (row) => ({ grant: { resource: row.name as string, member: row.k0 as string, role: row.k1 as string, document: true } }),
  },
  {
    keys: ["l.kind", "l.from_id", "l.to_id"],
    select: `SELECT l.kind AS k0, l.from_id AS k1, l.to_id AS k2, ${nameOf("l.from_id")} AS from_name,
      ${nameOf("l.to_id")} AS to_name, l.revision, l.create_time FROM links l`,
    record: (row) => ({
      link: {
        kind: row.k0 as string, from: row.from_name as string, to: row.to_name as string, revision: Number(row.revision),
        createTimeMs: Number(row.create_time),
      },
    }),
  },
  {
    keys: ["seq"],
    select: `SELECT seq AS k0, time, principal, action, resource, etag_before, etag_after, change, resource_type, parent,
      previous_parent, lineage, previous_lineage FROM change_log`,
    record: (row) => ({
      change: {
        seq: Number(row.k0), timeMs: Number(row.time), principal: row.principal as string, action: row.action as string,
        resource: row.resource as string, etagBefore: bytes(row.etag_before), etagAfter: bytes(row.etag_after),
        state: bytes(row.change), resourceType: (row.resource_type ?? null) as string | null, parent: (row.parent ?? null) as string | null,
        previousParent: (row.previous_parent ?? null) as string | null, lineage: names(row.lineage), previousLineage: names(row.previous_lineage),
      },
    }),
  },
  {
    keys: ["name"],
    select: `SELECT name AS k0, display_name, subtree, resource_types, acknowledged_seq, acknowledge_time, create_time, root,
      failure_count, version FROM consumers`,
    record: (row) => ({
      consumer: {
        name: row.k0 as string, displayName: row.display_name as string, subtree: row.subtree as string,
        resourceTypes: JSON.parse(row.resource_types as string) as string[], root: row.root as string,
        acknowledgedSeq: Number(row.acknowledged_seq), createTimeMs: Number(row.create_time), failureCount: Number(row.failure_count),
        version: Number(row.version),
        ...(row.acknowledge_time === null ? {} : { acknowledgeTimeMs: Number(row.acknowledge_time) }),
      },
    }),
  },
  {
    keys: ["consumer", "resource"],
    select: `SELECT consumer AS k0, resource AS k1, seq, message, time FROM consumer_failures`,
    record: (row) => ({
      failure: { consumer: row.k0 as string, resource: row.k1 as string, seq: Number(row.seq), message: row.message as string, timeMs: Number(row.time) },
    }),
  },
  {
    // One row: after it, nothing is greater than its key.
    keys: ["version"],
    select: `SELECT version AS k0, version, last_delete FROM consumer_clock`,
    record: (row) => ({ consumerClock: { version: Number(row.version), lastDelete: Number(row.last_delete) } }),
  },
  {
    keys: ["name"],
    select: `SELECT name AS k0, value FROM secrets`,
    record: (row) => ({ secret: { name: row.k0 as string, value: row.value as Uint8Array } }),
  },
];

/** The parameter of the i-th key column (letters: documents.ts's `numbered` reads a name as letters only). */
const param = (i: number) => `k${"abc"[i]}`;

/** An export page's statement: the section's rows after the key `@k0`... (all of them from the start), in key order. */
function pageSql(section: Section, fromStart: boolean): string {
  const key = section.keys.join(", ");
  const after = fromStart ? "" : ` WHERE (${key}) > (${section.keys.map((_, i) => `@${param(i)}`).join(", ")})`;
  return `${section.select}${after} ORDER BY ${key} LIMIT @limit`;
}

/** A page of the export (StoreSnapshot.exportRecords) read through `query`, inside the snapshot's transaction. */
export async function exportPage(query: RunQuery, after: string | undefined, limit: number): Promise<ExportPage> {
  const position = after === undefined ? { section: 0, key: null } : (JSON.parse(after) as { section: number; key: unknown[] | null });
  const section = SECTIONS[position.section];
  if (!section) return { records: [] };
  const params: Record<string, unknown> = { limit };
  position.key?.forEach((value, i) => (params[param(i)] = value));
  const rows = await query(pageSql(section, position.key === null), params);
  const last = rows.at(-1);
  const next =
    rows.length < limit || !last
      ? { section: position.section + 1, key: null }
      : { section: position.section, key: section.keys.map((_, i) => last[`k${i}`]) };
  return { records: rows.map(section.record), ...(next.section < SECTIONS.length ? { next: JSON.stringify(next) } : {}) };
}

// --- The import ---

/** Whether the store holds anything a copy would collide with (the migrations' own rows aside). */
export const USED_SQL = `SELECT CASE WHEN EXISTS (SELECT 1 FROM resources) OR EXISTS (SELECT 1 FROM change_log)
  OR EXISTS (SELECT 1 FROM consumers) THEN 1 ELSE 0 END AS used`;
/** The rows the target's migrations made, which the source's replace. */
export const REPLACED_SQL = ["DELETE FROM secrets", "DELETE FROM consumer_clock"];

export const targetUsed = () =>
  new StoreError("already_exists", "", "the target store already holds data (resources, changes or consumers); give an empty database");


/** How a sort of record is written: its statement from its rows (`rows`: RecordWriter.rows), each record's values. */
interface Insert {
  columns: readonly Column[];
  sql(rows: string): string;
  values(record: StoreRecord): unknown[];
}

/**
 * The id of the resource named by `column`: a scalar subquery, one index lookup per row whatever the batch's size (a
 * join of a large batch is planned as a scan of every resource). A name the copy lacks gives NULL, which the column
 * refuses.
 */
const idOf = (column: string) => `(SELECT id FROM resources WHERE name = ${column})`;

/** The columns of RecordWriter.rows' FROM item. */
const v = (n: number) => Array.from({ length: n }, (_, i) => `v.column${i + 1}`).join(", ");

/** A resource's id and its parent's, from its path of ids (`/1/5/17/`). */
function idsOf(cursor: string): [number, number | null] {
  const ids = cursor.split("/").filter(Boolean).map(Number);
  return [ids.at(-1)!, ids.length > 1 ? ids.at(-2)! : null];
}

const json = (list: readonly string[] | null) => (list === null ? null : JSON.stringify(list));

/** Which Insert writes a record; `sortOf` names its sort for the counts. */
function insertOf(record: StoreRecord): { sort: string; insert: Insert } {
  if ("resource" in record) return { sort: "resources", insert: INSERTS.resource };
  if ("document" in record) {
    return record.document.kind === POLICY_KIND ? { sort: "policies", insert: POLICY_INSERT } : { sort: "documents", insert: INSERTS.document };
  }
  if ("grant" in record) return record.grant.document ? { sort: "documentGrants", insert: INSERTS.documentGrant } : { sort: "grants", insert: INSERTS.grant };
  if ("link" in record) return { sort: "links", insert: INSERTS.link };
  if ("change" in record) return { sort: "changes", insert: INSERTS.change };
  if ("consumer" in record) return { sort: "consumers", insert: INSERTS.consumer };
  if ("failure" in record) return { sort: "failures", insert: INSERTS.failure };
  if ("consumerClock" in record) return { sort: "consumerClock", insert: INSERTS.consumerClock };
  return { sort: "secrets", insert: INSERTS.secret };
}

const INSERTS = {
  resource: {
    columns: ["int", "text", "int", "text", "text", "text", "int", "int", "int", "int"],
    sql: (rows) => `INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision, create_time,
      update_time) SELECT ${v(10)} FROM ${rows}`,
    values: (record) => {
      const r = (record as { resource: ExportedResource }).resource;
      const [id, parentId] = idsOf(r.cursor);
      return [id, r.name, parentId, r.cursor, r.type, r.displayName, r.createSeq, r.revision, r.createTimeMs, r.updateTimeMs];
    },
  },
  document: {
    columns: ["text", "text", "text", "bytes", "int", "int", "int"],
    sql: (rows) => `INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
      SELECT ${idOf("v.column1")}, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7 FROM ${rows}`,
    values: (record) => {
      const d = (record as { document: ExportedDocument }).document;
      return [d.resource, d.kind, d.key, d.body, d.entries, d.revision, d.updateTimeMs];
    },
  },
  grant: {
    columns: ["text", "text", "text"],
    sql: (rows) => `INSERT INTO member_grants (member, role, path, resource_id)
      SELECT v.column2, v.column3, (SELECT path FROM resources WHERE name = v.column1), ${idOf("v.column1")} FROM ${rows}`,
    values: (record) => {
      const g = (record as { grant: ExportedGrant }).grant;
      return [g.resource, g.member, g.role];
    },
  },
  documentGrant: {
    columns: ["text", "text", "text"],
    sql: (rows) => `INSERT INTO shared_member_grants (member, role, policy_id)
      SELECT v.column2, v.column3, ${idOf("v.column1")} FROM ${rows}`,
    values: (record) => {
      const g = (record as { grant: ExportedGrant }).grant;
      return [g.resource, g.member, g.role];
    },
  },
  link: {
    columns: ["text", "text", "text", "int", "int"],
    sql: (rows) => `INSERT INTO links (kind, from_id, to_id, revision, create_time)
      SELECT v.column1, ${idOf("v.column2")}, ${idOf("v.column3")}, v.column4, v.column5 FROM ${rows}`,
    values: (record) => {
      const l = (record as { link: ExportedLink }).link;
      return [l.kind, l.from, l.to, l.revision, l.createTimeMs];
    },
  },
  change: {
    columns: ["int", "int", "text", "text", "text", "bytes", "bytes", "bytes", "text", "text", "text", "text", "text"],
    sql: (rows) => `INSERT INTO change_log (seq, time, principal, action, resource, etag_before, etag_after, change,
      resource_type, parent, previous_parent, lineage, previous_lineage) SELECT ${v(13)} FROM ${rows}`,
    values: (record) => {
      const c = (record as { change: ExportedChange }).change;
      return [c.seq, c.timeMs, c.principal, c.action, c.resource, c.etagBefore, c.etagAfter, c.state, c.resourceType, c.parent,
        c.previousParent, json(c.lineage), json(c.previousLineage)];
    },
  },
  consumer: {
    columns: ["text", "text", "text", "text", "int", "int", "int", "text", "int", "int"],
    sql: (rows) => `INSERT INTO consumers (name, display_name, subtree, resource_types, acknowledged_seq, acknowledge_time,
      create_time, root, failure_count, version) SELECT ${v(10)} FROM ${rows}`,
    values: (record) => {
      const c = (record as { consumer: ExportedConsumer }).consumer;
      return [c.name, c.displayName, c.subtree, JSON.stringify(c.resourceTypes), c.acknowledgedSeq, c.acknowledgeTimeMs ?? null,
        c.createTimeMs, c.root, c.failureCount, c.version];
    },
  },
  failure: {
    columns: ["text", "text", "int", "text", "int"],
    sql: (rows) => `INSERT INTO consumer_failures (consumer, resource, seq, message, time) SELECT ${v(5)} FROM ${rows}`,
    values: (record) => {
      const f = (record as { failure: ResourceFailure }).failure;
      return [f.consumer, f.resource, f.seq, f.message, f.timeMs];
    },
  },
  consumerClock: {
    columns: ["int", "int"],
    sql: (rows) => `INSERT INTO consumer_clock (version, last_delete) SELECT ${v(2)} FROM ${rows}`,
    values: (record) => {
      const c = (record as { consumerClock: { version: number; lastDelete: number } }).consumerClock;
      return [c.version, c.lastDelete];
    },
  },
  secret: {
    columns: ["text", "bytes"],
    sql: (rows) => `INSERT INTO secrets (name, value) SELECT ${v(2)} FROM ${rows}`,
    values: (record) => {
      const s = (record as { secret: { name: string; value: Uint8Array } }).secret;
      return [s.name, s.value];
    },
  },
} satisfies Record<string, Insert>;

/** Allow policies: documents, in batches of their own, after which their listing flag is set (writeRecords). */
const POLICY_INSERT: Insert = { ...INSERTS.document };

/** Writes `records` (in their order, a batch of one sort per statement) through `writer`; adds to `counts` by sort. */
export async function writeRecords(writer: RecordWriter, records: readonly StoreRecord[], counts: Record<string, number>): Promise<void> {
  let start = 0;
  while (start < records.length) {
    const { sort, insert } = insertOf(records[start]!);
    let end = start + 1;
    while (end < records.length && end - start < writer.batch && insertOf(records[end]!).insert === insert) end++;
    const batch = records.slice(start, end);
    const rows = writer.rows(insert.columns, batch.map(insert.values));
    const written = await writer.run(insert.sql(rows.sql), rows.values);
    if (written !== batch.length) throw new Error(`the import wrote ${written} of ${batch.length} ${sort}: a record names a resource the copy lacks`);
    if (insert === POLICY_INSERT) {
      // The listing flag of a policy with bindings (SQLite's trigger sets it too).
      const bound = batch.flatMap((record) => ("document" in record && record.document.entries > 0 ? [[record.document.resource]] : []));
      if (bound.length > 0) {
        const names = writer.rows(["text"], bound);
        await writer.run(`UPDATE resources SET has_bindings = TRUE WHERE name IN (SELECT v.column1 FROM ${names.sql})`, names.values);
      }
    }
    counts[sort] = (counts[sort] ?? 0) + batch.length;
    start = end;
  }
}
