// What the shared-policy facade (domain/shared-policies.ts) answers a caller: each request's problems by field, the
// errors of a missing or stale shared policy or binding, which fields an update writes, deletes with and without
// bindings, listings' pages and filters, and what an editor lacking a target's permission is told.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, expect, test } from "vitest";
import { PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { RoleSchema } from "../../gen/policy/v1/role_pb.js";
import {
  CreateSharedPolicyBindingRequestSchema,
  CreateSharedPolicyRequestSchema,
  DeleteSharedPolicyBindingRequestSchema,
  DeleteSharedPolicyRequestSchema,
  GetSharedPolicyBindingRequestSchema,
  GetSharedPolicyRequestSchema,
  ListSharedPoliciesRequestSchema,
  ListSharedPolicyBindingsRequestSchema,
  UpdateSharedPolicyRequestSchema,
} from "../../gen/policy/v1/shared_policy_service_pb.js";
import type { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import { Access } from "../../src/domain/access/access.js";
import { Authorizer, type Caller } from "../../src/domain/access/authorizer.js";
import { PageTokens } from "../../src/domain/page-token.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { MAX_SHARED_DESCRIPTION, MAX_SHARED_DISPLAY_NAME, SharedPolicies } from "../../src/domain/shared-policies.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { updateRole, updateSharedPolicy } from "../../src/domain/kinds.js";
import { createResource, type Store } from "../../src/store/store.js";

type SharedPolicyInit = MessageInitShape<typeof SharedPolicySchema>;

const schema = parseSchema(readFileSync(new URL("../../schema/default.yaml", import.meta.url), "utf8"), "default.yaml");
const ADMIN: Caller = { principal: "user:root@example.com", identities: ["user:root@example.com"] };
const ED: Caller = { principal: "user:ed@example.com", identities: ["user:ed@example.com"] };
const ORG = "organizations/o";
const SHARED = "sharedPolicies/baseline";

let store: SqliteStore;
let shared: SharedPolicies;

beforeEach(async () => {
  store = new SqliteStore(":memory:");
  await createResource(store, { name: ORG, parent: "", type: "organization", displayName: "" }, ADMIN);
  const authorizer = new Authorizer(new Access(store, schema), schema, new Set([ADMIN.principal]), true);
  shared = new SharedPolicies(store, schema, new PageTokens(await store.pageTokenKey()), authorizer);
});
afterEach(() => store.close());

async function project(id: string, owner?: Caller): Promise<string> {
  const name = `projects/${id}`;
  await createResource(store, { name, parent: ORG, type: "project", displayName: "" }, ADMIN);
  if (owner) await store.updatePolicy(name, () => create(PolicySchema, { bindings: [{ role: "roles/owner", members: [owner.principal] }] }), ADMIN);
  return name;
}

const make = (id: string, sharedPolicy: SharedPolicyInit = {}) =>
  shared.create(create(CreateSharedPolicyRequestSchema, { parent: ORG, sharedPolicyId: id, sharedPolicy }), ADMIN);
const bind = (sharedPolicy: string, target: string, caller = ADMIN) =>
  shared.createBinding(create(CreateSharedPolicyBindingRequestSchema, { binding: { sharedPolicy, target } }), caller);
const update = (sharedPolicy: SharedPolicyInit, paths: string[], caller = ADMIN) =>
  shared.update(create(UpdateSharedPolicyRequestSchema, { sharedPolicy: { name: SHARED, ...sharedPolicy }, updateMask: { paths } }), caller);
const fieldsOf = (e: { violations: readonly { field: string }[] }) => e.violations.map((v) => v.field);
const failure = async (work: Promise<unknown>) => {
  const e = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!e) throw new Error("expected the request to fail");
  return e as { code: string; message: string; violations: { field: string; description: string }[] };
};
const denyAll = (email: string) => [{ deniedPrincipals: [`user:${email}`], deniedPermissions: ["projects.delete"] }];

test("CreateSharedPolicy names every problem of its request by field, and a name taken", async () => {
  const empty = await failure(shared.create(create(CreateSharedPolicyRequestSchema, {}), ADMIN));
  expect(empty.code).toBe("invalid_argument");
  expect(empty.violations).toEqual([
    { field: "shared_policy_id", description: "is required" },
    { field: "parent", description: "is required" },
    { field: "shared_policy", description: "is required" },
  ]);
  const bad = await failure(shared.create(create(CreateSharedPolicyRequestSchema, { parent: "nowhere", sharedPolicyId: "Not An Id", sharedPolicy: {} }), ADMIN));
  expect(fieldsOf(bad)).toEqual(["shared_policy_id", "parent"]);
  const underProject = await failure(
    shared.create(create(CreateSharedPolicyRequestSchema, { parent: await project("p"), sharedPolicyId: "x", sharedPolicy: {} }), ADMIN),
  );
  expect(underProject.violations).toEqual([{ field: "parent", description: "a shared policy belongs to an organization" }]);
  // A parent that does not exist.
  expect((await failure(shared.create(create(CreateSharedPolicyRequestSchema, { parent: "organizations/none", sharedPolicyId: "x", sharedPolicy: {} }), ADMIN))).code).toBe(
    "not_found",
  );
  await make("baseline");
  const taken = await failure(make("baseline"));
  expect(taken).toMatchObject({ code: "already_exists", message: `shared policy "${SHARED}" already exists` });
});

test("reading, updating and deleting a shared policy: a name of another kind is refused, a missing one is not found", async () => {
  const notShared = await failure(shared.get(create(GetSharedPolicyRequestSchema, { name: ORG })));
  expect(notShared).toMatchObject({ code: "invalid_argument", violations: [{ field: "name", description: `"${ORG}" is not a shared policy name (sharedPolicies/{id})` }] });
  const missing = `shared policy "${SHARED}" not found; create it with SharedPolicyService.CreateSharedPolicy`;
  expect(await failure(shared.get(create(GetSharedPolicyRequestSchema, { name: SHARED })))).toMatchObject({ code: "not_found", message: missing });
  expect(await failure(update({}, ["description"]))).toMatchObject({ code: "not_found", message: missing });
  expect(await failure(shared.delete(create(DeleteSharedPolicyRequestSchema, { name: SHARED }), ADMIN))).toMatchObject({ code: "not_found", message: missing });
  expect(await failure(shared.delete(create(DeleteSharedPolicyRequestSchema, { name: ORG }), ADMIN))).toMatchObject({ violations: [{ field: "name" }] });
  expect(await failure(shared.update(create(UpdateSharedPolicyRequestSchema, {}), ADMIN))).toMatchObject({
    code: "invalid_argument",
    violations: [{ field: "shared_policy", description: "is required" }],
  });
  expect(await failure(shared.update(create(UpdateSharedPolicyRequestSchema, { sharedPolicy: { name: ORG } }), ADMIN))).toMatchObject({
    violations: [{ field: "shared_policy.name" }],
  });
  // A binding to a shared policy that does not exist, or to a target that does not.
  const target = await project("p");
  expect(await failure(bind(SHARED, target))).toMatchObject({ code: "not_found", message: missing });
  await make("baseline");
  expect(await failure(bind(SHARED, "projects/none"))).toMatchObject({ code: "not_found", message: expect.stringContaining(`"projects/none" not found`) });
});

test("an update writes the fields its mask names, and only those; the bounds of the names apply to what it writes", async () => {
  await make("baseline", { displayName: "Baseline", description: "first" });
  const written = await update(
    { displayName: "Renamed", description: "second", bindings: [{ role: "roles/readonly", members: [ED.principal] }], denyRules: denyAll("eve@example.com") },
    ["display_name"],
  );
  expect(written).toMatchObject({ displayName: "Renamed", description: "first", bindings: [], denyRules: [] });
  const next = await update({ displayName: "ignored", description: "second", bindings: [{ role: "roles/readonly", members: [ED.principal] }] }, ["description", "bindings"]);
  expect(next).toMatchObject({ displayName: "Renamed", description: "second", bindings: [{ role: "roles/readonly", members: [ED.principal] }], denyRules: [] });
  const denying = await update({ denyRules: denyAll("eve@example.com") }, ["deny_rules"]);
  expect(denying.denyRules.map((r) => r.deniedPrincipals)).toEqual([["user:eve@example.com"]]);
  expect(denying.bindings).toHaveLength(1);

  // At the bounds: accepted; one over: refused by field, and only when the mask writes the field.
  await update({ displayName: "d".repeat(MAX_SHARED_DISPLAY_NAME), description: "e".repeat(MAX_SHARED_DESCRIPTION) }, ["display_name", "description"]);
  const over = await failure(update({ displayName: "d".repeat(MAX_SHARED_DISPLAY_NAME + 1), description: "e".repeat(MAX_SHARED_DESCRIPTION + 1) }, ["display_name", "description"]));
  expect(over.violations).toEqual([
    { field: "shared_policy.display_name", description: `longer than ${MAX_SHARED_DISPLAY_NAME} characters` },
    { field: "shared_policy.description", description: `longer than ${MAX_SHARED_DESCRIPTION} characters` },
  ]);
  // A write of other fields keeps the deny rules (the mask does not name them).
  const kept = await update({ displayName: "d".repeat(MAX_SHARED_DISPLAY_NAME + 1), description: "e".repeat(MAX_SHARED_DESCRIPTION + 1) }, ["bindings"]);
  expect(kept.denyRules.map((r) => r.deniedPrincipals)).toEqual([["user:eve@example.com"]]);
  // Paths it cannot write, and a deny rule's problem, by field.
  const paths = await failure(update({}, ["description", "parent"]));
  expect(paths.violations).toEqual([{ field: "update_mask.paths[1]", description: `"parent" cannot be updated; updatable: display_name, description, bindings, deny_rules` }]);
  const rules = await failure(update({ denyRules: [{ deniedPrincipals: ["user:eve@example.com"], deniedPermissions: ["no.such"] }] }, ["deny_rules"]));
  expect(fieldsOf(rules).every((f) => f.startsWith("shared_policy.deny_rules[0]"))).toBe(true);
  // A stale etag.
  const current = await shared.get(create(GetSharedPolicyRequestSchema, { name: SHARED }));
  await update({ description: "third" }, ["description"]);
  const stale = { code: "aborted", message: expect.stringMatching(/^the shared policy was changed by another writer/) };
  expect(await failure(update({ description: "fourth", etag: current.etag }, ["description"]))).toMatchObject(stale);
  expect(await failure(shared.delete(create(DeleteSharedPolicyRequestSchema, { name: SHARED, etag: current.etag }), ADMIN))).toMatchObject(stale);
});

test("a shared policy's bindings may name the organization's custom roles", async () => {
  const role = `${ORG}/roles/viewer`;
  await updateRole(store, ORG, "viewer", () => create(RoleSchema, { name: role, title: "Viewer", includedPermissions: ["projects.get"] }), ADMIN);
  const written = await make("baseline", { bindings: [{ role, members: [ED.principal] }] });
  expect(written.bindings).toEqual([expect.objectContaining({ role, members: [ED.principal] })]);
});

test("deleting a shared policy: unbound at once, bound only with force (which says how many bindings went)", async () => {
  await make("baseline");
  const other = await make("other");
  expect(await shared.delete(create(DeleteSharedPolicyRequestSchema, { name: other.name }), ADMIN)).toMatchObject({ deletedBindings: 0 });
  await bind(SHARED, await project("p"));
  const refused = await failure(shared.delete(create(DeleteSharedPolicyRequestSchema, { name: SHARED }), ADMIN));
  expect(refused).toMatchObject({ code: "failed_precondition", message: expect.stringContaining("is bound to 1 resource(s)") });
  const deleted = await shared.delete(create(DeleteSharedPolicyRequestSchema, { name: SHARED, force: true }), ADMIN);
  expect(deleted).toEqual({ deletedBindings: 1, sequence: BigInt(await store.latestSequence()) });
});

test("bindings: names by field, one to another shared policy refused, a second of the same pair, an absent one; the sequence of an unbinding", async () => {
  await make("baseline");
  const target = await project("p");
  expect(await failure(shared.createBinding(create(CreateSharedPolicyBindingRequestSchema, {}), ADMIN))).toMatchObject({
    violations: [{ field: "binding", description: "is required" }],
  });
  expect(await failure(bind(ORG, target))).toMatchObject({ violations: [{ field: "binding.shared_policy" }] });
  expect(await failure(bind(SHARED, "nowhere"))).toMatchObject({ violations: [{ field: "binding.target" }] });
  expect(await failure(bind(SHARED, "sharedPolicies/other"))).toMatchObject({
    violations: [{ field: "binding.target", description: "a shared policy cannot be bound to another one" }],
  });
  await bind(SHARED, target);
  expect(await failure(bind(SHARED, target))).toMatchObject({ code: "already_exists", message: `"${SHARED}" is already bound to "${target}"` });
  const other = await project("q");
  const get = (t: string) => shared.getBinding(create(GetSharedPolicyBindingRequestSchema, { sharedPolicy: SHARED, target: t }));
  expect(await get(target)).toMatchObject({ sharedPolicy: SHARED, target });
  expect(await failure(get(other))).toMatchObject({ code: "not_found", message: `"${SHARED}" is not bound to "${other}"` });
  expect(await failure(shared.getBinding(create(GetSharedPolicyBindingRequestSchema, { sharedPolicy: SHARED, target: "nowhere" })))).toMatchObject({
    violations: [{ field: "target" }],
  });
  const unbind = (t: string, caller = ADMIN) => shared.deleteBinding(create(DeleteSharedPolicyBindingRequestSchema, { sharedPolicy: SHARED, target: t }), caller);
  expect(await failure(unbind(other))).toMatchObject({ code: "not_found", message: `"${SHARED}" is not bound to "${other}"` });
  expect(await failure(shared.deleteBinding(create(DeleteSharedPolicyBindingRequestSchema, { sharedPolicy: ORG, target }), ADMIN))).toMatchObject({
    violations: [{ field: "shared_policy" }],
  });
  expect(await unbind(target)).toEqual({ sequence: BigInt(await store.latestSequence()) });
  expect(await failure(get(target))).toMatchObject({ code: "not_found" });
});

test("a target's owner unbinds a shared policy without deny rules, but not a guardrail: it is told why", async () => {
  await make("baseline");
  const target = await project("p", ED);
  const unbind = () => shared.deleteBinding(create(DeleteSharedPolicyBindingRequestSchema, { sharedPolicy: SHARED, target }), ED);
  await bind(SHARED, target);
  await unbind();
  await update({ denyRules: denyAll("eve@example.com") }, ["deny_rules"]);
  await bind(SHARED, target);
  const refused = await failure(unbind());
  expect(refused.code).toBe("permission_denied");
  expect(refused.message).toContain("a guardrail cannot be removed by those it guards; ask an owner of the shared policy");
});

test("listing bindings: by exactly one half, of something that exists; by policy, full pages of the targets the caller sees", async () => {
  const list = (request: { sharedPolicy?: string; target?: string; pageSize?: number; pageToken?: string }, caller = ADMIN) =>
    shared.listBindings(create(ListSharedPolicyBindingsRequestSchema, request), caller);
  const oneOf = { code: "invalid_argument", violations: [{ field: "shared_policy", description: "set exactly one of shared_policy and target" }] };
  expect(await failure(list({}))).toMatchObject(oneOf);
  expect(await failure(list({ sharedPolicy: SHARED, target: ORG }))).toMatchObject(oneOf);
  expect(await failure(list({ sharedPolicy: ORG }))).toMatchObject({ violations: [{ field: "shared_policy" }] });
  expect(await failure(list({ target: "nowhere" }))).toMatchObject({ violations: [{ field: "target" }] });
  expect(await failure(list({ sharedPolicy: SHARED }))).toMatchObject({ code: "not_found", message: expect.stringContaining("create it with SharedPolicyService") });
  expect(await failure(list({ target: "projects/none" }))).toMatchObject({ code: "not_found", message: expect.stringContaining(`"projects/none" not found`) });
  await make("baseline");
  await make("other");
  // Ed sees every other one of ten targets (he owns them).
  const targets: string[] = [];
  for (let i = 0; i < 10; i++) targets.push(await project(`p${i}`, i % 2 === 0 ? ED : undefined));
  for (const target of targets) await bind(SHARED, target);
  await bind("sharedPolicies/other", targets[0]!);
  const pages = async (caller: Caller, pageSize: number) => {
    const out: string[][] = [];
    let pageToken = "";
    do {
      const page = await list({ sharedPolicy: SHARED, pageSize, pageToken }, caller);
      out.push(page.bindings.map((b) => b.target));
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && out.length < 20);
    return out;
  };
  const seen = targets.filter((_, i) => i % 2 === 0);
  expect(await pages(ED, 2)).toEqual([seen.slice(0, 2), seen.slice(2, 4), seen.slice(4)]);
  expect((await pages(ED, 3)).flat()).toEqual(seen);
  expect((await pages(ADMIN, 4)).flat()).toEqual(targets);
  // By target: its shared policies, by name. A page token is good for the listing that issued it only.
  expect((await list({ target: targets[0]! })).bindings.map((b) => b.sharedPolicy)).toEqual([SHARED, "sharedPolicies/other"]);
  const first = await list({ target: targets[0]!, pageSize: 1 });
  expect(first.bindings.map((b) => b.sharedPolicy)).toEqual([SHARED]);
  expect((await list({ target: targets[0]!, pageSize: 1, pageToken: first.nextPageToken })).bindings.map((b) => b.sharedPolicy)).toEqual(["sharedPolicies/other"]);
  expect(await failure(list({ target: targets[2]!, pageToken: first.nextPageToken }))).toMatchObject({ violations: [{ field: "page_token" }] });
  expect(await failure(list({ sharedPolicy: SHARED, pageToken: first.nextPageToken }))).toMatchObject({ violations: [{ field: "page_token" }] });
});

test("listing shared policies: a parent required and existing; the filter matches name, title or description in any case; a page exactly full is the last", async () => {
  const list = (request: { parent?: string; filter?: string; pageSize?: number; pageToken?: string }) =>
    shared.list(create(ListSharedPoliciesRequestSchema, { parent: ORG, ...request }), ADMIN);
  expect(await failure(list({ parent: "" }))).toMatchObject({ violations: [{ field: "parent", description: "is required" }] });
  expect(await failure(list({ parent: "nowhere" }))).toMatchObject({ violations: [{ field: "parent" }] });
  expect(await failure(list({ parent: "organizations/none" }))).toMatchObject({ code: "not_found" });
  await make("alpha", { displayName: "Network rules" });
  await make("beta", { description: "Keeps the NETWORK closed" });
  await make("gamma");
  const names = async (request: Parameters<typeof list>[0]) => (await list(request)).sharedPolicies.map((p) => p.name);
  expect(await names({ filter: "network" })).toEqual(["sharedPolicies/alpha", "sharedPolicies/beta"]);
  expect(await names({ filter: "GAMMA" })).toEqual(["sharedPolicies/gamma"]);
  expect(await names({})).toEqual(["sharedPolicies/alpha", "sharedPolicies/beta", "sharedPolicies/gamma"]);
  const full = await list({ pageSize: 3 });
  expect(full.nextPageToken).toBe("");
  const first = await list({ pageSize: 2 });
  expect(first.sharedPolicies.map((p) => p.name)).toEqual(["sharedPolicies/alpha", "sharedPolicies/beta"]);
  expect(await names({ pageSize: 2, pageToken: first.nextPageToken })).toEqual(["sharedPolicies/gamma"]);
  // A token is good for the filter that issued it only.
  expect(await failure(list({ pageSize: 2, pageToken: first.nextPageToken, filter: "network" }))).toMatchObject({ violations: [{ field: "page_token" }] });
});

test("an editor who lacks a target's permission is told which, naming the target only when it may see it", async () => {
  await make("baseline");
  // Ed may set the deny policy of the first project but not read it; he owns the second, and not the third.
  const role = `${ORG}/roles/guard`;
  await updateRole(store, ORG, "guard", () => create(RoleSchema, { name: role, title: "Guard", includedPermissions: ["projects.setDenyPolicy"] }), ADMIN);
  const hidden = await project("hidden");
  await store.updatePolicy(hidden, () => create(PolicySchema, { bindings: [{ role, members: [ED.principal] }] }), ADMIN);
  const owned = await project("owned", ED);
  await store.updatePolicy(ORG, () => create(PolicySchema, { bindings: [{ role: "roles/owner", members: [ED.principal] }] }), ADMIN);
  await bind(SHARED, hidden);
  // Owner of the organization, he holds everything everywhere: his edit is written.
  await update({ bindings: [{ role: "roles/readonly", members: ["user:amy@example.com"] }] }, ["bindings"], ED);
  await store.updatePolicy(ORG, () => create(PolicySchema, {}), ADMIN);
  // Both changed: he holds the deny half there, not the policy half, and cannot see the project.
  const both = { bindings: [{ role: "roles/readonly", members: ["user:zed@example.com"] }], denyRules: denyAll("zed@example.com") };
  const hiddenRefusal = await failure(update(both, ["bindings", "deny_rules"], ED));
  expect(hiddenRefusal.code).toBe("permission_denied");
  expect(hiddenRefusal.message).toContain("lacks the permission to set the policy of a resource that shared policy");
  expect(hiddenRefusal.message).toContain("its bindings apply there as if they were that resource's own");
  expect(hiddenRefusal.message).not.toContain(hidden);
  await store.updatePolicy(hidden, () => create(PolicySchema, {}), ADMIN);
  await store.deleteResource(hidden, () => ({ cascade: false }), ADMIN);
  await bind(SHARED, owned);
  const viewer = `${ORG}/roles/viewer`;
  await updateRole(store, ORG, "viewer", () => create(RoleSchema, { name: viewer, title: "Viewer", includedPermissions: ["projects.get", "projects.setPolicy"] }), ADMIN);
  await store.updatePolicy(owned, () => create(PolicySchema, { bindings: [{ role: viewer, members: [ED.principal] }] }), ADMIN);
  const namedRefusal = await failure(update({ denyRules: denyAll("zed@example.com") }, ["deny_rules"], ED));
  expect(namedRefusal.message).toContain(`lacks permission "projects.setDenyPolicy" on "${owned}", a resource that shared policy`);
  expect(namedRefusal.message).toContain("its deny rules apply there");
});

test("an edit that changed nothing when checked but changes the bindings or deny rules when written (another writer came between) is ABORTED", async () => {
  const amy = [{ role: "roles/readonly", members: ["user:amy@example.com"] }];
  const rules = denyAll("eve@example.com");
  await make("baseline", { bindings: amy, denyRules: rules });
  // Ed holds nothing on the target: rewriting the bindings or deny rules as they are needs nothing of him.
  await bind(SHARED, await project("p"));
  await update({ bindings: amy, denyRules: rules }, ["bindings", "deny_rules"], ED);
  // Another writer empties the field between Ed's check and his write: his write would now grant (or deny) again.
  const raced = async (field: "bindings" | "denyRules", path: string) => {
    let raced = false;
    const racing: Store = Object.create(store, {
      updateDocument: {
        value: async (...args: Parameters<Store["updateDocument"]>) => {
          if (!raced) {
            raced = true;
            await updateSharedPolicy(store, SHARED, ({ stored }) => ({ policy: { ...stored!, [field]: [] }, type: "shared_policy" }), ADMIN);
          }
          return store.updateDocument(...args);
        },
      },
    }) as Store;
    const authorizer = new Authorizer(new Access(store, schema), schema, new Set([ADMIN.principal]), true);
    const facade = new SharedPolicies(racing, schema, new PageTokens(await store.pageTokenKey()), authorizer);
    const request = create(UpdateSharedPolicyRequestSchema, { sharedPolicy: { name: SHARED, bindings: amy, denyRules: rules }, updateMask: { paths: [path] } });
    const refused = await failure(facade.update(request, ED));
    expect(refused).toMatchObject({ code: "aborted", message: `shared policy "${SHARED}" was changed or bound meanwhile; retry the update` });
    expect((await shared.get(create(GetSharedPolicyRequestSchema, { name: SHARED })))[field]).toEqual([]);
  };
  await raced("bindings", "bindings");
  await raced("denyRules", "deny_rules");
  // A binding's problem at creation is reported under shared_policy.
  const bad = await failure(make("bad", { bindings: [{ role: "roles/none", members: ["user:amy@example.com"] }] }));
  expect(fieldsOf(bad)).toEqual([expect.stringMatching(/^shared_policy\.bindings\[0\]/)]);
});
