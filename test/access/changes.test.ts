// Access checks follow writes at once: a moved subtree takes its new ancestors' grants, a deleted policy or resource
// stops granting, and a write is seen by the very next check (no stale cache).
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import {
  AccessState,
  createResource,
  createTree,
  expectCode,
  setBindings,
  stateName,
  stateOf,
  startAccessServer,
  uniqueId,
  type AccessTestServer,
  type Api,
  type Tree,
} from "./support.js";

const ADA = "user:ada@example.com";
const BOB = "user:bob@example.com";
const GRANTED = stateName(AccessState.GRANTED);
const NOT_GRANTED = stateName(AccessState.NOT_GRANTED);

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

async function moveTo(name: string, parent: string): Promise<void> {
  await api.resources.updateResource({ resource: { name, parent }, updateMask: { paths: ["parent"] } });
}

describe("a moved subtree", () => {
  // A tree of its own for each test: each moves what it judges.
  let tree: Tree;
  beforeEach(async () => {
    tree = await createTree(api);
    await setBindings(api, tree.cloud, { role: "roles/collaborator", members: [ADA] });
    await setBindings(api, tree.otherCloud, { role: "roles/collaborator", members: [BOB] });
  });

  test("takes the grants of its new ancestors and loses those of the old ones", async () => {
    expect(await state(tree.project, [ADA], "projects.delete")).toBe(GRANTED);
    expect(await state(tree.project, [BOB], "projects.delete")).toBe(NOT_GRANTED);

    await moveTo(tree.project, tree.otherCloud);

    expect(await state(tree.project, [ADA], "projects.delete")).toBe(NOT_GRANTED);
    expect(await state(tree.project, [BOB], "projects.delete")).toBe(GRANTED);
  });

  test("a project moved from a cloud to directly under the organization keeps only the organization's grants", async () => {
    const carol = "user:carol@example.com";
    await setBindings(api, tree.org, { role: "roles/collaborator", members: [carol] });
    await moveTo(tree.project, tree.org);
    expect(await state(tree.project, [BOB], "projects.delete")).toBe(NOT_GRANTED);
    expect(await state(tree.project, [carol], "projects.delete")).toBe(GRANTED);
  });

  test("moving a cloud moves its projects with it: they follow the new organization", async () => {
    const otherOrg = `organizations/${uniqueId("org_")}`;
    await createResource(api, otherOrg, "");
    const dan = "user:dan@example.com";
    await setBindings(api, otherOrg, { role: "roles/owner", members: [dan] });
    expect(await state(tree.otherProject, [dan], "projects.delete")).toBe(NOT_GRANTED);

    await moveTo(tree.otherCloud, otherOrg);

    expect(await state(tree.otherProject, [dan], "projects.delete")).toBe(GRANTED);
    // The cloud's own binding travelled with it.
    expect(await state(tree.otherProject, [BOB], "projects.delete")).toBe(GRANTED);
  });

  test("a condition on the resource name still reads the project's own name after a move", async () => {
    const erin = "user:erin@example.com";
    await api.policies.setPolicy({
      resource: tree.org,
      policy: {
        version: 3,
        bindings: [
          { role: "roles/collaborator", members: [erin], condition: { expression: 'resource.name.startsWith("projects/prj_")' } },
        ],
      },
    });
    expect(await state(tree.project, [erin], "projects.update")).toBe(GRANTED);
    await moveTo(tree.project, tree.otherCloud);
    expect(await state(tree.project, [erin], "projects.update")).toBe(GRANTED);
  });
});

describe("deletions stop granting", () => {
  test("a deleted policy grants nothing any more; its resource still answers", async () => {
    const tree = await createTree(api);
    await setBindings(api, tree.cloud, { role: "roles/readonly", members: [ADA] });
    expect(await state(tree.project, [ADA], "projects.get")).toBe(GRANTED);

    await api.policies.deletePolicy({ resource: tree.cloud });

    expect(await state(tree.project, [ADA], "projects.get")).toBe(NOT_GRANTED);
    expect(await state(tree.cloud, [ADA], "clouds.get")).toBe(NOT_GRANTED);
  });

  test("a policy set to no bindings grants nothing", async () => {
    const tree = await createTree(api);
    await setBindings(api, tree.cloud, { role: "roles/readonly", members: [ADA] });
    await setBindings(api, tree.cloud);
    expect(await state(tree.project, [ADA], "projects.get")).toBe(NOT_GRANTED);
  });

  test("a deleted resource is NOT_FOUND", async () => {
    const tree = await createTree(api);
    await setBindings(api, tree.project, { role: "roles/owner", members: [ADA] });
    await api.resources.deleteResource({ name: tree.project });
    await expectCode(stateOf(api, tree.project, [ADA], "projects.get"), Code.NotFound);
  });

  test("a deleted resource's policy does not come back with a new resource of the same name", async () => {
    const tree = await createTree(api);
    await setBindings(api, tree.project, { role: "roles/owner", members: [ADA] });
    await api.resources.deleteResource({ name: tree.project });
    await createResource(api, tree.project, tree.cloud);
    expect(await state(tree.project, [ADA], "projects.get")).toBe(NOT_GRANTED);
  });

  test("a cascading delete removes the subtree's grants; a re-created ancestor grants nothing below it", async () => {
    const tree = await createTree(api);
    await setBindings(api, tree.cloud, { role: "roles/collaborator", members: [ADA] });
    await api.resources.deleteResource({ name: tree.cloud, cascade: true });
    await expectCode(stateOf(api, tree.project, [ADA], "projects.get"), Code.NotFound);

    await createResource(api, tree.cloud, tree.org);
    await createResource(api, tree.project, tree.cloud);
    expect(await state(tree.project, [ADA], "projects.get")).toBe(NOT_GRANTED);
    expect(await state(tree.cloud, [ADA], "clouds.get")).toBe(NOT_GRANTED);
  });
});

describe("no stale cache", () => {
  test.each(["grpc", "connect"] as const)(
    "over %s, each grant and each revocation is seen by the very next check (50 rounds)",
    async (protocol) => {
      const client = running[protocol];
      const tree = await createTree(client);
      for (let round = 0; round < 50; round++) {
        const member = `user:${uniqueId("fresh")}@example.com`;
        await setBindings(client, tree.cloud, { role: "roles/readonly", members: [member] });
        expect(await stateOf(client, tree.project, [member], "projects.get"), `round ${round}, granted`).toBe(GRANTED);
        await setBindings(client, tree.cloud);
        expect(await stateOf(client, tree.project, [member], "projects.get"), `round ${round}, removed`).toBe(NOT_GRANTED);
      }
    },
  );

  test("a resource created just now can be checked at once, and its ancestors' grants apply", async () => {
    const tree = await createTree(api);
    await setBindings(api, tree.org, { role: "roles/owner", members: [ADA] });
    for (let i = 0; i < 20; i++) {
      const project = `projects/${uniqueId("prj_")}`;
      await createResource(api, project, tree.otherCloud);
      expect(await state(project, [ADA], "projects.delete"), project).toBe(GRANTED);
    }
  });

  test("checks racing with writes never fail and always see at least the writes acknowledged before them", async () => {
    const tree = await createTree(api);
    const members: string[] = [];
    const checks: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      members.push(`user:${uniqueId("race")}@example.com`);
      await setBindings(api, tree.cloud, { role: "roles/readonly", members: [...members] });
      const acknowledged = [...members];
      checks.push(
        (async () => {
          const response = await api.access.checkAccess({
            resource: tree.project,
            principals: [acknowledged.at(-1)!],
            permissions: ["projects.get"],
          });
          expect(response.grantedPermissions).toEqual(["projects.get"]);
        })(),
      );
    }
    await Promise.all(checks);
  });
});
