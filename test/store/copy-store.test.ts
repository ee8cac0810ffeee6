// A whole store copied into another through the contract (copyStore: migrate-store's copy), any store to any store:
// SQLite to SQLite always, and SQLite to PostgreSQL, PostgreSQL to PostgreSQL and PostgreSQL to SQLite where a
// PostgreSQL server answers. The copy reads as the source did through every read of the contract — chain links with
// their etags, documents of a kind no store knows, links, the member index, the change log (a Watch resuming after a
// sequence reads the same rows), consumers with their acknowledged sequences and failures, the page-token key — and
// writes go on from the copied sequence. A target that holds anything is refused, and a copy that reads back
// differently fails its verification.
import { create } from "@bufbuild/protobuf";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { BindingSchema, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { DenyPolicySchema, DenyRuleSchema } from "../../gen/policy/v1/deny_policy_pb.js";
import { RoleSchema } from "../../gen/policy/v1/role_pb.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import { updateBinding, updateDenyPolicy, updateRole, updateSharedPolicy } from "../../src/domain/kinds.js";
import { changeAction } from "../../src/store/change-actions.js";
import { cachingStore } from "../../src/store/caching-store.js";
import { copyStore } from "../../src/store/copy-store.js";
import { ForwardingStore } from "../../src/store/forwarding-store.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { StoreError } from "../../src/store/store-error.js";
import { createResource, type Store, type StoreSnapshot } from "../../src/store/store.js";
import { createPostgresDatabase, postgresAvailable, type PostgresDatabase } from "../helpers/postgres.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";

const actor = { principal: "user:test@example.com" };
const ORG = "organizations/o";
const PROJECTS = ["projects/p0", "projects/p1", "projects/p2", "projects/p3"];
const KIND = "test.note";

const dir = tempDir("copy-store-");
const databases: PostgresDatabase[] = [];
const stores: Store[] = [];
afterAll(async () => {
  for (const store of stores) await store.close();
  for (const database of databases) await database.drop();
  removeDir(dir);
});

type Side = "sqlite" | "postgres";
let files = 0;

/** A new empty store of a side, and a function that opens another instance on its database. */
async function openWithAnother(side: Side): Promise<{ store: Store; another: () => Promise<Store> }> {
  let another: () => Promise<Store>;
  if (side === "sqlite") {
    const file = join(dir, `store-${files++}.db`);
    another = async () => new SqliteStore(file);
  } else {
    const database = await createPostgresDatabase();
    databases.push(database);
    another = () => PostgresStore.open({ url: database.url, poolSize: 2, statementTimeoutMs: 30_000 });
  }
  const opened = async () => {
    const store = await another();
    stores.push(store);
    return store;
  };
  return { store: await opened(), another: opened };
}

const open = async (side: Side) => (await openWithAnother(side)).store;

/** A store holding every kind of thing it keeps. */
async function fill(store: Store): Promise<void> {
  const policy = (member: string) => create(PolicySchema, { bindings: [create(BindingSchema, { role: "roles/owner", members: [member] })] });
  await store.createResources(
    [{ resource: { name: ORG, parent: "", type: "organization", displayName: "O" } }, ...PROJECTS.map((name, i) => ({
      resource: { name, parent: ORG, type: "project", displayName: `P${i}` },
      policy: policy(`user:u${i}@example.com`),
    }))],
    actor,
  );
  await store.updatePolicy(PROJECTS[0]!, () => policy("group:g@example.com"), actor);
  await store.updateResource(PROJECTS[1]!, () => ({ displayName: "renamed" }), actor);
  await store.deleteResource(PROJECTS[3]!, () => ({ cascade: false }), actor);
  await updateDenyPolicy(store, ORG, () => create(DenyPolicySchema, { rules: [create(DenyRuleSchema, { deniedPrincipals: ["user:u1@example.com"], deniedPermissions: ["projects.delete"] })] }), actor);
  await updateRole(store, ORG, "deployer", () => create(RoleSchema, { name: `${ORG}/roles/deployer`, includedPermissions: ["projects.get"] }), actor);
  // A document of a kind no store knows, granting through the member index.
  await store.updateDocument(
    KIND,
    PROJECTS[2]!,
    "a",
    () => ({ body: new TextEncoder().encode("note"), entries: 1, action: changeAction("role", "update"), etagBefore: null, logged: null, grants: [{ member: "user:n@example.com", role: "roles/noted" }] }),
    actor,
  );
  const shared = "sharedPolicies/s";
  await updateSharedPolicy(
    store,
    shared,
    () => ({ policy: create(SharedPolicySchema, { parent: ORG, bindings: [create(BindingSchema, { role: "roles/readonly", members: ["user:sam@example.com"] })] }), type: "shared_policy" }),
    actor,
  );
  await updateBinding(store, shared, PROJECTS[1]!, () => true, actor);
  await store.writeConsumer({ create: { name: "consumers/edge", displayName: "Edge", subtree: ORG, resourceTypes: ["project"], root: ORG }, timeMs: 1000 });
  await store.writeConsumer({ create: { name: "consumers/gone", displayName: "", subtree: "", resourceTypes: [], root: "" }, timeMs: 1000 });
  await store.writeConsumer({ delete: "consumers/gone" });
  const acknowledged = (await store.latestSequence()) - 2;
  await store.writeConsumer({ acknowledge: "consumers/edge", ack: { upTo: acknowledged, failures: [{ resource: PROJECTS[2]!, seq: acknowledged, message: "no" }], resolved: [], timeMs: 2000 } });
}

/** What a store answers through the contract's reads, for every thing fill() wrote. */
async function read(store: Store) {
  const latest = await store.latestSequence();
  const consumers = await store.consumerChanges(0);
  return {
    latest,
    changes: await store.readChanges({ afterSeq: 0, limit: 1000 }),
    // A Watch resuming after a sequence of the middle of the log.
    resumed: await store.readChanges({ afterSeq: Math.floor(latest / 2), limit: 1000 }),
    audit: await store.listAuditRecords({ resource: PROJECTS[0]!, limit: 100 }),
    removal: await store.readChanges({ removalOf: PROJECTS[3]!, fromSeq: 0 }),
    chains: await Promise.all([...PROJECTS, "sharedPolicies/s"].map((name) => store.ancestry(name))),
    resources: await store.listResources({ limit: 100 }),
    policies: await store.listPolicies({ type: "project", limit: 100 }),
    subtree: await store.listSubtree({ type: "project", root: ORG, limit: 100 }),
    notes: await store.listDocuments(KIND, PROJECTS[2]!),
    links: await store.listLinks("sharedPolicyBinding", { from: "sharedPolicies/s", limit: 10 }),
    grants: await store.listGrantPoints({ members: ["user:u1@example.com", "group:g@example.com", "user:sam@example.com", "user:n@example.com"], roles: ["roles/owner", "roles/readonly", "roles/noted"], limit: 100 }),
    boundRoles: await store.listGrantPoints({ members: ["user:sam@example.com", "user:n@example.com", "user:u2@example.com"], boundRoles: true }),
    consumers,
    failures: await store.listResourceFailures(PROJECTS[2]!, ["consumers/edge"]),
    pageTokenKey: Buffer.from(await store.pageTokenKey()).toString("hex"),
  };
}

const PAIRS: [Side, Side][] = [["sqlite", "sqlite"], ["sqlite", "postgres"], ["postgres", "postgres"], ["postgres", "sqlite"]];

describe.each(PAIRS)("copyStore %s → %s", (from, to) => {
  test.runIf(postgresAvailable() || (from === "sqlite" && to === "sqlite"))(
    "the copy reads as the source through every read, writes go on from its sequence; a used target is refused",
    async () => {
      const source = await open(from);
      await fill(source);
      const { store: target, another } = await openWithAnother(to);
      // Pages of 3 records: every sort of record spans pages (the export's keyset pagination).
      const report = await copyStore(source, target, 3);
      const before = await read(source);
      expect(report.sequence).toBe(before.latest);
      expect(report.counts).toMatchObject({ resource: 5, "document policy": 3, "document test.note": 1, link: 1, consumer: 1, failure: 1 });
      expect(await read(target)).toEqual(before);
      // Another store on the copied database too (nothing read from the importing store's memory).
      expect(await read(await another())).toEqual(before);

      // Writes continue the copied sequence, on the copy as they would on the source.
      await createResource(target, { name: "projects/after", parent: ORG, type: "project", displayName: "" }, actor);
      expect(await target.latestSequence()).toBe(before.latest + 1);
      const consumer = await target.writeConsumer({ create: { name: "consumers/new", displayName: "", subtree: "", resourceTypes: [], root: "" }, timeMs: 3000 });
      expect(consumer.name).toBe("consumers/new");
      expect((await target.consumerChanges(before.consumers.version)).changed.map((c) => c.name)).toEqual(["consumers/new"]);

      // The copy is not empty now: a second copy into it is refused, and writes nothing.
      const latest = await target.latestSequence();
      await expect(copyStore(source, target)).rejects.toSatisfy((e) => e instanceof StoreError && e.kind === "already_exists" && /already holds data/.test(e.message));
      expect(await target.latestSequence()).toBe(latest);
    },
    60_000,
  );
});

/** A store whose snapshots' export leaves out the first record of a sort: as if the copy had lost it. */
class LosingStore extends ForwardingStore {
  constructor(inner: Store, private readonly sort: string) {
    super(inner);
  }

  override async openSnapshot(): Promise<StoreSnapshot> {
    const snapshot = await this.inner.openSnapshot();
    let lost = false;
    const sort = this.sort;
    return {
      sequence: snapshot.sequence,
      ancestry: (name) => snapshot.ancestry(name),
      subtree: (...args) => snapshot.subtree(...args),
      close: () => snapshot.close(),
      async exportRecords(after, limit) {
        const page = await snapshot.exportRecords(after, limit);
        const records = page.records.filter((record) => lost || !(sort in record) || !(lost = true));
        return { ...page, records };
      },
    };
  }
}

test("a copy that reads back differently from the source fails its verification, naming what differs", async () => {
  const source = await open("sqlite");
  await fill(source);
  await expect(copyStore(source, new LosingStore(await open("sqlite"), "link"))).rejects.toThrow(/verification failed: link: 0 records in the copy, 1 in the source/);
});

test("behind the read cache, the copy's store serves the copied state, not what it cached before the import", async () => {
  const source = await open("sqlite");
  await fill(source);
  const target = cachingStore(await open("sqlite"));
  // Read (and cached) while empty.
  expect(await target.ancestry(PROJECTS[0]!)).toBeUndefined();
  expect(await target.getPolicy(PROJECTS[0]!)).toBeUndefined();
  await copyStore(source, target);
  expect(await target.ancestry(PROJECTS[0]!)).toEqual(await source.ancestry(PROJECTS[0]!));
  expect(await target.getPolicy(PROJECTS[0]!)).toEqual(await source.getPolicy(PROJECTS[0]!));
});
