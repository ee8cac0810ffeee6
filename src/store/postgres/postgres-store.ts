// The store for several replicas: PostgreSQL through node-postgres (measured faster than postgres.js here: see
// docs/operations.md). The same tables and contract as sqlite/; writes go through the group-commit queue
// (write-queue.ts), which serialises them under one advisory lock and numbers the change log in commit order.
// Reads are single statements outside any transaction: each sees every commit that finished before it began.
import { toBinary } from "@bufbuild/protobuf";
import type { Policy } from "../../../gen/policy/v1/policy_pb.js";
import { ResourceSchema, type Resource } from "../../../gen/policy/v1/resource_pb.js";
import { SharedPolicyBindingSchema } from "../../../gen/policy/v1/shared_policy_pb.js";
import type pg from "pg";
import { changeAction } from "../change-actions.js";
import { documentWrite, policyWrite, type AttachedWrite } from "../attached-write.js";
import { revisionEtag } from "../../etag.js";
import {
  CHILD_DOCUMENTS_ORDER,
  CONSUMERS,
  CREATE_MANY,
  CREATE_MANY_WIDTHS,
  DELETE_LINK,
  FLUSH_POLICIES,
  INSERT_LINK,
  LINK_PAGES,
  LOG_TYPES,
  SQL,
  UPSERT_DOCUMENT,
  WRITE,
} from "./statements.js";
import { linkPage } from "../links.js";
import { toAttached, toChildDocuments, toDocument, type DocumentRow } from "../documents.js";
import { planCreation, type ExistingPlace } from "../batch-create.js";
import { consumerExists, consumerNotFound, resourceExists, resourceNotFound } from "../store-error.js";
import {
  AUDIT_COLUMNS,
  FROM_RESOURCES,
  POLICY_COLUMNS,
  POLICY_DOCUMENT,
  RESOURCE_COLUMNS,
  decodePolicy,
  decodeSharedPolicy,
  deletedPlaces,
  decodeRole,
  pathEnd,
  placeColumns,
  removalBytes,
  toAuditRecord,
  toBinding,
  toLink,
  toChangeRecord,
  failuresAfter,
  toConsumer,
  toResourceFailure,
  listedRow,
  toResource,
  toStoredPolicy,
  type AuditRow,
  type BindingRow,
  type ChangePlace,
  type ChangeRow,
  type ConsumerRow,
  type FailureRow,
  type ResourcePolicyRow,
  type ResourceRow,
} from "../rows.js";
import { REPLACED_SQL, USED_SQL, targetUsed, writeRecords, type Column, type RecordWriter } from "../store-records.js";
import type {
  StoreRecord,
  ConsumerAcknowledgement,
  ConsumerCreate,
  ConsumerDelete,
  ConsumerWrite,
  Actor,
  ChangeAction,
  AuditQuery,
  AuditRecord,
  AttachedDocuments,
  DocumentWrite,
  StoredDocument,
  BoundRolesQuery,
  ChangeQuery,
  ChangeRecord,
  ChangesSince,
  CreatedResource,
  GrantPoint,
  GrantQuery,
  HierarchyReader,
  ListedName,
  ListedPolicy,
  UnreadablePolicy,
  ListedResource,
  ConsumerChanges,
  NewResourceWithPolicy,
  PolicyQuery,
  ResourceChanges,
  ResourceQuery,
  ResourceSearch,
  ResourceSearchPage,
  Retention,
  LinkKind,
  LinkQuery,
  LinkState,
  StoredLink,
  ChildDocumentsQuery,
  DocumentRemoval,
  DocumentWriteOptions,
  LinkCount,
  ResourceDocuments,
  Store,
  StoreStats,
  ResourceFailure,
  StoredConsumer,
  StoredPolicy,
  SubtreeQuery,
  StoreSnapshot,
} from "../store.js";
import { WRITE_LOCK, createPool, guarded, migrate, storeErrorOf, withConnection, type PoolOptions } from "./database.js";
import { PgWriteQueue, type WriteTx } from "./write-queue.js";
import { PostgresSnapshot } from "./snapshot.js";

/** Where a resource is in the hierarchy, as a write reads it for its change-log row. */
interface PlaceRow {
  type: string;
  parent: string | null;
  /** The resource and its ancestors' names, from it up to its root. */
  lineage: string[];
}

/** A resource as a write reads it: with its policy, whether it has children, and its lineage. */
interface WriteRow extends ResourcePolicyRow, PlaceRow {
  has_children: boolean;
}

/**
 * A chain link's row: a root's custom roles come as arrays (one element per role, by role id), null without any; the
 * shared policies bound to it likewise (one element per policy, by name).
 */
interface ChainRow extends ResourcePolicyRow {
  roles: Uint8Array[] | null;
  role_revisions: number[] | null;
  role_update_times: number[] | null;
  shared_names: string[] | null;
  shared_parents: string[] | null;
  shared_create_times: number[] | null;
  shared_policies: Uint8Array[] | null;
  shared_revisions: number[] | null;
  shared_update_times: number[] | null;
}

/** Rows of values as columns: the arrays that unnest() turns back into the rows. */
function columns(rows: unknown[][], width: number): unknown[][] {
  return Array.from({ length: width }, (_, i) => rows.map((row) => row[i]));
}

/** A transaction's pending policy writes: rows as the batch left them, the last row per resource, change-log rows. */
interface PolicyBatch {
  rows: Map<string, WriteRow>;
  upserts: Map<number, unknown[]>;
  /** The reverse-lookup rows of each written resource, as its last write left them. */
  grants: Map<number, { member: string; role: string }[]>;
  logs: unknown[][];
}

function policyBatch(tx: WriteTx): PolicyBatch {
  let batch = tx.local.get("policies") as PolicyBatch | undefined;
  if (!batch) {
    batch = { rows: new Map(), upserts: new Map(), grants: new Map(), logs: [] };
    tx.local.set("policies", batch);
  }
  return batch;
}

/** Writes the batch's pending policy rows; afterwards the batch reads from the database again (resource writes). */
async function flushPolicies(tx: WriteTx): Promise<void> {
  const batch = policyBatch(tx);
  if (batch.logs.length > 0) {
    const grants = [...batch.grants].flatMap(([id, rows]) => rows.map((grant) => [id, grant.member, grant.role]));
    await tx.query(
      FLUSH_POLICIES,
      [...columns([...batch.upserts.values()], 5), ...columns(batch.logs, LOG_TYPES.length), ...columns(grants, 3)],
      // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
      "flush_policies",
    );
  }
  tx.local.delete("policies");
}

export interface PostgresStoreOptions extends PoolOptions {}

export class PostgresStore implements Store {
  writtenSequence = 0;
  private readonly queue: PgWriteQueue;
  private tokenKey: Uint8Array | undefined;
  /** The changesSince query in flight, and the one that will start when it ends, shared by who asks meanwhile. */
  private lookRunning: Promise<void> | undefined;
  private lookQueued: { args: string; changes: Promise<ChangesSince> } | undefined;
  private readonly latency = { count: 0, seconds: 0 };
  private size: { at: number; bytes: Promise<number | undefined> } | undefined;

  private constructor(private readonly pool: pg.Pool) {
    this.queue = new PgWriteQueue(
      pool,
      (lastSeq) => {
        this.writtenSequence = Math.max(this.writtenSequence, lastSeq);
      },
      (seconds) => this.timed(seconds),
      (tx, names) => this.prefetchPolicies(tx, names),
    );
  }

  /** Connects, migrates (once across replicas) and reads the newest sequence. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = createPool(options);
    try {
      await migrate(pool);
      const store = new PostgresStore(pool);
      store.writtenSequence = await store.latestSequence();
      return store;
    } catch (e) {
      await pool.end();
      throw e;
    }
  }

  /** Rows of one statement on any pooled connection; its time counts toward the query latency in stats(). */
  private async rows<R extends object>(text: string, values: unknown[], name?: string): Promise<R[]> {
    const started = performance.now();
    try {
      return (await guarded(() => this.pool.query<R>({ text, values, name }))).rows;
    } finally {
      this.timed((performance.now() - started) / 1000);
    }
  }

  private timed(seconds: number): void {
    this.latency.count++;
    this.latency.seconds += seconds;
  }

  async latestSequence(): Promise<number> {
    const [row] = await this.rows<{ seq: number }>(SQL.latestSeq, [], "latest_seq");
    return Math.max(this.writtenSequence, row!.seq);
  }

  /**
   * One query, on the change log's primary key. Callers that arrive while a query runs share the next one, which
   * starts after they arrived, so none of them can miss a commit acknowledged before it asked: at most one query is
   * in flight per store, whatever the read rate.
   */
  changesSince(afterSeq: number, limit: number): Promise<ChangesSince> {
    const args = `${afterSeq} ${limit}`;
    if (!this.lookRunning) return this.startLook(afterSeq, limit);
    if (this.lookQueued?.args === args) return this.lookQueued.changes;
    const queued = {
      args,
      changes: this.lookRunning.then(() => {
        // Starting now: whoever asks from here on waits for the look after this one.
        if (this.lookQueued === queued) this.lookQueued = undefined;
        return this.startLook(afterSeq, limit);
      }),
    };
    this.lookQueued = queued;
    return queued.changes;
  }

  private startLook(afterSeq: number, limit: number): Promise<ChangesSince> {
    const changes = this.queryChanges(afterSeq, limit);
    const running = changes.then(
      () => undefined,
      () => undefined,
    );
    this.lookRunning = running;
    void running.then(() => {
      if (this.lookRunning === running) this.lookRunning = undefined;
    });
    return changes;
  }

  private async queryChanges(afterSeq: number, limit: number): Promise<ChangesSince> {
    const rows = await this.rows<{ seq: number; resource: string }>(SQL.changedAfter, [afterSeq, limit + 1], "changed_after");
    // More than the limit, or retention removed rows after afterSeq (committed rows have no gaps): what changed in
    // them is unknown.
    if (rows.length > limit || afterSeq + 1 < (rows[0]?.seq ?? 0)) return { latest: await this.latestSequence(), changed: "many" };
    return { latest: Math.max(afterSeq, rows.at(-1)?.seq ?? 0), changed: rows.map((row) => row.resource) };
  }

  async getResource(name: string): Promise<Resource | undefined> {
    const [row] = await this.rows<ResourceRow>(SQL.resourceByName, [name], "resource_by_name");
    return row && toResource(row);
  }

  async listResources(query: ResourceQuery): Promise<Resource[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (value: unknown) => `$${values.push(value)}`;
    if (query.parent !== undefined) where.push(`r.parent_id = (SELECT id FROM resources WHERE name = ${param(query.parent)})`);
    if (query.type !== undefined) where.push(`r.type = ${param(query.type)}`);
    if (query.afterName !== undefined) where.push(`r.name > ${param(query.afterName)}`);
    const sql = `SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES}
      ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY r.name LIMIT ${param(query.limit)}`;
    return (await this.rows<ResourceRow>(sql, values)).map(toResource);
  }

  async searchResources(query: ResourceSearch): Promise<ResourceSearchPage> {
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (value: unknown) => `$${values.push(value)}`;
    if (query.parent !== undefined) where.push(`r.parent_id = (SELECT id FROM resources WHERE name = ${param(query.parent)})`);
    if (query.types !== undefined) where.push(`r.type = ANY(${param([...query.types])}::text[])`);
    if (query.afterName !== undefined) where.push(`r.name > ${param(query.afterName)}`);
    const range = where.length ? `WHERE ${where.join(" AND ")}` : "";
    // The last resource the scan may examine (through the name-ordered indexes), then the matches up to it.
    const [last] = await this.rows<{ name: string }>(
      `SELECT r.name FROM resources r ${range} ORDER BY r.name LIMIT 1 OFFSET ${param(query.scan - 1)}`,
      values,
    );
    values.pop();
    if (last) where.push(`r.name <= ${param(last.name)}`);
    const text = param(query.text);
    where.push(`(strpos(lower(r.display_name), lower(${text})) > 0 OR strpos(lower(r.name), lower(${text})) > 0)`);
    const sql = `SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE ${where.join(" AND ")} ORDER BY r.name LIMIT ${param(query.limit)}`;
    return { resources: (await this.rows<ResourceRow>(sql, values)).map(toResource), scannedTo: last?.name };
  }

  async createResources(items: readonly NewResourceWithPolicy[], actor: Actor): Promise<CreatedResource[]> {
    if (items.length === 0) return [];
    return this.queue.write(async (tx) => {
      await flushPolicies(tx);
      // The names and parents the batch touches, in one read.
      const names = [...new Set(items.flatMap(({ resource }) => [resource.name, resource.parent]))];
      // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
      const found = await tx.query<ExistingPlace & { name: string }>(SQL.placesOf, [names], "places_of");
      const places = new Map(found.map((row) => [row.name, { ...row, id: Number(row.id) }]));
      const reader = { taken: (name: string) => places.has(name), place: (name: string) => places.get(name) };
      const time = Date.now();
      // Ids and sequences allocated as a single write allocates them; the plan counts how many it used.
      const first = { id: tx.nextResourceId(), seq: tx.nextSeq(0) };
      const plan = planCreation(items, actor, reader, { ...first, time });
      for (let id = first.id + 1; id < first.id + plan.resources.length; id++) tx.nextResourceId();
      tx.nextSeq(plan.lastSeq - first.seq + 1);
      if (plan.resources.length === 0) return plan.outcomes;
      const bytes = (rows: unknown[][], at: number) => rows.map((row) => row.map((value, i) => (i === at ? bufferOf(value as Uint8Array) : value)));
      const changes = plan.changes.map((row) => row.map((value) => (value instanceof Uint8Array ? bufferOf(value) : value)));
      await tx.query(
        CREATE_MANY,
        [
          ...columns(plan.resources, CREATE_MANY_WIDTHS.resources),
          ...columns(bytes(plan.documents, 3), CREATE_MANY_WIDTHS.documents),
          ...columns(plan.grants, CREATE_MANY_WIDTHS.grants),
          ...columns(changes, LOG_TYPES.length),
        ],
        // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
        "create_many",
      );
      return plan.outcomes;
    });
  }

  async updateResource(
    name: string,
    decide: (current: Resource, hierarchy: HierarchyReader) => ResourceChanges,
    actor: Actor,
    reads: readonly string[] = [],
  ): Promise<Resource> {
    return this.queue.write(async (tx) => {
      await flushPolicies(tx);
      const current = await this.readForWrite(tx, name);
      const changes = decide(toResource(current), await hierarchyFor(tx, current, reads));
      const currentParent = current.parent ?? "";
      const parent = changes.parent ?? currentParent;
      let parentId: number | null = null;
      let parentLineage: readonly string[] = [];
      let newPath: string | null = null;
      if (parent !== "") {
        // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
        const [target] = await tx.query<{ id: number; path: string; lineage: string[] }>(SQL.idAndPath, [parent], "id_and_path");
        if (!target) throw resourceNotFound(parent);
        parentId = target.id;
        parentLineage = target.lineage;
        if (parent !== currentParent) newPath = `${target.path}${current.id}/`;
      } else if (currentParent !== "") {
        newPath = `/${current.id}/`;
      }
      // A move records the parent and lineage before it too.
      const place: ChangePlace =
        newPath === null
          ? placeOf(current)
          : { ...placeOf(current), parent, lineage: [name, ...parentLineage], previousParent: currentParent, previousLineage: current.lineage };
      const seq = tx.nextSeq();
      const time = Date.now();
      const updated = toResource({
        ...current,
        parent: parent === "" ? null : parent,
        display_name: changes.displayName ?? current.display_name,
        revision: seq,
        update_time: time,
      });
      await tx.query(
        WRITE.updateResource,
        [...logValues(seq, time, actor, changeAction("resource", "update"), name, revisionEtag(current.revision), revisionEtag(seq),
          toBinary(ResourceSchema, updated), place),
          current.id, parentId, current.path, newPath, updated.displayName, pathEnd(current.path)],
        // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
        "update_resource",
      );
      return updated;
    });
  }

  async deleteResource(
    name: string,
    decide: (current: Resource, hierarchy: HierarchyReader) => { cascade: boolean },
    actor: Actor,
  ): Promise<string[]> {
    return this.queue.write(async (tx) => {
      await flushPolicies(tx);
      const current = await this.readForWrite(tx, name);
      const { cascade } = decide(toResource(current), await hierarchyFor(tx, current, []));
      const doomed = cascade && current.has_children
        ? await tx.query<ResourceRow>(
          SQL.subtree,
          [current.path, pathEnd(current.path)],
          // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
          "subtree",
        )
        : [current];
      const places = deletedPlaces(doomed, current.lineage);
      const removals = await removalsOf(tx, doomed);
      const first = tx.nextSeq(doomed.length);
      const time = Date.now();
      const logs = doomed.map((row, i) =>
        logValues(first + i, time, actor, changeAction("resource", "delete"), row.name, revisionEtag(row.revision), null, removals[i]!, places[i]!),
      );
      // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
      await tx.query(WRITE.deleteResources, [doomed.map((row) => row.id), ...columns(logs, LOG_TYPES.length)], "delete_resources");
      return doomed.map((row) => row.name);
    });
  }

  async getPolicy(resource: string): Promise<StoredPolicy | undefined> {
    const [row] = await this.rows<ChainRow>(SQL.chainLinkByName, [resource], "chain_link_by_name");
    return row && toChainLink(row);
  }

  async ancestry(resource: string): Promise<StoredPolicy[] | undefined> {
    const rows = await this.rows<ChainRow>(SQL.ancestry, [resource], "ancestry");
    return rows.length === 0 ? undefined : rows.map((row) => toChainLink(row));
  }

  /** One transaction on a connection of its own under the write lock, held across the pages (Store.importRecords). */
  async importRecords(pages: AsyncIterable<readonly StoreRecord[]>): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const types: Record<Column, string> = { int: "bigint", text: "text", bytes: "bytea" };
    try {
      // A failure closes the connection, which rolls the transaction back: nothing is left half copied.
      await withConnection(this.pool, async (client) => {
        const writer: RecordWriter = {
          run: async (text, values) => (await client.query(text, values)).rowCount ?? 0,
          rows: (columns, rows) => ({
            sql: `unnest(${columns.map((type, i) => `$${i + 1}::${types[type]}[]`).join(", ")}) AS v(${columns.map((_, i) => `column${i + 1}`).join(", ")})`,
            // Bytes go in arrays as Buffers (node-postgres writes those as bytea).
            values: columns.map((_, i) => rows.map((row) => (row[i] instanceof Uint8Array && !Buffer.isBuffer(row[i]) ? Buffer.from(row[i]) : row[i]))),
          }),
          batch: 5000,
        };
        await client.query("BEGIN");
        await client.query(`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`);
        const { rows } = await client.query<{ used: number }>(USED_SQL);
        if (Number(rows[0]!.used)) throw targetUsed();
        for (const sql of REPLACED_SQL) await client.query(sql);
        for await (const page of pages) await writeRecords(writer, page, counts);
        await client.query("COMMIT");
      });
    } catch (e) {
      throw storeErrorOf(e);
    }
    return counts;
  }

  async openSnapshot(): Promise<StoreSnapshot> {
    return PostgresSnapshot.open(this.pool, toChainLink as (row: object, lazyPolicy?: boolean) => StoredPolicy);
  }

  async listLinks(kind: string, query: LinkQuery): Promise<StoredLink[]> {
    const { sql, values } = linkPage(kind, query);
    const { text, order } = LINK_PAGES[sql];
    return (await this.rows<BindingRow>(text, order.map((name) => values[name]), `links_${sql}`)).map(toLink);
  }

  async updateLink(
    kind: LinkKind,
    from: string,
    to: string,
    decide: (state: LinkState) => boolean,
    actor: Actor,
  ): Promise<StoredLink | undefined> {
    // Reads and writes no policy row: no flush of the policy batch (as a deny write).
    return this.queue.write(async (tx) => {
      // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
      const fromDocuments = toAttached(await tx.query<DocumentRow>(SQL.documentsOf, [kind.from, null, from], "documents_of"));
      if (!fromDocuments || fromDocuments.documents.length === 0) throw resourceNotFound(from);
      const fromRow = await this.readForWrite(tx, from);
      const toRow = await this.readForWrite(tx, to);
      const [state] = await tx.query<{ create_seq: number | null; create_time: number | null; links_to: number; links_from: number }>(
        SQL.linkState,
        [kind.name, fromRow.id, toRow.id],
        // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
        "link_state",
      );
      const row: BindingRow | undefined =
        state!.create_seq === null ? undefined : { shared_policy: from, target: to, create_seq: state!.create_seq, create_time: state!.create_time! };
      const stored = row && toLink(row);
      const linked = decide({
        stored,
        from: fromDocuments,
        to: toResource(toRow),
        toLineage: toRow.lineage,
        linksTo: state!.links_to,
        linksFrom: state!.links_from,
      });
      if (linked === (row !== undefined)) return stored;
      const seq = tx.nextSeq();
      const time = Date.now();
      const ends = { kind: kind.name, from: fromRow.id, to: toRow.id };
      if (linked) {
        const created: BindingRow = { shared_policy: from, target: to, create_seq: seq, create_time: time };
        const log = linkLog(seq, time, actor, changeAction(kind.name, "create"), created, placeOf(toRow));
        // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
        await tx.query(WRITE.insertLink, [...log, ...INSERT_LINK.order.map((name) => ends[name as keyof typeof ends])], "insert_link");
        return toLink(created);
      }
      const log = linkLog(seq, time, actor, changeAction(kind.name, "delete"), row!, placeOf(toRow));
      // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
      await tx.query(WRITE.deleteLink, [...log, ...DELETE_LINK.order.map((name) => ends[name as keyof typeof ends])], "delete_link");
      return stored;
    });
  }

  listDocuments(kind: string, resource: string, key?: string): Promise<AttachedDocuments | undefined>;
  listDocuments(kind: string, query: ChildDocumentsQuery): Promise<ResourceDocuments[]>;
  async listDocuments(
    kind: string,
    at: string | ChildDocumentsQuery,
    key?: string,
  ): Promise<AttachedDocuments | undefined | ResourceDocuments[]> {
    if (typeof at === "string") return toAttached(await this.rows<DocumentRow>(SQL.documentsOf, [kind, key ?? null, at], "documents_of"));
    const query = { kind, parent: at.parent, after: at.afterName ?? "", limit: at.limit };
    const values = CHILD_DOCUMENTS_ORDER.map((name) => query[name as keyof typeof query]);
    return toChildDocuments(await this.rows<DocumentRow & { name: string }>(SQL.childDocuments, values, "child_documents"));
  }

  async updateDocument(
    kind: string,
    resource: string,
    key: string,
    decide: (stored: AttachedDocuments | undefined, links: LinkCount) => DocumentWrite | DocumentRemoval,
    actor: Actor,
    options: DocumentWriteOptions = {},
  ): Promise<StoredDocument | undefined> {
    // Not in the policy batch, and no flush of it: a document write reads and writes none of the rows it holds back —
    // but an owned one may create or remove a resource (and its access policy) as a resource write does.
    const read = async (tx: WriteTx) => {
      if (options.owned) await flushPolicies(tx);
      const rows = await tx.query<DocumentRow & PlaceRow & { id: number; link_count: number; newest_link: number }>(
        SQL.documentsForWrite,
        [resource, kind, key, options.linksFrom ?? null],
        // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
        "documents_for_write",
      );
      const attached = toAttached(rows);
      if (!attached && !options.owned) throw resourceNotFound(resource);
      if (attached && options.owned && attached.documents.length === 0) throw resourceExists(resource);
      const row = rows[0];
      return { row, state: { attached, links: { count: row?.link_count ?? 0, newest: row?.newest_link ?? 0 } } };
    };
    const written = await this.writeAttached(actor, resource, read, ({ attached, links }) => {
      const write = decide(attached, links);
      return "remove" in write ? write : documentWrite(kind, key, write);
    });
    return written && toDocument(key, written.write.body, written.seq, written.time);
  }

  /**
   * The one write path of an attached object (updatePolicy, updateDocument), in one transaction: `read` the resource
   * (undefined when it does not exist) and what `decide` is given, `decide`, then the body in its slot, the
   * member-index rows and the change-log row — or, for an owned document, its resource's creation or removal. An
   * access policy's rows join the transaction's policy batch (see updatePolicy); a document's are written at once.
   */
  private writeAttached<S>(
    actor: Actor,
    resource: string,
    read: (tx: WriteTx) => Promise<{ row: (PlaceRow & { id: number }) | undefined; state: S }>,
    decide: (state: S) => AttachedWrite | DocumentRemoval,
    prefetch?: string,
  ): Promise<{ write: AttachedWrite; seq: number; time: number } | undefined> {
    return this.queue.write(async (tx) => {
      const { row, state } = await read(tx);
      const write = decide(state);
      const time = Date.now();
      if ("remove" in write) {
        if (!row) throw resourceNotFound(resource);
        await this.removeOwner(tx, time, actor, resource, row, write);
        return undefined;
      }
      const seq = tx.nextSeq();
      const { slot, body } = write;
      const log = (place: ChangePlace) =>
        logValues(seq, time, actor, write.action, resource, write.etagBefore, revisionEtag(seq), write.logged, place);
      let id = row?.id;
      if (write.pathGrants) {
        // An access policy (the one kind indexed by path): its document joins the transaction's policy batch.
        const batch = policyBatch(tx);
        const held = batch.rows.get(resource);
        if (!held) throw resourceNotFound(resource);
        // Stryker disable next-line LogicalOperator: equivalent — a flush registered again finds the batch it already wrote empty (flushPolicies)
        if (batch.upserts.size === 0 && batch.logs.length === 0) tx.beforeCommit(() => flushPolicies(tx));
        batch.upserts.set(held.id, [held.id, bufferOf(body), slot.entries, seq, time]);
        batch.grants.set(held.id, [...write.pathGrants.after]);
        batch.logs.push(log(placeOf(held)));
        batch.rows.set(resource, { ...held, policy: body, policy_revision: seq, policy_update_time: time });
        return { write, seq, time };
      }
      if (id === undefined) {
        if (!write.create) throw resourceNotFound(resource);
        const parent = write.create.parent;
        // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
        const [target] = await tx.query<{ id: number; path: string; lineage: string[] }>(SQL.idAndPath, [parent], "id_and_path");
        if (!target) throw resourceNotFound(parent);
        id = tx.nextResourceId();
        const place = { resourceType: write.create.type, parent, lineage: [resource, ...target.lineage] };
        await tx.query(
          WRITE.createWithDocument,
          [...log(place), id, target.id, `${target.path}${id}/`, write.create.type, slot.kind, slot.key, bufferOf(body), slot.entries],
          // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
          "create_with_document",
        );
      } else {
        const values = { id, kind: slot.kind, key: slot.key, body: bufferOf(body), entries: slot.entries };
        await tx.query(
          WRITE.upsertDocument,
          [...log(placeOf(row!)), ...UPSERT_DOCUMENT.order.map((name) => values[name as keyof typeof values])],
          // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
          "upsert_document",
        );
      }
      if (write.grants) {
        const grants = write.grants;
        // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
        await tx.query(WRITE.clearSharedGrants, [id], "clear_shared_grants");
        // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
        await tx.query(WRITE.insertSharedGrants, [id, grants.map((g) => g.member), grants.map((g) => g.role)], "insert_shared_grants");
      }
      return { write, seq, time };
    }, prefetch);
  }

  /** An owned document's removal: its links of `unlink` (a row each, against its `to` end), then its resource. */
  private async removeOwner(
    tx: WriteTx,
    time: number,
    actor: Actor,
    name: string,
    row: PlaceRow & { id: number },
    removal: DocumentRemoval,
  ): Promise<void> {
    let links: (BindingRow & PlaceRow)[] = [];
    // A statement of its own, so that Stryker applies the directive (a comment inside an expression is not).
    // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
    if (removal.unlink) links = await tx.query<BindingRow & PlaceRow>(SQL.linksForDelete, [row.id, removal.unlink], "links_for_delete");
    const [removed] = await removalsOf(tx, [{ id: row.id, name }]);
    // One row per link before the resource's own, as SQLite numbers them.
    const first = tx.nextSeq(links.length + 1);
    const logs = links.map((link, i) => linkLog(first + i, time, actor, changeAction(removal.unlink!, "delete"), link, placeOf(link)));
    logs.push(logValues(first + links.length, time, actor, removal.action, name, removal.etagBefore, null, removed!, placeOf(row)));
    // The resource row's delete cascades to its documents (its access policy among them) and every link.
    // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
    await tx.query(WRITE.deleteResources, [[row.id], ...columns(logs, LOG_TYPES.length)], "delete_resources");
  }

  listPolicies(query: PolicyQuery & { namesOnly: true }): Promise<ListedName[]>;
  listPolicies(query: PolicyQuery): Promise<(ListedPolicy | UnreadablePolicy)[]>;
  async listPolicies(query: PolicyQuery & { namesOnly?: true }): Promise<ListedName[] | (ListedPolicy | UnreadablePolicy)[]> {
    if (query.namesOnly) return this.policyNames(query);
    const listing = await this.policyListing(query, `${RESOURCE_COLUMNS}, ${POLICY_COLUMNS} ${FROM_RESOURCES}`);
    if (!listing) return [];
    return (await this.rows<ResourcePolicyRow>(listing.sql, listing.values)).map((row) => listedRow(row, row.path));
  }

  private async policyNames(query: PolicyQuery): Promise<ListedName[]> {
    const listing = await this.policyListing(query, "r.name, r.path, pol.revision FROM resources r");
    if (!listing) return [];
    const rows = await this.rows<{ name: string; path: string; revision: number }>(listing.sql, listing.values);
    return rows.map((row) => ({ name: row.name, cursor: row.path, revision: row.revision }));
  }

  /** A policy listing's statement (`select` is its columns and first table) and values; undefined when `beneath` does not exist. */
  private async policyListing(query: PolicyQuery, select: string): Promise<{ sql: string; values: unknown[] } | undefined> {
    const values: unknown[] = [];
    const param = (value: unknown) => `$${values.push(value)}`;
    // r.has_bindings selects the partial index of exactly the rows listed: a page costs O(page size).
    const where = [`r.type = ${param(query.type)}`, "r.has_bindings"];
    if (query.afterCursor !== undefined) where.push(`r.path > ${param(query.afterCursor)}`);
    if (query.beneath !== undefined) {
      const [row] = await this.rows<{ path: string }>(SQL.pathByName, [query.beneath], "path_by_name");
      if (!row) return undefined;
      where.push(`r.path > ${param(row.path)} AND r.path < ${param(pathEnd(row.path))}`);
    }
    const sql = `SELECT ${select} JOIN ${POLICY_DOCUMENT}
      WHERE ${where.join(" AND ")} ORDER BY r.path LIMIT ${param(query.limit)}`;
    return { sql, values };
  }

  listGrantPoints(query: GrantQuery): Promise<GrantPoint[]>;
  listGrantPoints(query: BoundRolesQuery): Promise<string[]>;
  async listGrantPoints(query: GrantQuery | BoundRolesQuery): Promise<GrantPoint[] | string[]> {
    if ("boundRoles" in query) return this.boundRoles(query.members);
    let from = query.fromCursor ?? "";
    let end = "\uffff";
    if (query.beneath !== undefined) {
      const [row] = await this.rows<{ path: string }>(SQL.pathByName, [query.beneath], "path_by_name");
      if (!row) return [];
      if (from < row.path) from = row.path;
      end = pathEnd(row.path);
    }
    const rows = await this.rows<{ path: string; name: string }>(
      SQL.grantPoints,
      [[...query.members], [...query.roles], from, end, query.limit],
      "grant_points",
    );
    return rows.map((row) => ({ name: row.name, cursor: row.path, subtreeEnd: pathEnd(row.path) }));
  }

  private async boundRoles(members: readonly string[]): Promise<string[]> {
    return (await this.rows<{ role: string }>(SQL.boundRoles, [[...members]], "bound_roles")).map((row) => row.role);
  }

  async listSubtree(query: SubtreeQuery): Promise<ListedResource[]> {
    const [root] = await this.rows<{ path: string }>(SQL.pathByName, [query.root], "path_by_name");
    if (!root) return [];
    // The root's own path is the smallest of its subtree: "after" anything just below it includes it.
    const after = query.afterCursor !== undefined && query.afterCursor >= root.path ? query.afterCursor : root.path.slice(0, -1);
    const rows = await this.rows<ResourceRow>(SQL.subtreeOfType, [query.type, after, pathEnd(root.path), query.limit], "subtree_of_type");
    return rows.map((row) => ({ resource: toResource(row), cursor: row.path }));
  }

  /**
   * Policy writes are batched inside their transaction: the batch's resources are read in one statement before any
   * write runs (prefetchPolicies), each write decides against the state the writes before it in the batch left
   * (PolicyBatch.rows), and the rows are written with their change-log rows in one statement before COMMIT
   * (flushPolicies) — so N policy writes cost four round trips, not 2N + 2, on the one connection that holds the
   * write lock. A resource write flushes them first, since it may depend on them (a delete cascades to policies).
   */
  async updatePolicy(resource: string, decide: (stored: StoredPolicy) => Policy | undefined, actor: Actor): Promise<Policy> {
    const read = async (tx: WriteTx) => {
      const batch = policyBatch(tx);
      let row = batch.rows.get(resource);
      if (!row) {
        row = await this.readForWrite(tx, resource);
        batch.rows.set(resource, row);
      }
      return { row, state: toStoredPolicy(row) };
    };
    const written = await this.writeAttached(actor, resource, read, (current) => policyWrite(current.policy, decide(current)), resource);
    return decodePolicy(written!.write.body, written!.seq, written!.time);
  }

  /** Reads the resources of a batch's policy writes, in one statement (see updatePolicy). */
  // Stryker disable next-line BlockStatement: equivalent — a prefetch only: updatePolicy's read falls back to readForWrite for a row not in the batch (one statement for N, speed only)
  private async prefetchPolicies(tx: WriteTx, names: string[]): Promise<void> {
    // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
    const rows = await tx.query<WriteRow>(SQL.forWriteMany, [names], "for_write_many");
    const batch = policyBatch(tx);
    for (const row of rows) batch.rows.set(row.name, row);
  }

  async listAuditRecords(query: AuditQuery): Promise<AuditRecord[]> {
    const values: unknown[] = [];
    const param = (value: unknown) => `$${values.push(value)}`;
    const where = [`seq > ${param(query.afterSeq ?? 0)}`];
    if (query.descendants) {
      // Lineages are JSON arrays of names: the quoted name is in them exactly when the resource was on the chain.
      const quoted = param(JSON.stringify(query.resource));
      where.push(`(resource = ${param(query.resource)} OR strpos(lineage, ${quoted}) > 0
        OR strpos(COALESCE(previous_lineage, ''), ${quoted}) > 0)`);
    } else where.push(`resource = ${param(query.resource)}`);
    if (query.beforeSeq !== undefined) where.push(`seq < ${param(query.beforeSeq)}`);
    if (query.actions !== undefined) where.push(`action = ANY(${param([...query.actions])}::text[])`);
    if (query.principal !== undefined) where.push(`principal = ${param(query.principal)}`);
    if (query.startMs !== undefined) where.push(`time >= ${param(query.startMs)}`);
    if (query.endMs !== undefined) where.push(`time < ${param(query.endMs)}`);
    // Names are unique at any moment: every row of the name since the current resource's creation is about it.
    if (query.currentOnly) where.push(`seq >= (SELECT create_seq FROM resources WHERE name = ${param(query.resource)})`);
    const rows = await this.rows<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM change_log
      WHERE ${where.join(" AND ")} ORDER BY seq ${query.newestFirst ? "DESC" : ""} LIMIT ${param(query.limit)}`, values);
    return rows.map(toAuditRecord);
  }

  async readChanges(query: ChangeQuery): Promise<ChangeRecord[]> {
    if ("at" in query) {
      return query.at.length === 0 ? [] : (await this.rows<ChangeRow>(SQL.changesAt, [query.at], "changes_at")).map(toChangeRecord);
    }
    if ("removalOf" in query) {
      return (await this.rows<ChangeRow>(SQL.removalOf, [query.removalOf, query.fromSeq], "removal_of")).map(toChangeRecord);
    }
    const { afterSeq, limit, maxBytes } = query;
    const rows =
      maxBytes === undefined
        ? await this.rows<ChangeRow>(SQL.readChanges, [afterSeq, limit], "read_changes")
        : await this.rows<ChangeRow>(SQL.readChangesWithin, [afterSeq, limit, Math.floor(maxBytes)], "read_changes_within");
    return rows.map(toChangeRecord);
  }

  /** Under the write lock, as a write: no row is numbered while the newest is being worked out. */
  async pruneChanges(retention: Retention): Promise<number> {
    return this.queue.write(async (tx) => {
      // The batch's pending change-log rows first, so that "the newest row" is the newest.
      await flushPolicies(tx);
      let removed = 0;
      if (retention.beforeMs !== undefined) {
        // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
        removed += (await tx.query<{ n: number }>(SQL.pruneBefore, [retention.beforeMs], "prune_before"))[0]!.n;
      }
      if (retention.keepLast !== undefined) {
        // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
        removed += (await tx.query<{ n: number }>(SQL.pruneKeeping, [Math.max(1, retention.keepLast)], "prune_keeping"))[0]!.n;
      }
      return removed;
    });
  }

  writeConsumer(write: ConsumerCreate): Promise<StoredConsumer>;
  writeConsumer(write: ConsumerAcknowledgement): Promise<StoredConsumer>;
  writeConsumer(write: ConsumerDelete): Promise<undefined>;
  async writeConsumer(write: ConsumerWrite): Promise<StoredConsumer | undefined> {
    if ("create" in write) return this.createConsumer(write);
    if ("acknowledge" in write) return this.acknowledge(write);
    await this.deleteConsumer(write.delete);
    return undefined;
  }

  private async createConsumer({ create: consumer, timeMs, admit }: ConsumerCreate): Promise<StoredConsumer> {
    return this.queue.write(async (tx) => {
      // Reads first, then the refusals: a write that throws after a statement of its own would commit it with the batch.
      if ((await consumerQuery(tx, "consumer", { name: consumer.name })).length > 0) throw consumerExists(consumer.name);
      admit?.((await consumerQuery<{ n: number }>(tx, "consumersOfRoot", { root: consumer.root }))[0]!.n);
      const version = await nextConsumerVersion(tx);
      const values = { ...consumer, resourceTypes: JSON.stringify(consumer.resourceTypes), time: timeMs, version };
      return toConsumer((await consumerQuery<ConsumerRow>(tx, "insertConsumer", values))[0]!);
    });
  }

  async consumerChanges(afterVersion: number): Promise<ConsumerChanges> {
    const read = <R extends object>(name: keyof typeof CONSUMERS, values: Record<string, unknown> = {}) =>
      this.rows<R>(CONSUMERS[name].text, CONSUMERS[name].order.map((key) => values[key]), `consumers_${name}`);
    // The clock first: whatever is written after it has a higher version and is read again next time.
    const [clock] = await read<{ version: number; last_delete: number }>("consumerClock");
    if (clock!.version === afterVersion) return { version: afterVersion, changed: [] };
    const changed = (await read<ConsumerRow>("consumersAfter", { after: afterVersion })).map(toConsumer);
    if (clock!.last_delete <= afterVersion) return { version: clock!.version, changed };
    const names = (await read<{ name: string }>("consumerNames")).map((row) => row.name);
    return { version: clock!.version, changed, names };
  }

  async listResourceFailures(resource: string, consumers: readonly string[]): Promise<ResourceFailure[]> {
    if (consumers.length === 0) return [];
    return (await this.rows<FailureRow>(SQL.resourceFailures, [[...consumers], resource], "resource_failures")).map(toResourceFailure);
  }

  private async deleteConsumer(name: string): Promise<void> {
    await this.queue.write(async (tx) => {
      if ((await consumerQuery(tx, "consumer", { name })).length === 0) throw consumerNotFound(name);
      await consumerQuery(tx, "deleteConsumer", { name });
      await nextConsumerVersion(tx, true);
    });
  }

  private async acknowledge({ acknowledge: name, ack, admit }: ConsumerAcknowledgement): Promise<StoredConsumer> {
    return this.queue.write(async (tx) => {
      if ((await consumerQuery(tx, "consumer", { name })).length === 0) throw consumerNotFound(name);
      const stored = (await consumerQuery<{ resource: string }>(tx, "failureResources", { name })).map((row) => row.resource);
      const failureCount = failuresAfter(stored, ack);
      admit?.({ before: stored.length, after: failureCount });
      const version = await nextConsumerVersion(tx);
      const values = { name, upTo: ack.upTo, time: ack.timeMs, failureCount, version };
      const [row] = await consumerQuery<ConsumerRow>(tx, "acknowledge", values);
      // One upsert for them all, so one row per resource (the last reported wins, as with one upsert after another).
      const failures = [...new Map(ack.failures.map((f) => [f.resource, f])).values()];
      if (failures.length > 0) {
        await tx.query(
          SQL.upsertFailures,
          [name, failures.map((f) => f.resource), failures.map((f) => f.seq), failures.map((f) => f.message), ack.timeMs],
          // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
          "upsert_failures",
        );
      }
      // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
      if (ack.resolved.length > 0) await tx.query(SQL.resolveFailures, [name, [...ack.resolved]], "resolve_failures");
      return toConsumer(row!);
    });
  }

  async pageTokenKey(): Promise<Uint8Array> {
    if (!this.tokenKey) {
      const [row] = await this.rows<{ value: Uint8Array }>(SQL.secret, ["page_token_key"], "secret");
      this.tokenKey = new Uint8Array(row!.value);
    }
    return this.tokenKey;
  }

  async stats(): Promise<StoreStats> {
    // The pool as it is now, before the size query below takes a connection of its own.
    const pool = { max: this.pool.options.max ?? 0, open: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
    return { sizeBytes: await this.databaseSize(), pool, queries: { ...this.latency } };
  }

  /** pg_database_size, asked at most every 10 s: /metrics asks for stats once per gauge. */
  private databaseSize(): Promise<number | undefined> {
    if (!this.size || performance.now() - this.size.at > 10_000) {
      const bytes = this.rows<{ bytes: number }>("SELECT pg_database_size(current_database()) AS bytes", [], "db_size").then(
        ([row]) => row?.bytes,
        () => undefined,
      );
      this.size = { at: performance.now(), bytes };
    }
    return this.size.bytes;
  }

  async close(): Promise<void> {
    if (this.pool.ended) return;
    await this.queue.drain();
    await this.pool.end();
  }

  private async readForWrite(tx: WriteTx, name: string): Promise<WriteRow> {
    // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
    const [row] = await tx.query<WriteRow>(SQL.forWrite, [name], "for_write");
    if (!row) throw resourceNotFound(name);
    return row;
  }
}

/** What the removal rows of resources about to go keep, in their order: each one's own deny rules (rows.ts, removalBytes). */
async function removalsOf(tx: WriteTx, resources: readonly { id: number; name: string }[]): Promise<Uint8Array[]> {
  const rows = await tx.query<{ id: number; deny: Uint8Array | null; shared: Uint8Array[] | null }>(
    SQL.removalDenies,
    [resources.map((r) => r.id)],
    // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
    "removal_denies",
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  // Stryker disable next-line OptionalChaining: equivalent — removal_denies returns a row for every id asked for (the resources about to go, read under the write lock)
  return resources.map(({ id, name }) => removalBytes(name, byId.get(id)?.deny, byId.get(id)?.shared ?? []));
}

/** LOG_ONE's parameters $1-$13 (LOG_COLUMNS). */
function logValues(
  seq: number,
  time: number,
  actor: Actor,
  action: ChangeAction,
  resource: string,
  etagBefore: Uint8Array | null,
  etagAfter: Uint8Array | null,
  change: Uint8Array | null,
  place: ChangePlace,
): unknown[] {
  const { resourceType, parent, previousParent, lineage, previousLineage } = placeColumns(place);
  return [seq, time, actor.principal, action, resource, bufferOf(etagBefore), bufferOf(etagAfter), bufferOf(change),
    resourceType, parent, previousParent, lineage, previousLineage];
}

/** Where the resource of a row read for a write is, as its change-log row records it. */
function placeOf(row: PlaceRow): ChangePlace {
  return { resourceType: row.type, parent: row.parent ?? "", lineage: row.lineage };
}

/**
 * A link's change-log row (LOG_ONE's parameters), against its `to` end: caches following the log evict its chain link.
 * Its bytes are a shared-policy binding's, the one kind of link the log's readers know (rows.ts, toBinding).
 */
function linkLog(seq: number, time: number, actor: Actor, action: ChangeAction, binding: BindingRow, place: ChangePlace): unknown[] {
  const created = action.endsWith(".create");
  const etag = revisionEtag(binding.create_seq);
  const bytes = toBinary(SharedPolicyBindingSchema, toBinding(binding));
  return logValues(seq, time, actor, action, binding.target, created ? null : etag, created ? etag : null, bytes, place);
}

/**
 * A chain link: the policy, the deny policy while it has rules, the shared policies bound to it (when any) and a
 * root's custom roles (when it has some).
 */
function toChainLink(row: ChainRow, lazyPolicy = false): StoredPolicy {
  let link = toStoredPolicy(row, lazyPolicy);
  if (row.shared_names !== null) {
    const shared = row.shared_names.map((name, i) =>
      decodeSharedPolicy({
        name,
        parent: row.shared_parents![i]!,
        create_time: row.shared_create_times![i]!,
        policy: row.shared_policies![i]!,
        revision: row.shared_revisions![i]!,
        update_time: row.shared_update_times![i]!,
      }),
    );
    link = { ...link, shared };
  }
  if (row.roles === null) return link;
  const roles = row.roles.map((role, i) => decodeRole({ role, revision: row.role_revisions![i]!, update_time: row.role_update_times![i]! }));
  return { ...link, roles };
}

/** A consumers' statement (consumers.ts) in the write's transaction, with its named values. */
async function consumerQuery<R extends object>(tx: WriteTx, name: keyof typeof CONSUMERS, values: Record<string, unknown>): Promise<R[]> {
  // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
  return tx.query<R>(CONSUMERS[name].text, CONSUMERS[name].order.map((key) => values[key]), `consumers_${name}`);
}

/** The consumer clock's next version, for a write to a consumer (`deleting`: its delete, which readers must notice). */
async function nextConsumerVersion(tx: WriteTx, deleting = false): Promise<number> {
  const [row] = await consumerQuery<{ version: number }>(tx, deleting ? "tickConsumerDelete" : "tickConsumerClock", {});
  return row!.version;
}

/** node-postgres sends a Buffer as bytea (a plain Uint8Array would be sent as text). */
function bufferOf(bytes: Uint8Array | null): Buffer | null {
  return bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The hierarchy a write's `decide` may read, fetched inside the write's transaction before `decide` runs (once): the
 * resource's own lineage (its ancestors have children: it is one), whether it has children, and the lineage of each of
 * `reads` with whether each of its links has children (one query each). Asked for anything else, it throws: the
 * write did not name it.
 */
async function hierarchyFor(tx: WriteTx, current: WriteRow, reads: readonly string[]): Promise<HierarchyReader> {
  const lineages = new Map<string, readonly string[] | undefined>([[current.name, current.lineage]]);
  const children = new Map<string, boolean>(current.lineage.map((name) => [name, true]));
  children.set(current.name, current.has_children);
  for (const name of reads) {
    if (lineages.has(name)) continue;
    // Stryker disable next-line StringLiteral: equivalent — the prepared statement's name: "" runs it unnamed (parsed each time), the same rows
    const rows = await tx.query<{ name: string; has_children: boolean }>(SQL.lineage, [name], "lineage");
    lineages.set(name, rows.length === 0 ? undefined : rows.map((row) => row.name));
    if (rows.length === 0) children.set(name, false);
    for (const row of rows) children.set(row.name, row.has_children);
  }
  const unread = (name: string) => new Error(`decide read the hierarchy at "${name}", which the write did not name in its reads`);
  return {
    lineage(name) {
      if (!lineages.has(name)) throw unread(name);
      return lineages.get(name);
    },
    hasChildren(name) {
      const known = children.get(name);
      if (known === undefined) throw unread(name);
      return known;
    },
  };
}
