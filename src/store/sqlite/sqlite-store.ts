// The embedded default store: better-sqlite3, every write one IMMEDIATE transaction that checks the etag and appends
// the change-log row.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { PolicySchema, SyncStatus, type Policy } from "../../../gen/policy/v1/policy_pb.js";
import { ResourceSchema, type Resource } from "../../../gen/policy/v1/resource_pb.js";
import { ServiceError } from "../../errors.js";
import type { Actor, NewResource, ResourceChanges, ResourceQuery, Store, StoredPolicy } from "../store.js";
import { openDatabase, type Database } from "./database.js";
import { revisionEtag, resourceEtag } from "./revisions.js";

interface ResourceRow {
  id: number;
  name: string;
  parent: string | null;
  type: string;
  display_name: string;
  create_seq: number;
  revision: number;
  create_time: number;
  update_time: number;
}

interface Change {
  seq: number;
  time: number;
  principal: string;
}

interface PolicyRow {
  policy: Uint8Array;
  revision: number;
  update_time: number;
}

const RESOURCE_COLUMNS = `r.id, r.name, p.name AS parent, r.type, r.display_name, r.create_seq, r.revision,
  r.create_time, r.update_time`;
const FROM_RESOURCES = `FROM resources r LEFT JOIN resources p ON p.id = r.parent_id`;

export class SqliteStore implements Store {
  private readonly db: Database;
  private readonly stmt;

  constructor(path: string) {
    this.db = openDatabase(path);
    const db = this.db;
    this.stmt = {
      resourceByName: db.prepare<[string], ResourceRow>(`SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE r.name = ?`),
      idByName: db.prepare<[string], number>(`SELECT id FROM resources WHERE name = ?`).pluck(),
      policyOf: db.prepare<[number], PolicyRow>(`SELECT policy, revision, update_time FROM policies WHERE resource_id = ?`),
      nextSeq: db.prepare<[], number>(`SELECT COALESCE(MAX(seq), 0) + 1 FROM change_log`).pluck(),
      logChange: db.prepare(
        `INSERT INTO change_log (seq, time, principal, action, resource, etag_before, etag_after, change)
         VALUES (@seq, @time, @principal, @action, @resource, @etagBefore, @etagAfter, @change)`,
      ),
      insertResource: db.prepare(
        `INSERT INTO resources (name, parent_id, type, display_name, create_seq, revision, create_time, update_time)
         VALUES (@name, @parentId, @type, @displayName, @seq, @seq, @time, @time)`,
      ),
      updateResource: db.prepare(
        `UPDATE resources SET parent_id = @parentId, display_name = @displayName, revision = @seq, update_time = @time
         WHERE id = @id`,
      ),
      deleteResource: db.prepare<[number]>(`DELETE FROM resources WHERE id = ?`),
      hasChildren: db.prepare<[number], number>(`SELECT 1 FROM resources WHERE parent_id = ? LIMIT 1`).pluck(),
      ancestorIds: db.prepare<[number], number>(
        `WITH RECURSIVE up(id, parent_id) AS (
           SELECT id, parent_id FROM resources WHERE id = ?
           UNION ALL SELECT r.id, r.parent_id FROM resources r JOIN up ON r.id = up.parent_id)
         SELECT id FROM up`,
      ).pluck(),
      subtree: db.prepare<[number], ResourceRow>(
        `WITH RECURSIVE down(id, depth) AS (
           SELECT id, 0 FROM resources WHERE id = ?
           UNION ALL SELECT r.id, down.depth + 1 FROM resources r JOIN down ON r.parent_id = down.id)
         SELECT ${RESOURCE_COLUMNS} FROM down JOIN resources r ON r.id = down.id
           LEFT JOIN resources p ON p.id = r.parent_id
         ORDER BY down.depth DESC, r.name`,
      ),
      upsertPolicy: db.prepare(
        `INSERT INTO policies (resource_id, policy, binding_count, revision, update_time)
         VALUES (@id, @policy, @bindingCount, @seq, @time)
         ON CONFLICT (resource_id) DO UPDATE SET policy = excluded.policy, binding_count = excluded.binding_count,
           revision = excluded.revision, update_time = excluded.update_time`,
      ),
      secret: db.prepare<[string], Uint8Array>(`SELECT value FROM secrets WHERE name = ?`).pluck(),
    };
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
    return (this.db.prepare(sql).all(params) as ResourceRow[]).map(toResource);
  }

  async createResource(resource: NewResource, actor: Actor): Promise<Resource> {
    return this.write(() => {
      if (this.stmt.idByName.get(resource.name) !== undefined) {
        throw new ServiceError("already_exists", `resource "${resource.name}" already exists`);
      }
      const parentId = resource.parent === "" ? null : this.requireId(resource.parent, "parent ");
      const change = this.newChange(actor);
      this.stmt.insertResource.run({ ...resource, parentId, ...change });
      return this.logResourceChange(change, "resource.create", resource.name, null);
    });
  }

  async updateResource(name: string, changes: ResourceChanges, expectedEtag: string, actor: Actor): Promise<Resource> {
    return this.write(() => {
      const current = this.requireResource(name);
      if (resourceEtag(current.revision) !== expectedEtag) throw staleResource();
      let parentId = current.parent === null ? null : this.stmt.idByName.get(current.parent)!;
      if (changes.parent !== undefined) {
        parentId = changes.parent === "" ? null : this.requireId(changes.parent, "parent ");
        if (parentId !== null && this.stmt.ancestorIds.all(parentId).includes(current.id)) {
          throw new ServiceError(
            "invalid_argument",
            `resource.parent: moving "${name}" under "${changes.parent}" would make a cycle (it is "${name}" or below it)`,
            [{ field: "resource.parent", description: `"${changes.parent}" is "${name}" or one of its descendants` }],
          );
        }
      }
      const change = this.newChange(actor);
      this.stmt.updateResource.run({
        id: current.id,
        parentId,
        displayName: changes.displayName ?? current.display_name,
        ...change,
      });
      return this.logResourceChange(change, "resource.update", name, current.revision);
    });
  }

  async deleteResource(name: string, expectedEtag: string | undefined, cascade: boolean, actor: Actor): Promise<string[]> {
    return this.write(() => {
      const current = this.requireResource(name);
      if (expectedEtag !== undefined && resourceEtag(current.revision) !== expectedEtag) throw staleResource();
      if (!cascade && this.stmt.hasChildren.get(current.id) !== undefined) {
        throw new ServiceError(
          "failed_precondition",
          `resource "${name}" has children; delete them first or set cascade to delete the whole subtree`,
        );
      }
      const doomed = cascade ? this.stmt.subtree.all(current.id) : [current];
      const change = this.newChange(actor);
      for (const row of doomed) {
        this.stmt.deleteResource.run(row.id);
        this.logChange(change, "resource.delete", row.name, revisionEtag(row.revision), null, null);
        change.seq++;
      }
      return doomed.map((row) => row.name);
    });
  }

  async getPolicy(resource: string): Promise<StoredPolicy | undefined> {
    const row = this.stmt.resourceByName.get(resource);
    return row && { resource: toResource(row), policy: this.policyOf(row) };
  }

  async putPolicy(resource: string, policy: Policy | undefined, expectedEtag: Uint8Array, actor: Actor): Promise<Policy> {
    return this.write(() => {
      const row = this.requireResource(resource);
      const before = this.policyOf(row).etag;
      if (Buffer.compare(before, expectedEtag) !== 0) {
        throw new ServiceError("aborted", "the policy was changed by another writer; read it again and retry");
      }
      const stored = policy ?? create(PolicySchema, {});
      const bytes = toBinary(PolicySchema, { ...stored, etag: new Uint8Array(0) });
      const change = this.newChange(actor);
      this.stmt.upsertPolicy.run({ id: row.id, policy: bytes, bindingCount: stored.bindings.length, ...change });
      const action = policy ? "policy.set" : "policy.delete";
      this.logChange(change, action, resource, before, revisionEtag(change.seq), policy ? bytes : null);
      return this.policyOf(row);
    });
  }

  async pageTokenKey(): Promise<Uint8Array> {
    return this.stmt.secret.get("page_token_key")!;
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.db.pragma("wal_checkpoint(TRUNCATE)");
    this.db.close();
  }

  /** Runs `fn` in one IMMEDIATE transaction: it holds the write lock from the start, so checks and writes are atomic. */
  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** The change-log sequence and time of a write; call inside the write transaction (writes are serialised). */
  private newChange(actor: Actor): Change {
    return { seq: this.stmt.nextSeq.get()!, time: Date.now(), principal: actor.principal };
  }

  private logChange(
    change: Change,
    action: string,
    resource: string,
    etagBefore: Uint8Array | null,
    etagAfter: Uint8Array | null,
    state: Uint8Array | null,
  ): void {
    this.stmt.logChange.run({ ...change, action, resource, etagBefore, etagAfter, change: state });
  }

  /** Logs a resource create or update with the resource's new state, and returns it. */
  private logResourceChange(change: Change, action: string, name: string, revisionBefore: number | null): Resource {
    const resource = toResource(this.stmt.resourceByName.get(name)!);
    const before = revisionBefore === null ? null : revisionEtag(revisionBefore);
    this.logChange(change, action, name, before, revisionEtag(change.seq), toBinary(ResourceSchema, resource));
    return resource;
  }

  private policyOf(row: ResourceRow): Policy {
    const stored = this.stmt.policyOf.get(row.id);
    if (!stored) {
      return create(PolicySchema, { version: 1, etag: revisionEtag(row.create_seq), syncStatus: SyncStatus.SUCCESS });
    }
    const policy = fromBinary(PolicySchema, stored.policy);
    policy.etag = revisionEtag(stored.revision);
    policy.updateTime = timestampFromMs(stored.update_time);
    // No downstream consumer exists yet, so every revision is delivered as soon as it is written.
    policy.syncStatus = SyncStatus.SUCCESS;
    return policy;
  }

  private requireResource(name: string): ResourceRow {
    const row = this.stmt.resourceByName.get(name);
    if (!row) throw notFound(name, "");
    return row;
  }

  private requireId(name: string, what: string): number {
    const id = this.stmt.idByName.get(name);
    if (id === undefined) throw notFound(name, what);
    return id;
  }
}

function toResource(row: ResourceRow): Resource {
  return create(ResourceSchema, {
    name: row.name,
    parent: row.parent ?? "",
    type: row.type,
    displayName: row.display_name,
    etag: resourceEtag(row.revision),
    createTime: timestampFromMs(row.create_time),
    updateTime: timestampFromMs(row.update_time),
  });
}

function notFound(name: string, what: string): ServiceError {
  return new ServiceError("not_found", `${what}resource "${name}" not found; register it with ResourceService.CreateResource`);
}

function staleResource(): ServiceError {
  return new ServiceError("aborted", "the resource was changed by another writer since its etag was read; read it again and retry");
}
