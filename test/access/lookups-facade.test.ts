// The reverse-lookup facade (src/domain/access/lookups.ts) on an in-memory SQLite store, without a server (fast enough
// for mutation runs): what-can's answers over grant points of each kind (a subtree, a resource that is its own range,
// a type that holds none of the asked type), under an ancestor covered from above or not, in pages of every size,
// with conditions, deny rules and a caller's visibility; who-can in pages; and what each bad request is told.
import { create } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  AccessState,
  LookupMembersRequestSchema,
  LookupResourcesRequestSchema,
  type LookupResourcesResponse,
} from "../../gen/policy/v1/access_service_pb.js";
import { SetDenyPolicyRequestSchema } from "../../gen/policy/v1/deny_policy_service_pb.js";
import { GetPolicyRequestSchema, SetPolicyRequestSchema } from "../../gen/policy/v1/policy_service_pb.js";
import { RoleStage } from "../../gen/policy/v1/role_pb.js";
import { CreateRoleRequestSchema, UpdateRoleRequestSchema } from "../../gen/policy/v1/role_service_pb.js";
import { Lookups } from "../../src/domain/access/lookups.js";
import { ResolvedResource } from "../../src/domain/access/resolved.js";
import { DenyPolicies } from "../../src/domain/deny-policies.js";
import { PageTokens } from "../../src/domain/page-token.js";
import { Policies } from "../../src/domain/policies.js";
import { Roles } from "../../src/domain/roles.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { updateBinding, updateSharedPolicy } from "../../src/domain/kinds.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { createResource, type Store } from "../../src/store/store.js";
import { readFileSync } from "node:fs";

const schema = parseSchema(readFileSync("schema/default.yaml", "utf8"), "default.yaml");
const actor = { principal: "user:root@example.com" };

const ADA = "user:ada@example.com"; // roles/readonly on the cloud c1
const BOB = "user:bob@example.com"; // roles/readonly on the project q1 only (directly under the organization)
const CARL = "user:carl@example.com"; // roles/collaborator on c1 while request.attributes.ok
const DORA = "user:dora@example.com"; // roles/owner on the organization o1
const GUS = "user:gus@example.com"; // roles/readonly on many projects of o2, each its own grant (one test)

let store: Store;
let lookups: Lookups;
let policies: Policies;
let denies: DenyPolicies;
let roles: Roles;

const C1 = ["projects/p1", "projects/p2", "projects/p3", "projects/p4", "projects/p5"];

beforeEach(async () => {
  store = new SqliteStore(":memory:");
  const tokens = new PageTokens(await store.pageTokenKey());
  lookups = new Lookups(store, schema, tokens);
  policies = new Policies(store, schema, tokens);
  denies = new DenyPolicies(store, schema);
  roles = new Roles(store, schema, tokens);
  const put = (name: string, parent: string, type: string) => createResource(store, { name, parent, type, displayName: "" }, actor);
  await put("organizations/o1", "", "organization");
  await put("clouds/c1", "organizations/o1", "cloud");
  for (const p of C1) await put(p, "clouds/c1", "project");
  await put("projects/q1", "organizations/o1", "project");
  await put("projects/q2", "organizations/o1", "project");
  await put("organizations/o2", "", "organization");
  await put("projects/r1", "organizations/o2", "project");
  await setPolicy("organizations/o1", [{ role: "roles/owner", members: [DORA] }]);
  await setPolicy("clouds/c1", [
    { role: "roles/readonly", members: [ADA] },
    { role: "roles/collaborator", members: [CARL], condition: { expression: "request.attributes.ok == true", title: "ok" } },
  ]);
  await setPolicy("projects/q1", [{ role: "roles/readonly", members: [BOB] }]);
});
afterEach(() => store.close());

function setPolicy(resource: string, bindings: { role: string; members: string[]; condition?: { expression: string; title: string } }[]) {
  return policies.set(create(SetPolicyRequestSchema, { resource, policy: { version: 3, bindings } }), actor);
}

function deny(resource: string, rules: { deniedPrincipals: string[]; deniedPermissions: string[]; expression?: string }[]) {
  return denies.set(
    create(SetDenyPolicyRequestSchema, {
      resource,
      denyPolicy: {
        rules: rules.map((r) => ({
          deniedPrincipals: r.deniedPrincipals,
          deniedPermissions: r.deniedPermissions,
          ...(r.expression ? { denialCondition: { expression: r.expression } } : {}),
        })),
      },
    }),
    actor,
  );
}

type Ask = Partial<{
  principals: string[];
  permission: string;
  resourceType: string;
  ancestor: string;
  pageSize: number;
  pageToken: string;
  evaluateConditions: boolean;
  attributes: Record<string, boolean>;
}>;

function whatCan(ask: Ask, visible?: Parameters<Lookups["resources"]>[1]): Promise<LookupResourcesResponse> {
  const { attributes, ...rest } = ask;
  return lookups.resources(
    create(LookupResourcesRequestSchema, {
      permission: "projects.get",
      resourceType: "project",
      ...rest,
      attributes: Object.fromEntries(Object.entries(attributes ?? {}).map(([k, v]) => [k, create(ValueSchema, { kind: { case: "boolValue", value: v } })])),
    }),
    visible,
  );
}

const listed = (answer: LookupResourcesResponse) => answer.resources.map((r) => r.resource);
const states = (answer: LookupResourcesResponse) => answer.resources.map((r) => [r.resource, AccessState[r.state], r.conditional]);

/** Every page of a listing, `size` at a time: the names in order; fails on an empty page before the end. */
async function allPages(ask: Ask, size: number, visible?: Parameters<Lookups["resources"]>[1]): Promise<string[]> {
  const names: string[] = [];
  let pageToken = "";
  for (let pages = 0; pages < 50; pages++) {
    const answer = await whatCan({ ...ask, pageSize: size, pageToken }, visible);
    expect(answer.resources.length).toBeLessThanOrEqual(size);
    names.push(...listed(answer));
    if (answer.nextPageToken === "") return names;
    pageToken = answer.nextPageToken;
  }
  return expect.fail("a listing that does not end");
}

async function refusal(call: Promise<unknown>): Promise<{ code: string; fields: string[]; message: string }> {
  try {
    await call;
  } catch (e) {
    const error = e as { code: string; message: string; violations?: { field: string }[] };
    return { code: error.code, fields: (error.violations ?? []).map((v) => v.field), message: error.message };
  }
  return expect.fail("expected a refusal");
}

describe("what can", () => {
  test("a grant on a cloud lists its projects, in order, each granted unconditionally; nothing of another organization", async () => {
    const answer = await whatCan({ principals: [ADA] });
    expect(states(answer)).toEqual(C1.map((p) => [p, "GRANTED", false]));
    expect(answer.nextPageToken).toBe("");
    expect(await whatCan({ principals: [ADA], permission: "projects.update" }).then(listed)).toEqual([]);
  });

  test("a grant on the organization covers every project in it, below the cloud and directly under it", async () => {
    expect(await whatCan({ principals: [DORA] }).then(listed)).toEqual([...C1, "projects/q1", "projects/q2"]);
    // Two grant points of one subject (o1 covers c1's): each project once.
    expect(await whatCan({ principals: [DORA, ADA] }).then(listed)).toEqual([...C1, "projects/q1", "projects/q2"]);
    expect(await whatCan({ principals: [ADA, BOB] }).then(listed)).toEqual([...C1, "projects/q1"]);
  });

  test("in pages of every size: each resource once, in the same order, whatever the grant points", async () => {
    for (const principals of [[DORA], [ADA, BOB], [BOB]]) {
      const whole = await whatCan({ principals }).then(listed);
      for (const size of [1, 2, 3, 4, 7]) expect(await allPages({ principals }, size), `${principals} by ${size}`).toEqual(whole);
    }
  });

  test("the type asked decides: a cloud grant lists the cloud itself; a project grant lists no cloud", async () => {
    expect(await whatCan({ principals: [ADA], permission: "clouds.get", resourceType: "cloud" }).then(listed)).toEqual(["clouds/c1"]);
    expect(await whatCan({ principals: [DORA], permission: "clouds.get", resourceType: "cloud" }).then(listed)).toEqual(["clouds/c1"]);
    // Nothing, and nothing more to read (no page token).
    for (const resourceType of ["cloud", "organization"]) {
      const none = await whatCan({ principals: [BOB], permission: "projects.get", resourceType });
      expect([listed(none), none.nextPageToken]).toEqual([[], ""]);
    }
    expect(await whatCan({ principals: [BOB], permission: "projects.get", resourceType: "organization" }).then(listed)).toEqual([]);
    // roles/readonly grants clouds.get on a cloud, not on a project: Bob's binding on q1 grants it nothing there.
    expect(await whatCan({ principals: [BOB], permission: "clouds.get", resourceType: "project" }).then(listed)).toEqual([]);
    expect(await whatCan({ principals: [BOB], permission: "clouds.get", resourceType: "project", evaluateConditions: true }).then(listed)).toEqual([]);
    // A project grant point is its own range: q1 alone, not its sibling.
    expect(await whatCan({ principals: [BOB] }).then(listed)).toEqual(["projects/q1"]);
    // Cloud grants in pages of one: the cloud, then nothing more.
    expect(await allPages({ principals: [ADA, DORA], permission: "clouds.get", resourceType: "cloud" }, 1)).toEqual(["clouds/c1"]);
  });

  test("pages never hold more than asked for, when grant points of one resource each and subtrees follow one another", async () => {
    const put = (name: string, parent: string, type: string) => createResource(store, { name, parent, type, displayName: "" }, actor);
    // Grant points of both kinds in some cursor order: c1's and c9's subtrees, q1 (Bob's, its own range).
    await put("clouds/c9", "organizations/o1", "cloud");
    const C9 = ["projects/s1", "projects/s2", "projects/s3", "projects/s4"];
    for (const p of C9) await put(p, "clouds/c9", "project");
    await setPolicy("clouds/c9", [{ role: "roles/readonly", members: [ADA] }]);
    const whole = await whatCan({ principals: [ADA, BOB] }).then(listed);
    expect([...whole].sort()).toEqual([...C1, ...C9, "projects/q1"].sort());
    for (const size of [1, 2, 3, 4, 5, 6]) expect(await allPages({ principals: [ADA, BOB] }, size), `by ${size}`).toEqual(whole);
    // Clouds, each a grant point that is its own range.
    const clouds = await whatCan({ principals: [ADA], permission: "clouds.get", resourceType: "cloud" }).then(listed);
    expect([...clouds].sort()).toEqual(["clouds/c1", "clouds/c9"]);
    expect(await allPages({ principals: [ADA], permission: "clouds.get", resourceType: "cloud" }, 1)).toEqual(clouds);
  });

  test("under an ancestor: covered from above, its whole subtree; otherwise the grant points beneath it", async () => {
    // Ada's grant is on c1 itself: covered.
    expect(await whatCan({ principals: [ADA], ancestor: "clouds/c1" }).then(listed)).toEqual(C1);
    expect(await allPages({ principals: [ADA], ancestor: "clouds/c1" }, 2)).toEqual(C1);
    // Dora's is above it.
    expect(await whatCan({ principals: [DORA], ancestor: "clouds/c1" }).then(listed)).toEqual(C1);
    // A grant above the ancestor among other bindings there (the member index only knows grant points beneath it).
    await setPolicy("organizations/o1", [
      { role: "roles/owner", members: [DORA] },
      { role: "roles/checker", members: [BOB] },
    ]);
    expect(await whatCan({ principals: [DORA], ancestor: "clouds/c1" }).then(listed)).toEqual(C1);
    expect(await whatCan({ principals: [DORA], ancestor: "projects/q2" }).then(listed)).toEqual(["projects/q2"]);
    // Ada's is beneath o1; Bob's beside c1.
    expect(await whatCan({ principals: [ADA, BOB], ancestor: "organizations/o1" }).then(listed)).toEqual([...C1, "projects/q1"]);
    expect(await whatCan({ principals: [BOB], ancestor: "clouds/c1" }).then(listed)).toEqual([]);
    expect(await whatCan({ principals: [DORA], ancestor: "organizations/o2" }).then(listed)).toEqual([]);
    // A binding on the ancestor that grants another permission, or to someone else, does not cover it.
    expect(await whatCan({ principals: [ADA], permission: "projects.update", ancestor: "clouds/c1" }).then(listed)).toEqual([]);
    expect(await whatCan({ principals: [BOB], ancestor: "projects/q1" }).then(listed)).toEqual(["projects/q1"]);
    expect(await whatCan({ principals: [ADA], ancestor: "projects/p2" }).then(listed)).toEqual(["projects/p2"]);
    expect(await refusal(whatCan({ principals: [ADA], ancestor: "clouds/absent" }))).toMatchObject({ code: "not_found" });
  });

  test("conditions: unevaluated, a conditional grant is UNKNOWN_CONDITIONAL; evaluated, held only where true", async () => {
    expect(states(await whatCan({ principals: [CARL], permission: "projects.update" }))).toEqual(C1.map((p) => [p, "UNKNOWN_CONDITIONAL", true]));
    expect(states(await whatCan({ principals: [CARL], permission: "projects.update", attributes: { ok: true } }))).toEqual(
      C1.map((p) => [p, "GRANTED", true]),
    );
    expect(states(await whatCan({ principals: [CARL], permission: "projects.update", attributes: { ok: false } }))).toEqual([]);
    // Evaluated without the attribute: the condition cannot be decided.
    expect(states(await whatCan({ principals: [CARL], permission: "projects.update", evaluateConditions: true }))).toEqual(
      C1.map((p) => [p, "UNKNOWN_CONDITIONAL", true]),
    );
    // Ada's unconditional binding on c1 also grants projects.get: it is not Carl's.
    expect(states(await whatCan({ principals: [CARL] }))).toEqual(C1.map((p) => [p, "UNKNOWN_CONDITIONAL", true]));
    expect(states(await whatCan({ principals: [CARL], attributes: { ok: false } }))).toEqual([]);
    // A condition that needs no attribute is evaluated only when asked to.
    const FAY = "user:fay@example.com";
    await setPolicy("clouds/c1", [
      { role: "roles/readonly", members: [ADA] },
      { role: "roles/collaborator", members: [CARL], condition: { expression: "request.attributes.ok == true", title: "ok" } },
      { role: "roles/readonly", members: [FAY], condition: { expression: 'resource.name == "projects/p1"', title: "p1" } },
    ]);
    expect(states(await whatCan({ principals: [FAY] }))).toEqual(C1.map((p) => [p, "UNKNOWN_CONDITIONAL", true]));
    expect(states(await whatCan({ principals: [FAY], evaluateConditions: true }))).toEqual([["projects/p1", "GRANTED", true]]);
    // An unconditional grant beside it wins.
    await setPolicy("projects/p2", [{ role: "roles/collaborator", members: [CARL] }]);
    expect(states(await whatCan({ principals: [CARL], permission: "projects.update", ancestor: "projects/p2" }))).toEqual([
      ["projects/p2", "GRANTED", false],
    ]);
  });

  test("deny rules: a denied resource is left out; a conditionally denied one is only conditionally held", async () => {
    await deny("projects/p2", [{ deniedPrincipals: [ADA], deniedPermissions: ["projects.get"] }]);
    await deny("projects/p4", [{ deniedPrincipals: [ADA], deniedPermissions: ["projects.get"], expression: "request.attributes.late == true" }]);
    expect(states(await whatCan({ principals: [ADA] }))).toEqual([
      ["projects/p1", "GRANTED", false],
      ["projects/p3", "GRANTED", false],
      ["projects/p4", "UNKNOWN_CONDITIONAL", true],
      ["projects/p5", "GRANTED", false],
    ]);
    // Evaluated: a false deny condition denies nothing, a true one denies.
    expect(states(await whatCan({ principals: [ADA], attributes: { late: false } }))).toEqual(
      ["projects/p1", "projects/p3", "projects/p4", "projects/p5"].map((p) => [p, "GRANTED", false]),
    );
    expect(await whatCan({ principals: [ADA], attributes: { late: true } }).then(listed)).toEqual(["projects/p1", "projects/p3", "projects/p5"]);
    // The rule names Ada only: Dora keeps p2.
    expect(await whatCan({ principals: [DORA], ancestor: "clouds/c1" }).then(listed)).toEqual(C1);
  });

  test("a resource the caller may not see is left out, on every page", async () => {
    const hidden = new Set(["projects/p1", "projects/p3", "projects/q1"]);
    const visible = (chain: readonly { resource: { name: string } }[]) => !hidden.has(chain[0]!.resource.name);
    expect(await whatCan({ principals: [ADA, BOB] }, visible).then(listed)).toEqual(["projects/p2", "projects/p4", "projects/p5"]);
    expect(await allPages({ principals: [ADA, BOB] }, 1, visible)).toEqual(["projects/p2", "projects/p4", "projects/p5"]);
  });

  test("custom roles: an active one bound on the cloud lists its projects when it grants the permission; a disabled one, nothing", async () => {
    const ERIN = "user:erin@example.com";
    const reader = await roles.create(
      create(CreateRoleRequestSchema, { parent: "organizations/o1", roleId: "reader", role: { title: "Reader", includedPermissions: ["projects.get"] } }),
      actor,
    );
    await roles.create(
      create(CreateRoleRequestSchema, { parent: "organizations/o1", roleId: "editor", role: { title: "Editor", includedPermissions: ["projects.update"] } }),
      actor,
    );
    await setPolicy("clouds/c1", [
      { role: "roles/readonly", members: [ADA] },
      { role: "roles/collaborator", members: [CARL], condition: { expression: "request.attributes.ok == true", title: "ok" } },
      { role: "organizations/o1/roles/reader", members: [ERIN] },
    ]);
    await setPolicy("projects/q2", [{ role: "organizations/o1/roles/editor", members: [ERIN] }]);
    expect(await whatCan({ principals: [ERIN] }).then(listed)).toEqual(C1);
    expect(await whatCan({ principals: [ERIN], permission: "projects.update" }).then(listed)).toEqual(["projects/q2"]);
    expect(await allPages({ principals: [ERIN, ADA] }, 2)).toEqual(C1);
    // The custom role on the ancestor itself covers it.
    expect(await whatCan({ principals: [ERIN], ancestor: "clouds/c1" }).then(listed)).toEqual(C1);
    expect(await whatCan({ principals: [ERIN], ancestor: "projects/p3" }).then(listed)).toEqual(["projects/p3"]);
    await roles.update(create(UpdateRoleRequestSchema, { role: { ...reader, stage: RoleStage.DISABLED } }), actor);
    expect(await whatCan({ principals: [ERIN] }).then(listed)).toEqual([]);
    expect(await whatCan({ principals: [ERIN], permission: "projects.update" }).then(listed)).toEqual(["projects/q2"]);
  });

  test("shared policies: one bound to the cloud grants beneath it, the ancestor's own too, only while bound", async () => {
    const GINA = "user:gina@example.com";
    const SP = "sharedPolicies/sp1";
    const policy = create(SharedPolicySchema, { parent: "organizations/o1", bindings: [{ role: "roles/readonly", members: [GINA] }] });
    await updateSharedPolicy(store, SP, () => ({ policy, type: "shared_policy" }), actor);
    expect(await whatCan({ principals: [GINA] }).then(listed)).toEqual([]);
    await updateBinding(store, SP, "clouds/c1", () => true, actor);
    expect(await whatCan({ principals: [GINA] }).then(listed)).toEqual(C1);
    expect(await whatCan({ principals: [GINA], ancestor: "clouds/c1" }).then(listed)).toEqual(C1);
    expect(await allPages({ principals: [GINA], ancestor: "clouds/c1" }, 2)).toEqual(C1);
    expect(await whatCan({ principals: [GINA], ancestor: "projects/p2" }).then(listed)).toEqual(["projects/p2"]);
    expect(await whatCan({ principals: [GINA], ancestor: "organizations/o1" }).then(listed)).toEqual(C1);
    await updateBinding(store, SP, "clouds/c1", () => false, actor);
    expect(await whatCan({ principals: [GINA], ancestor: "clouds/c1" }).then(listed)).toEqual([]);
  });

  test("a page whose candidates are mostly hidden stops after a bounded number of reads and says where to go on", async () => {
    await createResource(store, { name: "clouds/c2", parent: "organizations/o1", type: "cloud", displayName: "" }, actor);
    const many = Array.from({ length: 120 }, (_, i) => `projects/m${String(i).padStart(3, "0")}`);
    for (const name of many) await createResource(store, { name, parent: "clouds/c2", type: "project", displayName: "" }, actor);
    await setPolicy("clouds/c2", [{ role: "roles/readonly", members: [ADA] }]);
    // The last candidate in the listing's own order.
    const order = await whatCan({ principals: [ADA], ancestor: "clouds/c2", pageSize: 1000 }).then(listed);
    expect([...order].sort()).toEqual(many);
    const last = order.at(-1)!;
    const visible = (chain: readonly { resource: { name: string } }[]) => chain[0]!.resource.name === last;
    const first = await whatCan({ principals: [ADA], ancestor: "clouds/c2", pageSize: 1 }, visible);
    // 1 asked for: 2 × 1 + 100 candidates and ranges at most, then a token to go on from.
    expect(listed(first)).toEqual([]);
    expect(first.nextPageToken).not.toBe("");
    expect(await allPages({ principals: [ADA], ancestor: "clouds/c2" }, 1, visible)).toEqual([last]);
    expect(await allPages({ principals: [ADA] }, 1, visible)).toEqual([last]);
    expect(await allPages({ principals: [ADA], ancestor: "clouds/c2" }, 200, visible)).toEqual([last]);
  });

  test("grant points read one by one (a resource its own range; a type that holds none of the asked type) count against the same bound", async () => {
    // 120 projects, each granted on its own: a project is its own range when projects are asked for, and holds no cloud.
    const many = Array.from({ length: 120 }, (_, i) => `projects/g${String(i).padStart(3, "0")}`);
    for (const name of many) {
      await createResource(store, { name, parent: "organizations/o2", type: "project", displayName: "" }, actor);
      await setPolicy(name, [{ role: "roles/readonly", members: [GUS] }]);
    }
    // The last candidate in the listing's own order.
    const order = await whatCan({ principals: [GUS], pageSize: 1000 }).then(listed);
    expect([...order].sort()).toEqual(many);
    const last = order.at(-1)!;
    const visible = (chain: readonly { resource: { name: string } }[]) => chain[0]!.resource.name === last;
    // Asking for projects, all but one hidden: 1 asked for, so 2 × 1 + 100 grant points at most, then a token.
    const first = await whatCan({ principals: [GUS], pageSize: 1 }, visible);
    expect(listed(first)).toEqual([]);
    expect(first.nextPageToken).not.toBe("");
    expect(await allPages({ principals: [GUS] }, 1, visible)).toEqual([last]);
    // Asking for clouds: no project holds one, yet each grant point is a step of the bound.
    const clouds = await whatCan({ principals: [GUS], resourceType: "cloud", permission: "clouds.get", pageSize: 1 });
    expect(listed(clouds)).toEqual([]);
    expect(clouds.nextPageToken).not.toBe("");
    expect(await allPages({ principals: [GUS], resourceType: "cloud", permission: "clouds.get" }, 1)).toEqual([]);
  });

  test("a page token serves only the query it was issued for", async () => {
    const first = await whatCan({ principals: [ADA], pageSize: 2 });
    expect(first.nextPageToken).not.toBe("");
    expect(await whatCan({ principals: [ADA], pageSize: 2, pageToken: first.nextPageToken }).then(listed)).toEqual(C1.slice(2, 4));
    const withOk = await whatCan({ principals: [CARL], permission: "projects.update", attributes: { ok: true }, pageSize: 2 });
    expect(withOk.nextPageToken).not.toBe("");
    expect(
      await refusal(whatCan({ principals: [CARL], permission: "projects.update", attributes: { ok: false }, pageSize: 2, pageToken: withOk.nextPageToken })),
    ).toMatchObject({ code: "invalid_argument", fields: ["page_token"] });
    for (const other of [{ principals: [BOB] }, { principals: [ADA], ancestor: "clouds/c1" }, { principals: [ADA], attributes: { ok: true } }]) {
      expect(await refusal(whatCan({ pageSize: 2, pageToken: first.nextPageToken, ...other }))).toMatchObject({ code: "invalid_argument", fields: ["page_token"] });
    }
  });

  test("a page token's attributes are the same whatever order the request lists them in", async () => {
    const first = await whatCan({ principals: [CARL], permission: "projects.update", attributes: { ok: true, late: false }, pageSize: 2 });
    expect(first.nextPageToken).not.toBe("");
    const next = await whatCan({ principals: [CARL], permission: "projects.update", attributes: { late: false, ok: true }, pageSize: 2, pageToken: first.nextPageToken });
    expect(listed(next)).toEqual(C1.slice(2, 4));
  });

  test("a page token's principals are the same whatever order the request lists them in", async () => {
    const first = await whatCan({ principals: [ADA, BOB], pageSize: 2 });
    expect(first.nextPageToken).not.toBe("");
    const next = await whatCan({ principals: [BOB, ADA], pageSize: 2, pageToken: first.nextPageToken });
    expect(listed(next)).toHaveLength(2);
  });

  test("bad requests name their fields", async () => {
    expect(await refusal(whatCan({ principals: [ADA], resourceType: "" }))).toMatchObject({ code: "invalid_argument", fields: ["resource_type"] });
    const unknown = await refusal(whatCan({ principals: [ADA], resourceType: "planet" }));
    expect(unknown).toMatchObject({ code: "invalid_argument", fields: ["resource_type"] });
    expect(unknown.message).toMatch(/unknown type "planet"; one of organization, cloud, project/);
    expect(await refusal(whatCan({ principals: [ADA], resourceType: "" })).then((r) => r.message)).toMatch(/is required; one of organization, cloud, project/);
    expect(await refusal(whatCan({ principals: [ADA], permission: "projects.fly" }))).toMatchObject({ fields: ["permission"] });
    expect(await refusal(whatCan({ principals: [ADA], ancestor: "nope" }))).toMatchObject({ fields: ["ancestor"] });
    expect(await refusal(whatCan({ principals: ["ada"] }))).toMatchObject({ fields: ["principals[0]"] });
    // A good ancestor is no violation.
    expect(await whatCan({ principals: [ADA], ancestor: "organizations/o1" }).then(listed)).toEqual(C1);
  });
});

describe("who can", () => {
  const ask = (resource: string, permission: string, pageSize = 0, pageToken = "") =>
    lookups.members(create(LookupMembersRequestSchema, { resource, permission, pageSize, pageToken }), new ResolvedResource(resource, schema, store));

  test("every grant, in pages of every size, each once", async () => {
    const whole = await ask("projects/p1", "projects.get");
    expect(whole.grants.map((g) => g.member)).toEqual(expect.arrayContaining([ADA, DORA]));
    expect(whole.nextPageToken).toBe("");
    for (const size of [1, 2]) {
      const members: string[] = [];
      let token = "";
      do {
        const page = await ask("projects/p1", "projects.get", size, token);
        expect(page.grants.length).toBeLessThanOrEqual(size);
        members.push(...page.grants.map((g) => `${g.member} ${g.role} ${g.resource}`));
        token = page.nextPageToken;
      } while (token !== "");
      expect(members).toEqual(whole.grants.map((g) => `${g.member} ${g.role} ${g.resource}`));
    }
  });

  test("a page token after the last grant, when the grants after it were removed, gives an empty last page", async () => {
    const first = await ask("projects/p1", "projects.get", 1);
    const kept = first.grants[0]!;
    expect(first.nextPageToken).not.toBe("");
    // Every grant after the first is removed between the pages: the next page has nothing to repeat.
    for (const resource of ["organizations/o1", "clouds/c1", "projects/p1"]) {
      const { etag } = await policies.get(create(GetPolicyRequestSchema, { resource, options: { requestedPolicyVersion: 3 } }));
      const bindings = kept.resource === resource ? [{ role: kept.role, members: [kept.member] }] : [];
      await policies.set(create(SetPolicyRequestSchema, { resource, policy: { version: 3, etag, bindings } }), actor);
    }
    const second = await ask("projects/p1", "projects.get", 1, first.nextPageToken);
    expect(second.grants).toEqual([]);
    expect(second.nextPageToken).toBe("");
  });

  test("a page token serves only its resource and permission; bad input and absent resources are refused", async () => {
    const first = await ask("projects/p1", "projects.get", 1);
    expect(await refusal(ask("projects/p2", "projects.get", 1, first.nextPageToken))).toMatchObject({ fields: ["page_token"] });
    expect(await refusal(ask("projects/p1", "projects.fly"))).toMatchObject({ code: "invalid_argument", fields: ["permission"] });
    expect(await refusal(ask("projects/absent", "projects.get"))).toMatchObject({ code: "not_found" });
    expect(await refusal(ask("nope", "projects.get"))).toMatchObject({ code: "invalid_argument", fields: ["resource"] });
  });
});
