// The store for several replicas: PostgreSQL through node-postgres (measured faster than postgres.js here: see
// docs/operations.md). The same tables and contract as sqlite/; writes go through the group-commit queue
// (write-queue.ts), which serialises them under one advisory lock and numbers the change log in commit order.
// Reads are single statements outside any transaction: each sees every commit that finished before it began.
import { create, toBinary } from "@bufbuild/protobuf";
import { PolicySchema, type Policy } from "../../../gen/policy/v1/policy_pb.js";
import { ResourceSchema, type Resource } from "../../../gen/policy/v1/resource_pb.js";
import type pg from "pg";
import { revisionEtag } from "../etag.js";
import { resourceExists, resourceNotFound } from "../errors.js";
import {
  FROM_RESOURCES,
  POLICY_COLUMNS,
  RESOURCE_COLUMNS,
  decodePolicy,
  pathEnd,
  toResource,
  toStoredPolicy,
  type ResourcePolicyRow,
  type ResourceRow,
} from "../rows.js";
import type {
  Actor,
  AuditQuery,
  AuditRecord,
  ChangesSince,
  HierarchyReader,
  ListedPolicy,
  NewResource,
  PolicyQuery,
  ResourceChanges,
  ResourceQuery,
  Store,
  StoreStats,
  StoredPolicy,
} from "../store.js";
import { createPool, guarded, migrate, type PoolOptions } from "./database.js";
import { PgWriteQueue, type WriteTx } from "./write-queue.js";

/** A resource as a write reads it: with its policy, and whether it has children. */
interface WriteRow extends ResourcePolicyRow {
  has_children: boolean;
}

/** The ids on a resource's path ('/1/5/17/' -> {1,5,17}): its lineage by primary key, O(depth). */
const LINEAGE_IDS = `SELECT unnest(string_to_array(trim(BOTH '/' FROM path), '/'))::bigint FROM resources WHERE name = $1`;

const SQL = {
  resourceByName: `SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE r.name = $1`,
  resourcePolicyByName: `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS} ${FROM_RESOURCES}
    LEFT JOIN policies pol ON pol.resource_id = r.id WHERE r.name = $1`,
  forWriteMany: `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS},
      EXISTS (SELECT 1 FROM resources c WHERE c.parent_id = r.id) AS has_children
    ${FROM_RESOURCES} LEFT JOIN policies pol ON pol.resource_id = r.id WHERE r.name = ANY($1::text[])`,
  forWrite: `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS},
      EXISTS (SELECT 1 FROM resources c WHERE c.parent_id = r.id) AS has_children
    ${FROM_RESOURCES} LEFT JOIN policies pol ON pol.resource_id = r.id WHERE r.name = $1`,
  ancestry: `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS} ${FROM_RESOURCES}
    LEFT JOIN policies pol ON pol.resource_id = r.id
    WHERE r.id IN (${LINEAGE_IDS}) ORDER BY length(r.path) DESC`,
  lineage: `SELECT r.name, EXISTS (SELECT 1 FROM resources c WHERE c.parent_id = r.id) AS has_children
    FROM resources r WHERE r.id IN (${LINEAGE_IDS}) ORDER BY length(r.path) DESC`,
  /** Whether the name is taken, and the parent's id and path (none for "" or a missing parent). */
  createCheck: `SELECT EXISTS (SELECT 1 FROM resources WHERE name = $1) AS taken, p.id, p.path
    FROM (SELECT 1) one LEFT JOIN resources p ON p.name = $2`,
  idAndPath: `SELECT id, path FROM resources WHERE name = $1`,
  subtree: `SELECT ${RESOURCE_COLUMNS} ${FROM_RESOURCES} WHERE r.path >= $1 AND r.path < $2
    ORDER BY length(r.path) DESC, r.name`,
  latestSeq: `SELECT COALESCE(MAX(seq), 0) AS seq FROM change_log`,
  changedAfter: `SELECT seq, resource FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2`,
  secret: `SELECT value FROM secrets WHERE name = $1`,
} as const;

const LOG_COLUMNS = `seq, time, principal, action, resource, etag_before, etag_after, change`;

/** Inserts one change-log row; $1-$8 are LOG_COLUMNS. */
const LOG_ONE = `INSERT INTO change_log (${LOG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;

const WRITE = {
  // Each write is one statement: the row change and its change-log row, so a write costs one round trip after its read.
  createResource: `WITH ins AS (
      INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision, create_time, update_time)
      VALUES ($9, $5, $10, $11, $12, $13, $1, $1, $2, $2))
    ${LOG_ONE}`,
  // A move re-roots the subtree (the resource included) in the same UPDATE that changes the resource itself.
  updateResource: `WITH upd AS (
      UPDATE resources SET
        path = CASE WHEN $12::text IS NULL THEN path ELSE $12 || substr(path, length($11) + 1) END,
        parent_id = CASE WHEN id = $9 THEN $10 ELSE parent_id END,
        display_name = CASE WHEN id = $9 THEN $13 ELSE display_name END,
        revision = CASE WHEN id = $9 THEN $1 ELSE revision END,
        update_time = CASE WHEN id = $9 THEN $2 ELSE update_time END
      WHERE id = $9 OR ($12::text IS NOT NULL AND path >= $11 AND path < $14))
    ${LOG_ONE}`,
} as const;

/** The policy rows and change-log rows of a batch's policy writes, in one statement (arrays, one element per row). */
const FLUSH_POLICIES = `WITH pol AS (
    INSERT INTO policies (resource_id, policy, binding_count, revision, update_time)
    SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::integer[], $4::bigint[], $5::bigint[])
    ON CONFLICT (resource_id) DO UPDATE SET policy = excluded.policy, binding_count = excluded.binding_count,
      revision = excluded.revision, update_time = excluded.update_time),
  flag AS (
    UPDATE resources r SET has_bindings = u.bindings > 0 FROM unnest($1::bigint[], $3::integer[]) AS u(id, bindings)
    WHERE r.id = u.id AND r.has_bindings <> (u.bindings > 0))
  INSERT INTO change_log (${LOG_COLUMNS})
  SELECT * FROM unnest($6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::bytea[], $12::bytea[], $13::bytea[])`;

/** A transaction's pending policy writes: rows as the batch left them, the last row per resource, change-log rows. */
interface PolicyBatch {
  rows: Map<string, WriteRow>;
  upserts: Map<number, unknown[]>;
  logs: unknown[][];
}

function policyBatch(tx: WriteTx): PolicyBatch {
  let batch = tx.local.get("policies") as PolicyBatch | undefined;
  if (!batch) {
    batch = { rows: new Map(), upserts: new Map(), logs: [] };
    tx.local.set("policies", batch);
  }
  return batch;
}

/** Writes the batch's pending policy rows; afterwards the batch reads from the database again (resource writes). */
async function flushPolicies(tx: WriteTx): Promise<void> {
  const batch = policyBatch(tx);
  if (batch.logs.length > 0) {
    const columns = (rows: unknown[][], width: number) => Array.from({ length: width }, (_, i) => rows.map((row) => row[i]));
    await tx.query(FLUSH_POLICIES, [...columns([...batch.upserts.values()], 5), ...columns(batch.logs, 8)], "flush_policies");
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
    if (rows.length > limit) return { latest: await this.latestSequence(), changed: "many" };
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

  async createResource(resource: NewResource, actor: Actor): Promise<Resource> {
    return this.queue.write(async (tx) => {
      await flushPolicies(tx);
      const [check] = await tx.query<{ taken: boolean; id: number | null; path: string | null }>(
        SQL.createCheck,
        [resource.name, resource.parent],
        "create_check",
      );
      if (check!.taken) throw resourceExists(resource.name);
      if (resource.parent !== "" && check!.id === null) throw resourceNotFound(resource.parent);
      const id = tx.nextResourceId();
      const seq = tx.nextSeq();
      const time = Date.now();
      const row: ResourceRow = {
        id,
        name: resource.name,
        path: `${check!.path ?? "/"}${id}/`,
        parent: resource.parent === "" ? null : resource.parent,
        type: resource.type,
        display_name: resource.displayName,
        create_seq: seq,
        revision: seq,
        create_time: time,
        update_time: time,
      };
      const created = toResource(row);
      await tx.query(
        WRITE.createResource,
        [...logValues(seq, time, actor, "resource.create", resource.name, null, revisionEtag(seq), toBinary(ResourceSchema, created)),
          id, check!.id, row.path, row.type, row.display_name],
        "create_resource",
      );
      return created;
    });
  }

  async updateResource(
    name: string,
    decide: (current: Resource, hierarchy: HierarchyReader) => ResourceChanges,
    actor: Actor,
  ): Promise<Resource> {
    return this.queue.write(async (tx) => {
      await flushPolicies(tx);
      const current = await this.readForWrite(tx, name);
      const changes = await decideWithPrefetch(tx, current, (hierarchy) => decide(toResource(current), hierarchy));
      const currentParent = current.parent ?? "";
      const parent = changes.parent ?? currentParent;
      let parentId: number | null = null;
      let newPath: string | null = null;
      if (parent !== "") {
        const [target] = await tx.query<{ id: number; path: string }>(SQL.idAndPath, [parent], "id_and_path");
        if (!target) throw resourceNotFound(parent);
        parentId = target.id;
        if (parent !== currentParent) newPath = `${target.path}${current.id}/`;
      } else if (currentParent !== "") {
        newPath = `/${current.id}/`;
      }
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
        [...logValues(seq, time, actor, "resource.update", name, revisionEtag(current.revision), revisionEtag(seq),
          toBinary(ResourceSchema, updated)),
          current.id, parentId, current.path, newPath, updated.displayName, pathEnd(current.path)],
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
      const { cascade } = await decideWithPrefetch(tx, current, (hierarchy) => decide(toResource(current), hierarchy));
      const doomed = cascade && current.has_children
        ? await tx.query<ResourceRow>(SQL.subtree, [current.path, pathEnd(current.path)], "subtree")
        : [current];
      const first = tx.nextSeq(doomed.length);
      const time = Date.now();
      const values: unknown[] = [doomed.map((row) => row.id)];
      const rows = doomed.map((row, i) => {
        const start = values.length;
        values.push(...logValues(first + i, time, actor, "resource.delete", row.name, revisionEtag(row.revision), null, null));
        return `(${Array.from({ length: 8 }, (_, k) => `$${start + k + 1}`).join(", ")})`;
      });
      await tx.query(
        `WITH del AS (DELETE FROM resources WHERE id = ANY($1::bigint[]))
         INSERT INTO change_log (${LOG_COLUMNS}) VALUES ${rows.join(", ")}`,
        values,
      );
      return doomed.map((row) => row.name);
    });
  }

  async getPolicy(resource: string): Promise<StoredPolicy | undefined> {
    const [row] = await this.rows<ResourcePolicyRow>(SQL.resourcePolicyByName, [resource], "resource_policy_by_name");
    return row && toStoredPolicy(row);
  }

  async ancestry(resource: string): Promise<StoredPolicy[] | undefined> {
    const rows = await this.rows<ResourcePolicyRow>(SQL.ancestry, [resource], "ancestry");
    return rows.length === 0 ? undefined : rows.map(toStoredPolicy);
  }

  async listPolicies(query: PolicyQuery): Promise<ListedPolicy[]> {
    const values: unknown[] = [];
    const param = (value: unknown) => `$${values.push(value)}`;
    // r.has_bindings selects the partial index of exactly the rows listed: a page costs O(page size).
    const where = [`r.type = ${param(query.type)}`, "r.has_bindings"];
    if (query.afterCursor !== undefined) where.push(`r.path > ${param(query.afterCursor)}`);
    if (query.beneath !== undefined) {
      const [row] = await this.rows<ResourceRow>(SQL.resourceByName, [query.beneath], "resource_by_name");
      if (!row) return [];
      where.push(`r.path > ${param(row.path)} AND r.path < ${param(pathEnd(row.path))}`);
    }
    const sql = `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS} ${FROM_RESOURCES}
      JOIN policies pol ON pol.resource_id = r.id
      WHERE ${where.join(" AND ")} ORDER BY r.path LIMIT ${param(query.limit)}`;
    return (await this.rows<ResourcePolicyRow>(sql, values)).map((row) => ({ ...toStoredPolicy(row), cursor: row.path }));
  }

  /**
   * Policy writes are batched inside their transaction: the batch's resources are read in one statement before any
   * write runs (prefetchPolicies), each write decides against the state the writes before it in the batch left
   * (PolicyBatch.rows), and the rows are written with their change-log rows in one statement before COMMIT
   * (flushPolicies) — so N policy writes cost four round trips, not 2N + 2, on the one connection that holds the
   * write lock. A resource write flushes them first, since it may depend on them (a delete cascades to policies).
   */
  async updatePolicy(resource: string, decide: (stored: StoredPolicy) => Policy | undefined, actor: Actor): Promise<Policy> {
    return this.queue.write(async (tx) => {
      const batch = policyBatch(tx);
      let row = batch.rows.get(resource);
      if (!row) {
        row = await this.readForWrite(tx, resource);
        batch.rows.set(resource, row);
      }
      const current = toStoredPolicy(row);
      const policy = decide(current);
      const stored = policy ?? create(PolicySchema, {});
      const bytes = toBinary(PolicySchema, { ...stored, etag: new Uint8Array(0) });
      const seq = tx.nextSeq();
      const time = Date.now();
      const action = policy ? "policy.set" : "policy.delete";
      if (batch.upserts.size === 0 && batch.logs.length === 0) tx.beforeCommit(() => flushPolicies(tx));
      batch.upserts.set(row.id, [row.id, bufferOf(bytes), stored.bindings.length, seq, time]);
      batch.logs.push(logValues(seq, time, actor, action, resource, current.policy.etag, revisionEtag(seq), policy ? bytes : null));
      batch.rows.set(resource, { ...row, policy: bytes, policy_revision: seq, policy_update_time: time });
      return decodePolicy(bytes, seq, time);
    }, resource);
  }

  /** Reads the resources of a batch's policy writes, in one statement (see updatePolicy). */
  private async prefetchPolicies(tx: WriteTx, names: string[]): Promise<void> {
    const rows = await tx.query<WriteRow>(SQL.forWriteMany, [names], "for_write_many");
    const batch = policyBatch(tx);
    for (const row of rows) batch.rows.set(row.name, row);
  }

  async listAuditRecords(query: AuditQuery): Promise<AuditRecord[]> {
    const values: unknown[] = [];
    const param = (value: unknown) => `$${values.push(value)}`;
    const where = [`resource = ${param(query.resource)}`, `seq > ${param(query.afterSeq ?? 0)}`];
    if (query.principal !== undefined) where.push(`principal = ${param(query.principal)}`);
    if (query.startMs !== undefined) where.push(`time >= ${param(query.startMs)}`);
    if (query.endMs !== undefined) where.push(`time < ${param(query.endMs)}`);
    const rows = await this.rows<{
      seq: number;
      time: number;
      principal: string;
      action: string;
      resource: string;
      etag_before: Uint8Array | null;
      etag_after: Uint8Array | null;
    }>(`SELECT seq, time, principal, action, resource, etag_before, etag_after FROM change_log
        WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ${param(query.limit)}`, values);
    return rows.map((r) => ({
      seq: r.seq,
      timeMs: r.time,
      principal: r.principal,
      action: r.action,
      resource: r.resource,
      etagBefore: r.etag_before ? new Uint8Array(r.etag_before) : undefined,
      etagAfter: r.etag_after ? new Uint8Array(r.etag_after) : undefined,
    }));
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
    const [row] = await tx.query<WriteRow>(SQL.forWrite, [name], "for_write");
    if (!row) throw resourceNotFound(name);
    return row;
  }
}

/** LOG_ONE's parameters $1-$8. */
function logValues(
  seq: number,
  time: number,
  actor: Actor,
  action: string,
  resource: string,
  etagBefore: Uint8Array | null,
  etagAfter: Uint8Array | null,
  change: Uint8Array | null,
): unknown[] {
  return [seq, time, actor.principal, action, resource, bufferOf(etagBefore), bufferOf(etagAfter), bufferOf(change)];
}

/** node-postgres sends a Buffer as bytea (a plain Uint8Array would be sent as text). */
function bufferOf(bytes: Uint8Array | null): Buffer | null {
  return bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Asked by `decide` of a HierarchyReader and not yet fetched: fetch it, then call `decide` again. */
class Need {
  constructor(readonly name: string) {}
}

/**
 * Calls the synchronous `decide` with a hierarchy read from the database inside the write's transaction. The reader
 * answers from what was fetched; asked for anything else it throws Need, which is fetched (one query: the lineage of
 * a name and whether each link has children) before `decide` runs again — it is pure, so calling it again is allowed.
 * The resource itself is known from its read: a delete or an update without a move needs no query.
 */
async function decideWithPrefetch<T>(tx: WriteTx, current: WriteRow, decide: (hierarchy: HierarchyReader) => T): Promise<T> {
  const lineages = new Map<string, readonly string[] | undefined>();
  const children = new Map<string, boolean>([[current.name, current.has_children]]);
  const reader: HierarchyReader = {
    lineage(name) {
      if (!lineages.has(name)) throw new Need(name);
      return lineages.get(name);
    },
    hasChildren(name) {
      const known = children.get(name);
      if (known === undefined) throw new Need(name);
      return known;
    },
  };
  for (;;) {
    try {
      return decide(reader);
    } catch (e) {
      if (!(e instanceof Need)) throw e;
      const rows = await tx.query<{ name: string; has_children: boolean }>(SQL.lineage, [e.name], "lineage");
      lineages.set(e.name, rows.length === 0 ? undefined : rows.map((row) => row.name));
      if (rows.length === 0) children.set(e.name, false);
      for (const row of rows) children.set(row.name, row.has_children);
    }
  }
}
