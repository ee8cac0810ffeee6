// The shared-policy facade's own rules over a real store (in memory): the bound on the resources one shared policy is
// bound to, an edit that races a new binding (issue 25, item 8), and a listing's pages past what the caller may not
// read (item 7).
import { create } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, expect, test } from "vitest";
import { PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { RoleSchema } from "../../gen/policy/v1/role_pb.js";
import {
  CreateSharedPolicyBindingRequestSchema,
  CreateSharedPolicyRequestSchema,
  ListSharedPoliciesRequestSchema,
  UpdateSharedPolicyRequestSchema,
} from "../../gen/policy/v1/shared_policy_service_pb.js";
import { Access } from "../../src/domain/access/access.js";
import { Authorizer, type Caller } from "../../src/domain/access/authorizer.js";
import { PageTokens } from "../../src/domain/page-token.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { MAX_TARGETS_PER_SHARED_POLICY, SHARED_POLICIES_SCAN_AHEAD, SharedPolicies } from "../../src/domain/shared-policies.js";
import type { Store } from "../../src/store/store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { getSharedPolicy, listBindings, updateBinding, updateRole } from "../../src/domain/kinds.js";
import { createResource } from "../../src/store/store.js";

const schema = parseSchema(readFileSync(new URL("../../schema/default.yaml", import.meta.url), "utf8"), "default.yaml");
const ADMIN: Caller = { principal: "user:root@example.com", identities: ["user:root@example.com"] };
const EDITOR: Caller = { principal: "user:ed@example.com", identities: ["user:ed@example.com"] };
const ORG = "organizations/o";
const SHARED = "sharedPolicies/baseline";

let store: SqliteStore;

beforeEach(async () => {
  store = new SqliteStore(":memory:");
  await createResource(store, { name: ORG, parent: "", type: "organization", displayName: "" }, ADMIN);
});
afterEach(() => store.close());

/** The facade over `over` (default: the store), its authorizer enforcing, ADMIN the only administrator. */
async function facade(over: Store = store): Promise<SharedPolicies> {
  const authorizer = new Authorizer(new Access(over, schema), schema, new Set([ADMIN.principal]), true);
  return new SharedPolicies(over, schema, new PageTokens(await store.pageTokenKey()), authorizer);
}

const bind = (shared: SharedPolicies, target: string) =>
  shared.createBinding(create(CreateSharedPolicyBindingRequestSchema, { binding: { sharedPolicy: SHARED, target } }), ADMIN);

async function project(id: string): Promise<string> {
  const name = `projects/${id}`;
  await createResource(store, { name, parent: ORG, type: "project", displayName: "" }, ADMIN);
  return name;
}

test(`a shared policy is bound to at most ${MAX_TARGETS_PER_SHARED_POLICY} resources`, { timeout: 120_000 }, async () => {
  const shared = await facade();
  await shared.create(create(CreateSharedPolicyRequestSchema, { parent: ORG, sharedPolicyId: "baseline", sharedPolicy: {} }), ADMIN);
  for (let i = 0; i < MAX_TARGETS_PER_SHARED_POLICY; i++) await bind(shared, await project(`p${i}`));
  const over = await project("one-too-many");
  await expect(bind(shared, over)).rejects.toMatchObject({
    code: "failed_precondition",
    message: expect.stringContaining(`at most ${MAX_TARGETS_PER_SHARED_POLICY} per shared policy`),
  });
  expect(await listBindings(store, { target: over, limit: 1 })).toEqual([]);
});

test("an edit checked against the targets it had is refused when a binding is made before it is written", async () => {
  const mine = await project("mine");
  await store.updatePolicy(mine, () => create(PolicySchema, { bindings: [{ role: "roles/owner", members: [EDITOR.principal] }] }), ADMIN);
  const admin = await facade();
  await admin.create(create(CreateSharedPolicyRequestSchema, { parent: ORG, sharedPolicyId: "baseline", sharedPolicy: {} }), ADMIN);
  await bind(admin, mine);
  // The store binds the shared policy to the organization just before the editor's write, as a concurrent call would.
  const racing: Store = Object.create(store, {
    updateDocument: {
      value: async (...args: Parameters<Store["updateDocument"]>) => {
        await updateBinding(store, SHARED, ORG, () => true, ADMIN);
        return store.updateDocument(...args);
      },
    },
  }) as Store;
  const editor = await facade(racing);
  const grant = create(UpdateSharedPolicyRequestSchema, {
    sharedPolicy: { name: SHARED, bindings: [{ role: "roles/owner", members: [EDITOR.principal] }] },
    updateMask: { paths: ["bindings"] },
  });
  await expect(editor.update(grant, EDITOR)).rejects.toMatchObject({ code: "aborted" });
  expect((await getSharedPolicy(store, SHARED))!.bindings).toEqual([]);
  // Checked again, with the organization among the targets: refused for good.
  await expect((await facade()).update(grant, EDITOR)).rejects.toMatchObject({ code: "permission_denied" });
});

test(`a page of shared policies examines at most its size + ${SHARED_POLICIES_SCAN_AHEAD}, then says where to go on`, { timeout: 120_000 }, async () => {
  // The lister may list the organization's shared policies (a custom role) and read one of them only.
  const lister: Caller = { principal: "user:lisa@example.com", identities: ["user:lisa@example.com"] };
  const role = `${ORG}/roles/lister`;
  await updateRole(store, ORG, "lister", () => create(RoleSchema, { name: role, title: "Lister", includedPermissions: ["sharedPolicies.list"] }), ADMIN);
  await store.updatePolicy(ORG, () => create(PolicySchema, { bindings: [{ role, members: [lister.principal] }] }), ADMIN);
  const shared = await facade();
  const make = (id: string) => shared.create(create(CreateSharedPolicyRequestSchema, { parent: ORG, sharedPolicyId: id, sharedPolicy: {} }), ADMIN);
  const hidden = SHARED_POLICIES_SCAN_AHEAD + 20; // more than one page examines
  for (let i = 0; i < hidden; i++) await make(`a${String(i).padStart(5, "0")}`);
  await make("z-readable");
  await store.updatePolicy("sharedPolicies/z-readable", () => create(PolicySchema, { bindings: [{ role: "roles/readonly", members: [lister.principal] }] }), ADMIN);

  const page = (pageToken: string) => shared.list(create(ListSharedPoliciesRequestSchema, { parent: ORG, pageSize: 10, pageToken }), lister);
  const first = await page("");
  expect(first.sharedPolicies.map((p) => p.name)).toEqual([]);
  expect(first.nextPageToken).not.toBe("");
  const second = await page(first.nextPageToken);
  expect(second.sharedPolicies.map((p) => p.name)).toEqual(["sharedPolicies/z-readable"]);
  expect(second.nextPageToken).toBe("");
  // An administrator's pages are full until the last.
  const admin = await shared.list(create(ListSharedPoliciesRequestSchema, { parent: ORG, pageSize: 10 }), ADMIN);
  expect(admin.sharedPolicies).toHaveLength(10);
  expect(admin.nextPageToken).not.toBe("");
});
