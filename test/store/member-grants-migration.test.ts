// Migrations on a database written before them: 4 and 6 (the member index, of policies and of shared policies) index
// the policies and shared policies already stored; 7 (consumer bounds) gives the consumers already registered their
// root, their failures' count and a version a reader starts from; 8 (documents) moves the deny policies and custom
// roles already stored into the documents table; 9 and 10 move shared policies' content into documents and their
// bindings into links; 11 moves the access policies into documents.
import { create } from "@bufbuild/protobuf";
import Sqlite from "better-sqlite3";
import { join } from "node:path";
import pg from "pg";
import { afterEach, expect, test } from "vitest";
import { BindingSchema, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { DenyPolicySchema } from "../../gen/policy/v1/deny_policy_pb.js";
import { RoleSchema } from "../../gen/policy/v1/role_pb.js";
import {
  getDenyPolicy,
  getSharedPolicy,
  listBindings,
  listRoles,
  updateBinding,
  updateDenyPolicy,
  updateRole,
  updateSharedPolicy,
  listSharedPolicies,
} from "../../src/domain/kinds.js";
import { createPostgresDatabase, postgresAvailable } from "../helpers/postgres.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";
import {
  POSTGRES_BEFORE_DOCUMENTS,
  POSTGRES_BEFORE_LINKS,
  POSTGRES_BEFORE_POLICY_DOCUMENTS,
  POSTGRES_BEFORE_SHARED_DOCUMENTS,
  SQLITE_BEFORE_DOCUMENTS,
  SQLITE_BEFORE_LINKS,
  SQLITE_BEFORE_POLICY_DOCUMENTS,
  SQLITE_BEFORE_SHARED_DOCUMENTS,
} from "../helpers/schema-downgrades.js";
import { createResource } from "../../src/store/store.js";

const actor = { principal: "user:test@example.com" };
const OWNERS = [create(BindingSchema, { role: "roles/owner", members: ["user:ada@example.com", "group:eng"] })];
let dir: string | undefined;
afterEach(() => dir && removeDir(dir));

/** An organization with a project whose policy binds group:eng as owner. */
async function withPolicy(store: Store): Promise<void> {
  await createResource(store, { name: "organizations/acme", parent: "", type: "organization", displayName: "" }, actor);
  await createResource(store, { name: "projects/p1", parent: "organizations/acme", type: "project", displayName: "" }, actor);
  await store.updatePolicy("projects/p1", () => create(PolicySchema, { version: 1, bindings: OWNERS }), actor);
}

/** An organization with a project, and a shared policy binding group:eng as owner, bound to the project. */
async function withSharedPolicy(store: Store): Promise<void> {
  await createResource(store, { name: "organizations/acme", parent: "", type: "organization", displayName: "" }, actor);
  await createResource(store, { name: "projects/p1", parent: "organizations/acme", type: "project", displayName: "" }, actor);
  const policy = create(SharedPolicySchema, { parent: "organizations/acme", bindings: OWNERS });
  await updateSharedPolicy(store, "sharedPolicies/base", () => ({ policy, type: "shared_policy" }), actor);
  await updateBinding(store, "sharedPolicies/base", "projects/p1", () => true, actor);
}

const ownersOf = async (store: Store) =>
  (await store.listGrantPoints({ members: ["group:eng"], roles: ["roles/owner"], limit: 10 })).map((p) => p.name);

/**
 * Writes with `write`, takes the SQLite database back with `downgrade` (as a server before the migration left it),
 * reopens it and reads it with `read`.
 */
async function sqliteAfterDowngrade<T = string[]>(
  write: (store: Store) => Promise<void>,
  downgrade: string,
  read: (store: Store) => Promise<T> = ownersOf as (store: Store) => Promise<T>,
): Promise<T> {
  dir = tempDir();
  const path = join(dir, "policy.db");
  const before = new SqliteStore(path);
  await write(before);
  await before.close();
  const raw = new Sqlite(path);
  raw.exec(downgrade);
  raw.close();
  const after = new SqliteStore(path);
  try {
    return await read(after);
  } finally {
    await after.close();
  }
}

/** The same on a PostgreSQL database of its own. */
async function postgresAfterDowngrade<T = string[]>(
  write: (store: Store) => Promise<void>,
  downgrade: string,
  read: (store: Store) => Promise<T> = ownersOf as (store: Store) => Promise<T>,
): Promise<T> {
  const database = await createPostgresDatabase();
  try {
    const open = () => PostgresStore.open({ url: database.url, poolSize: 2, statementTimeoutMs: 10_000 });
    const before = await open();
    await write(before);
    await before.close();
    const raw = new pg.Client({ connectionString: database.url });
    await raw.connect();
    await raw.query(downgrade);
    await raw.end();
    const after = await open();
    try {
      return await read(after);
    } finally {
      await after.close();
    }
  } finally {
    await database.drop();
  }
}

test("opening a database of schema version 2 indexes the bindings of its stored policies", async () => {
  const downgrade = `${SQLITE_BEFORE_POLICY_DOCUMENTS}; DROP TRIGGER member_grants_follow_moves; DROP TABLE member_grants;
    DELETE FROM schema_migrations WHERE version = 4`;
  expect(await sqliteAfterDowngrade(withPolicy, downgrade)).toEqual(["projects/p1"]);
});

test.runIf(postgresAvailable())("PostgreSQL: a database of schema version 3 gets the bindings of its stored policies indexed", async () => {
  // Back to version 3, as a server before migrations 4 to 7 left it.
  const downgrade = `${POSTGRES_BEFORE_SHARED_DOCUMENTS}; ${POSTGRES_BEFORE_DOCUMENTS}; ${POSTGRES_BEFORE_CONSUMER_BOUNDS};
    DROP TABLE member_grants, shared_member_grants, shared_policy_bindings, shared_policies; DELETE FROM schema_migrations WHERE version >= 4`;
  expect(await postgresAfterDowngrade(withPolicy, downgrade)).toEqual(["projects/p1"]);
});

test("opening a database of schema version 5 indexes the bindings of its stored shared policies", async () => {
  const downgrade = `${SQLITE_BEFORE_SHARED_DOCUMENTS}; DROP TABLE shared_member_grants; DELETE FROM schema_migrations WHERE version = 6`;
  expect(await sqliteAfterDowngrade(withSharedPolicy, downgrade)).toEqual(["projects/p1"]);
});

test.runIf(postgresAvailable())("PostgreSQL: a database of schema version 5 gets the bindings of its stored shared policies indexed", async () => {
  const downgrade = `${POSTGRES_BEFORE_SHARED_DOCUMENTS}; DROP TABLE shared_member_grants; DELETE FROM schema_migrations WHERE version = 6`;
  expect(await postgresAfterDowngrade(withSharedPolicy, downgrade)).toEqual(["projects/p1"]);
});

const SQLITE_BEFORE_CONSUMER_BOUNDS = `DROP TABLE consumer_clock; DROP INDEX consumers_by_root; DROP INDEX consumers_by_version;
  ALTER TABLE consumers DROP COLUMN root;
  ALTER TABLE consumers DROP COLUMN failure_count; ALTER TABLE consumers DROP COLUMN version;
  DELETE FROM schema_migrations WHERE version = 7`;
const POSTGRES_BEFORE_CONSUMER_BOUNDS = `DROP TABLE consumer_clock;
  ALTER TABLE consumers DROP COLUMN root, DROP COLUMN failure_count, DROP COLUMN version;
  DELETE FROM schema_migrations WHERE version = 7`;

/** Two consumers, one under the project with two failures, one of every resource (the project deleted later). */
async function withConsumers(store: Store): Promise<void> {
  await withPolicy(store);
  const consumer = { displayName: "", resourceTypes: [], root: "" };
  await store.writeConsumer({ create: { ...consumer, name: "consumers/all", subtree: "" }, timeMs: 1000 });
  await store.writeConsumer({ create: { ...consumer, name: "consumers/p1", subtree: "projects/p1" }, timeMs: 1000 });
  await store.writeConsumer({ create: { ...consumer, name: "consumers/gone", subtree: "projects/gone" }, timeMs: 1000 });
  const failures = ["projects/p1", "organizations/acme"].map((resource) => ({ resource, seq: 1, message: "m" }));
  await store.writeConsumer({ acknowledge: "consumers/p1", ack: { upTo: 1, failures, resolved: [], timeMs: 1000 } });
}

const consumersOf = async (store: Store) =>
  (await store.consumerChanges(0)).changed.map((c) => [c.name, c.root, c.failureCount]);

const consumersBefore = [
  ["consumers/all", "", 0],
  ["consumers/gone", "projects/gone", 0],
  ["consumers/p1", "organizations/acme", 2],
];

test("opening a database of schema version 6 gives its consumers their root, failure count and a version", async () => {
  expect(await sqliteAfterDowngrade(withConsumers, SQLITE_BEFORE_CONSUMER_BOUNDS, consumersOf)).toEqual(consumersBefore);
});

test.runIf(postgresAvailable())("PostgreSQL: a database of schema version 6 gives its consumers their root, failure count and a version", async () => {
  expect(await postgresAfterDowngrade(withConsumers, POSTGRES_BEFORE_CONSUMER_BOUNDS, consumersOf)).toEqual(consumersBefore);
});

/** An organization with a deny policy and two custom roles, one deleted; and a project whose deny policy was deleted. */
async function withDocuments(store: Store): Promise<void> {
  await withPolicy(store);
  const rules = [{ deniedPrincipals: ["user:eve@example.com"], deniedPermissions: ["projects.delete"] }];
  await updateDenyPolicy(store, "organizations/acme", () => create(DenyPolicySchema, { rules }), actor);
  await updateDenyPolicy(store, "projects/p1", () => create(DenyPolicySchema, { rules }), actor);
  await updateDenyPolicy(store, "projects/p1", () => undefined, actor);
  for (const id of ["deployer", "auditor"]) {
    const role = create(RoleSchema, { name: `organizations/acme/roles/${id}`, title: id, includedPermissions: ["projects.get"] });
    await updateRole(store, "organizations/acme", id, () => role, actor);
  }
  await updateRole(store, "organizations/acme", "auditor", (stored) => ({ ...stored!, deleted: true }), actor);
}

/** What a reader sees of them, etags and times included, and of the chains that carry them. */
const documentsOf = async (store: Store) => ({
  deny: [await getDenyPolicy(store, "organizations/acme"), await getDenyPolicy(store, "projects/p1")],
  roles: await listRoles(store, "organizations/acme"),
  chain: (await store.ancestry("projects/p1"))!.map((link) => [link.deny, link.roles]),
});

/** withDocuments, and what a reader saw of it before the downgrade. */
function writtenDocuments() {
  const seen: { before?: Awaited<ReturnType<typeof documentsOf>> } = {};
  const write = async (store: Store) => {
    await withDocuments(store);
    seen.before = await documentsOf(store);
  };
  return { seen, write };
}

test("opening a database of schema version 7 keeps its deny policies and custom roles (etags, times), now documents", async () => {
  const { seen, write } = writtenDocuments();
  const after = await sqliteAfterDowngrade(write, `${SQLITE_BEFORE_SHARED_DOCUMENTS}; ${SQLITE_BEFORE_DOCUMENTS}`, documentsOf);
  expect(after).toEqual(seen.before);
  expect(after.deny.map((d) => d!.rules.length)).toEqual([1, 0]);
  expect(after.roles!.map((r) => [r.name, r.deleted])).toEqual([
    ["organizations/acme/roles/auditor", true],
    ["organizations/acme/roles/deployer", false],
  ]);
});

test.runIf(postgresAvailable())("PostgreSQL: a database of schema version 7 keeps its deny policies and custom roles (etags, times), now documents", async () => {
  const { seen, write } = writtenDocuments();
  const after = await postgresAfterDowngrade(write, `${POSTGRES_BEFORE_SHARED_DOCUMENTS}; ${POSTGRES_BEFORE_DOCUMENTS}`, documentsOf);
  expect(after).toEqual(seen.before);
  expect(after.deny.map((d) => d!.rules.length)).toEqual([1, 0]);
  expect(after.chain[1]).toEqual([after.deny[0], after.roles]);
});

/** What a reader sees of a shared policy: itself, its bindings, the chain that holds it, and what it grants. */
const sharedOf = async (store: Store) => ({
  policy: await getSharedPolicy(store, "sharedPolicies/base"),
  listed: await listSharedPolicies(store, { parent: "organizations/acme", limit: 10 }),
  bindings: await listBindings(store, { sharedPolicy: "sharedPolicies/base", limit: 10 }),
  chain: (await store.ancestry("projects/p1"))!.map((link) => link.shared),
  owners: await ownersOf(store),
});

/** withSharedPolicy, and what a reader saw of it before the downgrade. */
function writtenShared() {
  const seen: { before?: Awaited<ReturnType<typeof sharedOf>> } = {};
  const write = async (store: Store) => {
    await withSharedPolicy(store);
    seen.before = await sharedOf(store);
  };
  return { seen, write };
}

test("opening a database of schema version 8 keeps its shared policies (etags, times, bindings, index), now documents", async () => {
  const { seen, write } = writtenShared();
  const after = await sqliteAfterDowngrade(write, SQLITE_BEFORE_SHARED_DOCUMENTS, sharedOf);
  expect(after).toEqual(seen.before);
  expect(after.bindings.map((b) => b.target)).toEqual(["projects/p1"]);
  expect(after.owners).toEqual(["projects/p1"]);
});

test.runIf(postgresAvailable())("PostgreSQL: a database of schema version 8 keeps its shared policies (etags, times, bindings, index), now documents", async () => {
  const { seen, write } = writtenShared();
  const after = await postgresAfterDowngrade(write, POSTGRES_BEFORE_SHARED_DOCUMENTS, sharedOf);
  expect(after).toEqual(seen.before);
  expect(after.bindings.map((b) => b.target)).toEqual(["projects/p1"]);
  expect(after.owners).toEqual(["projects/p1"]);
});

test("opening a database of schema version 9 keeps its shared-policy bindings (sequences, times, chains, index), now links", async () => {
  const { seen, write } = writtenShared();
  const after = await sqliteAfterDowngrade(write, SQLITE_BEFORE_LINKS, sharedOf);
  expect(after).toEqual(seen.before);
  expect(after.bindings.map((b) => b.target)).toEqual(["projects/p1"]);
  expect(after.chain[0]!.map((p) => p.name)).toEqual(["sharedPolicies/base"]);
  expect(after.owners).toEqual(["projects/p1"]);
});

test.runIf(postgresAvailable())("PostgreSQL: a database of schema version 9 keeps its shared-policy bindings (sequences, times, chains, index), now links", async () => {
  const { seen, write } = writtenShared();
  const after = await postgresAfterDowngrade(write, POSTGRES_BEFORE_LINKS, sharedOf);
  expect(after).toEqual(seen.before);
  expect(after.bindings.map((b) => b.target)).toEqual(["projects/p1"]);
  expect(after.chain[0]!.map((p) => p.name)).toEqual(["sharedPolicies/base"]);
  expect(after.owners).toEqual(["projects/p1"]);
});

/**
 * Access policies of every shape: bindings on the organization and a project (the member index), a policy with audit
 * configs and no binding (not listed), one deleted (an empty row whose etag moved on), a resource never given one.
 */
async function withPolicies(store: Store): Promise<void> {
  await withPolicy(store);
  for (const name of ["projects/p2", "projects/p3", "projects/p4"]) {
    await createResource(store, { name, parent: "organizations/acme", type: "project", displayName: "" }, actor);
  }
  const viewers = [create(BindingSchema, { role: "roles/viewer", members: ["group:eng", "user:bob@example.com"] })];
  await store.updatePolicy("organizations/acme", () => create(PolicySchema, { version: 1, bindings: viewers }), actor);
  await store.updatePolicy("projects/p2", () => create(PolicySchema, { version: 1, auditConfigs: [{ service: "allServices" }] }), actor);
  await store.updatePolicy("projects/p3", () => create(PolicySchema, { version: 1, bindings: OWNERS }), actor);
  await store.updatePolicy("projects/p3", () => undefined, actor);
}

/** What a reader sees of them: each policy (etag and time), the chains, the listings and the member index. */
const policiesOf = async (store: Store) => ({
  policies: await Promise.all(["organizations/acme", "projects/p1", "projects/p2", "projects/p3", "projects/p4"].map((name) => store.getPolicy(name))),
  chain: (await store.ancestry("projects/p1"))!.map((link) => link.policy),
  projects: await store.listPolicies({ type: "project", limit: 10 }),
  organizations: await store.listPolicies({ type: "organization", limit: 10, namesOnly: true }),
  owners: await ownersOf(store),
  viewers: await store.listGrantPoints({ members: ["user:bob@example.com"], roles: ["roles/viewer"], limit: 10 }),
  roles: await store.listGrantPoints({ members: ["group:eng"], boundRoles: true }),
});

/** withPolicies, and what a reader saw of it before the downgrade. */
function writtenPolicies() {
  const seen: { before?: Awaited<ReturnType<typeof policiesOf>> } = {};
  const write = async (store: Store) => {
    await withPolicies(store);
    seen.before = await policiesOf(store);
  };
  return { seen, write };
}

/** After the migration, a write still keeps the listing's flag: p1 emptied leaves it, p4 given bindings joins it. */
const listedAfterWrites = async (store: Store) => {
  await store.updatePolicy("projects/p1", () => undefined, actor);
  await store.updatePolicy("projects/p4", () => create(PolicySchema, { version: 1, bindings: OWNERS }), actor);
  return (await store.listPolicies({ type: "project", limit: 10, namesOnly: true })).map((p) => p.name);
};

test("opening a database of schema version 10 keeps its access policies (etags, times, bindings, listings, index), now documents", async () => {
  const { seen, write } = writtenPolicies();
  const after = await sqliteAfterDowngrade(write, SQLITE_BEFORE_POLICY_DOCUMENTS, policiesOf);
  expect(after).toEqual(seen.before);
  expect(after.projects.map((p) => p.resource.name)).toEqual(["projects/p1"]);
  expect(after.policies[2]!.policy.auditConfigs).toHaveLength(1);
  expect(after.owners).toEqual(["projects/p1"]);
});

test("after migration 11, policy writes keep the listing of policies with bindings", async () => {
  expect(await sqliteAfterDowngrade(withPolicies, SQLITE_BEFORE_POLICY_DOCUMENTS, listedAfterWrites)).toEqual(["projects/p4"]);
});

test.runIf(postgresAvailable())("PostgreSQL: a database of schema version 10 keeps its access policies (etags, times, bindings, listings, index), now documents", async () => {
  const { seen, write } = writtenPolicies();
  const after = await postgresAfterDowngrade(write, POSTGRES_BEFORE_POLICY_DOCUMENTS, policiesOf);
  expect(after).toEqual(seen.before);
  expect(after.projects.map((p) => p.resource.name)).toEqual(["projects/p1"]);
  expect(after.owners).toEqual(["projects/p1"]);
});

test.runIf(postgresAvailable())("PostgreSQL: after migration 11, policy writes keep the listing of policies with bindings", async () => {
  expect(await postgresAfterDowngrade(withPolicies, POSTGRES_BEFORE_POLICY_DOCUMENTS, listedAfterWrites)).toEqual(["projects/p4"]);
});
