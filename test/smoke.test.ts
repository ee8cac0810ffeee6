import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
beforeAll(async () => (server = await startTestServer()));
afterAll(() => server.stop());

test("a policy set over gRPC reads back over Connect JSON/HTTP1.1", async () => {
  await server.grpc.resources.createResource({ resource: { name: "organizations/acme" } });
  const set = await server.grpc.policies.setPolicy({
    resource: "organizations/acme",
    policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] },
  });
  const got = await server.connect.policies.getPolicy({ resource: "organizations/acme" });
  expect(got.bindings).toEqual(set.bindings);
  expect(got.etag).toEqual(set.etag);
});
