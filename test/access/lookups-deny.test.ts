// Deny rules apply to reverse lookups as they do to checks: a denied member is not listed by who-can, a denied
// resource not by what-can, and a conditional deny leaves only conditional access.
import { afterAll, beforeAll, expect, test } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
const ORG = "organizations/lkdeny";
const CLOUD = "clouds/lkdeny";
const P1 = "projects/lkdeny_p1";
const P2 = "projects/lkdeny_p2";

beforeAll(async () => {
  server = await startTestServer();
  const { resources, policies } = server.connect;
  await resources.createResource({ resource: { name: ORG } });
  await resources.createResource({ resource: { name: CLOUD, parent: ORG } });
  for (const p of [P1, P2]) await resources.createResource({ resource: { name: p, parent: CLOUD } });
  await policies.setPolicy({
    resource: ORG,
    policy: { bindings: [{ role: "roles/collaborator", members: ["user:ada@example.com", "user:bob@example.com", "group:ops"] }] },
  });
  // Bob may never delete projects of P1; the ops group may, unless the request says it is outside office hours.
  await server.connect.denyPolicies.setDenyPolicy({
    resource: P1,
    denyPolicy: {
      rules: [
        { deniedPrincipals: ["user:bob@example.com"], deniedPermissions: ["projects.delete"] },
        {
          deniedPrincipals: ["group:ops"],
          deniedPermissions: ["projects.delete"],
          denialCondition: { expression: "request.attributes.after_hours == true" },
        },
      ],
    },
  });
});

afterAll(async () => {
  await server?.stop();
});

test("who can: a denied member is left out, a conditionally denied one is only conditionally listed", async () => {
  const answer = await server.grpc.access.lookupMembers({ resource: P1, permission: "projects.delete" });
  const byMember = new Map(answer.grants.map((m) => [m.member, m.state]));
  expect(byMember.get("user:ada@example.com")).toBe(AccessState.GRANTED);
  expect(byMember.has("user:bob@example.com")).toBe(false);
  expect(byMember.get("group:ops")).toBe(AccessState.UNKNOWN_CONDITIONAL);
  // Elsewhere the deny does not reach: bob holds it on P2.
  const p2 = await server.grpc.access.lookupMembers({ resource: P2, permission: "projects.delete" });
  expect(p2.grants.map((m) => m.member)).toContain("user:bob@example.com");
});

test("what can: the denied resource is left out for the denied principal, and kept for others", async () => {
  const bob = await server.connect.access.lookupResources({
    principals: ["user:bob@example.com"],
    permission: "projects.delete",
    resourceType: "project",
    ancestor: ORG,
  });
  expect(bob.resources.map((r) => r.resource)).toEqual([P2]);
  const ada = await server.connect.access.lookupResources({
    principals: ["user:ada@example.com"],
    permission: "projects.delete",
    resourceType: "project",
    ancestor: ORG,
  });
  expect(ada.resources.map((r) => r.resource)).toEqual([P1, P2]);
  const ops = await server.connect.access.lookupResources({
    principals: ["user:carol@example.com", "group:ops"],
    permission: "projects.delete",
    resourceType: "project",
    ancestor: ORG,
  });
  expect(ops.resources.map((r) => [r.resource, r.state])).toEqual([
    [P1, AccessState.UNKNOWN_CONDITIONAL],
    [P2, AccessState.GRANTED],
  ]);
});
