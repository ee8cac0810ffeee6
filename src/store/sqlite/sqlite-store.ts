// The embedded default store: better-sqlite3, every write one IMMEDIATE transaction that checks the etag and appends
// the change-log row.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { PolicySchema, SyncStatus, type Policy } from "../../../gen/policy/v1/policy_pb.js";
import { ResourceSchema, type Resource } from "../../../gen/policy/v1/resource_pb.js";
import { ServiceError, notFound, staleEtag } from "../../errors.js";
import type {
  Actor,
  AuditQuery,
  AuditRecord,
  ListedPolicy,
  NewResource,
  PolicyQuery,
  ResourceChanges,
  ResourceQuery,
  Store,
  StoredPolicy,
} from "../store.js";
import type Sqlite from "better-sqlite3";
import { deepFreeze } from "../../deep-freeze.js";
import { RecentCache } from "../../recent-cache.js";
import { openDatabase, type Database } from "./database.js";
import { revisionEtag, resourceEtag } from "./revisions.js";

/** The default budget of decoded policies kept in memory (an estimate of their heap size): --cache-mb's default. */
export const DEFAULT_CACHE_MB = 64;
/** More external changes than this since the last read: drop the whole cache instead of reading them one by one. */
const MAX_CHANGES_TO_EVICT = 1000;

interface ResourceRow {
  id: number;
  name: string;
  path: string;
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

const RESOURCE_COLUMNS = `r.id, r.name, r.path, p.name AS parent, r.type, r.display_name, r.create_seq, r.revision,
  r.create_time, r.update_time`;
const FROM_RESOURCES = `FROM resources r LEFT JOIN resources p ON p.id = r.parent_id`;
const POLICY_COLUMNS = `pol.policy, pol.revision AS policy_revision, pol.update_time AS policy_update_time`;

/** A resource row with its policy's columns (null without a policy). */
interface ResourcePolicyRow extends ResourceRow {
  policy: Uint8Array | null;
  policy_revision: number | null;
  policy_update_time: number | null;
}

/**
 * The resource named @name and its ancestors with their policies, from the resource up to the root: one query, the ids
 * taken from the resource's path and looked up by primary key, so its cost is O(depth) whatever the table's size.
 */
export const ANCESTRY_SQL = `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS}
  ${FROM_RESOURCES} LEFT JOIN policies pol ON pol.resource_id = r.id
  WHERE r.id IN (SELECT value FROM json_each(
    '[' || replace(trim((SELECT path FROM resources WHERE name = @name), '/'), '/', ',') || ']'))
  ORDER BY length(r.path) DESC`;

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class SqliteStore implements Store {
  writtenSequence = 0;
  /**
   * Decoded policies with their resources by resource name, for GetPolicy, LookupEffectivePolicy and access checks.
   * Entries are frozen (shared by every reader). This connection's writes evict what they change; other connections'
   * writes are found by `PRAGMA data_version` before every cached read (see syncWithOtherWriters).
   */
  private readonly cache: RecentCache<string, StoredPolicy>;
  /** `PRAGMA data_version` when the cache was last reconciled with the change log. */
  private dataVersion: number;
  /** The change-log sequence up to which other connections' writes have been evicted from the cache. */
  private evictedThrough: number;
  /** Whether other writers were checked for in this turn of the event loop (see syncWithOtherWriters). */
  private syncedThisTurn = false;
  private readonly endTurn = () => {
    this.syncedThisTurn = false;
  };
  private pending: PendingWrite[] = [];
  private readonly statements = new Map<string, Sqlite.Statement>();
  private readonly db: Database;
  private readonly stmt;

  constructor(path: string, cacheBytes = DEFAULT_CACHE_MB * 1024 * 1024) {
    this.cache = new RecentCache(cacheBytes);
    this.db = openDatabase(path);
    const db = this.db;
    this.stmt = {
      resourceByName: db.prepare<[string], ResourceRow>(`SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE r.name = ?`),
      idByName: db.prepare<[string], number>(`SELECT id FROM resources WHERE name = ?`).pluck(),
      policyOf: db.prepare<[number], PolicyRow>(`SELECT policy, revision, update_time FROM policies WHERE resource_id = ?`),
      nextResourceId: db.prepare<[], number>(`SELECT COALESCE(MAX(id), 0) + 1 FROM resources`).pluck(),
      ancestry: db.prepare<[{ name: string }], ResourcePolicyRow>(ANCESTRY_SQL),
      resourcePolicyByName: db.prepare<[string], ResourcePolicyRow>(
        `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS} ${FROM_RESOURCES} LEFT JOIN policies pol ON pol.resource_id = r.id
         WHERE r.name = ?`,
      ),
      nextSeq: db.prepare<[], number>(`SELECT COALESCE(MAX(seq), 0) + 1 FROM change_log`).pluck(),
      logChange: db.prepare(
        `INSERT INTO change_log (seq, time, principal, action, resource, etag_before, etag_after, change)
         VALUES (@seq, @time, @principal, @action, @resource, @etagBefore, @etagAfter, @change)`,
      ),
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
      upsertPolicy: db.prepare(
        `INSERT INTO policies (resource_id, policy, binding_count, revision, update_time)
         VALUES (@id, @policy, @bindingCount, @seq, @time)
         ON CONFLICT (resource_id) DO UPDATE SET policy = excluded.policy, binding_count = excluded.binding_count,
           revision = excluded.revision, update_time = excluded.update_time`,
      ),
      latestSeq: db.prepare<[], number>(`SELECT COALESCE(MAX(seq), 0) FROM change_log`).pluck(),
      dataVersion: db.prepare<[], number>(`PRAGMA data_version`).pluck(),
      changedAfter: db.prepare<[number, number], { seq: number; resource: string }>(
        `SELECT seq, resource FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?`,
      ),
      secret: db.prepare<[string], Uint8Array>(`SELECT value FROM secrets WHERE name = ?`).pluck(),
    };
    this.writtenSequence = this.stmt.latestSeq.get()!;
    this.evictedThrough = this.writtenSequence;
    this.dataVersion = this.stmt.dataVersion.get()!;
  }

  /** Entries and estimated bytes of the policy cache. */
  get cacheUsage(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.weight };
  }

  latestSequence(): number {
    this.syncWithOtherWriters();
    return Math.max(this.writtenSequence, this.evictedThrough);
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

  async createResource(resource: NewResource, actor: Actor): Promise<Resource> {
    return this.write(() => {
      if (this.stmt.idByName.get(resource.name) !== undefined) {
        throw new ServiceError("already_exists", `resource "${resource.name}" already exists`);
      }
      const parentId = resource.parent === "" ? null : this.requireId(resource.parent, "parent resource");
      const id = this.stmt.nextResourceId.get()!;
      const path = `${parentId === null ? "/" : this.stmt.pathOf.get(parentId)}${id}/`;
      const change = this.newChange(actor);
      this.stmt.insertResource.run({ ...resource, id, parentId, path, ...change });
      return this.logResourceChange(change, "resource.create", resource.name, null);
    });
  }

  async updateResource(name: string, changes: ResourceChanges, expectedEtag: string | undefined, actor: Actor): Promise<Resource> {
    return this.write(() => {
      const current = this.requireResource(name);
      if (expectedEtag !== undefined && resourceEtag(current.revision) !== expectedEtag) throw staleEtag("resource");
      let parentId = current.parent === null ? null : this.stmt.idByName.get(current.parent)!;
      if (changes.parent !== undefined && changes.parent !== (current.parent ?? "")) {
        parentId = changes.parent === "" ? null : this.requireId(changes.parent, "parent resource");
        const parentPath = parentId === null ? "/" : this.stmt.pathOf.get(parentId)!;
        if (parentPath.startsWith(current.path)) {
          throw new ServiceError(
            "invalid_argument",
            `resource.parent: moving "${name}" under "${changes.parent}" would make a cycle (it is "${name}" or below it)`,
            [{ field: "resource.parent", description: `"${changes.parent}" is "${name}" or one of its descendants` }],
          );
        }
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
      return this.logResourceChange(change, "resource.update", name, current.revision);
    });
  }

  async deleteResource(name: string, expectedEtag: string | undefined, cascade: boolean, actor: Actor): Promise<string[]> {
    return this.write(() => {
      const current = this.requireResource(name);
      if (expectedEtag !== undefined && resourceEtag(current.revision) !== expectedEtag) throw staleEtag("resource");
      if (!cascade && this.stmt.hasChildren.get(current.id) !== undefined) {
        throw new ServiceError(
          "failed_precondition",
          `resource "${name}" has children; delete them first or set cascade to delete the whole subtree`,
        );
      }
      const doomed = cascade ? this.stmt.subtree.all(current.path, pathEnd(current.path)) : [current];
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
    this.syncWithOtherWriters();
    const cached = this.cache.get(resource);
    if (cached) return cached;
    const row = this.stmt.resourcePolicyByName.get(resource);
    return row && this.remember(row);
  }

  async ancestry(resource: string): Promise<StoredPolicy[] | undefined> {
    this.syncWithOtherWriters();
    const chain: StoredPolicy[] = [];
    for (let name = resource; name !== ""; ) {
      const link = this.cache.get(name);
      if (!link) return this.readAncestry(resource);
      chain.push(link);
      name = link.resource.parent;
    }
    return chain;
  }

  private readAncestry(resource: string): StoredPolicy[] | undefined {
    const rows = this.stmt.ancestry.all({ name: resource });
    return rows.length === 0 ? undefined : rows.map((row) => this.remember(row));
  }

  /** Decodes a row and keeps it in the cache, frozen: readers share it. */
  private remember(row: ResourcePolicyRow): StoredPolicy {
    const stored = deepFreeze(toStoredPolicy(row));
    this.cache.set(row.name, stored, estimatedBytes(row));
    return stored;
  }

  /**
   * Evicts what other connections (other processes on the same file) changed since the last call, so a read made
   * after their commit never sees the state before it. `PRAGMA data_version` changes exactly when another connection
   * commits; the change log names what it changed.
   */
  private syncWithOtherWriters(force = false): void {
    // One check serves the rest of this turn: every request handled until the tick and microtask queues drain
    // arrived before this check (socket data is only read in a new macrotask), so it cannot follow a commit this
    // check missed. The check costs a read transaction (a few µs), and one RPC reads several times.
    if (this.syncedThisTurn && !force) return;
    this.syncedThisTurn = true;
    process.nextTick(this.endTurn);
    const version = this.stmt.dataVersion.get()!;
    if (version === this.dataVersion) return;
    this.dataVersion = version;
    const changes = this.stmt.changedAfter.all(this.evictedThrough, MAX_CHANGES_TO_EVICT + 1);
    if (changes.length > MAX_CHANGES_TO_EVICT) {
      this.cache.clear();
      this.evictedThrough = this.stmt.latestSeq.get()!;
      return;
    }
    for (const change of changes) this.cache.delete(change.resource);
    this.evictedThrough = changes.at(-1)?.seq ?? this.evictedThrough;
  }

  async listPolicies(query: PolicyQuery): Promise<ListedPolicy[]> {
    // r.has_bindings = 1 selects the partial index of exactly the rows listed: a page costs O(page size).
    const where = ["r.type = @type", "r.has_bindings = 1"];
    const params: Record<string, unknown> = { type: query.type, limit: query.limit };
    if (query.afterCursor !== undefined) {
      where.push("r.path > @after");
      params.after = query.afterCursor;
    }
    if (query.beneath !== undefined) {
      const path = this.stmt.resourceByName.get(query.beneath)?.path;
      if (path === undefined) return [];
      where.push("r.path > @prefix AND r.path < @prefixEnd");
      params.prefix = path;
      params.prefixEnd = pathEnd(path);
    }
    const sql = `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS} ${FROM_RESOURCES}
      JOIN policies pol ON pol.resource_id = r.id
      WHERE ${where.join(" AND ")} ORDER BY r.path LIMIT @limit`;
    return (this.prepared(sql).all(params) as ResourcePolicyRow[]).map((row) => ({
      ...toStoredPolicy(row),
      cursor: row.path,
    }));
  }

  async updatePolicy(resource: string, decide: (stored: StoredPolicy) => Policy | undefined, actor: Actor): Promise<Policy> {
    return this.write(() => {
      const row = this.requireResource(resource);
      const current = this.policyOf(row);
      const policy = decide({ resource: toResource(row), policy: current });
      const stored = policy ?? create(PolicySchema, {});
      const bytes = toBinary(PolicySchema, { ...stored, etag: new Uint8Array(0) });
      const change = this.newChange(actor);
      this.stmt.upsertPolicy.run({ id: row.id, policy: bytes, bindingCount: stored.bindings.length, ...change });
      const action = policy ? "policy.set" : "policy.delete";
      this.logChange(change, action, resource, current.etag, revisionEtag(change.seq), policy ? bytes : null);
      return this.policyOf(row);
    });
  }

  async listAuditRecords(query: AuditQuery): Promise<AuditRecord[]> {
    const where = ["resource = @resource", "seq > @after"];
    const params: Record<string, unknown> = { resource: query.resource, after: query.afterSeq ?? 0, limit: query.limit };
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
    const rows = this
      .prepared(`SELECT seq, time, principal, action, resource, etag_before, etag_after FROM change_log
        WHERE ${where.join(" AND ")} ORDER BY seq LIMIT @limit`)
      .all(params) as { seq: number; time: number; principal: string; action: string; resource: string; etag_before: Uint8Array | null; etag_after: Uint8Array | null }[];
    return rows.map((r) => ({
      seq: r.seq,
      timeMs: r.time,
      principal: r.principal,
      action: r.action,
      resource: r.resource,
      etagBefore: r.etag_before ?? undefined,
      etagAfter: r.etag_after ?? undefined,
    }));
  }

  async pageTokenKey(): Promise<Uint8Array> {
    return this.stmt.secret.get("page_token_key")!;
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.db.pragma("wal_checkpoint(TRUNCATE)");
    this.db.close();
  }

  /**
   * Runs `fn` as one write. Writes that arrive in the same turn of the event loop share one IMMEDIATE transaction
   * (group commit): each runs in its own savepoint, so one that throws changes nothing and the others still commit,
   * and all are acknowledged after the single commit (one fsync) returns. Checks and writes stay atomic: the
   * transaction holds the write lock from the start and the writes run one after another inside it.
   */
  private write<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run: fn, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.commitPending());
    });
  }

  private commitPending(): void {
    const batch = this.pending;
    this.pending = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.db.transaction(() => {
        for (const write of batch) {
          try {
            // A transaction function called inside a transaction runs as a savepoint.
            outcomes.push({ ok: true, value: this.db.transaction(write.run)() });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      }).immediate();
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    }
    this.writtenSequence = this.stmt.latestSeq.get()!;
    // Every change-log row up to this commit is either ours (evicted as it was written) or is evicted by this sync,
    // which must really look (not trust this turn's earlier check): the rows before ours are about to be skipped.
    this.syncWithOtherWriters(true);
    this.evictedThrough = Math.max(this.evictedThrough, this.writtenSequence);
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
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

  private logChange(
    change: Change,
    action: string,
    resource: string,
    etagBefore: Uint8Array | null,
    etagAfter: Uint8Array | null,
    state: Uint8Array | null,
  ): void {
    this.stmt.logChange.run({ ...change, action, resource, etagBefore, etagAfter, change: state });
    this.cache.delete(resource);
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
    return stored ? decodePolicy(stored.policy, stored.revision, stored.update_time) : emptyPolicy(row.create_seq);
  }

  private requireResource(name: string): ResourceRow {
    const row = this.stmt.resourceByName.get(name);
    if (!row) throw notFound(name);
    return row;
  }

  private requireId(name: string, what: string): number {
    const id = this.stmt.idByName.get(name);
    if (id === undefined) throw notFound(name, what);
    return id;
  }
}

/** The first path after every path that starts with `path` ('/' + 1 is '0'). */
function pathEnd(path: string): string {
  return `${path.slice(0, -1)}0`;
}

function toStoredPolicy(row: ResourcePolicyRow): StoredPolicy {
  const resource = toResource(row);
  if (row.policy === null) return { resource, policy: emptyPolicy(row.create_seq) };
  return { resource, policy: decodePolicy(row.policy, row.policy_revision!, row.policy_update_time!) };
}

/** Roughly the heap a decoded row takes: its resource and the policy's objects, about six times its encoded size. */
function estimatedBytes(row: ResourcePolicyRow): number {
  return 600 + row.name.length * 2 + (row.policy?.length ?? 0) * 6;
}

function emptyPolicy(createSeq: number): Policy {
  return create(PolicySchema, { version: 1, etag: revisionEtag(createSeq), syncStatus: SyncStatus.SUCCESS });
}

function decodePolicy(bytes: Uint8Array, revision: number, updateTime: number): Policy {
  const policy = fromBinary(PolicySchema, bytes);
  policy.etag = revisionEtag(revision);
  policy.updateTime = timestampFromMs(updateTime);
  // No downstream consumer exists yet, so every revision is delivered as soon as it is written.
  policy.syncStatus = SyncStatus.SUCCESS;
  return policy;
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

