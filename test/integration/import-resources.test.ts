// ResourceService.ImportResources: many resources (and first policies) in one call; a bad item is reported by index
// and the good ones are written; each item authorized as its single writes would be; Watch and the member index see
// every imported write.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ChangeKind } from "../../gen/policy/v1/watch_service_pb.js";
import { watch } from "../../src/client/index.js";
import { MAX_IMPORT_ITEMS } from "../../src/domain/import.js";
import { expectCode } from "../helpers/call-failures.js";
import { uniqueId } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { ADMIN, apiClients, signingKey, startTokenServer, tokenFor, type SecureServer, type SigningKey } from "../helpers/secure-server.js";

describe("ImportResources (development mode)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.stop());

  test("writes the good items in order (a parent earlier in the request), reports each bad one by index, writes nothing of it", async () => {
    const org = `organizations/${uniqueId("imp")}`;
    const cloud = `clouds/${uniqueId("c")}`;
    const response = await server.grpc.resources.importResources({
      items: [
        { resource: { name: org }, policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] } },
        { resource: { name: cloud, parent: org, displayName: "Cloud" } },
        { resource: { name: `projects/${uniqueId("p")}`, parent: `clouds/${uniqueId("missing")}` } },
        { resource: { name: "not a name" } },
        { resource: { name: `projects/${uniqueId("p")}`, parent: cloud }, policy: { bindings: [{ role: "roles/nope", members: ["user:a@example.com"] }] } },
        { resource: { name: cloud, parent: org } },
        { resource: { name: `projects/${uniqueId("ok")}`, parent: cloud }, policy: { bindings: [{ role: "roles/readonly", members: ["group:eng"] }] } },
      ],
    });
    expect(response.imported).toBe(3);
    expect(response.errors.map((e) => [e.index, e.code])).toEqual([
      [2, Code.NotFound],
      [3, Code.InvalidArgument],
      [4, Code.InvalidArgument],
      [5, Code.AlreadyExists],
    ]);
    expect(response.errors[0]!.message).toContain("parent resource");
    expect(response.errors[2]!.message).toContain("roles/nope");
    expect((await server.grpc.resources.getResource({ name: cloud })).displayName).toBe("Cloud");
    expect((await server.grpc.policies.getPolicy({ resource: org })).bindings[0]!.members).toEqual(["user:ada@example.com"]);
    // The item refused for its policy left no resource behind.
    const listed = await server.grpc.resources.listResources({ parent: cloud });
    expect(listed.resources).toHaveLength(1);
    expect(response.sequence).toBeGreaterThan(0n);
  });

  test(`more than ${MAX_IMPORT_ITEMS} items is RESOURCE_EXHAUSTED and writes nothing`, async () => {
    const prefix = uniqueId("big");
    const items = Array.from({ length: MAX_IMPORT_ITEMS + 1 }, (_, i) => ({ resource: { name: `organizations/${prefix}-${i}` } }));
    await expectCode(server.grpc.resources.importResources({ items }), Code.ResourceExhausted, /10,000/);
    await expectCode(server.grpc.resources.getResource({ name: `organizations/${prefix}-0` }), Code.NotFound);
  });

  test("a Watch follower sees every imported resource and policy, in order; the member index finds the imported grants", async () => {
    const after = BigInt((await server.grpc.resources.importResources({ items: [] })).sequence);
    const org = `organizations/${uniqueId("w")}`;
    const clouds = Array.from({ length: 50 }, () => `clouds/${uniqueId("wc")}`);
    const member = `user:${uniqueId("imported")}@example.com`;
    const response = await server.grpc.resources.importResources({
      items: [
        { resource: { name: org } },
        ...clouds.map((name) => ({ resource: { name, parent: org }, policy: { bindings: [{ role: "roles/collaborator", members: [member] }] } })),
      ],
    });
    expect(response.errors).toEqual([]);
    const seen: string[] = [];
    const abort = new AbortController();
    for await (const event of watch(server.grpc.watch, { afterSequence: after, signal: abort.signal })) {
      if (event.kind === "change") seen.push(`${ChangeKind[event.change.kind]} ${event.change.resource}`);
      if (event.sequence >= response.sequence) abort.abort();
    }
    expect(seen).toEqual([
      `RESOURCE_CREATED ${org}`,
      // Each item as its single writes would log it: the resource, then its policy.
      ...clouds.flatMap((c) => [`RESOURCE_CREATED ${c}`, `POLICY_SET ${c}`]),
    ]);
    const found = await server.grpc.access.lookupResources({ principals: [member], permission: "clouds.update", resourceType: "cloud", pageSize: 100 });
    expect(found.resources.map((r) => r.resource).sort()).toEqual([...clouds].sort());
  });
});

describe("ImportResources authorization, per item", () => {
  let server: SecureServer;
  let key: SigningKey;
  const org = `organizations/${uniqueId("authz")}`;
  const other = `organizations/${uniqueId("hidden")}`;
  const OWNER = "owner@example.com";
  const COLLABORATOR = "carl@example.com";

  beforeAll(async () => {
    key = await signingKey("ES256");
    server = await startTokenServer([key]);
    const admin = apiClients(server.url, { token: await tokenFor(key, ADMIN.slice("user:".length)) });
    await admin.resources.createResource({ resource: { name: org } });
    await admin.resources.createResource({ resource: { name: other } });
    await admin.policies.setPolicy({
      resource: org,
      policy: { bindings: [{ role: "roles/owner", members: [`user:${OWNER}`] }, { role: "roles/collaborator", members: [`user:${COLLABORATOR}`] }] },
    });
  });
  afterAll(async () => server?.stop());

  test("each item needs what CreateResource (and SetPolicy) would: refused items are reported, the others written", async () => {
    const carl = apiClients(server.url, { token: await tokenFor(key, COLLABORATOR) });
    const cloud = `clouds/${uniqueId("c")}`;
    const response = await carl.resources.importResources({
      items: [
        { resource: { name: cloud, parent: org } },
        { resource: { name: `projects/${uniqueId("p")}`, parent: cloud } },
        // A collaborator may not set policies (no clouds.setPolicy), nor create roots, nor see the other organization.
        { resource: { name: `clouds/${uniqueId("c")}`, parent: org }, policy: { bindings: [{ role: "roles/readonly", members: ["user:x@example.com"] }] } },
        { resource: { name: `organizations/${uniqueId("root")}` } },
        { resource: { name: `clouds/${uniqueId("c")}`, parent: other } },
      ],
    });
    expect(response.imported).toBe(2);
    expect(response.errors.map((e) => [e.index, e.code])).toEqual([
      [2, Code.PermissionDenied],
      [3, Code.PermissionDenied],
      [4, Code.NotFound],
    ]);
    expect(response.errors[0]!.message).toContain("clouds.setPolicy");
    const owner = apiClients(server.url, { token: await tokenFor(key, OWNER) });
    const withPolicy = `clouds/${uniqueId("c")}`;
    const byOwner = await owner.resources.importResources({
      items: [{ resource: { name: withPolicy, parent: org }, policy: { bindings: [{ role: "roles/readonly", members: ["user:x@example.com"] }] } }],
    });
    expect(byOwner.errors).toEqual([]);
    expect((await owner.policies.getPolicy({ resource: withPolicy })).bindings).toHaveLength(1);
  });

  test("a child is written only under the parent the import created, never under a same-named resource it may not touch", async () => {
    const admin = apiClients(server.url, { token: await tokenFor(key, ADMIN.slice("user:".length)) });
    const hiddenCloud = `clouds/${uniqueId("hidden")}`;
    await admin.resources.createResource({ resource: { name: hiddenCloud, parent: other } });
    const carl = apiClients(server.url, { token: await tokenFor(key, COLLABORATOR) });
    const child = `projects/${uniqueId("sneaky")}`;
    const response = await carl.resources.importResources({
      items: [{ resource: { name: hiddenCloud, parent: org } }, { resource: { name: child, parent: hiddenCloud } }],
    });
    expect(response.errors.map((e) => [e.index, e.code])).toEqual([
      [0, Code.AlreadyExists],
      [1, Code.NotFound],
    ]);
    expect(response.errors[1]!.message).toContain("(item 0) was not written");
    await expectCode(admin.resources.getResource({ name: child }), Code.NotFound);
  });

  test("an unauthenticated import is refused whole", async () => {
    const anonymous = apiClients(server.url);
    await expectCode(anonymous.resources.importResources({ items: [{ resource: { name: `clouds/${uniqueId("c")}`, parent: org } }] }), Code.Unauthenticated);
  });
});
