// The store conformance suite: every behaviour of the Store contract (src/store/store.ts), run against every
// implementation by a factory. It is the one place that tests store behaviour directly; a new store passes it
// unchanged before it is used.
import { create, toBinary } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { BindingSchema, PolicySchema, type Policy } from "../../gen/policy/v1/policy_pb.js";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import { DenyPolicySchema, DenyRuleSchema } from "../../gen/policy/v1/deny_policy_pb.js";
import { RoleSchema, RoleStage } from "../../gen/policy/v1/role_pb.js";
import { SharedPolicySchema, type SharedPolicy } from "../../gen/policy/v1/shared_policy_pb.js";
import { isDeepFrozen } from "../../src/frozen-value.js";
import { StoreError } from "../../src/store/store-error.js";
import { changeAction } from "../../src/store/change-actions.js";
import {
  oldestSequence,
  POLICY_KIND,
  type Actor,
  type AttachedDocuments,
  type ChangeRecord,
  type ListedPolicy,
  type Store,
  type StoredDocument,
  type StoredPolicy,
  type UnreadablePolicy,
  createResource,
} from "../../src/store/store.js";
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

/** One empty database, and store instances on it. */
export interface StoreDatabase {
  /** A new store instance on this database: another connection, as another process or replica would have. */
  open(): Promise<Store>;
  drop(): Promise<void>;
  /** Overwrites the stored policy of `resource` with bytes that do not decode, as damage would (raw SQL). */
  damagePolicy(resource: string): Promise<void>;
}

/** Bytes that are not a Policy: its `bindings` (field 3) with a length that runs past the end. */
export const UNDECODABLE = Uint8Array.of(0x1a, 0x05, 0x01);

export interface StoreFactory {
  /** e.g. "sqlite", "sqlite + cache" */
  name: string;
  /** Whether reads come from a cache of shared values (the caching-store.ts decorators). */
  cached: boolean;
  createDatabase(): Promise<StoreDatabase>;
}

const actor: Actor = { principal: "user:test@example.com" };
const ORG = "organizations/acme";
const OTHER_ORG = "organizations/other";
const CLOUD = "clouds/c1";
const PROJECT = "projects/p1";

const grantOf = (...members: string[]) =>
  create(PolicySchema, { version: 1, bindings: [create(BindingSchema, { role: "roles/owner", members })] });

const grant = (store: Store, resource: string, ...members: string[]) => store.updatePolicy(resource, () => grantOf(...members), actor);

const names = (chain: StoredPolicy[] | undefined) => chain?.map((link) => link.resource.name);

const membersOf = (chain: StoredPolicy[] | undefined) =>
  chain!.map((link) => [link.resource.name, link.policy.bindings.flatMap((b) => b.members)]);

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** A listing's rows as decoded policies (fails on an unreadable one). */
function decoded(rows: readonly (ListedPolicy | UnreadablePolicy)[]): ListedPolicy[] {
  return rows.map((row) => {
    if ("unreadable" in row) throw new Error(`${row.resource.name} is unreadable: ${row.unreadable}`);
    return row;
  });
}

/** The error a rejected promise rejects with. */
async function failureOf(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to fail");
}

async function expectStoreError(work: Promise<unknown>, kind: string, subject: string): Promise<void> {
  const error = await failureOf(work);
  expect(error).toBeInstanceOf(StoreError);
  expect(error).toMatchObject({ kind, subject });
}

const keep = (current: Resource) => ({ displayName: current.displayName });

export function storeContract(factory: StoreFactory): void {
  describe(`store contract: ${factory.name}`, () => {
    let database: StoreDatabase;
    let store: Store;
    const opened: Store[] = [];

    /** Another instance on the same database. */
    async function another(): Promise<Store> {
      const instance = await database.open();
      opened.push(instance);
      return instance;
    }

    beforeEach(async () => {
      database = await factory.createDatabase();
      store = await another();
      await createResource(store, { name: ORG, parent: "", type: "organization", displayName: "Acme" }, actor);
      await createResource(store, { name: OTHER_ORG, parent: "", type: "organization", displayName: "" }, actor);
      await createResource(store, { name: CLOUD, parent: ORG, type: "cloud", displayName: "" }, actor);
      await createResource(store, { name: PROJECT, parent: CLOUD, type: "project", displayName: "" }, actor);
    });

    afterEach(async () => {
      for (const instance of opened.splice(0)) await instance.close();
      await database.drop();
    });

    describe("batch creation (createResources)", () => {
      const NEW_ORG = "organizations/batch";
      const NEW_CLOUD = "clouds/batch";
      const NEW_PROJECT = "projects/batch";
      const ADA = "user:ada@example.com";

      test("writes each item as createResource then updatePolicy would; failing items write nothing, the others go on", async () => {
        // Read first, so that a cache holds what the batch must replace (absences and a chain).
        expect(await store.getPolicy(NEW_CLOUD)).toBeUndefined();
        expect(names(await store.ancestry(PROJECT))).toEqual([PROJECT, CLOUD, ORG]);
        const before = await store.latestSequence();
        const outcomes = await store.createResources(
          [
            { resource: { name: NEW_ORG, parent: "", type: "organization", displayName: "Batch" }, policy: grantOf(ADA) },
            { resource: { name: PROJECT, parent: CLOUD, type: "project", displayName: "" } },
            { resource: { name: NEW_CLOUD, parent: NEW_ORG, type: "cloud", displayName: "" }, policy: grantOf(ADA, "group:ops") },
            { resource: { name: "projects/orphan", parent: "clouds/none", type: "project", displayName: "" }, policy: grantOf(ADA) },
            { resource: { name: NEW_PROJECT, parent: NEW_CLOUD, type: "project", displayName: "P" } },
            { resource: { name: NEW_CLOUD, parent: ORG, type: "cloud", displayName: "" } },
          ],
          actor,
        );
        expect(outcomes.map((o) => ("error" in o ? `${o.error.kind} ${o.error.subject}` : o.resource.name))).toEqual([
          NEW_ORG,
          `already_exists ${PROJECT}`,
          NEW_CLOUD,
          "not_found clouds/none",
          NEW_PROJECT,
          `already_exists ${NEW_CLOUD}`,
        ]);
        expect(await store.getResource("projects/orphan")).toBeUndefined();
        expect(await store.getResource(PROJECT)).toMatchObject({ parent: CLOUD });

        // Reads (through another instance too) see what single writes would have left.
        for (const reader of [store, await another()]) {
          const chain = (await reader.ancestry(NEW_PROJECT))!;
          expect(membersOf(chain)).toEqual([[NEW_PROJECT, []], [NEW_CLOUD, [ADA, "group:ops"]], [NEW_ORG, [ADA]]]);
          const cloud = outcomes[2]!;
          if ("error" in cloud) throw cloud.error;
          expect(chain[1]!.resource).toEqual(cloud.resource);
          expect(hex(chain[1]!.policy.etag)).toBe(hex(cloud.policy!.etag));
          expect(await reader.getResource(NEW_PROJECT)).toMatchObject({ parent: NEW_CLOUD, displayName: "P", type: "project" });
          expect((await reader.listSubtree({ type: "project", root: NEW_ORG, limit: 10 })).map((r) => r.resource.name)).toEqual([NEW_PROJECT]);
          expect(decoded(await reader.listPolicies({ type: "cloud", beneath: NEW_ORG, limit: 10 })).map((p) => p.resource.name)).toEqual([NEW_CLOUD]);
          const points = await reader.listGrantPoints({ members: ["group:ops"], roles: ["roles/owner"], limit: 10 });
          expect(points.map((p) => p.name)).toEqual([NEW_CLOUD]);
        }

        // The change log: per item its create, then its policy, with the lineage at the time.
        const changes = await store.readChanges({ afterSeq: before, limit: 100 });
        expect(changes.map((c) => `${c.action} ${c.resource} ${c.lineage.join(">")}`)).toEqual([
          `resource.create ${NEW_ORG} ${NEW_ORG}`,
          `policy.set ${NEW_ORG} ${NEW_ORG}`,
          `resource.create ${NEW_CLOUD} ${NEW_CLOUD}>${NEW_ORG}`,
          `policy.set ${NEW_CLOUD} ${NEW_CLOUD}>${NEW_ORG}`,
          `resource.create ${NEW_PROJECT} ${NEW_PROJECT}>${NEW_CLOUD}>${NEW_ORG}`,
        ]);
        expect(changes.map((c) => c.seq)).toEqual([1, 2, 3, 4, 5].map((n) => before + n));
        expect(changes[3]!.policy!.bindings[0]!.members).toEqual([ADA, "group:ops"]);
        expect(store.writtenSequence).toBe(before + 5);
        const audit = await store.listAuditRecords({ resource: NEW_CLOUD, limit: 10 });
        expect(audit.map((a) => a.action)).toEqual(["resource.create", "policy.set"]);

        // Later single writes go on from there: a new id, the next sequence, the stored policy's etag.
        const policyBefore = (await store.getPolicy(NEW_CLOUD))!.policy;
        let seen: Policy | undefined;
        await store.updatePolicy(NEW_CLOUD, (stored) => ((seen = stored.policy), grantOf(ADA)), actor);
        expect(hex(seen!.etag)).toBe(hex(policyBefore.etag));
        const later = await createResource(store, { name: "projects/later", parent: NEW_CLOUD, type: "project", displayName: "" }, actor);
        expect(later.name).toBe("projects/later");
        expect(names(await store.ancestry("projects/later"))).toEqual(["projects/later", NEW_CLOUD, NEW_ORG]);
        expect((await store.readChanges({ afterSeq: before + 5, limit: 10 })).map((c) => c.seq)).toEqual([before + 6, before + 7]);
      });

      test("a batch of more rows than one statement holds, and a batch where nothing is written", async () => {
        const many = Array.from({ length: 1_234 }, (_, i) => ({
          resource: { name: `projects/many${i}`, parent: CLOUD, type: "project", displayName: "" },
          policy: i % 2 === 0 ? grantOf(`user:u${i}@example.com`, ADA) : undefined,
        }));
        const outcomes = await store.createResources(many, actor);
        expect(outcomes.filter((o) => "error" in o)).toEqual([]);
        expect((await store.listSubtree({ type: "project", root: CLOUD, limit: 2_000 })).length).toBe(1_235);
        expect((await store.listGrantPoints({ members: [ADA], roles: ["roles/owner"], limit: 1_000 })).length).toBe(617);
        expect(membersOf(await store.ancestry("projects/many1232"))[0]).toEqual(["projects/many1232", ["user:u1232@example.com", ADA]]);
        const latest = await store.latestSequence();
        const none = await store.createResources([{ resource: { name: PROJECT, parent: CLOUD, type: "project", displayName: "" } }], actor);
        expect(none.map((o) => "error" in o && o.error.kind)).toEqual(["already_exists"]);
        expect(await store.latestSequence()).toBe(latest);
        expect(await store.createResources([], actor)).toEqual([]);
      });
    });

    describe("deny policies and custom roles", () => {
      const denyOf = (...principals: string[]) =>
        create(DenyPolicySchema, {
          rules: [create(DenyRuleSchema, { deniedPrincipals: principals, deniedPermissions: ["projects.delete"] })],
        });

      test("a resource without a deny policy has an empty one with a valid etag; missing resources are undefined", async () => {
        const empty = (await getDenyPolicy(store, CLOUD))!;
        expect(empty.rules).toEqual([]);
        expect(empty.resource).toBe(CLOUD);
        expect(empty.etag.length).toBeGreaterThan(0);
        expect(await getDenyPolicy(store, "clouds/none")).toBeUndefined();
        await expectStoreError(updateDenyPolicy(store, "clouds/none", () => denyOf("user:a@example.com"), actor), "not_found", "clouds/none");
      });

      test("a deny write stores the rules with a new etag, logs a change, and appears in chains until deleted", async () => {
        const before = (await getDenyPolicy(store, ORG))!;
        let seen: unknown;
        const written = await updateDenyPolicy(store, ORG, (stored) => ((seen = stored), denyOf("user:ada@example.com")), actor);
        expect(seen).toEqual(before);
        expect(hex(written.etag)).not.toBe(hex(before.etag));
        expect(written.rules[0]!.deniedPrincipals).toEqual(["user:ada@example.com"]);
        expect(await getDenyPolicy(store, ORG)).toEqual(written);
        const chain = (await store.ancestry(PROJECT))!;
        expect(chain.at(-1)!.deny).toEqual(written);
        expect(chain[0]!.deny).toBeUndefined();
        expect((await store.getPolicy(ORG))!.deny).toEqual(written);
        const records = await store.listAuditRecords({ resource: ORG, limit: 10 });
        expect(records.at(-1)).toMatchObject({ action: "denyPolicy.set", principal: actor.principal });
        const deleted = await updateDenyPolicy(store, ORG, () => undefined, actor);
        expect(deleted.rules).toEqual([]);
        expect(hex(deleted.etag)).not.toBe(hex(written.etag));
        expect((await store.ancestry(PROJECT))!.at(-1)!.deny).toBeUndefined();
        expect((await store.listAuditRecords({ resource: ORG, limit: 10 })).at(-1)!.action).toBe("denyPolicy.delete");
      });

      test("a deny decide that throws writes nothing", async () => {
        const before = await store.latestSequence();
        await expect(updateDenyPolicy(store, ORG, () => {
          throw new Error("refused");
        }, actor)).rejects.toThrow("refused");
        expect(await store.latestSequence()).toBe(before);
      });

      test("custom roles are created, updated and soft-deleted on their parent, in its chain link, with etags", async () => {
        const role = (title: string, deleted = false) =>
          create(RoleSchema, { name: `${ORG}/roles/deployer`, title, includedPermissions: ["projects.update"], stage: RoleStage.GA, deleted });
        let seen: unknown = "unset";
        const created = await updateRole(store, ORG, "deployer", (stored) => ((seen = stored), role("Deployer")), actor);
        expect(seen).toBeUndefined();
        expect(created).toMatchObject({ name: `${ORG}/roles/deployer`, title: "Deployer" });
        expect(created.etag.length).toBeGreaterThan(0);
        expect(await listRoles(store, ORG)).toEqual([created]);
        expect(await listRoles(store, OTHER_ORG)).toEqual([]);
        expect(await listRoles(store, "organizations/none")).toBeUndefined();
        expect((await store.ancestry(PROJECT))!.at(-1)!.roles).toEqual([created]);
        const updated = await updateRole(store, ORG, "deployer", (stored) => ((seen = stored), role("Deployer 2", true)), actor);
        expect(seen).toEqual(created);
        expect(hex(updated.etag)).not.toBe(hex(created.etag));
        expect((await store.ancestry(PROJECT))!.at(-1)!.roles).toEqual([updated]);
        const actions = (await store.listAuditRecords({ resource: ORG, limit: 10 })).map((r) => r.action);
        expect(actions.slice(-2)).toEqual(["role.create", "role.delete"]);
        await expectStoreError(updateRole(store, "organizations/none", "x", () => role("X"), actor), "not_found", "organizations/none");
      });

      test("another instance sees deny and role writes in its next chain read", async () => {
        const other = await another();
        expect((await other.ancestry(PROJECT))!.at(-1)!.deny).toBeUndefined();
        await updateDenyPolicy(store, ORG, () => denyOf("user:ada@example.com"), actor);
        await updateRole(store, ORG, "r", () => create(RoleSchema, { name: `${ORG}/roles/r`, includedPermissions: ["projects.get"] }), actor);
        const link = (await other.ancestry(PROJECT))!.at(-1)!;
        expect(link.deny?.rules).toHaveLength(1);
        expect(link.roles).toHaveLength(1);
      });
    });

    describe("documents", () => {
      test("a kind the store has never seen: stored by key, read back with its etag, logged, gone with its resource", async () => {
        const kind = "test.note";
        const text = (document: StoredDocument) => ({ ...document, body: new TextDecoder().decode(document.body) });
        const seen: AttachedDocuments[] = [];
        const write = async (key: string, body: string) =>
          (await store.updateDocument(
            kind,
            CLOUD,
            key,
            (stored) => {
              seen.push(stored!);
              const before = stored!.documents[0]?.etag ?? null;
              return { body: new TextEncoder().encode(body), entries: 1, action: changeAction("role", "update"), etagBefore: before, logged: null };
            },
            actor,
          ))!;
        expect(await store.listDocuments(kind, CLOUD)).toMatchObject({ parent: ORG, documents: [] });
        expect(await store.listDocuments(kind, "clouds/none")).toBeUndefined();
        const b = await write("b", "second");
        const a = await write("a", "first");
        const again = await write("a", "first, again");
        // decide saw the stored document of its key only; each write moved the etag on.
        expect(seen.map((state) => state.documents.map(text))).toEqual([[], [], [text(a)]]);
        expect(again.etag).not.toEqual(a.etag);
        expect((await store.listDocuments(kind, CLOUD))!.documents.map(text)).toEqual([text(again), text(b)]);
        expect((await store.listDocuments(kind, CLOUD, "b"))!.documents.map(text)).toEqual([text(b)]);
        expect((await store.listDocuments("test.other", CLOUD))!.documents).toEqual([]);
        const [row] = await store.listAuditRecords({ resource: CLOUD, newestFirst: true, limit: 1 });
        expect(row).toMatchObject({ action: "role.update", etagBefore: a.etag, etagAfter: again.etag });
        await expectStoreError(
          store.updateDocument(kind, "clouds/none", "a", () => {
            throw new Error("decide is not called without the resource");
          }, actor),
          "not_found",
          "clouds/none",
        );
        await store.deleteResource(CLOUD, () => ({ cascade: true }), actor);
        await createResource(store, { name: CLOUD, parent: ORG, type: "cloud", displayName: "" }, actor);
        expect((await store.listDocuments(kind, CLOUD))!.documents).toEqual([]);
      });
      test("an access policy is not written as a plain document: refused, the policy and its index unchanged", async () => {
        await grant(store, PROJECT, "user:ada@example.com");
        const before = (await store.getPolicy(PROJECT))!;
        const latest = await store.latestSequence();
        await expect(
          store.updateDocument(POLICY_KIND, PROJECT, "", () => ({ body: new Uint8Array(), entries: 0, action: changeAction("policy", "delete"), etagBefore: before.policy.etag, logged: null }), actor),
        ).rejects.toThrow(/updatePolicy/);
        expect(await store.getPolicy(PROJECT)).toEqual(before);
        expect(await store.latestSequence()).toBe(latest);
      });
    });

    describe("shared policies and bindings", () => {
      const SHARED = "sharedPolicies/baseline";
      const content = (...members: string[]) =>
        create(SharedPolicySchema, {
          parent: ORG,
          description: "baseline",
          bindings: [create(BindingSchema, { role: "roles/readonly", members })],
          denyRules: [create(DenyRuleSchema, { deniedPrincipals: ["user:eve@example.com"], deniedPermissions: ["projects.delete"] })],
        });
      const put = (target: Store, policy: SharedPolicy, name = SHARED) =>
        updateSharedPolicy(target, name, () => ({ policy, type: "shared_policy" }), actor);
      const bind = (target: Store, on: string, name = SHARED) => updateBinding(target, name, on, () => true, actor);
      const sharedOf = (chain: StoredPolicy[] | undefined) => chain!.map((link) => (link.shared ?? []).map((p) => p.name));

      test("grant points include the targets of shared policies binding the member and role, and follow every change", async () => {
        const other = await another();
        const reader = (member: string) => ({ members: [member], roles: ["roles/readonly"], limit: 10 });
        const pointsOf = async (target: Store, member: string, extra: { beneath?: string; fromCursor?: string } = {}) =>
          (await target.listGrantPoints({ ...reader(member), ...extra })).map((p) => p.name);
        await put(store, content("user:a@example.com"));
        expect(await pointsOf(store, "user:a@example.com")).toEqual([]);
        await bind(store, PROJECT);
        await bind(other, CLOUD);
        expect(await pointsOf(other, "user:a@example.com")).toEqual([CLOUD, PROJECT]);
        const [cloud] = await store.listGrantPoints(reader("user:a@example.com"));
        expect(await pointsOf(store, "user:a@example.com", { fromCursor: cloud!.subtreeEnd })).toEqual([]);
        expect(await pointsOf(store, "user:a@example.com", { beneath: OTHER_ORG })).toEqual([]);
        // A dedicated binding of the same pair on a bound target: one grant point.
        await store.updatePolicy(PROJECT, () => create(PolicySchema, { bindings: [create(BindingSchema, { role: "roles/readonly", members: ["user:a@example.com"] })] }), actor);
        expect(await pointsOf(store, "user:a@example.com")).toEqual([CLOUD, PROJECT]);
        await store.updatePolicy(PROJECT, () => undefined, actor);
        await put(other, content("user:b@example.com"));
        expect(await pointsOf(store, "user:a@example.com")).toEqual([]);
        expect(await pointsOf(store, "user:b@example.com")).toEqual([CLOUD, PROJECT]);
        await updateBinding(store, SHARED, CLOUD, () => false, actor);
        expect(await pointsOf(other, "user:b@example.com")).toEqual([PROJECT]);
        await other.updateResource(PROJECT, () => ({ parent: OTHER_ORG }), actor);
        expect(await pointsOf(store, "user:b@example.com", { beneath: OTHER_ORG })).toEqual([PROJECT]);
        await updateSharedPolicy(store, SHARED, () => ({ delete: true, unbind: true }), actor);
        expect(await pointsOf(other, "user:b@example.com")).toEqual([]);
      });

      test("created as a resource under its parent, read, listed, updated with new etags, deleted", async () => {
        let seen: unknown = "unset";
        const created = (await updateSharedPolicy(store, SHARED, (state) => ((seen = state), { policy: content("user:a@example.com"), type: "shared_policy" }), actor))!;
        expect(seen).toEqual({ stored: undefined, bindingCount: 0, newestBinding: 0 });
        expect(created).toMatchObject({ name: SHARED, parent: ORG, description: "baseline" });
        expect(created.etag.length).toBeGreaterThan(0);
        expect(await getSharedPolicy(store, SHARED)).toEqual(created);
        expect((await store.getResource(SHARED))).toMatchObject({ parent: ORG, type: "shared_policy" });
        expect(names(await store.ancestry(SHARED))).toEqual([SHARED, ORG]);
        await put(store, content(), "sharedPolicies/another");
        expect((await listSharedPolicies(store, { parent: ORG, limit: 10 })).map((p) => p.name)).toEqual(["sharedPolicies/another", SHARED]);
        expect((await listSharedPolicies(store, { parent: ORG, afterName: "sharedPolicies/another", limit: 10 })).map((p) => p.name)).toEqual([SHARED]);
        expect(await listSharedPolicies(store, { parent: OTHER_ORG, limit: 10 })).toEqual([]);
        const updated = (await updateSharedPolicy(store, SHARED, (state) => ((seen = state), { policy: content("user:b@example.com"), type: "shared_policy" }), actor))!;
        expect(seen).toEqual({ stored: created, bindingCount: 0, newestBinding: 0 });
        expect(hex(updated.etag)).not.toBe(hex(created.etag));
        expect(updated.createTime).toEqual(created.createTime);
        await expectStoreError(put(store, content(), CLOUD), "already_exists", CLOUD);
        await expectStoreError(put(store, { ...content(), parent: "organizations/none" }, "sharedPolicies/x"), "not_found", "organizations/none");
        expect(await updateSharedPolicy(store, SHARED, () => ({ delete: true, unbind: false }), actor)).toBeUndefined();
        expect(await getSharedPolicy(store, SHARED)).toBeUndefined();
        expect(await store.getResource(SHARED)).toBeUndefined();
        const actions = (await store.listAuditRecords({ resource: SHARED, limit: 10 })).map((r) => r.action);
        expect(actions).toEqual(["sharedPolicy.create", "sharedPolicy.update", "sharedPolicy.delete"]);
      });

      test("bindings: each link carries the shared policies bound to it; listed by policy or by target; unbound", async () => {
        const policy = (await put(store, content("user:a@example.com")))!;
        let seen: unknown;
        const binding = (await updateBinding(store, SHARED, CLOUD, (state) => ((seen = state), true), actor))!;
        expect(seen).toMatchObject({ stored: undefined, sharedPolicy: policy, target: { name: CLOUD }, targetLineage: [CLOUD, ORG], boundToTarget: 0, policyBindings: 0 });
        expect(binding).toMatchObject({ sharedPolicy: SHARED, target: CLOUD });
        expect(binding.sequence).toBe(BigInt(store.writtenSequence));
        await bind(store, ORG);
        await put(store, content(), "sharedPolicies/another");
        await bind(store, CLOUD, "sharedPolicies/another");
        const chain = await store.ancestry(PROJECT);
        expect(sharedOf(chain)).toEqual([[], ["sharedPolicies/another", SHARED], [SHARED]]);
        expect(chain![1]!.shared![1]).toEqual(policy);
        expect((await store.getPolicy(CLOUD))!.shared!.map((p) => p.name)).toEqual(["sharedPolicies/another", SHARED]);
        expect((await listBindings(store, { sharedPolicy: SHARED, limit: 10 })).map((b) => b.target)).toEqual([CLOUD, ORG]);
        expect((await listBindings(store, { sharedPolicy: SHARED, afterName: CLOUD, limit: 10 })).map((b) => b.target)).toEqual([ORG]);
        expect((await listBindings(store, { target: CLOUD, limit: 10 })).map((b) => b.sharedPolicy)).toEqual(["sharedPolicies/another", SHARED]);
        expect(await listBindings(store, { sharedPolicy: SHARED, target: CLOUD, limit: 1 })).toEqual([binding]);
        await updateBinding(store, SHARED, CLOUD, (state) => ((seen = state), false), actor);
        expect(seen).toMatchObject({ stored: binding, boundToTarget: 2, policyBindings: 2 });
        expect(sharedOf(await store.ancestry(PROJECT))).toEqual([[], ["sharedPolicies/another"], [SHARED]]);
        expect(await updateBinding(store, SHARED, CLOUD, () => false, actor)).toBeUndefined();
        await expectStoreError(bind(store, CLOUD, "sharedPolicies/none"), "not_found", "sharedPolicies/none");
        await expectStoreError(bind(store, "clouds/none"), "not_found", "clouds/none");
        const actions = (await store.listAuditRecords({ resource: CLOUD, limit: 10 })).map((r) => r.action);
        expect(actions.slice(-3)).toEqual(["sharedPolicyBinding.create", "sharedPolicyBinding.create", "sharedPolicyBinding.delete"]);
      });

      test("a forced delete logs each binding's removal first; a target's delete removes its bindings", async () => {
        await put(store, content());
        await put(store, content(), "sharedPolicies/another");
        await bind(store, CLOUD);
        const projectBinding = await bind(store, PROJECT);
        let seen: unknown;
        const newest = await bind(store, PROJECT, "sharedPolicies/another");
        await updateBinding(store, "sharedPolicies/another", PROJECT, () => false, actor);
        // The newest binding of the policy (a later one of another policy, or a removed one, does not count).
        const updated = async () => {
          await updateSharedPolicy(store, SHARED, (state) => ((seen = state), { policy: content(), type: "shared_policy" }), actor);
          return seen;
        };
        expect(await updated()).toMatchObject({ bindingCount: 2, newestBinding: Number(projectBinding!.sequence) });
        expect(newest!.sequence).toBeGreaterThan(projectBinding!.sequence);
        await updateSharedPolicy(store, SHARED, (state) => ((seen = state), { delete: true, unbind: true }), actor);
        expect(seen).toMatchObject({ bindingCount: 2 });
        const after = (await store.readChanges({ afterSeq: 0, limit: 1000 })).slice(-3);
        expect(after.map((c) => [c.action, c.resource])).toEqual([
          ["sharedPolicyBinding.delete", CLOUD],
          ["sharedPolicyBinding.delete", PROJECT],
          ["sharedPolicy.delete", SHARED],
        ]);
        expect(after[0]!.sharedPolicyBinding).toMatchObject({ sharedPolicy: SHARED, target: CLOUD });
        expect(sharedOf(await store.ancestry(PROJECT))).toEqual([[], [], []]);
        await put(store, content());
        await bind(store, PROJECT);
        await store.deleteResource(PROJECT, () => ({ cascade: false }), actor);
        expect(await listBindings(store, { sharedPolicy: SHARED, limit: 10 })).toEqual([]);
      });

      test("the change feed carries the shared policy and the binding", async () => {
        const written = (await put(store, content("user:a@example.com")))!;
        await bind(store, CLOUD);
        const [created, bound] = (await store.readChanges({ afterSeq: 0, limit: 1000 })).slice(-2);
        expect(created).toMatchObject({ action: "sharedPolicy.create", resource: SHARED, parent: ORG, lineage: [SHARED, ORG] });
        expect(created!.sharedPolicy).toMatchObject({ name: SHARED, parent: ORG, bindings: written.bindings, denyRules: written.denyRules });
        expect(hex(created!.sharedPolicy!.etag)).toBe(hex(written.etag));
        expect(bound).toMatchObject({ action: "sharedPolicyBinding.create", resource: CLOUD, lineage: [CLOUD, ORG] });
        expect(bound!.sharedPolicyBinding).toMatchObject({ sharedPolicy: SHARED, target: CLOUD });
      });

      test("another instance's chains follow shared-policy changes and bindings at once", async () => {
        const other = await another();
        await put(store, content("user:a@example.com"));
        await bind(store, CLOUD);
        // Warm the other instance's links (its cache, when it has one).
        expect(sharedOf(await other.ancestry(PROJECT))).toEqual([[], [SHARED], []]);
        expect(sharedOf(await other.ancestry(CLOUD))).toEqual([[SHARED], []]);
        await put(store, content("user:b@example.com"));
        const members = (chain: StoredPolicy[] | undefined) => chain![1]!.shared![0]!.bindings[0]!.members;
        expect(members(await other.ancestry(PROJECT))).toEqual(["user:b@example.com"]);
        expect((await other.getPolicy(CLOUD))!.shared![0]!.bindings[0]!.members).toEqual(["user:b@example.com"]);
        await bind(store, PROJECT);
        expect(sharedOf(await other.ancestry(PROJECT))).toEqual([[SHARED], [SHARED], []]);
        await updateBinding(store, SHARED, CLOUD, () => false, actor);
        expect(sharedOf(await other.ancestry(PROJECT))).toEqual([[SHARED], [], []]);
        await updateSharedPolicy(store, SHARED, () => ({ delete: true, unbind: true }), actor);
        expect(sharedOf(await other.ancestry(PROJECT))).toEqual([[], [], []]);
        // And the writer's own reads, after writes through the other instance.
        await put(other, content("user:c@example.com"));
        await bind(other, ORG);
        expect(sharedOf(await store.ancestry(PROJECT))).toEqual([[], [], [SHARED]]);
        await put(other, content("user:d@example.com"));
        expect((await store.ancestry(PROJECT))!.at(-1)!.shared![0]!.bindings[0]!.members).toEqual(["user:d@example.com"]);
        const changed = await store.changesSince(0, 1000);
        expect(changed.changed).toContain(SHARED);
      });
    });

    describe("resources", () => {
      test("a created resource is read back with its parent, type, etag and times", async () => {
        const created = await createResource(store, { name: "projects/p2", parent: ORG, type: "project", displayName: "P 2" }, actor);
        expect(created).toMatchObject({ name: "projects/p2", parent: ORG, type: "project", displayName: "P 2" });
        expect(created.etag).not.toBe("");
        expect(created.createTime).toBeDefined();
        expect(await store.getResource("projects/p2")).toEqual(created);
        expect(await store.getResource("projects/none")).toBeUndefined();
      });

      test("a taken name is already_exists and a missing parent not_found, naming it; nothing is written", async () => {
        const before = await store.latestSequence();
        await expectStoreError(createResource(store, { name: CLOUD, parent: ORG, type: "cloud", displayName: "" }, actor), "already_exists", CLOUD);
        await expectStoreError(
          createResource(store, { name: "clouds/c9", parent: "organizations/ghost", type: "cloud", displayName: "" }, actor),
          "not_found",
          "organizations/ghost",
        );
        expect(await store.getResource("clouds/c9")).toBeUndefined();
        expect(await store.latestSequence()).toBe(before);
      });

      test("listing filters by parent and type and pages by name", async () => {
        for (const id of ["b", "a", "c"]) {
          await createResource(store, { name: `projects/${id}`, parent: ORG, type: "project", displayName: "" }, actor);
        }
        const children = await store.listResources({ parent: ORG, limit: 10 });
        expect(children.map((r) => r.name)).toEqual([CLOUD, "projects/a", "projects/b", "projects/c"]);
        expect((await store.listResources({ parent: ORG, type: "project", limit: 2 })).map((r) => r.name)).toEqual(["projects/a", "projects/b"]);
        expect((await store.listResources({ type: "project", afterName: "projects/b", limit: 10 })).map((r) => r.name)).toEqual([
          "projects/c",
          PROJECT,
        ]);
        expect((await store.listResources({ type: "organization", limit: 10 })).map((r) => r.name)).toEqual([ORG, OTHER_ORG]);
      });

      test("a search matches display names and names case-insensitively, pages by name, and examines at most `scan`", async () => {
        const made = [
          ["projects/s1", "Production EU"],
          ["projects/s2", "staging"],
          ["projects/s3", "PRODUCTION us"],
          ["projects/prod_s4", ""],
          ["projects/s5", "100% pro_d"],
        ] as const;
        for (const [name, displayName] of made) await createResource(store, { name, parent: CLOUD, type: "project", displayName }, actor);
        const search = async (query: Partial<Parameters<Store["searchResources"]>[0]>) => {
          const page = await store.searchResources({ text: "prod", limit: 10, scan: 100, parent: CLOUD, ...query });
          return { names: page.resources.map((r) => r.name), scannedTo: page.scannedTo };
        };
        // Display name or name, any case; in name order; the whole range examined: nothing to continue after.
        expect(await search({})).toEqual({ names: ["projects/prod_s4", "projects/s1", "projects/s3"], scannedTo: undefined });
        expect((await search({ text: "Duction" })).names).toEqual(["projects/s1", "projects/s3"]);
        // LIKE's wildcards are plain characters here.
        expect((await search({ text: "0% pro_" })).names).toEqual(["projects/s5"]);
        expect((await search({ text: "_" })).names).toEqual(["projects/prod_s4", "projects/s5"]);
        expect((await search({ limit: 2 })).names).toEqual(["projects/prod_s4", "projects/s1"]);
        expect((await search({ afterName: "projects/s1" })).names).toEqual(["projects/s3"]);
        // Children of CLOUD in name order: PROJECT (p1), prod_s4, s1, s2, s3, s5. Two examined: p1 and prod_s4.
        expect(await search({ scan: 2 })).toEqual({ names: ["projects/prod_s4"], scannedTo: "projects/prod_s4" });
        expect(await search({ scan: 2, afterName: "projects/prod_s4" })).toEqual({ names: ["projects/s1"], scannedTo: "projects/s2" });
        // Types and the whole server (no parent).
        expect((await search({ parent: undefined, types: ["organization"], text: "acme" })).names).toEqual([ORG]);
        expect((await search({ parent: undefined, types: ["cloud", "organization"], text: "acme" })).names).toEqual([ORG]);
        expect((await search({ parent: undefined, types: [], text: "acme" })).names).toEqual([]);
        expect((await search({ parent: undefined, text: "s3" })).names).toEqual(["projects/s3"]);
        expect((await search({ parent: "organizations/ghost" })).names).toEqual([]);
      });

      test("an update applies what decide returns, with a new etag, and decide sees the stored resource", async () => {
        const before = (await store.getResource(ORG))!;
        let seen: Resource | undefined;
        const updated = await store.updateResource(ORG, (current) => ((seen = current), { displayName: "Acme Inc" }), actor);
        expect(seen).toEqual(before);
        expect(updated.displayName).toBe("Acme Inc");
        expect(updated.etag).not.toBe(before.etag);
        expect(await store.getResource(ORG)).toEqual(updated);
      });

      test("decide reads the hierarchy inside the write: lineage up to the root, and children", async () => {
        let lineage: readonly string[] | undefined;
        let own: readonly string[] | undefined;
        let children: boolean[] = [];
        await store.updateResource(
          CLOUD,
          (current, hierarchy) => {
            // Its own lineage without naming it in `reads`.
            own = hierarchy.lineage(CLOUD);
            lineage = hierarchy.lineage(PROJECT);
            children = [hierarchy.hasChildren(CLOUD), hierarchy.hasChildren(PROJECT), hierarchy.hasChildren("projects/none")];
            expect(hierarchy.lineage("projects/none")).toBeUndefined();
            return keep(current);
          },
          actor,
          [PROJECT, "projects/none"],
        );
        expect(own).toEqual([CLOUD, ORG]);
        expect(lineage).toEqual([PROJECT, CLOUD, ORG]);
        expect(children).toEqual([true, false, false]);
      });

      test("a move re-roots the whole subtree: the chains below it follow", async () => {
        const moved = await store.updateResource(CLOUD, () => ({ parent: OTHER_ORG }), actor);
        expect(moved.parent).toBe(OTHER_ORG);
        expect(names(await store.ancestry(PROJECT))).toEqual([PROJECT, CLOUD, OTHER_ORG]);
        expect((await store.listResources({ parent: ORG, limit: 10 })).map((r) => r.name)).toEqual([]);
        const log = await store.listAuditRecords({ resource: CLOUD, limit: 10 });
        expect(log.map((r) => r.action)).toEqual(["resource.create", "resource.update"]);
        // And back again, to the root level of another tree.
        await store.updateResource(CLOUD, () => ({ parent: ORG }), actor);
        expect(names(await store.ancestry(PROJECT))).toEqual([PROJECT, CLOUD, ORG]);
      });

      test("a decide that throws writes nothing; a missing resource or new parent is not_found", async () => {
        const before = await store.getResource(CLOUD);
        const sequence = await store.latestSequence();
        await expect(
          store.updateResource(CLOUD, () => {
            throw new Error("refused");
          }, actor),
        ).rejects.toThrow("refused");
        await expectStoreError(store.updateResource("clouds/none", keep, actor), "not_found", "clouds/none");
        await expectStoreError(store.updateResource(CLOUD, () => ({ parent: "organizations/ghost" }), actor), "not_found", "organizations/ghost");
        expect(await store.getResource(CLOUD)).toEqual(before);
        expect(await store.latestSequence()).toBe(sequence);
      });

      test("a delete removes the resource and its policy; with cascade the subtree, deepest first", async () => {
        await grant(store, PROJECT, "user:ada@example.com");
        await createResource(store, { name: "projects/p2", parent: ORG, type: "project", displayName: "" }, actor);
        expect(await store.deleteResource("projects/p2", () => ({ cascade: false }), actor)).toEqual(["projects/p2"]);
        const deleted = await store.deleteResource(ORG, () => ({ cascade: true }), actor);
        expect(deleted).toEqual([PROJECT, CLOUD, ORG]);
        for (const name of deleted) {
          expect(await store.getResource(name)).toBeUndefined();
          expect(await store.getPolicy(name)).toBeUndefined();
        }
        expect(await store.ancestry(PROJECT)).toBeUndefined();
        expect(await store.getResource(OTHER_ORG)).toBeDefined();
      });

      test("a delete's decide sees the resource and whether it has children; when it throws nothing is deleted", async () => {
        let seen: [string, boolean] | undefined;
        await expect(
          store.deleteResource(
            CLOUD,
            (current, hierarchy) => {
              seen = [current.name, hierarchy.hasChildren(current.name)];
              throw new Error("has children");
            },
            actor,
          ),
        ).rejects.toThrow("has children");
        expect(seen).toEqual([CLOUD, true]);
        expect(await store.getResource(CLOUD)).toBeDefined();
        await expectStoreError(store.deleteResource("clouds/none", () => ({ cascade: false }), actor), "not_found", "clouds/none");
      });
    });

    describe("policies", () => {
      test("a resource without a policy has an empty one with a valid etag; a missing resource has none", async () => {
        const empty = (await store.getPolicy(ORG))!;
        expect(empty.resource.name).toBe(ORG);
        expect(empty.policy.bindings).toEqual([]);
        expect(empty.policy.etag.length).toBeGreaterThan(0);
        expect(await store.getPolicy("organizations/none")).toBeUndefined();
      });

      test("every write gets a new etag; decide sees the stored policy; undefined deletes", async () => {
        const etags = [hex((await store.getPolicy(ORG))!.policy.etag)];
        let seen: Policy | undefined;
        const first = await grant(store, ORG, "user:ada@example.com");
        const second = await store.updatePolicy(ORG, (stored) => ((seen = stored.policy), grantOf("user:bob@example.com")), actor);
        expect(seen!.bindings[0]!.members).toEqual(["user:ada@example.com"]);
        expect(hex(seen!.etag)).toBe(hex(first.etag));
        const removed = await store.updatePolicy(ORG, () => undefined, actor);
        etags.push(hex(first.etag), hex(second.etag), hex(removed.etag));
        expect(new Set(etags).size).toBe(4);
        const after = (await store.getPolicy(ORG))!.policy;
        expect(after.bindings).toEqual([]);
        expect(hex(after.etag)).toBe(hex(removed.etag));
        await expectStoreError(store.updatePolicy("organizations/none", () => grantOf("user:a@example.com"), actor), "not_found", "organizations/none");
      });

      test("the ancestry is the resource and its ancestors with their policies, from the resource up", async () => {
        await grant(store, CLOUD, "user:ada@example.com");
        expect(membersOf(await store.ancestry(PROJECT))).toEqual([
          [PROJECT, []],
          [CLOUD, ["user:ada@example.com"]],
          [ORG, []],
        ]);
        expect(await store.ancestry("projects/none")).toBeUndefined();
      });

      test("listing returns policies with bindings of one type, beneath a resource, in pages by cursor", async () => {
        for (const id of ["a", "b", "c"]) {
          await createResource(store, { name: `projects/${id}`, parent: CLOUD, type: "project", displayName: "" }, actor);
          await grant(store, `projects/${id}`, `user:${id}@example.com`);
        }
        await createResource(store, { name: "projects/elsewhere", parent: OTHER_ORG, type: "project", displayName: "" }, actor);
        await grant(store, "projects/elsewhere", "user:e@example.com");
        await grant(store, ORG, "user:org@example.com");
        const all = await store.listPolicies({ type: "project", limit: 10 });
        expect(all.map((p) => p.resource.name).sort()).toEqual(["projects/a", "projects/b", "projects/c", "projects/elsewhere"]);
        const beneath = await store.listPolicies({ type: "project", beneath: ORG, limit: 2 });
        expect(beneath).toHaveLength(2);
        const rest = await store.listPolicies({ type: "project", beneath: ORG, afterCursor: beneath[1]!.cursor, limit: 2 });
        expect([...beneath, ...rest].map((p) => p.resource.name).sort()).toEqual(["projects/a", "projects/b", "projects/c"]);
        expect(decoded(rest)[0]!.policy.bindings[0]!.members).toHaveLength(1);
        expect(await store.listPolicies({ type: "project", beneath: "organizations/none", limit: 10 })).toEqual([]);
      });

      test("a listed policy whose stored bytes do not decode is named as unreadable, in its place; the others are listed", async () => {
        for (const id of ["a", "b", "c"]) {
          await createResource(store, { name: `projects/${id}`, parent: CLOUD, type: "project", displayName: "" }, actor);
          await grant(store, `projects/${id}`, `user:${id}@example.com`);
        }
        await database.damagePolicy("projects/b");
        // Another instance, whose cache has not seen the policies written.
        const reader = await another();
        const rows = await reader.listPolicies({ type: "project", beneath: CLOUD, limit: 10 });
        expect(rows.map((row) => [row.resource.name, "unreadable" in row])).toEqual([
          ["projects/a", false],
          ["projects/b", true],
          ["projects/c", false],
        ]);
        const damaged = rows[1] as UnreadablePolicy;
        expect(damaged.unreadable).not.toBe("");
        const after = await reader.listPolicies({ type: "project", beneath: CLOUD, afterCursor: damaged.cursor, limit: 10 });
        expect(after.map((row) => row.resource.name)).toEqual(["projects/c"]);
        expect(decoded(after)[0]!.policy.bindings[0]!.members).toEqual(["user:c@example.com"]);
      });
    });

    describe("the member index (reverse lookups)", () => {
      const ADA = "user:ada@example.com";
      const points = (list: { name: string }[]) => list.map((p) => p.name);
      const inSubtree = (point: { cursor: string; subtreeEnd: string }, cursor: string) =>
        point.cursor <= cursor && cursor < point.subtreeEnd;

      async function project(name: string, parent: string): Promise<void> {
        await createResource(store, { name, parent, type: "project", displayName: "" }, actor);
      }

      test("grant points: the resources binding a member to a role, in cursor order, beneath one, from a cursor", async () => {
        await project("projects/p2", ORG);
        await grant(store, "projects/p2", ADA, "group:eng");
        await grant(store, CLOUD, ADA);
        await grant(store, OTHER_ORG, "group:eng");
        await store.updatePolicy(PROJECT, () => create(PolicySchema, {
          version: 1,
          bindings: [create(BindingSchema, { role: "roles/readonly", members: [ADA] })],
        }), actor);
        const owner = { members: [ADA, "group:eng"], roles: ["roles/owner"], limit: 10 };
        const all = await store.listGrantPoints(owner);
        expect(points(all).sort()).toEqual(["clouds/c1", "organizations/other", "projects/p2"]);
        expect(all.map((p) => p.cursor)).toEqual(all.map((p) => p.cursor).sort());
        expect(points(await store.listGrantPoints({ ...owner, members: [ADA] })).sort()).toEqual(["clouds/c1", "projects/p2"]);
        expect(points(await store.listGrantPoints({ ...owner, roles: ["roles/readonly"] }))).toEqual([PROJECT]);
        expect(points(await store.listGrantPoints({ ...owner, beneath: ORG })).sort()).toEqual(["clouds/c1", "projects/p2"]);
        expect(points(await store.listGrantPoints({ ...owner, beneath: CLOUD }))).toEqual([CLOUD]);
        expect(await store.listGrantPoints({ ...owner, beneath: "organizations/none" })).toEqual([]);
        expect(await store.listGrantPoints({ ...owner, members: ["user:nobody@example.com"] })).toEqual([]);
        // Pages: a limit, then on from just after the last point's subtree.
        const first = await store.listGrantPoints({ ...owner, limit: 1 });
        expect(first).toEqual(all.slice(0, 1));
        expect(await store.listGrantPoints({ ...owner, fromCursor: first[0]!.subtreeEnd })).toEqual(all.slice(1));
        expect(await store.listGrantPoints({ ...owner, fromCursor: all[1]!.cursor })).toEqual(all.slice(1));
      });

      test("bound roles: each role a member holds anywhere, directly or through a shared policy, once, sorted", async () => {
        expect(await store.listGrantPoints({ members: [ADA], boundRoles: true })).toEqual([]);
        await store.updatePolicy(PROJECT, () => create(PolicySchema, { bindings: [create(BindingSchema, { role: "roles/viewer", members: [ADA] })] }), actor);
        await store.updatePolicy(CLOUD, () => create(PolicySchema, { bindings: [create(BindingSchema, { role: "roles/owner", members: [ADA, "group:eng"] })] }), actor);
        await store.updatePolicy(ORG, () => create(PolicySchema, { bindings: [create(BindingSchema, { role: "roles/owner", members: [ADA] })] }), actor);
        const custom = `${ORG}/roles/deployer`;
        await updateSharedPolicy(store, 
          "sharedPolicies/bound",
          () => ({ policy: create(SharedPolicySchema, { parent: ORG, bindings: [create(BindingSchema, { role: custom, members: ["group:eng"] })] }), type: "shared_policy" }),
          actor,
        );
        expect(await store.listGrantPoints({ members: [ADA], boundRoles: true })).toEqual(["roles/owner", "roles/viewer"]);
        expect(await store.listGrantPoints({ members: ["group:eng", ADA], boundRoles: true })).toEqual([custom, "roles/owner", "roles/viewer"].sort());
        await store.updatePolicy(PROJECT, () => undefined, actor);
        expect(await store.listGrantPoints({ members: [ADA], boundRoles: true })).toEqual(["roles/owner"]);
      });

      test("a subtree is the cursors from a grant point up to its subtreeEnd", async () => {
        await grant(store, CLOUD, ADA);
        await project("projects/p2", ORG);
        const [cloud] = await store.listGrantPoints({ members: [ADA], roles: ["roles/owner"], limit: 1 });
        const projects = await store.listSubtree({ type: "project", root: ORG, limit: 10 });
        expect(projects.map((r) => [r.resource.name, inSubtree(cloud!, r.cursor)]).sort()).toEqual([
          [PROJECT, true],
          ["projects/p2", false],
        ]);
      });

      test("listing a subtree: one type, the root included, in cursor order, in pages", async () => {
        for (const id of ["a", "b", "c"]) await project(`projects/${id}`, CLOUD);
        await project("projects/elsewhere", OTHER_ORG);
        const all = await store.listSubtree({ type: "project", root: ORG, limit: 10 });
        expect(all.map((r) => r.resource.name).sort()).toEqual(["projects/a", "projects/b", "projects/c", PROJECT]);
        expect(all.map((r) => r.cursor)).toEqual(all.map((r) => r.cursor).sort());
        expect(all[0]!.resource).toEqual(await store.getResource(all[0]!.resource.name));
        const first = await store.listSubtree({ type: "project", root: ORG, limit: 2 });
        const rest = await store.listSubtree({ type: "project", root: ORG, afterCursor: first[1]!.cursor, limit: 10 });
        expect([...first, ...rest]).toEqual(all);
        expect((await store.listSubtree({ type: "project", root: PROJECT, limit: 10 })).map((r) => r.resource.name)).toEqual([PROJECT]);
        expect((await store.listSubtree({ type: "cloud", root: ORG, limit: 10 })).map((r) => r.resource.name)).toEqual([CLOUD]);
        expect(await store.listSubtree({ type: "project", root: "organizations/none", limit: 10 })).toEqual([]);
      });

      test("the index follows policy rewrites and deletes, resource moves and deletes, on every instance", async () => {
        const other = await another();
        const owner = { members: [ADA], roles: ["roles/owner"], limit: 10 };
        await grant(store, PROJECT, ADA);
        expect(points(await other.listGrantPoints({ ...owner, beneath: ORG }))).toEqual([PROJECT]);
        await grant(other, PROJECT, "user:bob@example.com");
        expect(await store.listGrantPoints(owner)).toEqual([]);
        await grant(store, PROJECT, ADA);
        await store.updatePolicy(PROJECT, () => undefined, actor);
        expect(await store.listGrantPoints(owner)).toEqual([]);
        await grant(store, CLOUD, ADA);
        await store.updateResource(CLOUD, () => ({ parent: OTHER_ORG }), actor);
        expect(await store.listGrantPoints({ ...owner, beneath: ORG })).toEqual([]);
        const [moved] = await other.listGrantPoints({ ...owner, beneath: OTHER_ORG });
        expect(moved!.name).toBe(CLOUD);
        const [underIt] = await store.listSubtree({ type: "project", root: OTHER_ORG, limit: 10 });
        expect(underIt!.resource.name).toBe(PROJECT);
        expect(inSubtree(moved!, underIt!.cursor)).toBe(true);
        await other.deleteResource(CLOUD, () => ({ cascade: true }), actor);
        expect(await store.listGrantPoints(owner)).toEqual([]);
      });
    });

    describe("writes and the change log", () => {
      test("concurrent writes all land, in order, each seeing the one before it", async () => {
        const seen: number[] = [];
        const writes = Array.from({ length: 20 }, (_, i) =>
          store.updatePolicy(
            ORG,
            (stored) => {
              seen.push(stored.policy.bindings[0]?.members.length ?? 0);
              return grantOf(...(stored.policy.bindings[0]?.members ?? []), `user:u${i}@example.com`);
            },
            actor,
          ),
        );
        const results = await Promise.all(writes);
        expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
        expect(results.at(-1)!.bindings[0]!.members).toHaveLength(20);
        expect(new Set(results.map((p) => hex(p.etag))).size).toBe(20);
        const log = await store.listAuditRecords({ resource: ORG, limit: 100 });
        expect(log.filter((r) => r.action === "policy.set")).toHaveLength(20);
      });

      test("a write that throws changes nothing, and the writes around it still commit", async () => {
        const before = await store.getPolicy(ORG);
        const first = grant(store, ORG, "user:a@example.com");
        const failing = store.updatePolicy(ORG, () => {
          throw new Error("stale");
        }, actor);
        const last = grant(store, ORG, "user:c@example.com");
        await expect(failing).rejects.toThrow("stale");
        await first;
        expect((await last).bindings[0]!.members).toEqual(["user:c@example.com"]);
        const log = await store.listAuditRecords({ resource: ORG, limit: 100 });
        expect(log.map((r) => r.action)).toEqual(["resource.create", "policy.set", "policy.set"]);
        expect(hex(log[1]!.etagBefore!)).toBe(hex(before!.policy.etag));
        expect(store.writtenSequence).toBe(log.at(-1)!.seq);
      });

      test("the audit listing: newest first, before a sequence, by action, the policy written, and a subtree's rows", async () => {
        const written = await grant(store, PROJECT, "user:ada@example.com");
        await store.updatePolicy(PROJECT, () => undefined, actor);
        await grant(store, CLOUD, "user:bob@example.com");
        const project = await store.listAuditRecords({ resource: PROJECT, limit: 10 });
        expect(project.map((r) => r.action)).toEqual(["resource.create", "policy.set", "policy.delete"]);
        expect(project[1]!.policy?.bindings.map((b) => [...b.members])).toEqual([["user:ada@example.com"]]);
        expect(hex(project[1]!.policy!.etag)).toBe(hex(written.etag));
        expect(project[0]!.policy).toBeUndefined();
        expect(project[2]!.policy).toBeUndefined();
        const newest = await store.listAuditRecords({ resource: PROJECT, newestFirst: true, limit: 2 });
        expect(newest.map((r) => r.action)).toEqual(["policy.delete", "policy.set"]);
        const older = await store.listAuditRecords({ resource: PROJECT, newestFirst: true, beforeSeq: newest[1]!.seq, limit: 10 });
        expect(older.map((r) => r.action)).toEqual(["resource.create"]);
        expect((await store.listAuditRecords({ resource: PROJECT, actions: ["policy.set"], limit: 10 })).map((r) => r.seq)).toEqual([project[1]!.seq]);
        // The organization's subtree: its own rows and those of everything beneath it, newest first; not the other org's.
        const subtree = await store.listAuditRecords({ resource: ORG, descendants: true, newestFirst: true, limit: 100 });
        expect(subtree.slice(0, 4).map((r) => [r.action, r.resource])).toEqual([
          ["policy.set", CLOUD],
          ["policy.delete", PROJECT],
          ["policy.set", PROJECT],
          ["resource.create", PROJECT],
        ]);
        expect(subtree.map((r) => r.resource)).not.toContain(OTHER_ORG);
        expect(subtree.at(-1)).toMatchObject({ action: "resource.create", resource: ORG });
        // A move out: the rows written while beneath stay in the subtree's log, the move itself too, later rows not.
        await store.updateResource(PROJECT, () => ({ parent: OTHER_ORG }), actor);
        await grant(store, PROJECT, "user:cy@example.com");
        const after = await store.listAuditRecords({ resource: ORG, descendants: true, newestFirst: true, limit: 2 });
        expect(after.map((r) => [r.action, r.resource])).toEqual([
          ["resource.update", PROJECT],
          ["policy.set", CLOUD],
        ]);
        // Bounded by sequence: only the rows between.
        const window = await store.listAuditRecords({ resource: ORG, descendants: true, afterSeq: project[0]!.seq, beforeSeq: project[2]!.seq, limit: 10 });
        expect(window.map((r) => r.action)).toEqual(["policy.set"]);
      });

      test("the change log records who, what and the etags before and after, in sequence order", async () => {
        const written = await grant(store, CLOUD, "user:ada@example.com");
        await store.updatePolicy(CLOUD, () => undefined, { principal: "user:bob@example.com" });
        const log = await store.listAuditRecords({ resource: CLOUD, limit: 10 });
        expect(log.map((r) => [r.action, r.principal])).toEqual([
          ["resource.create", actor.principal],
          ["policy.set", actor.principal],
          ["policy.delete", "user:bob@example.com"],
        ]);
        expect(log.map((r) => r.seq)).toEqual([...log.map((r) => r.seq)].sort((a, b) => a - b));
        expect(hex(log[1]!.etagAfter!)).toBe(hex(written.etag));
        expect(hex(log[2]!.etagBefore!)).toBe(hex(written.etag));
        expect(await store.listAuditRecords({ resource: CLOUD, principal: "user:bob@example.com", limit: 10 })).toHaveLength(1);
        expect(await store.listAuditRecords({ resource: CLOUD, afterSeq: log[0]!.seq, limit: 1 })).toEqual([log[1]]);
        expect(await store.listAuditRecords({ resource: CLOUD, startMs: log[2]!.timeMs + 60_000, limit: 10 })).toEqual([]);
      });

      test("currentOnly keeps the history of the resource under the name now, not of an earlier one deleted", async () => {
        await grant(store, PROJECT, "user:old@example.com");
        await store.deleteResource(PROJECT, () => ({ cascade: false }), actor);
        await createResource(store, { name: PROJECT, parent: OTHER_ORG, type: "project", displayName: "" }, actor);
        await grant(store, PROJECT, "user:new@example.com");
        const all = await store.listAuditRecords({ resource: PROJECT, limit: 20 });
        expect(all.map((r) => r.action)).toEqual(["resource.create", "policy.set", "resource.delete", "resource.create", "policy.set"]);
        const current = await store.listAuditRecords({ resource: PROJECT, currentOnly: true, limit: 20 });
        expect(current).toEqual(all.slice(3));
        await store.deleteResource(PROJECT, () => ({ cascade: false }), actor);
        expect(await store.listAuditRecords({ resource: PROJECT, currentOnly: true, limit: 20 })).toEqual([]);
      });

      test("a cascade delete logs one row per resource deleted", async () => {
        await store.deleteResource(CLOUD, () => ({ cascade: true }), actor);
        for (const name of [CLOUD, PROJECT]) {
          expect((await store.listAuditRecords({ resource: name, limit: 10 })).at(-1)!.action).toBe("resource.delete");
        }
      });
    });

    describe("several instances on one database", () => {
      test("each reads the other's writes at once: policies, chains, moves and deletes", async () => {
        const other = await another();
        await store.getPolicy(CLOUD);
        await store.ancestry(PROJECT);
        const written = await grant(other, CLOUD, "user:bob@example.com");
        expect(hex((await store.getPolicy(CLOUD))!.policy.etag)).toBe(hex(written.etag));
        expect(membersOf(await store.ancestry(PROJECT))[1]).toEqual([CLOUD, ["user:bob@example.com"]]);
        await other.updateResource(CLOUD, () => ({ parent: OTHER_ORG }), actor);
        expect(names(await store.ancestry(PROJECT))).toEqual([PROJECT, CLOUD, OTHER_ORG]);
        await other.deleteResource(PROJECT, () => ({ cascade: false }), actor);
        expect(await store.ancestry(PROJECT)).toBeUndefined();
        expect(await store.getPolicy(PROJECT)).toBeUndefined();
      });

      test("a listing read again follows every change, this instance's and another's: grants, revocations, moves, deletes", async () => {
        const other = await another();
        const page = async () => decoded(await store.listPolicies({ type: "project", beneath: ORG, limit: 10 })).map((p) => [p.resource.name, p.policy.bindings.flatMap((b) => b.members)]);
        await createResource(store, { name: "projects/listed", parent: CLOUD, type: "project", displayName: "" }, actor);
        expect(await page()).toEqual([]);
        expect(await page()).toEqual([]);
        await grant(other, PROJECT, "user:ada@example.com");
        expect(await page()).toEqual([[PROJECT, ["user:ada@example.com"]]]);
        await grant(store, "projects/listed", "user:bob@example.com");
        expect((await page()).sort()).toEqual([[PROJECT, ["user:ada@example.com"]], ["projects/listed", ["user:bob@example.com"]]].sort());
        await grant(other, PROJECT, "user:eve@example.com");
        expect((await page()).sort()).toEqual([[PROJECT, ["user:eve@example.com"]], ["projects/listed", ["user:bob@example.com"]]].sort());
        await other.updatePolicy("projects/listed", () => undefined, actor);
        expect(await page()).toEqual([[PROJECT, ["user:eve@example.com"]]]);
        await other.updateResource(CLOUD, () => ({ parent: OTHER_ORG }), actor);
        expect(await page()).toEqual([]);
        await other.updateResource(CLOUD, () => ({ parent: ORG }), actor);
        expect(await page()).toEqual([[PROJECT, ["user:eve@example.com"]]]);
        await store.deleteResource(PROJECT, () => ({ cascade: false }), actor);
        expect(await page()).toEqual([]);
      });

      test("interleaved writers: each instance always reads the last write", async () => {
        const other = await another();
        for (let i = 0; i < 20; i++) {
          const written = await grant(i % 2 === 0 ? store : other, CLOUD, `user:u${i}@example.com`);
          for (const reader of [store, other]) {
            expect(hex((await reader.getPolicy(CLOUD))!.policy.etag), `write ${i}`).toBe(hex(written.etag));
            expect(membersOf(await reader.ancestry(PROJECT))[1]).toEqual([CLOUD, [`user:u${i}@example.com`]]);
          }
        }
      });

      test("more changes elsewhere than a cache evicts one by one: reads stay right", async () => {
        const other = await another();
        await store.ancestry(PROJECT);
        for (let i = 0; i < 1100; i++) {
          await createResource(other, { name: `projects/bulk${i}`, parent: ORG, type: "project", displayName: "" }, actor);
        }
        await grant(other, ORG, "user:late@example.com");
        expect(membersOf(await store.ancestry(PROJECT))[2]).toEqual([ORG, ["user:late@example.com"]]);
        expect(await store.latestSequence()).toBe(other.writtenSequence);
      });

      test("latestSequence counts every instance's writes; writtenSequence only this one's", async () => {
        const other = await another();
        const mine = store.writtenSequence;
        await grant(other, ORG, "user:ada@example.com");
        expect(store.writtenSequence).toBe(mine);
        expect(await store.latestSequence()).toBe(other.writtenSequence);
        expect(other.writtenSequence).toBeGreaterThan(mine);
      });

      test("changesSince names what other instances changed after a sequence", async () => {
        const other = await another();
        const from = await store.latestSequence();
        await store.changesSince(from, 100);
        await grant(other, CLOUD, "user:ada@example.com");
        await other.updateResource(PROJECT, keep, actor);
        const changes = await store.changesSince(from, 100);
        expect(changes.latest).toBe(other.writtenSequence);
        expect(changes.changed).toEqual([CLOUD, PROJECT]);
        expect((await store.changesSince(from, 1)).changed).toBe("many");
        expect((await store.changesSince(changes.latest, 100)).changed).toEqual([]);
      });

      test("the page-token key is made once per database", async () => {
        const other = await another();
        const key = await store.pageTokenKey();
        expect(key.length).toBeGreaterThanOrEqual(32);
        expect(hex(await other.pageTokenKey())).toBe(hex(key));
      });
    });

    describe("the change feed (Watch)", () => {
      test("readChanges returns every row after a sequence in order, with type, parent and lineage", async () => {
        const from = await store.latestSequence();
        await grant(store, PROJECT, "user:ada@example.com");
        await store.updateResource(PROJECT, () => ({ parent: ORG }), actor);
        await store.updatePolicy(PROJECT, () => undefined, actor);
        await store.deleteResource(CLOUD, () => ({ cascade: false }), actor);
        const changes = await store.readChanges({ afterSeq: from, limit: 100 });
        expect(changes.map((c) => c.seq)).toEqual([from + 1, from + 2, from + 3, from + 4]);
        expect(changes.map((c) => c.action)).toEqual(["policy.set", "resource.update", "policy.delete", "resource.delete"]);
        const [set, move, deleted, gone] = changes;
        expect(set).toMatchObject({ resource: PROJECT, resourceType: "project", parent: CLOUD, lineage: [PROJECT, CLOUD, ORG] });
        expect(set!.principal).toBe(actor.principal);
        expect(set!.policy!.bindings[0]!.members).toEqual(["user:ada@example.com"]);
        expect(hex(set!.policy!.etag)).toBe(hex((await store.readChanges({ afterSeq: from, limit: 1 }))[0]!.policy!.etag));
        expect(set!.policy!.etag.length).toBeGreaterThan(0);
        expect(move).toMatchObject({
          parent: ORG,
          previousParent: CLOUD,
          lineage: [PROJECT, ORG],
          previousLineage: [PROJECT, CLOUD, ORG],
        });
        expect(deleted!.policy).toBeUndefined();
        expect(set!.previousParent).toBeUndefined();
        expect(gone).toMatchObject({ resource: CLOUD, resourceType: "cloud", parent: ORG, lineage: [CLOUD, ORG] });
        expect((await store.readChanges({ afterSeq: from, limit: 2 })).map((c) => c.seq)).toEqual([from + 1, from + 2]);
        expect(await store.readChanges({ afterSeq: from + 4, limit: 10 })).toEqual([]);
      });

      test("readChanges with a byte bound returns the rows that fit, at least one, in order", async () => {
        const from = await store.latestSequence();
        const many = (n: number) => Array.from({ length: n }, (_, i) => `user:member-${i}@example.com`);
        await grant(store, PROJECT, ...many(200));
        await grant(store, CLOUD, ...many(200));
        await grant(store, ORG, ...many(200));
        const sizes = (await store.readChanges({ afterSeq: from, limit: 10 })).map((c) => toBinary(PolicySchema, c.policy!).length);
        // A stored change is its policy's bytes, give or take a few: the bound falls between whole rows.
        expect((await store.readChanges({ afterSeq: from, limit: 10, maxBytes: sizes[0]! * 1.5 })).map((c) => c.seq)).toEqual([from + 1]);
        expect((await store.readChanges({ afterSeq: from, limit: 10, maxBytes: 1 })).map((c) => c.seq)).toEqual([from + 1]);
        expect((await store.readChanges({ afterSeq: from, limit: 10, maxBytes: sizes[0]! * 2.5 })).map((c) => c.seq)).toEqual([from + 1, from + 2]);
        expect((await store.readChanges({ afterSeq: from, limit: 2, maxBytes: 1e9 })).map((c) => c.seq)).toEqual([from + 1, from + 2]);
        expect((await store.readChanges({ afterSeq: from + 1, limit: 10, maxBytes: 1e9 })).map((c) => c.seq)).toEqual([from + 2, from + 3]);
        expect(await store.readChanges({ afterSeq: from + 3, limit: 10, maxBytes: 1e9 })).toEqual([]);
      });

      test("a cascade delete records each resource's lineage as it was", async () => {
        const from = await store.latestSequence();
        await store.deleteResource(ORG, () => ({ cascade: true }), actor);
        const changes = await store.readChanges({ afterSeq: from, limit: 10 });
        expect(changes.map((c) => [c.resource, c.lineage])).toEqual([
          [PROJECT, [PROJECT, CLOUD, ORG]],
          [CLOUD, [CLOUD, ORG]],
          [ORG, [ORG]],
        ]);
      });

      test("a chain link carries the sequence that created its resource; a name created again has a later one", async () => {
        const [project, cloud, org] = (await store.ancestry(PROJECT))!;
        const created = (await store.readChanges({ afterSeq: 0, limit: 100 })).filter((c) => c.action === "resource.create");
        const createdAt = (name: string) => created.filter((c) => c.resource === name).at(-1)!.seq;
        expect([project!.createSeq, cloud!.createSeq, org!.createSeq]).toEqual([createdAt(PROJECT), createdAt(CLOUD), createdAt(ORG)]);
        expect((await store.getPolicy(PROJECT))!.createSeq).toBe(createdAt(PROJECT));
        await store.deleteResource(PROJECT, () => ({ cascade: false }), actor);
        await createResource(store, { name: PROJECT, parent: OTHER_ORG, type: "project", displayName: "" }, actor);
        expect((await store.ancestry(PROJECT))![0]!.createSeq).toBe(await store.latestSequence());
      });

      test("a removal row keeps the deny rules of the resource's own link, its bound shared policies' included", async () => {
        const rule = (principal: string) => create(DenyRuleSchema, { deniedPrincipals: [principal], deniedPermissions: ["projects.getPolicy"] });
        await updateDenyPolicy(store, PROJECT, () => create(DenyPolicySchema, { rules: [rule("user:own@example.com")] }), actor);
        await updateDenyPolicy(store, CLOUD, () => create(DenyPolicySchema, { rules: [rule("user:cloud@example.com")] }), actor);
        const guardrail = create(SharedPolicySchema, { parent: ORG, denyRules: [rule("user:shared@example.com")] });
        await updateSharedPolicy(store, "sharedPolicies/guardrail", () => ({ policy: guardrail, type: "shared_policy" }), actor);
        await updateBinding(store, "sharedPolicies/guardrail", PROJECT, () => true, actor);
        await updateSharedPolicy(store, "sharedPolicies/plain", () => ({ policy: create(SharedPolicySchema, { parent: ORG }), type: "shared_policy" }), actor);
        const from = await store.latestSequence();
        await store.deleteResource(CLOUD, () => ({ cascade: true }), actor);
        await updateSharedPolicy(store, "sharedPolicies/plain", () => ({ delete: true, unbind: false }), actor);
        const [project, cloud, plain] = await store.readChanges({ afterSeq: from, limit: 10 });
        const principals = (c: ChangeRecord | undefined) => c?.denyRulesAtRemoval?.map((r) => r.deniedPrincipals[0]);
        expect(project!.action).toBe("resource.delete");
        expect(principals(project)).toEqual(["user:own@example.com", "user:shared@example.com"]);
        expect(principals(cloud)).toEqual(["user:cloud@example.com"]);
        expect(plain!.action).toBe("sharedPolicy.delete");
        expect(principals(plain)).toEqual([]);
        // Rows that end nothing keep none.
        expect((await store.readChanges({ afterSeq: 0, limit: from })).every((c) => c.denyRulesAtRemoval === undefined)).toBe(true);
      });

      test("readChanges({ removalOf }) finds where the resource that had a name at a sequence ended", async () => {
        const first = (await store.ancestry(PROJECT))![0]!.createSeq;
        await grant(store, PROJECT, "user:ada@example.com");
        await store.deleteResource(PROJECT, () => ({ cascade: false }), actor);
        const ended = await store.latestSequence();
        await createResource(store, { name: PROJECT, parent: ORG, type: "project", displayName: "" }, actor);
        await grant(store, PROJECT, "user:bob@example.com");
        expect((await store.readChanges({ removalOf: PROJECT, fromSeq: first }))[0]).toMatchObject({ seq: ended, action: "resource.delete", lineage: [PROJECT, CLOUD, ORG] });
        expect((await store.readChanges({ removalOf: PROJECT, fromSeq: ended }))[0]!.seq).toBe(ended);
        expect((await store.readChanges({ removalOf: PROJECT, fromSeq: ended + 1 }))[0]).toBeUndefined();
        expect((await store.readChanges({ removalOf: CLOUD, fromSeq: 0 }))[0]).toBeUndefined();
        await updateSharedPolicy(store, "sharedPolicies/s", () => ({ policy: create(SharedPolicySchema, { parent: ORG }), type: "shared_policy" }), actor);
        await updateSharedPolicy(store, "sharedPolicies/s", () => ({ delete: true, unbind: false }), actor);
        expect((await (await another()).readChanges({ removalOf: "sharedPolicies/s", fromSeq: 0 }))[0]).toMatchObject({ action: "sharedPolicy.delete", seq: await store.latestSequence() });
      });

      test("another instance reads the rows at once", async () => {
        const other = await another();
        await grant(other, CLOUD, "user:ada@example.com");
        const latest = await store.latestSequence();
        expect((await store.readChanges({ afterSeq: latest - 1, limit: 10 })).map((c) => c.resource)).toEqual([CLOUD]);
      });

      test("pruning by count and by age keeps the newest row; the oldest sequence follows", async () => {
        const first = await oldestSequence(store);
        expect(first).toBe(1);
        for (let i = 0; i < 5; i++) await grant(store, ORG, `user:u${i}@example.com`);
        const latest = await store.latestSequence();
        expect(await store.pruneChanges({ keepLast: 3 })).toBe(latest - 3);
        expect(await oldestSequence(store)).toBe(latest - 2);
        expect((await store.readChanges({ afterSeq: 0, limit: 100 })).map((c) => c.seq)).toEqual([latest - 2, latest - 1, latest]);
        expect(await store.pruneChanges({ beforeMs: Date.now() + 60_000 })).toBe(2);
        expect(await oldestSequence(store)).toBe(latest);
        // Sequences never restart: the next write follows the newest.
        await grant(store, ORG, "user:next@example.com");
        expect(await store.latestSequence()).toBe(latest + 1);
        expect(await store.pruneChanges({ keepLast: 0 })).toBe(1);
        expect(await oldestSequence(store)).toBe(latest + 1);
      });

      test("a cache that looks from before the retained log is told that many changed", async () => {
        const other = await another();
        for (let i = 0; i < 3; i++) await grant(store, ORG, `user:u${i}@example.com`);
        const latest = await store.latestSequence();
        await store.pruneChanges({ keepLast: 1 });
        expect((await other.changesSince(1, 100)).changed).toBe("many");
        expect((await other.changesSince(latest - 1, 100)).changed).toEqual([ORG]);
      });
    });

    describe("consumers", () => {
      const scope = { name: "consumers/edge", displayName: "Edge", subtree: ORG, resourceTypes: ["project"], root: ORG };
      const unscoped = { name: "consumers/all", displayName: "", subtree: "", resourceTypes: [], root: "" };
      const ack = (upTo: number, failures: { resource: string; seq: number; message: string }[] = [], resolved: string[] = []) => ({
        upTo,
        failures,
        resolved,
        timeMs: 2000,
      });
      const refuse = () => {
        throw new Error("refused");
      };

      test("created, listed by name with their scope, and deleted; a taken name or unknown one fails", async () => {
        const created = await store.writeConsumer({ create: scope, timeMs: 1000 });
        expect(created).toEqual({ ...scope, acknowledgedSeq: 0, createTimeMs: 1000, failureCount: 0 });
        await store.writeConsumer({ create: unscoped, timeMs: 2000 });
        expect((await store.consumerChanges(0)).changed.map((c) => c.name)).toEqual(["consumers/all", "consumers/edge"]);
        await expectStoreError(store.writeConsumer({ create: scope, timeMs: 3000 }), "already_exists", scope.name);
        await store.writeConsumer({ delete: "consumers/all" });
        expect((await (await another()).consumerChanges(0)).changed.map((c) => c.name)).toEqual(["consumers/edge"]);
        await expectStoreError(store.writeConsumer({ delete: "consumers/all" }), "not_found", "consumers/all");
      });

      test("acknowledgements move forward only; failures are upserted per resource, resolved, and read by resource", async () => {
        await store.writeConsumer({ create: scope, timeMs: 1000 });
        let consumer = await store.writeConsumer({ acknowledge: scope.name, ack: ack(5, [{ resource: PROJECT, seq: 4, message: "quota" }]) });
        expect(consumer).toMatchObject({ acknowledgedSeq: 5, acknowledgeTimeMs: 2000, failureCount: 1 });
        expect(await store.listResourceFailures(PROJECT, [scope.name])).toEqual([
          { consumer: scope.name, resource: PROJECT, seq: 4, message: "quota", timeMs: 2000 },
        ]);
        consumer = await store.writeConsumer({ acknowledge: scope.name, ack: {
          upTo: 3,
          failures: [{ resource: PROJECT, seq: 5, message: "again" }, { resource: CLOUD, seq: 5, message: "x" }],
          resolved: [],
          timeMs: 3000,
        } });
        expect(consumer).toMatchObject({ acknowledgedSeq: 5, failureCount: 2 });
        expect(await store.listResourceFailures(PROJECT, [scope.name])).toEqual([
          { consumer: scope.name, resource: PROJECT, seq: 5, message: "again", timeMs: 3000 },
        ]);
        consumer = await store.writeConsumer({ acknowledge: scope.name, ack: { upTo: 6, failures: [], resolved: [PROJECT], timeMs: 4000 } });
        expect(consumer.failureCount).toBe(1);
        expect(await store.listResourceFailures(PROJECT, [scope.name])).toEqual([]);
        expect((await store.listResourceFailures(CLOUD, [scope.name])).map((f) => f.message)).toEqual(["x"]);
        expect((await store.consumerChanges(0)).changed[0]).toEqual(consumer);
        await expectStoreError(store.writeConsumer({ acknowledge: "consumers/none", ack: ack(1) }), "not_found", "consumers/none");
        await store.writeConsumer({ delete: scope.name });
        expect(await store.listResourceFailures(CLOUD, [scope.name])).toEqual([]);
        expect((await store.writeConsumer({ create: scope, timeMs: 5000 })).failureCount).toBe(0);
      });

      test("N consumers with M failures each: counted per consumer, read per resource for the consumers asked about", async () => {
        const n = 12;
        const m = 40;
        const consumerNames = Array.from({ length: n }, (_, i) => `consumers/c${String(i).padStart(2, "0")}`);
        const resources = Array.from({ length: m }, (_, j) => `projects/r${j}`);
        for (const name of [...consumerNames].reverse()) await store.writeConsumer({ create: { ...scope, name }, timeMs: 1000 });
        await Promise.all(
          consumerNames.map((name, i) =>
            store.writeConsumer({ acknowledge: name, ack: ack(1, resources.map((resource, j) => ({ resource, seq: 1, message: `${i}:${j}` }))) }),
          ),
        );
        const listed = (await (await another()).consumerChanges(0)).changed;
        expect(listed.map((c) => [c.name, c.failureCount])).toEqual(consumerNames.map((name) => [name, m]));
        for (const [j, resource] of resources.entries()) {
          const failures = await store.listResourceFailures(resource, [...consumerNames].reverse());
          expect(failures.map((f) => [f.consumer, f.message])).toEqual(consumerNames.map((name, i) => [name, `${i}:${j}`]));
        }
        // Resolving one resource for every consumer leaves each with the others.
        await Promise.all(consumerNames.map((name) => store.writeConsumer({ acknowledge: name, ack: ack(1, [], [resources[0]!]) })));
        expect((await store.consumerChanges(0)).changed.every((c) => c.failureCount === m - 1)).toBe(true);
        expect(await store.listResourceFailures(resources[0]!, consumerNames)).toEqual([]);
        // A consumer with all its failures goes at once, and only its failures with it.
        await store.writeConsumer({ delete: consumerNames[0]! });
        expect((await store.listResourceFailures(resources[1]!, consumerNames)).map((f) => f.consumer)).toEqual(consumerNames.slice(1));
        // Only the consumers asked about; none asked, none read.
        expect((await store.listResourceFailures(resources[1]!, consumerNames.slice(3, 5))).map((f) => f.consumer)).toEqual(consumerNames.slice(3, 5));
        expect(await store.listResourceFailures(resources[1]!, [])).toEqual([]);
      });

      test("consumerChanges: everything from 0, nothing when nothing changed, then only what was written or deleted", async () => {
        const reader = await another();
        const empty = await reader.consumerChanges(0);
        expect(empty.changed).toEqual([]);
        await store.writeConsumer({ create: scope, timeMs: 1000 });
        await store.writeConsumer({ create: unscoped, timeMs: 1000 });
        const first = await reader.consumerChanges(empty.version);
        expect(first.changed.map((c) => c.name)).toEqual(["consumers/all", "consumers/edge"]);
        expect(first.names).toBeUndefined();
        expect(first.version).toBeGreaterThan(empty.version);
        expect(await reader.consumerChanges(first.version)).toEqual({ version: first.version, changed: [] });
        expect((await reader.consumerChanges(0)).changed.map((c) => c.name)).toEqual(["consumers/all", "consumers/edge"]);
        const acknowledged = await store.writeConsumer({ acknowledge: scope.name, ack: ack(3, [{ resource: PROJECT, seq: 2, message: "m" }]) });
        const second = await reader.consumerChanges(first.version);
        expect(second.changed).toEqual([acknowledged]);
        expect(second.names).toBeUndefined();
        await store.writeConsumer({ delete: unscoped.name });
        const third = await reader.consumerChanges(second.version);
        expect(third).toEqual({ version: third.version, changed: [], names: [scope.name] });
        expect(third.version).toBeGreaterThan(second.version);
        // A reader further behind gets what it missed: the acknowledged consumer, and the names after the delete.
        expect(await reader.consumerChanges(first.version)).toEqual({ version: third.version, changed: [acknowledged], names: [scope.name] });
      });

      test("a registration's admission is told how many consumers share its root; refused, it writes nothing", async () => {
        const counts: number[] = [];
        await store.writeConsumer({ create: scope, timeMs: 1000, admit: (n) => counts.push(n) });
        await store.writeConsumer({ create: { ...scope, name: "consumers/b", subtree: PROJECT }, timeMs: 1000, admit: (n) => counts.push(n) });
        await store.writeConsumer({ create: { ...unscoped, name: "consumers/other", subtree: OTHER_ORG, root: OTHER_ORG }, timeMs: 1000, admit: (n) => counts.push(n) });
        await store.writeConsumer({ create: unscoped, timeMs: 1000, admit: (n) => counts.push(n) });
        expect(counts).toEqual([0, 1, 0, 0]);
        const { version } = await store.consumerChanges(0);
        // Refused in the same batch as one that is admitted: only the refused one is left out.
        const [refused, admitted] = await Promise.allSettled([
          store.writeConsumer({ create: { ...scope, name: "consumers/c" }, timeMs: 1000, admit: (n) => {
            counts.push(n);
            refuse();
          } }),
          store.writeConsumer({ create: { ...unscoped, name: "consumers/d" }, timeMs: 1000 }),
        ]);
        expect(refused).toMatchObject({ status: "rejected", reason: { message: "refused" } });
        expect(admitted!.status).toBe("fulfilled");
        expect(counts.at(-1)).toBe(2);
        expect((await (await another()).consumerChanges(0)).changed.map((c) => c.name)).toEqual([
          "consumers/all",
          "consumers/b",
          "consumers/d",
          "consumers/edge",
          "consumers/other",
        ]);
        expect((await store.consumerChanges(version)).changed.map((c) => c.name)).toEqual(["consumers/d"]);
      });

      test("an acknowledgement's admission is told the failures before and after it; refused, it writes nothing", async () => {
        await store.writeConsumer({ create: scope, timeMs: 1000 });
        const seen: { before: number; after: number }[] = [];
        const failures = [PROJECT, CLOUD].map((resource) => ({ resource, seq: 2, message: "m" }));
        await store.writeConsumer({ acknowledge: scope.name, ack: ack(2, failures), admit: (counts) => seen.push(counts) });
        // Reported again, a new one, and one resolved (a resource both reported and resolved ends resolved).
        const next = ack(3, [...failures, { resource: ORG, seq: 3, message: "n" }, { resource: OTHER_ORG, seq: 3, message: "o" }], [CLOUD, OTHER_ORG]);
        const before = await store.latestSequence();
        const { version } = await store.consumerChanges(0);
        await expect(
          store.writeConsumer({ acknowledge: scope.name, ack: next, admit: (counts) => {
            seen.push(counts);
            refuse();
          } }),
        ).rejects.toThrow("refused");
        expect(seen).toEqual([
          { before: 0, after: 2 },
          { before: 2, after: 2 },
        ]);
        const reader = await another();
        expect((await reader.consumerChanges(0)).changed[0]).toMatchObject({ acknowledgedSeq: 2, failureCount: 2 });
        expect(await reader.listResourceFailures(ORG, [scope.name])).toEqual([]);
        expect((await reader.listResourceFailures(CLOUD, [scope.name])).length).toBe(1);
        expect(await reader.consumerChanges(version)).toEqual({ version, changed: [] });
        expect(await store.latestSequence()).toBe(before);
        expect(await store.writeConsumer({ acknowledge: scope.name, ack: next })).toMatchObject({ acknowledgedSeq: 3, failureCount: 2 });
        expect((await reader.listResourceFailures(ORG, [scope.name])).length).toBe(1);
      });

      test("readChanges at sequences returns the retained rows at those sequences, in order", async () => {
        await grant(store, PROJECT, "user:a@example.com");
        await grant(store, CLOUD, "user:b@example.com");
        const latest = await store.latestSequence();
        const rows = await store.readChanges({ at: [latest, latest - 1, latest + 5] });
        expect(rows.map((row) => [row.seq, row.resource, row.lineage])).toEqual([
          [latest - 1, PROJECT, [PROJECT, CLOUD, ORG]],
          [latest, CLOUD, [CLOUD, ORG]],
        ]);
        expect(await store.readChanges({ at: [] })).toEqual([]);
        await store.pruneChanges({ keepLast: 1 });
        expect((await store.readChanges({ at: [latest - 1, latest] })).map((row) => row.seq)).toEqual([latest]);
      });
    });

    // Tests written for the mutants that survived a mutation run over the stores' write paths (docs/testing.md,
    // "Mutation testing"): each asserts what a caller of the store sees.
    describe("write paths", () => {
      const note = (text: string) => new TextEncoder().encode(text);
      const putNote = (target: Store, resource: string, key: string, text: string) =>
        target.updateDocument(
          "test.note",
          resource,
          key,
          (stored) => ({ body: note(text), entries: 1, action: changeAction("role", "update"), etagBefore: stored!.documents[0]?.etag ?? null, logged: null }),
          actor,
        );

      test("the children's documents of a kind: every document of a child with several, by child and key", async () => {
        await putNote(store, CLOUD, "b", "cloud b");
        await putNote(store, CLOUD, "a", "cloud a");
        const listed = await store.listDocuments("test.note", { parent: ORG, limit: 10 });
        expect(listed.map((child) => [child.resource, child.parent, child.documents.map((d) => [d.key, new TextDecoder().decode(d.body)])])).toEqual([
          [CLOUD, ORG, [["a", "cloud a"], ["b", "cloud b"]]],
        ]);
      });

      test("links: both ends name at most the one link, neither lists every link, and a first page starts at the first name", async () => {
        const shared = (name: string) =>
          updateSharedPolicy(store, name, () => ({ policy: create(SharedPolicySchema, { parent: ORG, bindings: [create(BindingSchema, { role: "roles/readonly", members: ["user:a@example.com"] })] }), type: "shared_policy" }), actor);
        const bind = (name: string, target: string) => updateBinding(store, name, target, () => true, actor);
        // A name that sorts before any letter's: the store takes names as they come.
        const early = "0rgs/first";
        await createResource(store, { name: early, parent: ORG, type: "cloud", displayName: "" }, actor);
        await shared("sharedPolicies/a");
        await shared("sharedPolicies/b");
        await bind("sharedPolicies/a", CLOUD);
        await bind("sharedPolicies/a", ORG);
        await bind("sharedPolicies/a", early);
        await bind("sharedPolicies/b", PROJECT);
        const pairs = (links: readonly { sharedPolicy: string; target: string }[]) => links.map((b) => [b.sharedPolicy, b.target]);
        expect(pairs(await listBindings(store, { sharedPolicy: "sharedPolicies/a", target: ORG, limit: 10 }))).toEqual([["sharedPolicies/a", ORG]]);
        expect(await listBindings(store, { sharedPolicy: "sharedPolicies/b", target: ORG, limit: 10 })).toEqual([]);
        expect(pairs(await listBindings(store, { sharedPolicy: "sharedPolicies/a", limit: 10 }))).toEqual([
          ["sharedPolicies/a", early],
          ["sharedPolicies/a", CLOUD],
          ["sharedPolicies/a", ORG],
        ]);
        expect(pairs(await listBindings(store, { target: early, limit: 10 }))).toEqual([["sharedPolicies/a", early]]);
        expect(pairs(await listBindings(store, { limit: 10 })).map(([from]) => from)).toEqual([
          "sharedPolicies/a",
          "sharedPolicies/a",
          "sharedPolicies/a",
          "sharedPolicies/b",
        ]);
        expect(pairs(await listBindings(store, { afterName: "sharedPolicies/a", limit: 10 }))).toEqual([["sharedPolicies/b", PROJECT]]);
      });

      test("a batch's policy without bindings is not listed by type, one with bindings is", async () => {
        await store.createResources(
          [
            { resource: { name: "clouds/empty", parent: ORG, type: "cloud", displayName: "" }, policy: create(PolicySchema, { version: 1 }) },
            { resource: { name: "clouds/granted", parent: ORG, type: "cloud", displayName: "" }, policy: grantOf("user:a@example.com") },
            { resource: { name: "clouds/bare", parent: ORG, type: "cloud", displayName: "" } },
          ],
          actor,
        );
        expect(decoded(await store.listPolicies({ type: "cloud", beneath: ORG, limit: 10 })).map((p) => p.resource.name)).toEqual(["clouds/granted"]);
      });

      test("a resource update logs the etag it had; one that keeps its parent keeps it; a move to the top is logged", async () => {
        const before = (await store.getResource(PROJECT))!;
        const renamed = await store.updateResource(PROJECT, () => ({ displayName: "P" }), actor);
        expect(renamed).toMatchObject({ parent: CLOUD, displayName: "P" });
        expect(names(await (await another()).ancestry(PROJECT))).toEqual([PROJECT, CLOUD, ORG]);
        const [update, created] = await store.listAuditRecords({ resource: PROJECT, newestFirst: true, limit: 2 });
        expect([created!.action, update!.action]).toEqual(["resource.create", "resource.update"]);
        expect(hex(update!.etagBefore!)).toBe(hex(created!.etagAfter!));
        expect(hex(update!.etagAfter!)).not.toBe(hex(update!.etagBefore!));
        expect(renamed.etag).not.toBe(before.etag);
        const latest = await store.latestSequence();
        const top = await store.updateResource(PROJECT, () => ({ displayName: "P", parent: "" }), actor);
        expect(top.parent).toBe("");
        expect(names(await (await another()).ancestry(PROJECT))).toEqual([PROJECT]);
        const [moved] = await store.readChanges({ afterSeq: latest, limit: 10 });
        expect(moved).toMatchObject({ resource: PROJECT, parent: "", previousParent: CLOUD, lineage: [PROJECT], previousLineage: [PROJECT, CLOUD, ORG] });
        // A root's change rows name no parent.
        await grant(store, ORG, "user:a@example.com");
        expect((await store.readChanges({ afterSeq: latest + 1, limit: 10 })).map((c) => [c.resource, c.parent])).toEqual([[ORG, ""]]);
      });

      test("an update naming the parent it already has is no move: its change row has no previous parent or lineage", async () => {
        const latest = await store.latestSequence();
        await store.updateResource(PROJECT, () => ({ displayName: "Q", parent: CLOUD }), actor);
        await store.updateResource(ORG, () => ({ displayName: "A", parent: "" }), actor);
        const rows = await store.readChanges({ afterSeq: latest, limit: 10 });
        expect(rows.map((row) => [row.resource, row.parent, row.previousParent, row.previousLineage])).toEqual([
          [PROJECT, CLOUD, undefined, undefined],
          [ORG, "", undefined, undefined],
        ]);
      });

      test("a binding's create logs its etag after, its delete its etag before; only a shared policy binds", async () => {
        const shared = "sharedPolicies/logged";
        await updateSharedPolicy(store, shared, () => ({ policy: create(SharedPolicySchema, { parent: ORG }), type: "shared_policy" }), actor);
        await updateBinding(store, shared, CLOUD, () => true, actor);
        await updateBinding(store, shared, CLOUD, () => false, actor);
        const [unbind, bind] = await store.listAuditRecords({ resource: CLOUD, newestFirst: true, limit: 2 });
        expect(bind!.etagAfter).toBeDefined();
        expect(bind!.etagBefore ?? null).toBeNull();
        expect(hex(unbind!.etagBefore!)).toBe(hex(bind!.etagAfter!));
        expect(unbind!.etagAfter ?? null).toBeNull();
        await expectStoreError(updateBinding(store, ORG, CLOUD, () => true, actor), "not_found", ORG);
      });

      test("an owned document's resource: created with no display name, and not_found for what its decide cannot do", async () => {
        const owned = (name: string, decide: Parameters<Store["updateDocument"]>[3]) =>
          store.updateDocument("test.owned", name, "", decide, actor, { owned: true });
        const body = { body: note("x"), entries: 1, action: changeAction("role", "update"), etagBefore: null, logged: null };
        await owned("notes/n1", () => ({ ...body, create: { parent: ORG, type: "note" } }));
        expect(await store.getResource("notes/n1")).toMatchObject({ parent: ORG, type: "note", displayName: "" });
        await expectStoreError(owned("notes/none", () => body), "not_found", "notes/none");
        await expectStoreError(owned("notes/none", () => ({ remove: true, action: changeAction("role", "delete"), etagBefore: null })), "not_found", "notes/none");
        expect(await store.getResource("notes/none")).toBeUndefined();
      });

      test("an owned document's resource sits under its parent: its ancestry and its change row's place; a missing parent is not_found", async () => {
        const latest = await store.latestSequence();
        const body = { body: note("x"), entries: 1, action: changeAction("role", "update"), etagBefore: null, logged: null };
        await store.updateDocument("test.owned", "notes/n2", "", () => ({ ...body, create: { parent: PROJECT, type: "note" } }), actor, { owned: true });
        expect(names(await (await another()).ancestry("notes/n2"))).toEqual(["notes/n2", PROJECT, CLOUD, ORG]);
        const [created] = await store.readChanges({ afterSeq: latest, limit: 10 });
        expect(created).toMatchObject({ resource: "notes/n2", resourceType: "note", parent: PROJECT, lineage: ["notes/n2", PROJECT, CLOUD, ORG] });
        const orphan = store.updateDocument("test.owned", "notes/n3", "", () => ({ ...body, create: { parent: "projects/none", type: "note" } }), actor, { owned: true });
        await expectStoreError(orphan, "not_found", "projects/none");
        expect(await store.getResource("notes/n3")).toBeUndefined();
      });

      test("an owned resource's removal row keeps the deny rules of its own link, as a resource delete's does", async () => {
        const rule = (principal: string) => create(DenyRuleSchema, { deniedPrincipals: [principal], deniedPermissions: ["projects.getPolicy"] });
        const body = { body: note("x"), entries: 1, action: changeAction("role", "update"), etagBefore: null, logged: null };
        await store.updateDocument("test.owned", "notes/denied", "", () => ({ ...body, create: { parent: PROJECT, type: "note" } }), actor, { owned: true });
        await updateDenyPolicy(store, "notes/denied", () => create(DenyPolicySchema, { rules: [rule("user:own@example.com")] }), actor);
        const guardrail = create(SharedPolicySchema, { parent: ORG, denyRules: [rule("user:shared@example.com")] });
        await updateSharedPolicy(store, "sharedPolicies/guardrail", () => ({ policy: guardrail, type: "shared_policy" }), actor);
        await updateBinding(store, "sharedPolicies/guardrail", "notes/denied", () => true, actor);
        const from = await store.latestSequence();
        const removal = { remove: true as const, action: changeAction("resource", "delete"), etagBefore: null };
        await store.updateDocument("test.owned", "notes/denied", "", () => removal, actor, { owned: true });
        const [removed] = await (await another()).readChanges({ afterSeq: from, limit: 10 });
        expect(removed).toMatchObject({ seq: from + 1, resource: "notes/denied", action: "resource.delete", lineage: ["notes/denied", PROJECT, CLOUD, ORG] });
        expect(removed!.denyRulesAtRemoval?.map((r) => r.deniedPrincipals[0])).toEqual(["user:own@example.com", "user:shared@example.com"]);
        expect(await store.getResource("notes/denied")).toBeUndefined();
      });

      test("an owned removal that unlinks: a row per link, then the removal, numbered on from the last write; this instance has written them all", async () => {
        const shared = "sharedPolicies/bound";
        await updateSharedPolicy(store, shared, () => ({ policy: create(SharedPolicySchema, { parent: ORG }), type: "shared_policy" }), actor);
        await updateBinding(store, shared, CLOUD, () => true, actor);
        await updateBinding(store, shared, PROJECT, () => true, actor);
        const from = await store.latestSequence();
        await updateSharedPolicy(store, shared, () => ({ delete: true, unbind: true }), actor);
        const rows = await (await another()).readChanges({ afterSeq: from, limit: 10 });
        expect(rows.map((row) => [row.seq, row.action, row.resource])).toEqual([
          [from + 1, "sharedPolicyBinding.delete", CLOUD],
          [from + 2, "sharedPolicyBinding.delete", PROJECT],
          [from + 3, "sharedPolicy.delete", shared],
        ]);
        // The feed of this process reads up to what it committed: every row of the removal.
        expect(store.writtenSequence).toBe(from + 3);
        // Without links: the one row. And writes committed together with a removal each get sequences of their own.
        await updateSharedPolicy(store, "sharedPolicies/alone", () => ({ policy: create(SharedPolicySchema, { parent: ORG }), type: "shared_policy" }), actor);
        const before = await store.latestSequence();
        await Promise.all([
          grant(store, CLOUD, "user:before@example.com"),
          updateSharedPolicy(store, "sharedPolicies/alone", () => ({ delete: true, unbind: true }), actor),
          grant(store, PROJECT, "user:after@example.com"),
        ]);
        expect(store.writtenSequence).toBe(before + 3);
        const together = await (await another()).readChanges({ afterSeq: before, limit: 10 });
        expect(together.map((row) => row.seq)).toEqual([before + 1, before + 2, before + 3]);
        expect(together.map((row) => row.resource).sort()).toEqual([CLOUD, PROJECT, "sharedPolicies/alone"].sort());
        expect(store.writtenSequence).toBe(await store.latestSequence());
      });

      test("a batch item under an existing resource logs its whole lineage", async () => {
        const latest = await store.latestSequence();
        await store.createResources(
          [
            { resource: { name: "projects/b1", parent: CLOUD, type: "project", displayName: "" } },
            { resource: { name: "projects/b2", parent: CLOUD, type: "project", displayName: "" } },
          ],
          actor,
        );
        expect((await store.readChanges({ afterSeq: latest, limit: 10 })).map((c) => c.lineage)).toEqual([
          ["projects/b1", CLOUD, ORG],
          ["projects/b2", CLOUD, ORG],
        ]);
      });
    });

    if (factory.cached) {
      describe("the read cache", () => {
        test("a second read returns the same shared object: no caller can change what the next one reads", async () => {
          await grant(store, ORG, "user:ada@example.com");
          const first = (await store.getPolicy(ORG))!;
          expect(await store.getPolicy(ORG)).toBe(first);
          expect(isDeepFrozen(first)).toBe(true);
          expect(isDeepFrozen(first.policy)).toBe(true);
          expect(() => (first.policy.bindings[0]!.members as string[]).push("user:mallory@example.com")).toThrow(TypeError);
          expect((await store.getPolicy(ORG))!.policy.bindings[0]!.members).toEqual(["user:ada@example.com"]);
          expect((await store.stats()).cacheEntries).toBeGreaterThan(0);
        });

        test("a chain read twice is the same links, shared with GetPolicy, until a write on it", async () => {
          const chain = (await store.ancestry(PROJECT))!;
          const again = (await store.ancestry(PROJECT))!;
          again.forEach((link, i) => expect(link).toBe(chain[i]));
          expect(await store.getPolicy(CLOUD)).toBe(chain[1]);
          await grant(store, CLOUD, "user:ada@example.com");
          const after = (await store.ancestry(PROJECT))!;
          expect(after[0]).toBe(chain[0]);
          expect(after[1]).not.toBe(chain[1]);
        });

        test("a write that fails leaves what is cached right", async () => {
          await grant(store, ORG, "user:ada@example.com");
          const before = await store.getPolicy(ORG);
          await expect(store.updatePolicy(ORG, () => {
            throw new Error("refused");
          }, actor)).rejects.toThrow("refused");
          expect(await store.getPolicy(ORG)).toEqual(before);
        });
      });
    }
  });
}
