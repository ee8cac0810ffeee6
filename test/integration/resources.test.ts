// ResourceService end to end: create, get, list with pagination, move, delete; the hierarchy rules of the schema.
import { Code } from "@connectrpc/connect";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ApiClients } from "../helpers/clients.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { binding, createHierarchy, expectCode, fieldViolations, uniqueId } from "./support.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";

let server: TestServer;
let api: ApiClients;
beforeAll(async () => {
  server = await startTestServer();
  api = server.grpc;
});
afterAll(() => server?.stop());

const create = (name: string, parent = "") => api.resources.createResource({ resource: { name, parent } });

describe("CreateResource", () => {
  test("registers a resource with its type, parent and etag", async () => {
    const { org } = await createHierarchy(api);
    const cloud = `clouds/${uniqueId("cld")}`;
    const created = await api.resources.createResource({ resource: { name: cloud, parent: org, displayName: "Prod" } });
    expect(created).toMatchObject({ name: cloud, parent: org, type: "cloud", displayName: "Prod" });
    expect(created.etag).not.toBe("");
    expect(created.createTime).toBeDefined();
    expect(await api.resources.getResource({ name: cloud })).toEqual(created);
  });

  test("a project may live directly under an organization", async () => {
    const { org } = await createHierarchy(api);
    const project = `projects/${uniqueId("prj")}`;
    expect(await create(project, org)).toMatchObject({ parent: org, type: "project" });
  });

  test("a duplicate name is ALREADY_EXISTS", async () => {
    const { cloud, org } = await createHierarchy(api);
    await expectCode(create(cloud, org), Code.AlreadyExists);
  });

  test("a missing parent is NOT_FOUND and nothing is created", async () => {
    const cloud = `clouds/${uniqueId("cld")}`;
    await expectCode(create(cloud, `organizations/${uniqueId("ghost")}`), Code.NotFound);
    await expectCode(api.resources.getResource({ name: cloud }), Code.NotFound);
  });

  test("a parent type the schema does not allow is INVALID_ARGUMENT naming resource.parent", async () => {
    const { project } = await createHierarchy(api);
    const error = await expectCode(create(`clouds/${uniqueId("cld")}`, project), Code.InvalidArgument);
    expect(fieldViolations(error).map((v) => v.field)).toEqual(["resource.parent"]);
  });

  test("an organization with a parent is INVALID_ARGUMENT", async () => {
    const { org } = await createHierarchy(api);
    await expectCode(create(`organizations/${uniqueId("org")}`, org), Code.InvalidArgument);
  });

  test("a cloud without a parent is INVALID_ARGUMENT", async () => {
    await expectCode(create(`clouds/${uniqueId("cld")}`), Code.InvalidArgument);
  });

  test.each(["", "acme", "organizations/", "teams/acme", "organizations/-acme", "organizations/a/b", "organizations/a b"])(
    "the bad name %j is INVALID_ARGUMENT naming resource.name",
    async (name) => {
      const error = await expectCode(create(name), Code.InvalidArgument);
      expect(fieldViolations(error).map((v) => v.field)).toEqual(["resource.name"]);
    },
  );

  test("GetResource of an unknown name is NOT_FOUND", async () => {
    await expectCode(api.resources.getResource({ name: `projects/${uniqueId("ghost")}` }), Code.NotFound);
  });
});

describe("ListResources", () => {
  let org: string;
  let children: string[];

  beforeAll(async () => {
    org = `organizations/${uniqueId("listorg")}`;
    await create(org);
    const clouds = [0, 1, 2].map((i) => `clouds/${uniqueId(`list${i}_`)}`);
    const projects = [0, 1, 2, 3].map((i) => `projects/${uniqueId(`list${i}_`)}`);
    for (const name of [...clouds, ...projects]) await create(name, org);
    // A grandchild: listing by parent returns direct children only.
    await create(`projects/${uniqueId("grandchild")}`, clouds[0]);
    children = [...clouds, ...projects].sort();
  });

  /** Every name the list returns, following next_page_token with pages of `pageSize`; bounded. */
  async function listAll(request: { parent?: string; type?: string }, pageSize: number): Promise<string[]> {
    const names: string[] = [];
    let pageToken = "";
    for (let page = 0; page < 1000; page++) {
      const response = await api.resources.listResources({ ...request, pageSize, pageToken });
      expect(response.resources.length).toBeLessThanOrEqual(pageSize);
      names.push(...response.resources.map((r) => r.name));
      pageToken = response.nextPageToken;
      if (pageToken === "") return names;
    }
    return expect.fail("pagination did not end");
  }

  test("by parent: every page size from 1 to n+1 returns each direct child exactly once, ordered by name", async () => {
    for (let pageSize = 1; pageSize <= children.length + 1; pageSize++) {
      expect(await listAll({ parent: org }, pageSize), `page size ${pageSize}`).toEqual(children);
    }
  });

  test("by parent and type returns only that type", async () => {
    const clouds = children.filter((n) => n.startsWith("clouds/"));
    for (const pageSize of [1, 2, 50]) expect(await listAll({ parent: org, type: "cloud" }, pageSize)).toEqual(clouds);
  });

  test("by type alone returns resources of that type anywhere", async () => {
    const all = await listAll({ type: "project" }, 2);
    expect(all.every((n) => n.startsWith("projects/"))).toBe(true);
    expect(all).toEqual(expect.arrayContaining(children.filter((n) => n.startsWith("projects/"))));
    expect(new Set(all).size).toBe(all.length);
  });

  test("a tampered or made-up page token is INVALID_ARGUMENT naming page_token", async () => {
    const first = await api.resources.listResources({ parent: org, pageSize: 2 });
    const token = first.nextPageToken;
    const tampered = token.slice(0, 5) + (token[5] === "A" ? "B" : "A") + token.slice(6);
    for (const pageToken of [tampered, token.slice(0, -2), "bm90IGEgdG9rZW4gYXQgYWxsLCBqdXN0IHRleHQ", "!!!"]) {
      const error = await expectCode(api.resources.listResources({ parent: org, pageSize: 2, pageToken }), Code.InvalidArgument);
      expect(fieldViolations(error).map((v) => v.field)).toEqual(["page_token"]);
    }
  });

  test("a page token reused with another filter is INVALID_ARGUMENT", async () => {
    const first = await api.resources.listResources({ parent: org, pageSize: 2 });
    await expectCode(
      api.resources.listResources({ parent: org, type: "project", pageSize: 2, pageToken: first.nextPageToken }),
      Code.InvalidArgument,
    );
  });

  test("a negative page size is INVALID_ARGUMENT", async () => {
    await expectCode(api.resources.listResources({ parent: org, pageSize: -1 }), Code.InvalidArgument);
  });

  test("an unknown type is INVALID_ARGUMENT", async () => {
    await expectCode(api.resources.listResources({ type: "galaxy" }), Code.InvalidArgument);
  });

  test("an unknown parent is NOT_FOUND", async () => {
    await expectCode(api.resources.listResources({ parent: `organizations/${uniqueId("ghost")}` }), Code.NotFound);
  });
});

describe("ListResources with a filter", () => {
  test("finds children by display name or id, case-insensitively, page by page", async () => {
    const { org } = await createHierarchy(api);
    const cloud = `clouds/${uniqueId("search")}`;
    await create(cloud, org);
    const made = [
      [`projects/${uniqueId("a")}`, "Payments Production"],
      [`projects/${uniqueId("b")}`, "staging"],
      [`projects/${uniqueId("prod")}`, ""],
      [`projects/${uniqueId("c")}`, "production-eu"],
    ] as const;
    for (const [name, displayName] of made) await api.resources.createResource({ resource: { name, parent: cloud, displayName } });
    const expected = [made[0][0], made[2][0], made[3][0]].sort();
    const found: string[] = [];
    let pageToken = "";
    do {
      const page = await api.resources.listResources({ parent: cloud, filter: "PROD", pageSize: 1, pageToken });
      found.push(...page.resources.map((r) => r.name));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(found).toEqual(expected);
    // Across the server (an administrator), with a type.
    const anywhere = await api.resources.listResources({ type: "project", filter: "payments production", pageSize: 1000 });
    expect(anywhere.resources.map((r) => r.name)).toContain(made[0][0]);
    expect(anywhere.resources.every((r) => r.type === "project")).toBe(true);
  });

  test("a token is bound to its filter; a filter longer than 200 characters is INVALID_ARGUMENT", async () => {
    const { org, cloud } = await createHierarchy(api);
    await create(`projects/${uniqueId("p")}`, cloud);
    await create(`projects/${uniqueId("p")}`, cloud);
    const first = await api.resources.listResources({ parent: cloud, filter: "p", pageSize: 1 });
    expect(first.nextPageToken).not.toBe("");
    await expectCode(api.resources.listResources({ parent: cloud, filter: "q", pageToken: first.nextPageToken }), Code.InvalidArgument);
    const error = await expectCode(api.resources.listResources({ parent: org, filter: "x".repeat(201) }), Code.InvalidArgument);
    expect(fieldViolations(error).map((v) => v.field)).toEqual(["filter"]);
  });
});

describe("UpdateResource", () => {
  const move = (name: string, parent: string, etag = "") =>
    api.resources.updateResource({ resource: { name, parent, etag }, updateMask: { paths: ["parent"] } });

  async function childrenOf(parent: string): Promise<string[]> {
    return (await api.resources.listResources({ parent })).resources.map((r) => r.name);
  }

  test("moves a project from its cloud to the organization and back", async () => {
    const { org, cloud, project } = await createHierarchy(api);
    const moved = await move(project, org);
    expect(moved.parent).toBe(org);
    expect(await childrenOf(cloud)).toEqual([]);
    expect(await childrenOf(org)).toContain(project);

    const back = await move(project, cloud, moved.etag);
    expect(back.parent).toBe(cloud);
    expect((await api.resources.getResource({ name: project })).parent).toBe(cloud);
    expect(await childrenOf(cloud)).toEqual([project]);
  });

  test("every update gives the resource a new etag", async () => {
    const { org, project } = await createHierarchy(api);
    const before = await api.resources.getResource({ name: project });
    const moved = await move(project, org, before.etag);
    expect(moved.etag).not.toBe(before.etag);
  });

  test("changes the display name only", async () => {
    const { cloud, project } = await createHierarchy(api);
    const updated = await api.resources.updateResource({
      resource: { name: project, displayName: "Renamed" },
      updateMask: { paths: ["display_name"] },
    });
    expect(updated).toMatchObject({ displayName: "Renamed", parent: cloud });
  });

  test("a stale etag is ABORTED and the resource stays where it was", async () => {
    const { org, cloud, project } = await createHierarchy(api);
    const { etag } = await api.resources.getResource({ name: project });
    await api.resources.updateResource({ resource: { name: project, displayName: "x" }, updateMask: { paths: ["display_name"] } });
    await expectCode(move(project, org, etag), Code.Aborted);
    expect((await api.resources.getResource({ name: project })).parent).toBe(cloud);
  });

  test("a move under a disallowed parent type is INVALID_ARGUMENT", async () => {
    const { cloud } = await createHierarchy(api);
    const other = await createHierarchy(api);
    await expectCode(move(cloud, other.project), Code.InvalidArgument);
    await expectCode(move(cloud, ""), Code.InvalidArgument);
  });

  test("a move under a missing parent is NOT_FOUND", async () => {
    const { project } = await createHierarchy(api);
    await expectCode(move(project, `clouds/${uniqueId("ghost")}`), Code.NotFound);
  });

  test("an unknown update_mask path is INVALID_ARGUMENT", async () => {
    const { project } = await createHierarchy(api);
    await expectCode(
      api.resources.updateResource({ resource: { name: project, type: "cloud" }, updateMask: { paths: ["type"] } }),
      Code.InvalidArgument,
    );
  });
});

describe("UpdateResource with a schema whose folders nest", () => {
  const FOLDER_SCHEMA = `
types:
  organization:
    collection: organizations
    parents: []
    roles:
      roles/owner: { permissions: [organizations.get] }
  folder:
    collection: folders
    parents: [organization, folder]
    roles:
      roles/owner: { permissions: [folders.get] }
`;
  let dir: string;
  let folders: TestServer;

  beforeAll(async () => {
    dir = tempDir("policy-schema-");
    const schema = join(dir, "folders.yaml");
    writeFileSync(schema, FOLDER_SCHEMA);
    folders = await startTestServer({ schema });
    await folders.grpc.resources.createResource({ resource: { name: "organizations/o" } });
    for (const [name, parent] of [["folders/a", "organizations/o"], ["folders/b", "folders/a"], ["folders/c", "folders/b"]]) {
      await folders.grpc.resources.createResource({ resource: { name, parent } });
    }
  });
  afterAll(async () => {
    await folders?.stop();
    removeDir(dir);
  });

  const moveFolder = (name: string, parent: string) =>
    folders.grpc.resources.updateResource({ resource: { name, parent }, updateMask: { paths: ["parent"] } });

  test("moving a folder under its own descendant is INVALID_ARGUMENT and changes nothing", async () => {
    const error = await expectCode(moveFolder("folders/a", "folders/c"), Code.InvalidArgument);
    expect(fieldViolations(error).map((v) => v.field)).toEqual(["resource.parent"]);
    expect((await folders.grpc.resources.getResource({ name: "folders/a" })).parent).toBe("organizations/o");
  });

  test("moving a folder under itself is INVALID_ARGUMENT", async () => {
    await expectCode(moveFolder("folders/b", "folders/b"), Code.InvalidArgument);
  });

  test("moving a folder under a folder outside its subtree is allowed", async () => {
    await folders.grpc.resources.createResource({ resource: { name: "folders/d", parent: "organizations/o" } });
    expect((await moveFolder("folders/d", "folders/c")).parent).toBe("folders/c");
  });
});

describe("DeleteResource", () => {
  test("deletes a leaf; it is then NOT_FOUND", async () => {
    const { project } = await createHierarchy(api);
    expect((await api.resources.deleteResource({ name: project })).deleted).toEqual([project]);
    await expectCode(api.resources.getResource({ name: project }), Code.NotFound);
    await expectCode(api.policies.getPolicy({ resource: project }), Code.NotFound);
  });

  test("a resource with children is FAILED_PRECONDITION without cascade, and nothing is deleted", async () => {
    const { org, cloud, project } = await createHierarchy(api);
    await expectCode(api.resources.deleteResource({ name: cloud }), Code.FailedPrecondition);
    for (const name of [org, cloud, project]) await api.resources.getResource({ name });
  });

  test("cascade deletes the whole subtree, deepest first, and their policies", async () => {
    const { org, cloud, project } = await createHierarchy(api);
    await api.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/owner", "user:ada@example.com")] } });
    await api.policies.setPolicy({ resource: cloud, policy: { bindings: [binding("roles/readonly", "user:bob@example.com")] } });

    const { deleted } = await api.resources.deleteResource({ name: org, cascade: true });
    expect(deleted).toEqual([project, cloud, org]);
    for (const name of deleted) await expectCode(api.resources.getResource({ name }), Code.NotFound);

    // Registered again under the same names, they start with empty policies: the old ones went with them.
    await create(org);
    await create(cloud, org);
    await create(project, cloud);
    for (const name of [cloud, project]) expect((await api.policies.getPolicy({ resource: name })).bindings).toEqual([]);
  });

  test("a stale etag is ABORTED; the current etag deletes", async () => {
    const { project } = await createHierarchy(api);
    const { etag } = await api.resources.getResource({ name: project });
    const updated = await api.resources.updateResource({
      resource: { name: project, displayName: "changed" },
      updateMask: { paths: ["display_name"] },
    });
    await expectCode(api.resources.deleteResource({ name: project, etag }), Code.Aborted);
    await api.resources.getResource({ name: project });
    expect((await api.resources.deleteResource({ name: project, etag: updated.etag })).deleted).toEqual([project]);
  });

  test("an unknown resource is NOT_FOUND", async () => {
    await expectCode(api.resources.deleteResource({ name: `clouds/${uniqueId("ghost")}` }), Code.NotFound);
  });
});
