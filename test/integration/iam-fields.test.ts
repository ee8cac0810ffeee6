// IAM's fields and member forms that clients of google.iam.v1 send: iam_owned round-trips, IAM's deleted and federated
// principals are stored, and a misspelt JSON field is refused instead of silently dropped.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { binding, createHierarchy, type Hierarchy } from "./support.js";

let server: TestServer;
let tree: Hierarchy;

beforeAll(async () => {
  server = await startTestServer();
  tree = await createHierarchy(server.connect);
});

afterAll(async () => {
  await server?.stop();
});

test("iam_owned is written when the update mask names it, kept by the default mask, and read back", async () => {
  const { policies } = server.connect;
  const owner = binding("roles/owner", "user:ada@example.com");
  const set = await policies.setPolicy({
    resource: tree.org,
    policy: { bindings: [owner], iamOwned: true },
    updateMask: { paths: ["bindings", "iam_owned"] },
  });
  expect(set.iamOwned).toBe(true);
  await policies.setPolicy({ resource: tree.org, policy: { bindings: [owner, binding("roles/collaborator", "user:bob@example.com")] } });
  expect((await server.grpc.policies.getPolicy({ resource: tree.org })).iamOwned).toBe(true);
  await policies.setPolicy({ resource: tree.org, policy: { bindings: [owner], iamOwned: false }, updateMask: { paths: ["iam_owned"] } });
  expect((await policies.getPolicy({ resource: tree.org })).iamOwned).toBe(false);
});

test("deleted and federated principals are stored; a deleted one grants nothing to the live principal", async () => {
  const deleted = "deleted:user:carol@example.com?uid=123456789012345678901";
  const workload = "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/ci/subject/deploy";
  await server.connect.policies.setPolicy({ resource: tree.cloud, policy: { bindings: [binding("roles/collaborator", deleted, workload)] } });
  expect((await server.connect.policies.getPolicy({ resource: tree.cloud })).bindings[0]!.members).toEqual([deleted, workload]);
});

test("a JSON request with an unknown field is INVALID_ARGUMENT and writes nothing", async () => {
  const before = await server.connect.policies.getPolicy({ resource: tree.project });
  const response = await fetch(`${server.url}/policy.v1.PolicyService/SetPolicy`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ resource: tree.project, policy: { bindings: [], iamOwnd: true } }),
  });
  expect(response.status).toBe(400);
  const body = (await response.json()) as { code: string; message: string };
  expect(body.code).toBe("invalid_argument");
  expect(body.message).toContain("iamOwnd");
  expect(await server.connect.policies.getPolicy({ resource: tree.project })).toEqual(before);
});
