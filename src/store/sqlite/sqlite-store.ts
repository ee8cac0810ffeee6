// The embedded default store on better-sqlite3 (its fixed statements in statements.ts). Every write is one savepoint
// of a group-commit transaction (write-queue.ts) that runs the domain's `decide` and appends the change-log row. No
// cache here: the caching decorator (../caching-store.ts) wraps this store as it wraps any other.
import { toBinary } from "@bufbuild/protobuf";
import type { Policy } from "../../../gen/policy/v1/policy_pb.js";
import { ResourceSchema, type Resource } from "../../../gen/policy/v1/resource_pb.js";
import { SharedPolicyBindingSchema } from "../../../gen/policy/v1/shared_policy_pb.js";
import { statSync } from "node:fs";
import { changeAction } from "../change-actions.js";
import { LINK_SQL, linkPage } from "../links.js";
import { toAttached, toChildDocuments, toDocument } from "../documents.js";
import { documentWrite, policyWrite, type AttachedWrite } from "../attached-write.js";
import { revisionEtag } from "../../etag.js";
import { noteChangeWritten } from "../../tracing/writes.js";
import { prepareStatements, type Statements } from "./statements.js";
import { consumerExists, consumerNotFound, resourceExists, resourceNotFound } from "../store-error.js";
import {
  AUDIT_COLUMNS,
  FROM_RESOURCES,
  POLICY_COLUMNS,
  POLICY_DOCUMENT,
  RESOURCE_COLUMNS,
  decodePolicy,
  deletedPlaces,
  emptyPolicy,
  grantDiff,
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
  type AuditRow,
  type BindingRow,
  type ChangePlace,
  type ConsumerRow,
  type ResourcePolicyRow,
  type ResourceRow,
} from "../rows.js";
import { REPLACED_SQL, USED_SQL, targetUsed, writeRecords, type RecordWriter } from "../store-records.js";
import type {
  StoreRecord,
  ConsumerAcknowledgement,
  ConsumerCreate,
  ConsumerDelete,
  ConsumerWrite,
  Actor,
  ChangeAction,
  BoundRolesQuery,
  ChangeQuery,
  ChangeRecord,
  ChangesSince,
  CreatedResource,
  GrantPoint,
  GrantQuery,
  ListedResource,
  SubtreeQuery,
  ConsumerChanges,
  Retention,
  ResourceFailure,
  StoredConsumer,
  HierarchyReader,
  AuditQuery,
  AuditRecord,
  AttachedDocuments,
  DocumentWrite,
  StoredDocument,
  ListedName,
  ListedPolicy,
  UnreadablePolicy,
  NewResourceWithPolicy,
  PolicyQuery,
  ResourceChanges,
  ResourceQuery,
  ResourceSearch,
  ResourceSearchPage,
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
  StoreSnapshot,
  StoreStats,
  StoredPolicy,
} from "../store.js";
import type Sqlite from "better-sqlite3";
import { openDatabase, type Database } from "./database.js";
import { mapSqliteErrors } from "./sqlite-errors.js";
import { WriteQueue, type WriteQueueOptions } from "./write-queue.js";
import { insertRows, withBatchCache } from "./batch-insert.js";
import { planCreation, type ExistingPlace } from "../batch-create.js";
import { SqliteSnapshot, chainLinks } from "./snapshot.js";

interface Change {
  seq: number;
  time: number;
  principal: string;
}

/** No links counted (DocumentWriteOptions.linksFrom not asked, or no resource yet). */
const NO_LINKS: LinkCount = { count: 0, newest: 0 };

/** A batch creation's read of an existing parent: its id, path and parent's name (NULL for a root). */
const PLACE_SQL = `SELECT r.id, r.path, p.name AS parent FROM resources r LEFT JOIN resources p ON p.id = r.parent_id WHERE r.name = ?`;

export class SqliteStore implements Store {
  writtenSequence = 0;
  /** `PRAGMA data_version` and the newest sequence when changesSince last looked at the change log. */
  private lastLook: { dataVersion: number; latest: number };
  private readonly statements = new Map<string, Sqlite.Statement>();
  private readonly db: Database;
  private readonly queue: WriteQueue;
  private readonly stmt: Statements;

  constructor(
    private readonly path: string,
    options: Pick<WriteQueueOptions, "batchRows"> = {},
  ) {
    this.db = openDatabase(path);
    this.queue = new WriteQueue(
      this.db,
      () => {
        this.writtenSequence = this.stmt.latestSeq.get()!;
      },
      options,
    );
    this.stmt = prepareStatements(this.db);
    this.writtenSequence = this.stmt.latestSeq.get()!;
    this.lastLook = { dataVersion: this.stmt.dataVersion.get()!, latest: this.writtenSequence };
  }

  async latestSequence(): Promise<number> {
    return Math.max(this.writtenSequence, this.stmt.latestSeq.get()!);
  }

  /**
   * `PRAGMA data_version` changes exactly when another connection (another process on the same file) commits: while it
   * has not, every change-log row after the last look is this store's own, and no query is needed.
   */
  async changesSince(afterSeq: number, limit: number): Promise<ChangesSince> {
    const dataVersion = this.stmt.dataVersion.get()!;
    if (dataVersion === this.lastLook.dataVersion && afterSeq >= this.lastLook.latest) {
      return { latest: Math.max(afterSeq, this.writtenSequence), changed: [] };
    }
    const rows = this.stmt.changedAfter.all({ after: afterSeq, limit: limit + 1 });
    // Retention removed rows after afterSeq: what changed in them is unknown.
    if (afterSeq + 1 < (rows[0]?.seq ?? 0)) return { latest: this.stmt.latestSeq.get()!, changed: "many" };
    const latest = rows.length > limit ? this.stmt.latestSeq.get()! : Math.max(afterSeq, rows.at(-1)?.seq ?? 0);
    this.lastLook = { dataVersion, latest };
    return { latest, changed: rows.length > limit ? "many" : rows.map((row) => row.resource) };
  }

  async getResource(name: string): Promise<Resource | undefined> {
    const row = this.stmt.resourceByName.get(name);
    return row && toResource(row);
  }

  async listResources(query: ResourceQuery): Promise<Resource[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: query.limit };
    if (query.parent !== undefined) {
      where.push("r.parent_id = (SELECT id FROM resources WHERE name = @parent)");
      params.parent = query.parent;
    }
    if (query.type !== undefined) {
      where.push("r.type = @type");
      params.type = query.type;
    }
    if (query.afterName !== undefined) {
      where.push("r.name > @after");
      params.after = query.afterName;
    }
    const sql = `SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES}
      ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY r.name LIMIT @limit`;
    return (this.prepared(sql).all(params) as ResourceRow[]).map(toResource);
  }

  async searchResources(query: ResourceSearch): Promise<ResourceSearchPage> {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: query.limit, text: query.text, offset: query.scan - 1 };
    if (query.parent !== undefined) {
      where.push("r.parent_id = (SELECT id FROM resources WHERE name = @parent)");
      params.parent = query.parent;
    }
    if (query.types !== undefined) {
      where.push(`r.type IN (${query.types.map((t, i) => ((params[`t${i}`] = t), `@t${i}`)).join(", ") || "NULL"})`);
    }
    if (query.afterName !== undefined) {
      where.push("r.name > @after");
      params.after = query.afterName;
    }
    const range = where.length ? `WHERE ${where.join(" AND ")}` : "";
    // The last resource the scan may examine (through the name-ordered indexes), then the matches up to it.
    const scannedTo = this.prepared(`SELECT r.name FROM resources r ${range} ORDER BY r.name LIMIT 1 OFFSET @offset`)
      .pluck()
      .get(params) as string | undefined;
    if (scannedTo !== undefined) {
      where.push("r.name <= @scannedTo");
      params.scannedTo = scannedTo;
    }
    where.push("(instr(lower(r.display_name), lower(@text)) > 0 OR instr(lower(r.name), lower(@text)) > 0)");
    const sql = `SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE ${where.join(" AND ")} ORDER BY r.name LIMIT @limit`;
    const resources = (this.prepared(sql).all(params) as ResourceRow[]).map(toResource);
    return { resources, scannedTo };
  }

  async createResources(items: readonly NewResourceWithPolicy[], actor: Actor): Promise<CreatedResource[]> {
    if (items.length === 0) return [];
    // The names the plan reads are the index pages the inserts then change: both run with the batch's page cache. A
    // transaction of its own (writeAlone): the savepoint of a shared one would first copy every page it changes. One
    // item (createResource) is a write as any other, sharing the group commit.
    const write = items.length === 1 ? this.queue.write.bind(this.queue) : this.queue.writeAlone.bind(this.queue);
    return write(() => withBatchCache(this.db, items.length, () => {
      // A parent's place in one read (its id, path and parent's name), its lineage from its parent's place, each read
      // once per batch: an import into many clouds has as many parents as items.
      const placeRow = this.prepared(PLACE_SQL);
      const places = new Map<string, ExistingPlace | undefined>();
      const place = (name: string): ExistingPlace | undefined => {
        if (places.has(name)) return places.get(name);
        const row = placeRow.get(name) as { id: number; path: string; parent: string | null } | undefined;
        const found = row && { id: row.id, path: row.path, lineage: [name, ...(row.parent === null ? [] : place(row.parent)!.lineage)] };
        places.set(name, found);
        return found;
      };
      const reader = { taken: (name: string) => this.stmt.idByName.get(name) !== undefined, place };
      const next = { id: this.stmt.nextResourceId.get()!, seq: this.stmt.nextSeq.get()!, time: Date.now() };
      const plan = planCreation(items, actor, reader, next);
      const prepared = (sql: string) => this.prepared(sql);
      // Resources first: the other rows reference them. has_bindings is set by the documents' insert trigger.
      insertRows("resources", plan.resources, prepared);
      insertRows("documents", plan.documents, prepared);
      insertRows("grants", plan.grants, prepared);
      insertRows("changes", plan.changes, prepared);
      for (const change of plan.changes) noteChangeWritten(change[0] as number);
      return plan.outcomes;
    }));
  }

  async updateResource(
    name: string,
    decide: (current: Resource, hierarchy: HierarchyReader) => ResourceChanges,
    actor: Actor,
  ): Promise<Resource> {
    return this.queue.write(() => {
      const current = this.requireResource(name);
      const changes = decide(toResource(current), this.hierarchy);
      let parentId = current.parent === null ? null : this.stmt.idByName.get(current.parent)!;
      const before = this.placeOf(name);
      const newParent = changes.parent;
      const moves = newParent !== undefined && newParent !== (current.parent ?? "");
      if (moves) {
        parentId = newParent === "" ? null : this.requireId(newParent);
        const parentPath = parentId === null ? "/" : this.stmt.pathOf.get(parentId)!;
        const oldPath = current.path;
        this.stmt.movePaths.run({ oldPath, oldPathEnd: pathEnd(oldPath), newPath: `${parentPath}${current.id}/` });
      }
      const change = this.newChange(actor);
      this.stmt.updateResource.run({
        id: current.id,
        parentId,
        displayName: changes.displayName ?? current.display_name,
        ...change,
      });
      const place = moves
        ? { ...this.placeOf(name), previousParent: before.parent, previousLineage: before.lineage }
        : before;
      return this.logResourceChange(change, changeAction("resource", "update"), name, current.revision, place);
    });
  }

  async deleteResource(
    name: string,
    decide: (current: Resource, hierarchy: HierarchyReader) => { cascade: boolean },
    actor: Actor,
  ): Promise<string[]> {
    return this.queue.write(() => {
      const current = this.requireResource(name);
      const { cascade } = decide(toResource(current), this.hierarchy);
      const doomed = cascade ? this.stmt.subtree.all(current.path, pathEnd(current.path)) : [current];
      const places = deletedPlaces(doomed, this.hierarchy.lineage(name)!);
      const change = this.newChange(actor);
      // Each row's deny rules are read before any row goes (a binding goes with its target).
      const removals = doomed.map((row) => this.removalBytes(row));
      doomed.forEach((row, i) => {
        this.stmt.deleteResource.run(row.id);
        this.logChange(change, changeAction("resource", "delete"), row.name, revisionEtag(row.revision), null, removals[i]!, places[i]!);
        change.seq++;
      });
      return doomed.map((row) => row.name);
    });
  }

  /** What `decide` callbacks read, inside the write's transaction. */
  private readonly hierarchy: HierarchyReader = {
    lineage: (name) => {
      const names = this.stmt.lineage.all({ name });
      return names.length === 0 ? undefined : names;
    },
    hasChildren: (name) => {
      const id = this.stmt.idByName.get(name);
      return id !== undefined && this.stmt.hasChildren.get(id) !== undefined;
    },
  };

  async getPolicy(resource: string): Promise<StoredPolicy | undefined> {
    const row = this.stmt.resourcePolicyByName.get(resource);
    return row && this.links([row])[0];
  }

  async ancestry(resource: string): Promise<StoredPolicy[] | undefined> {
    const rows = this.stmt.ancestry.all({ name: resource });
    return rows.length === 0 ? undefined : this.links(rows);
  }

  private links(rows: readonly ResourcePolicyRow[]): StoredPolicy[] {
    return chainLinks(this.stmt, rows);
  }

  async openSnapshot(): Promise<StoreSnapshot> {
    return SqliteSnapshot.open(this.path);
  }

  /** One transaction on the store's connection, held across the pages (nothing else writes: Store.importRecords). */
  async importRecords(pages: AsyncIterable<readonly StoreRecord[]>): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    // The batches' statements, parsed once for this import (a full batch's text repeats).
    const statements = new Map<string, Sqlite.Statement>();
    const writer: RecordWriter = {
      run: (sql, values) => {
        let statement = statements.get(sql);
        if (!statement) statements.set(sql, (statement = this.db.prepare(sql)));
        return statement.run(values).changes;
      },
      // Blobs bind as Buffers.
      rows: (_, rows) => ({
        sql: `(VALUES ${rows.map((row) => `(${row.map(() => "?").join(", ")})`).join(", ")}) AS v`,
        values: rows.flat().map((value) => (value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value) : value)),
      }),
      batch: 500,
    };
    this.db.exec("BEGIN IMMEDIATE");
    try {
      if (this.db.prepare<[], number>(USED_SQL).pluck().get()) throw targetUsed();
      for (const sql of REPLACED_SQL) this.db.exec(sql);
      for await (const page of pages) await writeRecords(writer, page, counts);
      this.db.exec("COMMIT");
    } finally {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
    }
    this.writtenSequence = this.stmt.latestSeq.get()!;
    return counts;
  }


  async listLinks(kind: string, query: LinkQuery): Promise<StoredLink[]> {
    const { sql, values } = linkPage(kind, query);
    return (this.prepared(LINK_SQL[sql]).all(values) as BindingRow[]).map(toLink);
  }

  async updateLink(
    kind: LinkKind,
    from: string,
    to: string,
    decide: (state: LinkState) => boolean,
    actor: Actor,
  ): Promise<StoredLink | undefined> {
    return this.queue.write(() => {
      const fromDocuments = toAttached(this.stmt.documentsOf.all({ kind: kind.from, resource: from, key: null }));
      if (!fromDocuments || fromDocuments.documents.length === 0) throw resourceNotFound(from);
      const fromId = this.stmt.idByName.get(from)!;
      const toRow = this.requireResource(to);
      const ends = { kind: kind.name, from: fromId, to: toRow.id };
      const row = this.stmt.linkOf.get(ends);
      const stored = row && toLink(row);
      const linked = decide({
        stored,
        from: fromDocuments,
        to: toResource(toRow),
        toLineage: this.hierarchy.lineage(to)!,
        linksTo: this.stmt.linksToCount.get({ kind: kind.name, to: toRow.id })!,
        linksFrom: this.stmt.linksFromStats.get({ kind: kind.name, from: fromId })!.count,
      });
      if (linked === (row !== undefined)) return stored;
      const change = this.newChange(actor);
      if (linked) {
        this.stmt.insertLink.run({ ...ends, seq: change.seq, time: change.time });
        const created = this.stmt.linkOf.get(ends)!;
        this.logLink(change, changeAction(kind.name, "create"), created);
        return toLink(created);
      }
      this.stmt.deleteLink.run(ends);
      this.logLink(change, changeAction(kind.name, "delete"), row!);
      return stored;
    });
  }

  /**
   * A link's change-log row, against its `to` end (caches following the log evict its chain link); its bytes are a
   * shared-policy binding's, the one kind of link the log's readers know (rows.ts, toBinding).
   */
  private logLink(change: Change, action: ChangeAction, binding: BindingRow): void {
    const created = action.endsWith(".create");
    const etag = revisionEtag(binding.create_seq);
    const bytes = toBinary(SharedPolicyBindingSchema, toBinding(binding));
    this.logChange(change, action, binding.target, created ? null : etag, created ? etag : null, bytes, this.placeOf(binding.target));
  }

  listDocuments(kind: string, resource: string, key?: string): Promise<AttachedDocuments | undefined>;
  listDocuments(kind: string, query: ChildDocumentsQuery): Promise<ResourceDocuments[]>;
  async listDocuments(
    kind: string,
    at: string | ChildDocumentsQuery,
    key?: string,
  ): Promise<AttachedDocuments | undefined | ResourceDocuments[]> {
    if (typeof at === "string") return toAttached(this.stmt.documentsOf.all({ kind, resource: at, key: key ?? null }));
    return toChildDocuments(this.stmt.childDocuments.all({ kind, parent: at.parent, after: at.afterName ?? "", limit: at.limit }));
  }

  async updateDocument(
    kind: string,
    resource: string,
    key: string,
    decide: (stored: AttachedDocuments | undefined, links: LinkCount) => DocumentWrite | DocumentRemoval,
    actor: Actor,
    options: DocumentWriteOptions = {},
  ): Promise<StoredDocument | undefined> {
    const read = () => {
      const attached = toAttached(this.stmt.documentsOf.all({ kind, resource, key }));
      if (!attached && !options.owned) throw resourceNotFound(resource);
      if (attached && options.owned && attached.documents.length === 0) throw resourceExists(resource);
      const row = attached && this.stmt.resourceByName.get(resource)!;
      const links = row && options.linksFrom ? this.stmt.linksFromStats.get({ kind: options.linksFrom, from: row.id })! : NO_LINKS;
      return { row, state: { attached, links } };
    };
    const written = await this.writeAttached(actor, resource, read, ({ attached, links }) => {
      const write = decide(attached, links);
      return "remove" in write ? write : documentWrite(kind, key, write);
    });
    return written && toDocument(key, written.write.body, written.change.seq, written.change.time);
  }

  /**
   * The one write path of an attached object (updatePolicy, updateDocument), in one savepoint: `read` the resource
   * (undefined when it does not exist) and what `decide` is given, `decide`, then the body in its slot, the
   * member-index rows and the change-log row — or, for an owned document, its resource's creation or removal.
   */
  private writeAttached<S>(
    actor: Actor,
    resource: string,
    read: () => { row: ResourceRow | undefined; state: S },
    decide: (state: S) => AttachedWrite | DocumentRemoval,
  ): Promise<{ write: AttachedWrite; change: Change } | undefined> {
    return this.queue.write(() => {
      let { row, state } = read();
      const write = decide(state);
      const change = this.newChange(actor);
      if ("remove" in write) {
        if (!row) throw resourceNotFound(resource);
        this.removeOwner(change, resource, row.id, write);
        return undefined;
      }
      if (!row) {
        if (!write.create) throw resourceNotFound(resource);
        const parentId = this.requireId(write.create.parent);
        const id = this.stmt.nextResourceId.get()!;
        const path = `${this.stmt.pathOf.get(parentId)}${id}/`;
        this.stmt.insertResource.run({ id, name: resource, parentId, path, type: write.create.type, displayName: "", ...change });
        row = this.stmt.resourceByName.get(resource)!;
      }
      const { id, path } = row;
      const { slot, body } = write;
      // An access policy's documents row also sets resources.has_bindings (its triggers, migration 0011).
      this.stmt.upsertDocument.run({ id, kind: slot.kind, key: slot.key, body, entries: slot.entries, ...change });
      if (write.pathGrants) {
        // An access policy's index rows are keyed by path: only the rows that change are written, so a rewrite of a
        // large policy with the same members writes none, and its transaction (which holds the event loop) stays short.
        const { added, removed } = grantDiff(write.pathGrants.before(), write.pathGrants.after);
        for (const grant of removed) this.stmt.deleteGrant.run({ ...grant, path });
        for (const grant of added) this.stmt.insertGrant.run({ ...grant, path, id });
      } else if (write.grants) {
        this.stmt.clearSharedGrants.run(id);
        for (const grant of write.grants) this.stmt.insertSharedGrant.run({ ...grant, id });
      }
      const place = { resourceType: row.type, parent: row.parent ?? "", lineage: this.hierarchy.lineage(resource)! };
      this.logChange(change, write.action, resource, write.etagBefore, revisionEtag(change.seq), write.logged, place);
      return { write, change };
    });
  }

  /** An owned document's removal: its links of `unlink` (a row each), then its resource (which takes the rest). */
  private removeOwner(change: Change, name: string, id: number, removal: DocumentRemoval): void {
    const place = this.placeOf(name);
    if (removal.unlink) {
      for (const link of this.stmt.linksFrom.all({ kind: removal.unlink, from: id })) {
        this.stmt.deleteLink.run({ kind: removal.unlink, from: id, to: this.stmt.idByName.get(link.target)! });
        this.logLink(change, changeAction(removal.unlink, "delete"), link);
        change.seq++;
      }
    }
    // The resource row's delete cascades to its documents (its access policy among them) and any link left.
    const removed = this.removalBytes(this.stmt.resourceByName.get(name)!);
    this.stmt.deleteResource.run(id);
    this.logChange(change, removal.action, name, removal.etagBefore, null, removed, place);
  }

  listPolicies(query: PolicyQuery & { namesOnly: true }): Promise<ListedName[]>;
  listPolicies(query: PolicyQuery): Promise<(ListedPolicy | UnreadablePolicy)[]>;
  async listPolicies(query: PolicyQuery & { namesOnly?: true }): Promise<ListedName[] | (ListedPolicy | UnreadablePolicy)[]> {
    if (query.namesOnly) return this.policyNames(query);
    const filter = this.policyListing(query);
    if (!filter) return [];
    const sql = `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS} ${FROM_RESOURCES}
      JOIN ${POLICY_DOCUMENT}
      WHERE ${filter.where} ORDER BY r.path LIMIT @limit`;
    return (this.prepared(sql).all(filter.params) as ResourcePolicyRow[]).map((row) => listedRow(row, row.path));
  }

  private policyNames(query: PolicyQuery): ListedName[] {
    const filter = this.policyListing(query);
    if (!filter) return [];
    // Rows as arrays (raw): a page of names is read on every ListPolicies call.
    const sql = `SELECT r.name, r.path, pol.revision FROM resources r JOIN ${POLICY_DOCUMENT}
      WHERE ${filter.where} ORDER BY r.path LIMIT @limit`;
    const rows = this.prepared(sql).raw(true).all(filter.params) as [string, string, number][];
    return rows.map(([name, cursor, revision]) => ({ name, cursor, revision }));
  }

  /** The WHERE clause of a policy listing and its parameters; undefined when `beneath` does not exist. */
  private policyListing(query: PolicyQuery): { where: string; params: Record<string, unknown> } | undefined {
    // r.has_bindings = 1 selects the partial index of exactly the rows listed: a page costs O(page size).
    const where = ["r.type = @type", "r.has_bindings = 1"];
    const params: Record<string, unknown> = { type: query.type, limit: query.limit };
    if (query.afterCursor !== undefined) {
      where.push("r.path > @after");
      params.after = query.afterCursor;
    }
    if (query.beneath !== undefined) {
      const path = this.stmt.pathByName.get(query.beneath);
      if (path === undefined) return undefined;
      where.push("r.path > @prefix AND r.path < @prefixEnd");
      params.prefix = path;
      params.prefixEnd = pathEnd(path);
    }
    return { where: where.join(" AND "), params };
  }

  listGrantPoints(query: GrantQuery): Promise<GrantPoint[]>;
  listGrantPoints(query: BoundRolesQuery): Promise<string[]>;
  async listGrantPoints(query: GrantQuery | BoundRolesQuery): Promise<GrantPoint[] | string[]> {
    if ("boundRoles" in query) return this.boundRoles(query.members);
    let from = query.fromCursor ?? "";
    let end = "\uffff";
    if (query.beneath !== undefined) {
      const path = this.stmt.pathByName.get(query.beneath);
      if (path === undefined) return [];
      if (from < path) from = path;
      end = pathEnd(path);
    }
    // Each (member, role) pair is one ordered range of the primary key, plus the targets of the shared policies that
    // bind it; the first `limit` of their union is among the first `limit` of each.
    const paths = new Set<string>();
    for (const member of query.members) {
      for (const role of query.roles) {
        const range = { member, role, from, end, limit: query.limit };
        for (const path of this.stmt.grantPaths.all(range)) paths.add(path);
        for (const path of this.stmt.sharedGrantPaths.all(range)) paths.add(path);
      }
    }
    return [...paths]
      .sort()
      .slice(0, query.limit)
      .map((path) => ({ name: this.stmt.nameByPath.get(path)!, cursor: path, subtreeEnd: pathEnd(path) }));
  }

  private boundRoles(members: readonly string[]): string[] {
    const roles = new Set<string>();
    for (const member of members) for (const role of this.stmt.boundRoles.all({ member })) roles.add(role);
    return [...roles].sort();
  }

  async listSubtree(query: SubtreeQuery): Promise<ListedResource[]> {
    const path = this.stmt.pathByName.get(query.root);
    if (path === undefined) return [];
    // The root's own path is the smallest of its subtree: "after" anything just below it includes it.
    const after = query.afterCursor !== undefined && query.afterCursor >= path ? query.afterCursor : path.slice(0, -1);
    return this.stmt.subtreeOfType
      .all({ type: query.type, after, end: pathEnd(path), limit: query.limit })
      .map((row) => ({ resource: toResource(row), cursor: row.path }));
  }

  async updatePolicy(resource: string, decide: (stored: StoredPolicy) => Policy | undefined, actor: Actor): Promise<Policy> {
    const read = () => {
      const row = this.requireResource(resource);
      return { row, state: { row, current: this.policyOf(row) } };
    };
    const written = await this.writeAttached(actor, resource, read, ({ row, current }) =>
      policyWrite(current, decide({ resource: toResource(row), createSeq: row.create_seq, policy: current })),
    );
    const { write, change } = written!;
    return decodePolicy(write.body, change.seq, change.time);
  }

  async listAuditRecords(query: AuditQuery): Promise<AuditRecord[]> {
    const where = ["seq > @after"];
    const params: Record<string, unknown> = { resource: query.resource, after: query.afterSeq ?? 0, limit: query.limit };
    if (query.descendants) {
      // Lineages are JSON arrays of names: the quoted name is in them exactly when the resource was on the chain.
      where.push("(resource = @resource OR instr(lineage, @quoted) > 0 OR instr(COALESCE(previous_lineage, ''), @quoted) > 0)");
      params.quoted = JSON.stringify(query.resource);
    } else where.push("resource = @resource");
    if (query.beforeSeq !== undefined) {
      where.push("seq < @before");
      params.before = query.beforeSeq;
    }
    if (query.actions !== undefined) {
      where.push(`action IN (${query.actions.map((a, i) => ((params[`a${i}`] = a), `@a${i}`)).join(", ") || "NULL"})`);
    }
    if (query.principal !== undefined) {
      where.push("principal = @principal");
      params.principal = query.principal;
    }
    if (query.startMs !== undefined) {
      where.push("time >= @start");
      params.start = query.startMs;
    }
    if (query.endMs !== undefined) {
      where.push("time < @end");
      params.end = query.endMs;
    }
    // Names are unique at any moment: every row of the name since the current resource's creation is about it.
    if (query.currentOnly) where.push("seq >= (SELECT create_seq FROM resources WHERE name = @resource)");
    const sql = `SELECT ${AUDIT_COLUMNS} FROM change_log WHERE ${where.join(" AND ")}
      ORDER BY seq ${query.newestFirst ? "DESC" : ""} LIMIT @limit`;
    return (this.prepared(sql).all(params) as AuditRow[]).map(toAuditRecord);
  }

  async readChanges(query: ChangeQuery): Promise<ChangeRecord[]> {
    if ("at" in query) return query.at.length === 0 ? [] : this.stmt.changesAt.all(JSON.stringify(query.at)).map(toChangeRecord);
    if ("removalOf" in query) {
      const row = this.stmt.removalOf.get({ name: query.removalOf, from: query.fromSeq });
      return row ? [toChangeRecord(row)] : [];
    }
    const { afterSeq, limit, maxBytes } = query;
    if (maxBytes === undefined) return this.stmt.readChanges.all({ after: afterSeq, limit }).map(toChangeRecord);
    // Sizes first (one synchronous turn with the read: no write comes between), then only the rows that fit.
    let through = afterSeq;
    let bytes = 0;
    for (const { seq, size } of this.stmt.changeSizes.iterate(afterSeq, limit)) {
      if (through > afterSeq && bytes + size > maxBytes) break;
      through = seq;
      bytes += size;
    }
    return through === afterSeq ? [] : this.stmt.readChangesThrough.all(afterSeq, through).map(toChangeRecord);
  }

  async pruneChanges(retention: Retention): Promise<number> {
    return this.queue.write(() => {
      let removed = 0;
      if (retention.beforeMs !== undefined) removed += this.stmt.pruneBefore.run(retention.beforeMs).changes;
      if (retention.keepLast !== undefined) removed += this.stmt.pruneKeeping.run(Math.max(1, retention.keepLast)).changes;
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
    const sql = this.stmt.consumers;
    return this.queue.write(() => {
      if (sql.consumer.get({ name: consumer.name })) throw consumerExists(consumer.name);
      admit?.((sql.consumersOfRoot.get({ root: consumer.root }) as { n: number }).n);
      const version = (sql.tickConsumerClock.get() as { version: number }).version;
      const resourceTypes = JSON.stringify(consumer.resourceTypes);
      return toConsumer(sql.insertConsumer.get({ ...consumer, resourceTypes, time: timeMs, version }) as ConsumerRow);
    });
  }

  async consumerChanges(afterVersion: number): Promise<ConsumerChanges> {
    const sql = this.stmt.consumers;
    const clock = sql.consumerClock.get() as { version: number; last_delete: number };
    if (clock.version === afterVersion) return { version: afterVersion, changed: [] };
    const changed = (sql.consumersAfter.all({ after: afterVersion }) as ConsumerRow[]).map(toConsumer);
    return clock.last_delete > afterVersion
      ? { version: clock.version, changed, names: sql.consumerNames.pluck().all() as string[] }
      : { version: clock.version, changed };
  }

  async listResourceFailures(resource: string, consumers: readonly string[]): Promise<ResourceFailure[]> {
    if (consumers.length === 0) return [];
    return this.stmt.resourceFailures.all(JSON.stringify(consumers), resource).map(toResourceFailure);
  }

  private async deleteConsumer(name: string): Promise<void> {
    const sql = this.stmt.consumers;
    await this.queue.write(() => {
      if (sql.deleteConsumer.run({ name }).changes === 0) throw consumerNotFound(name);
      sql.tickConsumerDelete.get();
    });
  }

  private async acknowledge({ acknowledge: name, ack, admit }: ConsumerAcknowledgement): Promise<StoredConsumer> {
    const sql = this.stmt.consumers;
    return this.queue.write(() => {
      if (!sql.consumer.get({ name })) throw consumerNotFound(name);
      const stored = sql.failureResources.pluck().all({ name }) as string[];
      const failureCount = failuresAfter(stored, ack);
      admit?.({ before: stored.length, after: failureCount });
      const version = (sql.tickConsumerClock.get() as { version: number }).version;
      const row = sql.acknowledge.get({ name, upTo: ack.upTo, time: ack.timeMs, failureCount, version }) as ConsumerRow;
      for (const f of ack.failures) this.stmt.upsertFailure.run({ name, ...f, time: ack.timeMs });
      for (const resource of ack.resolved) this.stmt.resolveFailure.run(name, resource);
      return toConsumer(row);
    });
  }

  async pageTokenKey(): Promise<Uint8Array> {
    return this.stmt.secret.get("page_token_key")!;
  }

  async stats(): Promise<StoreStats> {
    if (this.path === ":memory:") return {};
    return { sizeBytes: [this.path, `${this.path}-wal`].reduce((sum, file) => sum + sizeOf(file), 0) };
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    try {
      this.db.pragma("wal_checkpoint(TRUNCATE)");
    } catch {
      // A full disk (or locked file) fails the checkpoint only: every commit is in the WAL, which the next open
      // replays, so closing without it loses nothing.
    }
    this.db.close();
  }

  /**
   * The prepared statement of a query built from optional filters: there are only a few shapes, so each is parsed
   * once instead of on every list request.
   */
  private prepared(sql: string): Sqlite.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** The change-log sequence and time of a write; call inside the write transaction (writes are serialised). */
  private newChange(actor: Actor): Change {
    return { seq: this.stmt.nextSeq.get()!, time: Date.now(), principal: actor.principal };
  }

  /** What the removal row of `row`'s resource keeps: the deny rules of its own link (rows.ts, removalBytes). */
  private removalBytes(row: ResourceRow): Uint8Array {
    return removalBytes(row.name, this.stmt.denyOf.get(row.id)?.policy, this.stmt.sharedContentBoundTo.all(row.id));
  }

  private logChange(
    change: Change,
    action: ChangeAction,
    resource: string,
    etagBefore: Uint8Array | null,
    etagAfter: Uint8Array | null,
    state: Uint8Array | null,
    place: ChangePlace,
  ): void {
    noteChangeWritten(change.seq);
    this.stmt.logChange.run({
      ...change,
      action,
      resource,
      etagBefore,
      etagAfter,
      change: state,
      ...placeColumns(place),
    });
  }

  /** Logs a resource create or update with the resource's new state, and returns it. */
  private logResourceChange(
    change: Change,
    action: ChangeAction,
    name: string,
    revisionBefore: number | null,
    place: ChangePlace,
  ): Resource {
    const resource = toResource(this.stmt.resourceByName.get(name)!);
    const before = revisionBefore === null ? null : revisionEtag(revisionBefore);
    this.logChange(change, action, name, before, revisionEtag(change.seq), toBinary(ResourceSchema, resource), place);
    return resource;
  }

  /** The resource's type, parent and lineage now (inside a write transaction: as the change finds them). */
  private placeOf(name: string): ChangePlace {
    const row = this.stmt.resourceByName.get(name)!;
    return { resourceType: row.type, parent: row.parent ?? "", lineage: this.hierarchy.lineage(name)! };
  }

  private policyOf(row: ResourceRow): Policy {
    const stored = this.stmt.policyOf.get(row.id);
    return stored ? decodePolicy(stored.policy, stored.revision, stored.update_time) : emptyPolicy(row.create_seq);
  }

  private requireResource(name: string): ResourceRow {
    const row = this.stmt.resourceByName.get(name);
    if (!row) throw resourceNotFound(name);
    return row;
  }

  private requireId(name: string): number {
    const id = this.stmt.idByName.get(name);
    if (id === undefined) throw resourceNotFound(name);
    return id;
  }
}

// Disk full and lock contention reach the domain as plain store errors, from every read and write.
mapSqliteErrors(SqliteStore.prototype);

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
