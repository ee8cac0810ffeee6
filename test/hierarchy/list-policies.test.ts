// ListPolicies: the policies (with at least one binding) of the resources of one type, optionally beneath a resource at
// any depth, a page at a time (AIP-158), on the default organization > cloud > project schema.
import { Code } from "@connectrpc/connect";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import type { ApiClients } from "../helpers/clients.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { expectCode, viewBindings, violatedFields } from "./support.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";

/** The filter of a listing; page_size and page_token vary from page to page. */
interface ListFilter {
  resourceType: string;
  parent?: string;
}

/** Every page of a listing with `pageSize`; asserts that only the last page has no next_page_token. */
async function listPages(clients: ApiClients, request: ListFilter, pageSize: number): Promise<string[][]> {
  const pages: string[][] = [];
  let pageToken = "";
  do {
    const page = await clients.policies.listPolicies({ ...request, pageSize, pageToken });
    pages.push(page.resourcePolicies.map((p) => p.resource));
    pageToken = page.nextPageToken;
    expect(pages.length, "more pages than items").toBeLessThanOrEqual(1000);
  } while (pageToken !== "");
  return pages;
}

/** The names a listing holds, in its order, read in one page. */
async function listAll(clients: ApiClients, request: ListFilter): Promise<string[]> {
  const page = await clients.policies.listPolicies({ ...request, pageSize: 1000 });
  expect(page.nextPageToken).toBe("");
  return page.resourcePolicies.map((p) => p.resource);
}

/** A next_page_token of `request` (which must have more than one item). */
async function firstToken(clients: ApiClients, request: ListFilter): Promise<string> {
  const page = await clients.policies.listPolicies({ ...request, pageSize: 1 });
  expect(page.nextPageToken).not.toBe("");
  return page.nextPageToken;
}

const ada = { role: "roles/readonly", members: ["user:ada@example.com"] };

describe("ListPolicies over a fixed hierarchy", () => {
  let server: TestServer;
  let c: ApiClients;

  // orgA > c1 > p1 p2 p3 p4 p5       policies on orgA, c1, p1 p2 p4 p5 (p3 none)
  // orgA > p9                          (directly under the organization; a conditional policy)
  // orgA > c2 > p6 p7 p8              policies on p6 p8; p7 has audit configs but no binding
  // orgB > c3 > p10 p11               policies on orgB, c3, p10
  // orgC > q1 .. q6                    policies on each q
  // Created in this order, so that ids share prefixes ('/1/' and '/10/', '/1/2/' and '/1/20/'): a path prefix must
  // be matched whole.
  const orgA = "organizations/a";
  const orgB = "organizations/b";
  const orgC = "organizations/c";
  const [c1, c2, c3] = ["clouds/c1", "clouds/c2", "clouds/c3"];
  const p = (n: number) => `projects/p${n}`;
  const q = (n: number) => `projects/q${n}`;
  const qs = [1, 2, 3, 4, 5, 6].map(q);

  const withPolicy = new Set([orgA, orgB, c1, c3, p(1), p(2), p(4), p(5), p(6), p(8), p(9), p(10), ...qs]);

  beforeAll(async () => {
    server = await startTestServer();
    c = server.connect;
    const create = (name: string, parent = "") => c.resources.createResource({ resource: { name, parent } });
    await create(orgA);
    await create(c1, orgA);
    for (const n of [1, 2, 3, 4, 5]) await create(p(n), c1);
    await create(orgC);
    await create(p(9), orgA);
    await create(orgB);
    await create(c3, orgB);
    await create(p(10), c3);
    await create(p(11), c3);
    for (const name of qs) await create(name, orgC);
    await create(c2, orgA);
    for (const n of [6, 7, 8]) await create(p(n), c2);

    for (const name of withPolicy) {
      if (name === p(9)) continue;
      const bindings = name.startsWith("organizations/") ? [{ role: "roles/collaborator", members: ["user:bob@example.com"] }] : [ada];
      await c.policies.setPolicy({ resource: name, policy: { bindings } });
    }
    await c.policies.setPolicy({
      resource: p(9),
      policy: {
        version: 3,
        bindings: [{ ...ada, condition: { expression: 'resource.name.startsWith("projects/")', title: "projects only" } }],
      },
    });
    await c.policies.setPolicy({
      resource: p(7),
      policy: { auditConfigs: [{ service: "allServices", auditLogConfigs: [{ logType: 1 }] }] },
      updateMask: { paths: ["audit_configs"] },
    });
  });
  afterAll(() => server.stop());

  test("lists only resources of the requested type that have at least one binding", async () => {
    const expected = [p(1), p(2), p(4), p(5), p(6), p(8), p(9), p(10), ...qs];
    expect((await listAll(c, { resourceType: "project" })).sort()).toEqual(expected.sort());
    expect((await listAll(c, { resourceType: "cloud" })).sort()).toEqual([c1, c3]);
    expect((await listAll(c, { resourceType: "organization" })).sort()).toEqual([orgA, orgB]);
  });

  test("with a parent, lists the resources beneath it at any depth, never the parent itself", async () => {
    const beneath = async (resourceType: string, parent: string) => (await listAll(c, { resourceType, parent })).sort();
    expect(await beneath("project", orgA)).toEqual([p(1), p(2), p(4), p(5), p(6), p(8), p(9)].sort());
    expect(await beneath("project", c1)).toEqual([p(1), p(2), p(4), p(5)]);
    expect(await beneath("project", c2)).toEqual([p(6), p(8)]);
    expect(await beneath("project", orgB)).toEqual([p(10)]);
    expect(await beneath("project", c3)).toEqual([p(10)]);
    expect(await beneath("project", orgC)).toEqual([...qs].sort());
    expect(await beneath("cloud", orgA)).toEqual([c1]);
    expect(await beneath("cloud", c1)).toEqual([]);
    expect(await beneath("organization", orgA)).toEqual([]);
    expect(await beneath("project", p(1))).toEqual([]);
  });

  test("each item carries the resource type and the policy with its etag and sync status SUCCESS", async () => {
    const page = await c.policies.listPolicies({ resourceType: "project", parent: orgA });
    expect(page.resourcePolicies).toHaveLength(7);
    for (const item of page.resourcePolicies) {
      const stored = await c.policies.getPolicy({ resource: item.resource, options: { requestedPolicyVersion: 3 } });
      expect(item.resourceType).toBe("project");
      expect(item.policy!.etag.length).toBeGreaterThan(0);
      expect(item.policy!.etag).toEqual(stored.etag);
      expect(item.policy!.syncStatus).toBe(SyncStatus.SUCCESS);
      expect(item.policy!.version).toBe(stored.version);
      expect(viewBindings(item.policy!.bindings)).toEqual(viewBindings(stored.bindings));
    }
    // A conditional policy is listed as stored: version 3, with its condition.
    const conditional = page.resourcePolicies.find((item) => item.resource === p(9))!.policy!;
    expect(conditional.version).toBe(3);
    expect(conditional.bindings[0]!.condition?.expression).toBe('resource.name.startsWith("projects/")');
  });

  test("page sizes 1..n+1 cover every item exactly once, in one stable order", async () => {
    for (const request of [{ resourceType: "project" }, { resourceType: "project", parent: orgA }] satisfies ListFilter[]) {
      const all = await listAll(c, request);
      expect(await listAll(c, request), "the same order every time").toEqual(all);
      expect(new Set(all).size).toBe(all.length);
      for (let size = 1; size <= all.length + 1; size++) {
        const pages = await listPages(c, request, size);
        expect(pages.flat(), `page size ${size}`).toEqual(all);
        expect(pages).toHaveLength(Math.ceil(all.length / size));
        for (const page of pages) expect(page.length).toBeLessThanOrEqual(size);
      }
    }
  });

  test("page_size 0 is the default (50) and a size above 1000 is treated as 1000", async () => {
    expect((await c.policies.listPolicies({ resourceType: "project" })).resourcePolicies).toHaveLength(14);
    expect((await c.policies.listPolicies({ resourceType: "project", pageSize: 5000 })).resourcePolicies).toHaveLength(14);
  });

  test("a tampered, truncated or forged page token is INVALID_ARGUMENT", async () => {
    const token = await firstToken(c, { resourceType: "project" });
    const middle = Math.floor(token.length / 2);
    const flipped = token[middle] === "A" ? "B" : "A";
    const forgedBody = Buffer.from(JSON.stringify({ f: JSON.stringify(["ListPolicies", "project", ""]), a: "/" }));
    const forged = Buffer.concat([forgedBody, Buffer.alloc(16)]).toString("base64url");
    for (const bad of [
      token.slice(0, middle) + flipped + token.slice(middle + 1),
      token.slice(0, -1),
      token.slice(0, 10),
      `${token}A`,
      token.slice(0, -2) + "==",
      forged,
      "not-a-page-token",
      "!!!",
    ]) {
      const error = await expectCode(c.policies.listPolicies({ resourceType: "project", pageSize: 1, pageToken: bad }), Code.InvalidArgument);
      expect(violatedFields(error)).toEqual(["page_token"]);
    }
  });

  test("a token from ListResources is INVALID_ARGUMENT", async () => {
    const resources = await c.resources.listResources({ parent: c1, pageSize: 1 });
    expect(resources.nextPageToken).not.toBe("");
    for (const request of [{ resourceType: "project" }, { resourceType: "project", parent: c1 }]) {
      const error = await expectCode(
        c.policies.listPolicies({ ...request, pageToken: resources.nextPageToken }),
        Code.InvalidArgument,
      );
      expect(violatedFields(error)).toEqual(["page_token"]);
    }
  });

  test("a filter changed between pages (another type or parent) is INVALID_ARGUMENT", async () => {
    const token = await firstToken(c, { resourceType: "project", parent: orgA });
    for (const changed of [
      { resourceType: "cloud", parent: orgA },
      { resourceType: "organization", parent: orgA },
      { resourceType: "project", parent: c1 },
      { resourceType: "project", parent: orgB },
      { resourceType: "project" },
    ]) {
      const error = await expectCode(c.policies.listPolicies({ ...changed, pageToken: token }), Code.InvalidArgument);
      expect(violatedFields(error)).toEqual(["page_token"]);
    }
    const unfiltered = await firstToken(c, { resourceType: "project" });
    await expectCode(c.policies.listPolicies({ resourceType: "project", parent: orgA, pageToken: unfiltered }), Code.InvalidArgument);
    // The same filter accepts it; a different page size is not a different filter.
    const next = await c.policies.listPolicies({ resourceType: "project", parent: orgA, pageToken: token, pageSize: 3 });
    expect(next.resourcePolicies).toHaveLength(3);
  });

  test("a negative page size is INVALID_ARGUMENT", async () => {
    const error = await expectCode(c.policies.listPolicies({ resourceType: "project", pageSize: -1 }), Code.InvalidArgument);
    expect(violatedFields(error)).toEqual(["page_size"]);
  });

  test("a missing or unknown resource_type is INVALID_ARGUMENT", async () => {
    for (const resourceType of ["", "widget", "projects"]) {
      const error = await expectCode(c.policies.listPolicies({ resourceType }), Code.InvalidArgument);
      expect(violatedFields(error)).toEqual(["resource_type"]);
    }
  });

  test("an unknown parent is NOT_FOUND; a malformed one INVALID_ARGUMENT", async () => {
    await expectCode(c.policies.listPolicies({ resourceType: "project", parent: "clouds/never-created" }), Code.NotFound);
    await expectCode(server.grpc.policies.listPolicies({ resourceType: "project", parent: "clouds/never-created" }), Code.NotFound);
    const error = await expectCode(c.policies.listPolicies({ resourceType: "project", parent: "nope" }), Code.InvalidArgument);
    expect(violatedFields(error)).toEqual(["parent"]);
  });

  test("gRPC lists the same items in the same order as Connect", async () => {
    const request = { resourceType: "project", parent: orgA, pageSize: 1000 };
    const overGrpc = await server.grpc.policies.listPolicies(request);
    const overConnect = await c.policies.listPolicies(request);
    expect(overGrpc.resourcePolicies).toEqual(overConnect.resourcePolicies);
  });
});

describe("ListPolicies after writes", () => {
  let server: TestServer;
  let c: ApiClients;
  beforeAll(async () => {
    server = await startTestServer();
    c = server.connect;
  });
  afterAll(() => server.stop());

  async function tree(prefix: string, projects: number): Promise<{ org: string; cloud: string; projects: string[] }> {
    const org = `organizations/${prefix}`;
    const cloud = `clouds/${prefix}-c`;
    await c.resources.createResource({ resource: { name: org } });
    await c.resources.createResource({ resource: { name: cloud, parent: org } });
    const names: string[] = [];
    for (let i = 1; i <= projects; i++) {
      const name = `projects/${prefix}-p${i}`;
      await c.resources.createResource({ resource: { name, parent: cloud } });
      await c.policies.setPolicy({ resource: name, policy: { bindings: [ada] } });
      names.push(name);
    }
    return { org, cloud, projects: names };
  }

  test("a policy removed with DeletePolicy is no longer listed", async () => {
    const t = await tree("del", 3);
    await c.policies.deletePolicy({ resource: t.projects[1]! });
    expect((await listAll(c, { resourceType: "project", parent: t.org })).sort()).toEqual([t.projects[0], t.projects[2]]);
    // Setting it again lists it again; an empty binding list is the same as no policy.
    await c.policies.setPolicy({ resource: t.projects[1]!, policy: { bindings: [ada] } });
    expect(await listAll(c, { resourceType: "project", parent: t.org })).toHaveLength(3);
    await c.policies.setPolicy({ resource: t.projects[1]!, policy: { bindings: [] } });
    expect(await listAll(c, { resourceType: "project", parent: t.org })).toHaveLength(2);
  });

  test("a deleted resource's policy is no longer listed; a moved one is listed beneath its new parent", async () => {
    const from = await tree("from", 2);
    const to = await tree("to", 1);
    await c.resources.deleteResource({ name: from.projects[0]! });
    expect(await listAll(c, { resourceType: "project", parent: from.org })).toEqual([from.projects[1]]);

    await c.resources.updateResource({ resource: { name: from.projects[1]!, parent: to.cloud }, updateMask: { paths: ["parent"] } });
    expect(await listAll(c, { resourceType: "project", parent: from.org })).toEqual([]);
    expect((await listAll(c, { resourceType: "project", parent: to.org })).sort()).toEqual([from.projects[1], to.projects[0]].sort());
  });

  test("without page_size, a page holds 50 items", async () => {
    const t = await tree("many", 55);
    const first = await c.policies.listPolicies({ resourceType: "project", parent: t.org });
    expect(first.resourcePolicies).toHaveLength(50);
    const second = await c.policies.listPolicies({ resourceType: "project", parent: t.org, pageToken: first.nextPageToken });
    expect(second.resourcePolicies).toHaveLength(5);
    expect(second.nextPageToken).toBe("");
    const names = [...first.resourcePolicies, ...second.resourcePolicies].map((item) => item.resource);
    expect(names.sort()).toEqual([...t.projects].sort());
  });
});

describe("ListPolicies page tokens across a restart", () => {
  test("a token stays valid when the server restarts on the same database", async () => {
    const dir = tempDir("policy-restart-");
    const db = join(dir, "policy.db");
    try {
      const before = await startTestServer({ db });
      const org = "organizations/restart";
      await before.connect.resources.createResource({ resource: { name: org } });
      for (const name of ["clouds/r1", "clouds/r2", "clouds/r3"]) {
        await before.connect.resources.createResource({ resource: { name, parent: org } });
        await before.connect.policies.setPolicy({ resource: name, policy: { bindings: [ada] } });
      }
      const first = await before.connect.policies.listPolicies({ resourceType: "cloud", pageSize: 2 });
      await before.stop();

      const after = await startTestServer({ db });
      try {
        const second = await after.connect.policies.listPolicies({ resourceType: "cloud", pageSize: 2, pageToken: first.nextPageToken });
        const names = [...first.resourcePolicies, ...second.resourcePolicies].map((item) => item.resource);
        expect(names.sort()).toEqual(["clouds/r1", "clouds/r2", "clouds/r3"]);
      } finally {
        await after.stop();
      }
    } finally {
      removeDir(dir);
    }
  });
});
