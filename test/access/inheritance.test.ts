// CheckAccess against the real server: roles granted on each ancestor level apply below it, and members match the
// subject through its principal set (groups, domains, allUsers, allAuthenticatedUsers).
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import {
  AccessState,
  createTree,
  setBindings,
  stateName,
  stateOf,
  startAccessServer,
  type AccessTestServer,
  type Api,
  type Tree,
} from "./support.js";

const ADA = "user:ada@example.com";
const BOB = "user:bob@example.com";

let running: AccessTestServer;
let api: Api;
beforeAll(async () => {
  running = await startAccessServer();
  api = running.grpc;
});
afterAll(() => running?.stop());

async function state(resource: string, principals: string[], permission: string): Promise<string> {
  return stateOf(api, resource, principals, permission);
}

const GRANTED = stateName(AccessState.GRANTED);
const NOT_GRANTED = stateName(AccessState.NOT_GRANTED);

describe("a role applies to the resource it is granted on and to every descendant", () => {
  // A tree of its own for each test: each sets the grants it judges.
  let tree: Tree;
  beforeEach(async () => {
    tree = await createTree(api);
  });

  test("an organization owner may delete any project in the organization, at every depth", async () => {
    await setBindings(api, tree.org, { role: "roles/owner", members: [ADA] });
    for (const resource of [tree.project, tree.otherProject, tree.orgProject]) {
      expect(await state(resource, [ADA], "projects.delete"), resource).toBe(GRANTED);
    }
    expect(await state(tree.cloud, [ADA], "clouds.delete")).toBe(GRANTED);
    expect(await state(tree.org, [ADA], "organizations.delete")).toBe(GRANTED);
  });

  test("someone the organization's policy does not name gets nothing from it", async () => {
    await setBindings(api, tree.org, { role: "roles/owner", members: [ADA] });
    expect(await state(tree.project, [BOB], "projects.get")).toBe(NOT_GRANTED);
  });

  test("a cloud collaborator may act on projects in that cloud but not in another cloud", async () => {
    await setBindings(api, tree.cloud, { role: "roles/collaborator", members: [BOB] });
    expect(await state(tree.project, [BOB], "projects.delete")).toBe(GRANTED);
    expect(await state(tree.cloud, [BOB], "clouds.update")).toBe(GRANTED);
    expect(await state(tree.otherProject, [BOB], "projects.delete")).toBe(NOT_GRANTED);
    expect(await state(tree.otherCloud, [BOB], "clouds.get")).toBe(NOT_GRANTED);
    expect(await state(tree.orgProject, [BOB], "projects.get")).toBe(NOT_GRANTED);
  });

  test("a role on a cloud does not reach up to the organization", async () => {
    await setBindings(api, tree.cloud, { role: "roles/collaborator", members: [BOB] });
    expect(await state(tree.cloud, [BOB], "clouds.get")).toBe(GRANTED);
    expect(await state(tree.org, [BOB], "organizations.get")).toBe(NOT_GRANTED);
  });

  test("a project-level role applies to that project only", async () => {
    const carol = "user:carol@example.com";
    await setBindings(api, tree.project, { role: "roles/readonly", members: [carol] });
    expect(await state(tree.project, [carol], "projects.get")).toBe(GRANTED);
    expect(await state(tree.otherProject, [carol], "projects.get")).toBe(NOT_GRANTED);
    expect(await state(tree.cloud, [carol], "clouds.get")).toBe(NOT_GRANTED);
  });

  test("a role grants only its own permissions: a project collaborator may update but not delete", async () => {
    const dan = "user:dan@example.com";
    await setBindings(api, tree.otherProject, { role: "roles/collaborator", members: [dan] });
    expect(await state(tree.otherProject, [dan], "projects.update")).toBe(GRANTED);
    expect(await state(tree.otherProject, [dan], "projects.delete")).toBe(NOT_GRANTED);
  });

  test("grants on several levels add up (allow semantics)", async () => {
    const erin = "user:erin@example.com";
    await setBindings(api, tree.otherCloud, { role: "roles/readonly", members: [erin] });
    await setBindings(api, tree.otherProject, { role: "roles/collaborator", members: [erin] });
    const response = await api.access.checkAccess({
      resource: tree.otherProject,
      principals: [erin],
      permissions: ["projects.get", "projects.update", "projects.delete", "projects.list"],
    });
    expect(response.grantedPermissions).toEqual(["projects.get", "projects.update", "projects.list"]);
  });
});

describe("members match the subject through its principal set", () => {
  // A tree of its own for each test: each sets the grants it judges.
  let tree: Tree;
  beforeEach(async () => {
    tree = await createTree(api);
  });

  test("a group member is granted when the caller names the group among the principals", async () => {
    await setBindings(api, tree.cloud, { role: "roles/readonly", members: ["group:ug_abc123"] });
    expect(await state(tree.project, [ADA, "group:ug_abc123"], "projects.get")).toBe(GRANTED);
    expect(await state(tree.project, ["group:ug_abc123"], "projects.get")).toBe(GRANTED);
  });

  test("without the group among the principals, the group's grant does not apply", async () => {
    await setBindings(api, tree.cloud, { role: "roles/readonly", members: ["group:ug_abc123"] });
    expect(await state(tree.project, [ADA], "projects.get")).toBe(NOT_GRANTED);
    expect(await state(tree.project, [ADA, "group:ug_other"], "projects.get")).toBe(NOT_GRANTED);
  });

  test("a domain member matches users and service accounts of that domain only", async () => {
    await setBindings(api, tree.otherCloud, { role: "roles/readonly", members: ["domain:example.com"] });
    expect(await state(tree.otherProject, [ADA], "projects.get")).toBe(GRANTED);
    expect(await state(tree.otherProject, ["serviceAccount:ci@example.com"], "projects.get")).toBe(GRANTED);
    expect(await state(tree.otherProject, ["user:ada@example.org"], "projects.get")).toBe(NOT_GRANTED);
    expect(await state(tree.otherProject, ["user:ada@sub.example.com"], "projects.get")).toBe(NOT_GRANTED);
  });

  test("principals match members whatever the case of their email", async () => {
    await setBindings(api, tree.otherCloud, { role: "roles/readonly", members: ["domain:example.com"] });
    expect(await state(tree.otherProject, ["user:Ada@Example.COM"], "projects.get")).toBe(GRANTED);
  });

  test("allUsers matches everyone, the anonymous subject (no principals) included", async () => {
    await setBindings(api, tree.orgProject, { role: "roles/readonly", members: ["allUsers"] });
    expect(await state(tree.orgProject, [], "projects.get")).toBe(GRANTED);
    expect(await state(tree.orgProject, [ADA], "projects.get")).toBe(GRANTED);
    expect(await state(tree.orgProject, ["group:ug_abc123"], "projects.get")).toBe(GRANTED);
    expect(await state(tree.orgProject, ["serviceAccount:ci@example.net"], "projects.get")).toBe(GRANTED);
  });

  test("allAuthenticatedUsers matches any non-empty principal set but not the anonymous subject", async () => {
    await setBindings(api, tree.project, { role: "roles/readonly", members: ["allAuthenticatedUsers"] });
    expect(await state(tree.project, [ADA], "projects.get")).toBe(GRANTED);
    expect(await state(tree.project, ["group:ug_abc123"], "projects.get")).toBe(GRANTED);
    expect(await state(tree.project, ["serviceAccount:ci@example.net"], "projects.get")).toBe(GRANTED);
    expect(await state(tree.project, [], "projects.get")).toBe(NOT_GRANTED);
  });

  test("the anonymous subject is not matched by a user, group or domain member", async () => {
    await setBindings(api, tree.otherCloud, { role: "roles/readonly", members: [ADA, "group:ug_abc123", "domain:example.com"] });
    expect(await state(tree.otherProject, [ADA], "projects.get")).toBe(GRANTED);
    expect(await state(tree.otherProject, [], "projects.get")).toBe(NOT_GRANTED);
  });
});
