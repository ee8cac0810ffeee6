// PostgreSQL specifics the conformance suite cannot see: the change log in commit order under concurrent writers on
// several store instances (a follower reading "after N" never misses a row), migrations once under the advisory lock,
// a newer schema refused, transient failures as StoreError unavailable, and a full disk as StoreError exhausted.
import { create } from "@bufbuild/protobuf";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { BindingSchema, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { StoreError } from "../../src/store/store-error.js";
import { migrations } from "../../src/store/postgres/migrations/index.js";
import { migrations as sqliteMigrations } from "../../src/store/sqlite/migrations/index.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { createPostgresDatabase, postgresAvailable, type PostgresDatabase } from "../helpers/postgres.js";
import { seededRandom } from "../helpers/seed.js";
import { pause } from "../helpers/wait.js";
import { createResource } from "../../src/store/store.js";

const actor = { principal: "user:test@example.com" };
const open = (url: string) => PostgresStore.open({ url, poolSize: 4, statementTimeoutMs: 10_000 });

describe.runIf(postgresAvailable())("postgres store", () => {
  let database: PostgresDatabase;
  const stores: PostgresStore[] = [];
  beforeEach(async () => {
    database = await createPostgresDatabase();
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await database.drop();
  });

  test("concurrent writers on three instances: a follower of 'after N' sees every row, in order, none late", async () => {
    const writers = await Promise.all([1, 2, 3].map(() => open(database.url)));
    stores.push(...writers);
    const WRITES_PER_WRITER = 150;
    const random = seededRandom("postgres-order: spread of the writes");
    await createResource(writers[0]!, { name: "organizations/o", parent: "", type: "organization", displayName: "" }, actor);
    const follower = new pg.Client({ connectionString: database.url });
    await follower.connect();
    let done = false;
    const seen: number[] = [];
    const following = (async () => {
      // Reads "after the last seen" as a Watch follower would; any row that commits later with a smaller number than
      // one already seen would be skipped for ever and show up as a gap at the end.
      while (!done) {
        const after = seen.at(-1) ?? 0;
        const { rows } = await follower.query<{ seq: string }>("SELECT seq FROM change_log WHERE seq > $1 ORDER BY seq", [after]);
        seen.push(...rows.map((row) => Number(row.seq)));
      }
    })();
    const work = writers.flatMap((store, w) =>
      Array.from({ length: WRITES_PER_WRITER }, async (_, i) => {
        // Spread over turns of the event loop, so that batches of different sizes interleave across instances.
        await pause(random() * 200);
        if (i % 3 === 0) {
          await createResource(store, { name: `projects/w${w}_${i}`, parent: "organizations/o", type: "project", displayName: "" }, actor);
        } else {
          const policy = create(PolicySchema, { bindings: [create(BindingSchema, { role: "roles/owner", members: [`user:w${w}i${i}@example.com`] })] });
          await store.updatePolicy("organizations/o", () => policy, actor);
        }
      }),
    );
    await Promise.all(work);
    done = true;
    await following;
    const { rows } = await follower.query<{ seq: string }>("SELECT seq FROM change_log WHERE seq > $1 ORDER BY seq", [seen.at(-1) ?? 0]);
    seen.push(...rows.map((row) => Number(row.seq)));
    await follower.end();
    const total = 1 + writers.length * WRITES_PER_WRITER;
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(Math.max(...writers.map((w) => w.writtenSequence))).toBe(total);
  });

  test("one turn's mixed writes: policy writes batched around resource writes that create and delete", async () => {
    const store = await open(database.url);
    stores.push(store);
    const grant = (member: string) => () => create(PolicySchema, { bindings: [create(BindingSchema, { role: "roles/owner", members: [member] })] });
    await createResource(store, { name: "organizations/a", parent: "", type: "organization", displayName: "" }, actor);
    await createResource(store, { name: "projects/doomed", parent: "organizations/a", type: "project", displayName: "" }, actor);
    const results = await Promise.allSettled([
      store.updatePolicy("projects/doomed", grant("user:1@example.com"), actor),
      store.deleteResource("projects/doomed", () => ({ cascade: false }), actor),
      store.updatePolicy("projects/doomed", grant("user:2@example.com"), actor),
      createResource(store, { name: "projects/new", parent: "organizations/a", type: "project", displayName: "" }, actor),
      store.updatePolicy("projects/new", grant("user:3@example.com"), actor),
      store.updatePolicy("organizations/a", grant("user:4@example.com"), actor),
      store.updatePolicy("organizations/a", (stored) => grant(`${stored.policy.bindings[0]!.members[0]}+5`)(), actor),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
    expect(results[2]).toMatchObject({ reason: { kind: "not_found" } });
    expect((await store.getPolicy("projects/new"))!.policy.bindings[0]!.members).toEqual(["user:3@example.com"]);
    expect((await store.getPolicy("organizations/a"))!.policy.bindings[0]!.members).toEqual(["user:4@example.com+5"]);
    expect((await store.listPolicies({ type: "project", limit: 10 })).map((p) => p.resource.name)).toEqual(["projects/new"]);
    const log = await store.listAuditRecords({ resource: "projects/doomed", limit: 10 });
    expect(log.map((r) => r.action)).toEqual(["resource.create", "policy.set", "resource.delete"]);
  });

  test("changesSince: askers during a look share the next one (started after they asked), not the running one", async () => {
    const [reader, writer] = [await open(database.url), await open(database.url)];
    stores.push(reader, writer);
    const from = await reader.latestSequence();
    await createResource(writer, { name: "organizations/late", parent: "", type: "organization", displayName: "" }, actor);
    const before = (await reader.stats()).queries!.count;
    const [first, second, third] = [1, 2, 3].map(() => reader.changesSince(from, 100));
    expect(second).toBe(third);
    expect(first).not.toBe(second);
    for (const look of [first, second]) expect((await look!).changed).toEqual(["organizations/late"]);
    expect((await reader.stats()).queries!.count - before).toBe(2);
  });

  test("replicas starting together migrate once; a database migrated by a newer server is refused", async () => {
    stores.push(...(await Promise.all([1, 2, 3].map(() => open(database.url)))));
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const applied = (await client.query("SELECT version FROM schema_migrations ORDER BY version")).rows;
    expect(applied).toEqual(migrations.map((m) => ({ version: m.version })));
    // migrate-store relies on it (store-records.ts): a SQLite file at the newest version has the newest PostgreSQL tables.
    expect(migrations.map((m) => [m.version, m.name])).toEqual(sqliteMigrations.map((m) => [m.version, m.name]));
    await client.query("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)");
    await client.end();
    await expect(open(database.url)).rejects.toThrow(/schema version 99, newer than this server knows/);
  });

  test("an unreachable database is StoreError unavailable, and a store recovers once it answers", async () => {
    await expect(open("postgres://root@127.0.0.1:1/none")).rejects.toSatisfy((e) => e instanceof StoreError && e.kind === "unavailable");
    const store = await open(database.url);
    stores.push(store);
    await createResource(store, { name: "organizations/o", parent: "", type: "organization", displayName: "" }, actor);
    // The server ends every connection of the store's pool, as a restart or an operator would.
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
    await admin.end();
    const failures: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      try {
        await store.getResource("organizations/o");
        await store.updatePolicy("organizations/o", () => create(PolicySchema, {}), actor);
      } catch (e) {
        failures.push(e);
      }
    }
    for (const failure of failures) expect(failure).toMatchObject({ name: "StoreError", kind: "unavailable" });
    expect(await store.getResource("organizations/o")).toBeDefined();
  });

  test("a full disk (SQLSTATE 53100) is StoreError exhausted for every write of the batch; reads keep working", async () => {
    const store = await open(database.url);
    stores.push(store);
    await createResource(store, { name: "organizations/o", parent: "", type: "organization", displayName: "" }, actor);
    // The server's own error, as PostgreSQL raises it when it cannot extend a file.
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await admin.query(`CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$`);
    await admin.query("CREATE TRIGGER full_disk BEFORE INSERT ON change_log FOR EACH ROW EXECUTE FUNCTION full_disk()");
    const writes = await Promise.allSettled([
      store.updatePolicy("organizations/o", () => create(PolicySchema, {}), actor),
      createResource(store, { name: "projects/p", parent: "organizations/o", type: "project", displayName: "" }, actor),
    ]);
    for (const write of writes) expect(write).toMatchObject({ status: "rejected", reason: { name: "StoreError", kind: "exhausted" } });
    expect(await store.getResource("organizations/o")).toBeDefined();
    expect(await store.getResource("projects/p")).toBeUndefined();
    await admin.query("DROP TRIGGER full_disk ON change_log");
    await admin.end();
    await createResource(store, { name: "projects/p", parent: "organizations/o", type: "project", displayName: "" }, actor);
  });
});
