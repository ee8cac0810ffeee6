// Migrations 4 and 6 (the member index, of policies and of shared policies) on a database written before them: the
// policies and shared policies already stored are indexed.
import { create } from "@bufbuild/protobuf";
import Sqlite from "better-sqlite3";
import { join } from "node:path";
import pg from "pg";
import { afterEach, expect, test } from "vitest";
import { BindingSchema, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import type { Store } from "../../src/store/store.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { createPostgresDatabase, postgresAvailable } from "../helpers/postgres.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";

const actor = { principal: "user:test@example.com" };
let dir: string | undefined;
afterEach(() => dir && removeDir(dir));

test("opening a database of schema version 2 indexes the bindings of its stored policies", async () => {
  dir = tempDir();
  const path = join(dir, "policy.db");
  const before = new SqliteStore(path);
  await before.createResource({ name: "organizations/acme", parent: "", type: "organization", displayName: "" }, actor);
  await before.createResource({ name: "projects/p1", parent: "organizations/acme", type: "project", displayName: "" }, actor);
  const policy = create(PolicySchema, {
    version: 1,
    bindings: [create(BindingSchema, { role: "roles/owner", members: ["user:ada@example.com", "group:eng"] })],
  });
  await before.updatePolicy("projects/p1", () => policy, actor);
  await before.close();
  // Back to version 2, as a server before this migration left it.
  const raw = new Sqlite(path);
  raw.exec("DROP TRIGGER member_grants_follow_moves; DROP TABLE member_grants; DELETE FROM schema_migrations WHERE version = 4");
  raw.close();

  const after = new SqliteStore(path);
  const points = await after.listGrantPoints({ members: ["group:eng"], roles: ["roles/owner"], limit: 10 });
  expect(points.map((p) => p.name)).toEqual(["projects/p1"]);
  await after.close();
});

test.runIf(postgresAvailable())("PostgreSQL: a database of schema version 3 gets the bindings of its stored policies indexed", async () => {
  const database = await createPostgresDatabase();
  try {
    const open = () => PostgresStore.open({ url: database.url, poolSize: 2, statementTimeoutMs: 10_000 });
    const before = await open();
    await before.createResource({ name: "organizations/acme", parent: "", type: "organization", displayName: "" }, actor);
    await before.createResource({ name: "projects/p1", parent: "organizations/acme", type: "project", displayName: "" }, actor);
    const policy = create(PolicySchema, {
      version: 1,
      bindings: [create(BindingSchema, { role: "roles/owner", members: ["user:ada@example.com", "group:eng"] })],
    });
    await before.updatePolicy("projects/p1", () => policy, actor);
    await before.close();
    // Back to version 3, as a server before migrations 4 and 5 left it.
    const raw = new pg.Client({ connectionString: database.url });
    await raw.connect();
    await raw.query(
      "DROP TABLE member_grants, shared_member_grants, shared_policy_bindings, shared_policies; DELETE FROM schema_migrations WHERE version >= 4",
    );
    await raw.end();

    const after = await open();
    const points = await after.listGrantPoints({ members: ["group:eng"], roles: ["roles/owner"], limit: 10 });
    expect(points.map((p) => p.name)).toEqual(["projects/p1"]);
    await after.close();
  } finally {
    await database.drop();
  }
});

/** An organization with a project, and a shared policy binding group:eng as owner, bound to the project. */
async function withSharedPolicy(store: Store): Promise<void> {
  await store.createResource({ name: "organizations/acme", parent: "", type: "organization", displayName: "" }, actor);
  await store.createResource({ name: "projects/p1", parent: "organizations/acme", type: "project", displayName: "" }, actor);
  const policy = create(SharedPolicySchema, {
    parent: "organizations/acme",
    bindings: [create(BindingSchema, { role: "roles/owner", members: ["group:eng"] })],
  });
  await store.updateSharedPolicy("sharedPolicies/base", () => ({ policy, type: "shared_policy" }), actor);
  await store.updateSharedPolicyBinding("sharedPolicies/base", "projects/p1", () => true, actor);
}

test("opening a database of schema version 5 indexes the bindings of its stored shared policies", async () => {
  dir = tempDir();
  const path = join(dir, "policy.db");
  const before = new SqliteStore(path);
  await withSharedPolicy(before);
  await before.close();
  const raw = new Sqlite(path);
  raw.exec("DROP TABLE shared_member_grants; DELETE FROM schema_migrations WHERE version = 6");
  raw.close();

  const after = new SqliteStore(path);
  const points = await after.listGrantPoints({ members: ["group:eng"], roles: ["roles/owner"], limit: 10 });
  expect(points.map((p) => p.name)).toEqual(["projects/p1"]);
  await after.close();
});

test.runIf(postgresAvailable())("PostgreSQL: a database of schema version 5 gets the bindings of its stored shared policies indexed", async () => {
  const database = await createPostgresDatabase();
  try {
    const open = () => PostgresStore.open({ url: database.url, poolSize: 2, statementTimeoutMs: 10_000 });
    const before = await open();
    await withSharedPolicy(before);
    await before.close();
    const raw = new pg.Client({ connectionString: database.url });
    await raw.connect();
    await raw.query("DROP TABLE shared_member_grants; DELETE FROM schema_migrations WHERE version = 6");
    await raw.end();

    const after = await open();
    const points = await after.listGrantPoints({ members: ["group:eng"], roles: ["roles/owner"], limit: 10 });
    expect(points.map((p) => p.name)).toEqual(["projects/p1"]);
    await after.close();
  } finally {
    await database.drop();
  }
});
