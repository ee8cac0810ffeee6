// CheckAccess with `explain`: per permission, every binding on the resource or an ancestor whose role includes it,
// from the resource up to the root, naming the role, the resource the policy is attached to, the matched member,
// the condition and the state. And granted_permissions: the GRANTED subset, in request order.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { BindingExplanation, PermissionCheck } from "../../gen/policy/v1/access_service_pb.js";
import {
  AccessState,
  createTree,
  explained,
  setBindings,
  stateName,
  startAccessServer,
  type AccessTestServer,
  type Api,
  type Tree,
} from "./support.js";

const ADA = "user:ada@example.com";
const BOB = "user:bob@example.com";
const CAROL = "user:carol@example.com";
const GROUP = "group:ug_abc123";
const PRJ_PREFIX = 'resource.name.startsWith("projects/prj_")';
const EXPIRED = 'request.time < timestamp("2001-01-01T00:00:00Z")';

let running: AccessTestServer;
let api: Api;
let tree: Tree;
beforeAll(async () => {
  running = await startAccessServer();
  api = running.connect;
  tree = await createTree(api);
  await setBindings(
    api,
    tree.org,
    { role: "roles/owner", members: [ADA] },
    { role: "roles/collaborator", members: [GROUP], condition: PRJ_PREFIX, title: "prj_ projects only" },
  );
  await setBindings(api, tree.cloud, { role: "roles/readonly", members: [BOB] });
  await setBindings(
    api,
    tree.project,
    { role: "roles/owner", members: [CAROL] },
    { role: "roles/collaborator", members: [BOB], condition: EXPIRED, title: "expired" },
  );
});
afterAll(() => running?.stop());

/** An explanation reduced to what a reader compares: where, which role, who matched, and the outcome. */
function summary(e: BindingExplanation) {
  return {
    resource: e.resource,
    role: e.role,
    matchedMember: e.matchedMember,
    condition: e.condition?.expression ?? "",
    state: stateName(e.state),
  };
}

function resultFor(results: PermissionCheck[], permission: string): PermissionCheck {
  const result = results.find((r) => r.permission === permission);
  if (!result) throw new Error(`no result for ${permission}`);
  return result;
}

describe("explanations", () => {
  test("name each binding whose role has the permission, from the resource up to the root", async () => {
    const response = await explained(api, {
      resource: tree.project,
      principals: [ADA, GROUP],
      permissions: ["projects.delete"],
    });
    const check = resultFor(response.results, "projects.delete");
    expect(stateName(check.state)).toBe("GRANTED");
    const explanations = check.explanations.map(summary);
    // The project's own binding comes first; the organization's two follow (their order within a policy is the
    // policy's canonical order). The cloud's readonly role lacks projects.delete, so it is not considered.
    expect(explanations[0]).toEqual({
      resource: tree.project,
      role: "roles/owner",
      matchedMember: "",
      condition: "",
      state: "NOT_GRANTED",
    });
    expect(explanations.slice(1)).toEqual(
      expect.arrayContaining([
        { resource: tree.org, role: "roles/owner", matchedMember: ADA, condition: "", state: "GRANTED" },
        { resource: tree.org, role: "roles/collaborator", matchedMember: GROUP, condition: PRJ_PREFIX, state: "GRANTED" },
      ]),
    );
    expect(explanations).toHaveLength(3);
  });

  test("say why a binding did not grant: no matching member", async () => {
    const response = await explained(api, { resource: tree.project, principals: [ADA], permissions: ["projects.delete"] });
    const own = resultFor(response.results, "projects.delete").explanations[0]!;
    expect(own.resource).toBe(tree.project);
    expect(own.matchedMember).toBe("");
    expect(own.reason).toMatch(/no member/);
  });

  test("say why a binding did not grant: its condition is false; the condition and its title are returned", async () => {
    const response = await explained(api, { resource: tree.project, principals: [BOB], permissions: ["projects.update"] });
    const check = resultFor(response.results, "projects.update");
    expect(stateName(check.state)).toBe("NOT_GRANTED");
    const conditional = check.explanations.find((e) => e.condition !== undefined)!;
    expect(summary(conditional)).toEqual({
      resource: tree.project,
      role: "roles/collaborator",
      matchedMember: BOB,
      condition: EXPIRED,
      state: "NOT_GRANTED",
    });
    expect(conditional.condition?.title).toBe("expired");
    expect(conditional.reason).toMatch(/false/);
  });

  test("a condition on an ancestor's binding is evaluated against the resource checked", async () => {
    const onLegacy = await explained(api, { resource: tree.orgProject, principals: [GROUP], permissions: ["projects.get"] });
    const check = resultFor(onLegacy.results, "projects.get");
    expect(stateName(check.state)).toBe("NOT_GRANTED");
    expect(check.explanations.map(summary)).toContainEqual({
      resource: tree.org,
      role: "roles/collaborator",
      matchedMember: GROUP,
      condition: PRJ_PREFIX,
      state: "NOT_GRANTED",
    });
  });

  test("the inherited grant names the cloud its policy is attached to, not the project checked", async () => {
    const response = await explained(api, { resource: tree.project, principals: [BOB], permissions: ["projects.get"] });
    const check = resultFor(response.results, "projects.get");
    expect(stateName(check.state)).toBe("GRANTED");
    const granting = check.explanations.filter((e) => e.state === AccessState.GRANTED).map(summary);
    expect(granting).toEqual([
      { resource: tree.cloud, role: "roles/readonly", matchedMember: BOB, condition: "", state: "GRANTED" },
    ]);
  });

  test("with no binding on the path that includes the permission: NOT_GRANTED and no explanations", async () => {
    const bare = await createTree(api);
    await setBindings(api, bare.cloud, { role: "roles/readonly", members: [BOB] });
    const response = await explained(api, { resource: bare.project, principals: [BOB], permissions: ["projects.delete"] });
    const check = resultFor(response.results, "projects.delete");
    expect(stateName(check.state)).toBe("NOT_GRANTED");
    expect(check.explanations).toEqual([]);
  });

  test("are left out without explain", async () => {
    const response = await api.access.checkAccess({
      resource: tree.project,
      principals: [ADA],
      permissions: ["projects.delete", "projects.get"],
    });
    expect(response.results.map((r) => r.explanations)).toEqual([[], []]);
  });
});

describe("results and granted_permissions", () => {
  test("one result per permission, in request order; granted_permissions is the GRANTED subset in that order", async () => {
    const permissions = ["projects.update", "projects.get", "organizations.delete", "projects.delete", "projects.list"];
    const response = await api.access.checkAccess({ resource: tree.project, principals: [BOB], permissions });
    expect(response.results.map((r) => r.permission)).toEqual(permissions);
    expect(response.results.map((r) => stateName(r.state))).toEqual([
      "NOT_GRANTED",
      "GRANTED",
      "NOT_GRANTED",
      "NOT_GRANTED",
      "GRANTED",
    ]);
    expect(response.grantedPermissions).toEqual(["projects.get", "projects.list"]);
  });

  test("the same answer whatever the order of the request", async () => {
    const permissions = ["organizations.setPolicy", "organizations.update", "projects.delete", "clouds.create"];
    const forward = await api.access.checkAccess({ resource: tree.project, principals: [ADA], permissions });
    const backward = await api.access.checkAccess({
      resource: tree.project,
      principals: [ADA],
      permissions: [...permissions].reverse(),
    });
    expect(forward.grantedPermissions).toEqual(permissions);
    expect(backward.grantedPermissions).toEqual([...permissions].reverse());
  });

  test("explain does not change the outcome", async () => {
    const permissions = ["projects.get", "projects.update", "projects.delete", "projects.setPolicy"];
    for (const principals of [[ADA], [BOB], [GROUP], [CAROL], []]) {
      const plain = await api.access.checkAccess({ resource: tree.project, principals, permissions });
      const withWhy = await explained(api, { resource: tree.project, principals, permissions });
      expect(withWhy.grantedPermissions, principals.join()).toEqual(plain.grantedPermissions);
      expect(withWhy.results.map((r) => r.state)).toEqual(plain.results.map((r) => r.state));
    }
  });
});
